"""The image store: docker-archive and OCI archives, digests, names, list, delete, pull, unpack.

Every archive is built here with tarfile (no Docker on test machines).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest

from pachstream.errors import ConfigError, ImageNotFound, InvalidInput
from pachstream.images import ImageStore
from pachstream.images import _store as store_module
from pachstream.settings import Settings


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes], *, gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            t.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


def uncompressed(layer: bytes) -> bytes:
    return gzip.decompress(layer) if layer[:2] == b"\x1f\x8b" else layer


def config_bytes(layers: list[bytes], **config: object) -> bytes:
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2025-01-01T00:00:00Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [sha(uncompressed(x)) for x in layers]},
    }
    return json.dumps(doc).encode()


def write_tar(path: Path, members: dict[str, bytes | str], *, gz: bool = False) -> Path:
    """An archive; a str value makes a symlink to that name."""
    with tarfile.open(path, "w:gz" if gz else "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return path


def docker_archive(
    path: Path, images: list[tuple[list[bytes], dict, list[str]]], *, blobs: bool = False, **kw
) -> Path:
    """``docker save`` output: old style (<hex>.json, <id>/layer.tar) or Docker 25's blobs."""
    members: dict[str, bytes | str] = {}
    manifest = []
    for layers, config, tags in images:
        cfg = config_bytes(layers, **config)
        cfg_name = f"blobs/sha256/{sha(cfg)[7:]}" if blobs else f"{sha(cfg)[7:]}.json"
        members[cfg_name] = cfg
        names = []
        for i, data in enumerate(layers):
            name = f"blobs/sha256/{sha(data)[7:]}" if blobs else f"{i}{sha(cfg)[7:20]}/layer.tar"
            members[name] = data
            names.append(name)
        manifest.append({"Config": cfg_name, "RepoTags": tags, "Layers": names})
    members["manifest.json"] = json.dumps(manifest).encode()
    return write_tar(path, members, **kw)


def descriptor(data: bytes, media: str, **extra: object) -> dict:
    return {"mediaType": media, "digest": sha(data), "size": len(data), **extra}


MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def oci_manifest(members: dict, layers: list[bytes], config: dict) -> bytes:
    cfg = config_bytes(layers, **config)
    members[f"blobs/sha256/{sha(cfg)[7:]}"] = cfg
    for data in layers:
        members[f"blobs/sha256/{sha(data)[7:]}"] = data
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": descriptor(cfg, "application/vnd.oci.image.config.v1+json"),
            "layers": [
                descriptor(d, "application/vnd.oci.image.layer.v1.tar+gzip") for d in layers
            ],
        }
    ).encode()
    members[f"blobs/sha256/{sha(manifest)[7:]}"] = manifest
    return manifest


def oci_archive(
    path: Path,
    images: list[tuple[list[bytes], dict, dict[str, str]]],
    *,
    platforms: list[str] | None = None,
) -> Path:
    """An OCI archive; with ``platforms``, one nested index of one manifest per platform."""
    members: dict = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}'}
    entries = []
    for layers, config, notes in images:
        if platforms is None:
            manifest = oci_manifest(members, layers, config)
            entries.append(descriptor(manifest, MANIFEST_TYPE, annotations=notes))
            continue
        nested = []
        for platform in platforms:
            arch = platform.split("/")[1]
            manifest = oci_manifest(members, layers, {**config, "Env": [f"ARCH={arch}"]})
            nested.append(
                descriptor(manifest, MANIFEST_TYPE, platform={"os": "linux", "architecture": arch})
            )
        index = json.dumps({"schemaVersion": 2, "manifests": nested}).encode()
        members[f"blobs/sha256/{sha(index)[7:]}"] = index
        entries.append(descriptor(index, INDEX_TYPE, annotations=notes))
    members["index.json"] = json.dumps({"schemaVersion": 2, "manifests": entries}).encode()
    return write_tar(path, members)


ROOT_LAYER = layer_tar({"bin/busybox": b"BB", "etc/os-release": b"ID=test\n"})
APP_LAYER = layer_tar({"app/etl.py": b"print(1)\n"}, gz=True)


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images", puller=None, arch="amd64")


def snapshot(store: ImageStore) -> dict[str, list[str]]:
    return {
        sub: sorted(p.name for p in (store.path / sub).iterdir())
        for sub in ("records", "roots", "blobs/sha256", "tmp")
    } | {"names": sorted(store._names())}


# --------------------------------------------------------------------------------- loading


ARCHIVES = [
    (
        "docker save, old layout",
        lambda p: docker_archive(p, [([ROOT_LAYER, APP_LAYER], {}, ["myorg/etl:1.2", "etl"])]),
        ["docker.io/library/etl:latest", "docker.io/myorg/etl:1.2"],
    ),
    (
        "docker save, Docker 25 blobs layout, gzip'd by the user",
        lambda p: docker_archive(
            p, [([ROOT_LAYER, APP_LAYER], {}, ["myorg/etl:1.2"])], blobs=True, gz=True
        ),
        ["docker.io/myorg/etl:1.2"],
    ),
    (
        "OCI archive named by org.opencontainers.image.ref.name",
        lambda p: oci_archive(
            p,
            [([ROOT_LAYER, APP_LAYER], {}, {"org.opencontainers.image.ref.name": "myorg/etl:1.2"})],
        ),
        ["docker.io/myorg/etl:1.2"],
    ),
    (
        "OCI archive named by containerd's annotation, which wins",
        lambda p: oci_archive(
            p,
            [
                (
                    [ROOT_LAYER, APP_LAYER],
                    {},
                    {
                        "io.containerd.image.name": "ghcr.io/org/etl:2",
                        "org.opencontainers.image.ref.name": "2",
                    },
                )
            ],
        ),
        ["ghcr.io/org/etl:2"],
    ),
    (
        "unnamed OCI archive",
        lambda p: oci_archive(p, [([ROOT_LAYER, APP_LAYER], {}, {})]),
        [],
    ),
    (
        "OCI archive whose ref.name is a bare tag, of no repository",
        lambda p: oci_archive(
            p, [([ROOT_LAYER, APP_LAYER], {}, {"org.opencontainers.image.ref.name": "v1.0"})]
        ),
        [],
    ),
]


@pytest.mark.parametrize(("what", "build", "names"), ARCHIVES, ids=[a[0] for a in ARCHIVES])
def test_load_both_formats(tmp_path, store, what, build, names):
    archive = build(tmp_path / "image.tar")
    [image] = store.load(archive)
    assert image.names == tuple(names)
    assert image.id.startswith("sha256:") and len(image.layers) == 2
    assert image.created == "2025-01-01T00:00:00Z"
    assert image.size == len(ROOT_LAYER) + len(APP_LAYER) + len(store._blob(image.id).read_bytes())
    root = store.rootfs(image)
    assert (root / "etc/os-release").read_text() == "ID=test\n"
    assert (root / "app/etl.py").read_text() == "print(1)\n"
    for name in names:
        assert store.find(name) == image
    assert store.find(image.id) == image and store.find(image.id[7:19]) == image
    assert store.load(archive) == [image]  # loading again changes nothing
    assert snapshot(store)["records"] == [f"{image.id[7:]}.json"]


def test_what_the_user_typed_resolves(tmp_path, store):
    store.load(docker_archive(tmp_path / "a.tar", [([ROOT_LAYER], {}, ["busybox:latest"])]))
    found = {
        typed: store.find(typed).names  # type: ignore[union-attr]
        for typed in ["busybox", "busybox:latest", "library/busybox", "docker.io/busybox"]
    }
    assert set(found.values()) == {("docker.io/library/busybox:latest",)}
    assert store.find("busybox:1.36") is None and store.find("other") is None


def test_a_multi_platform_oci_archive_gives_this_platforms_image(tmp_path, store):
    archive = oci_archive(
        tmp_path / "multi.tar",
        [([ROOT_LAYER], {}, {"org.opencontainers.image.ref.name": "tool:1"})],
        platforms=["linux/arm64", "linux/amd64"],
    )
    [image] = store.load(archive)
    assert image.config.env == ("ARCH=amd64",)
    other = ImageStore(tmp_path / "s390x", arch="s390x")
    with pytest.raises(InvalidInput, match=r"has no image for linux/s390x \(it has linux/arm64"):
        other.load(archive)


def test_several_images_in_one_archive_and_a_shared_layer(tmp_path, store):
    archive = docker_archive(
        tmp_path / "two.tar",
        [([ROOT_LAYER], {}, ["base:1"]), ([ROOT_LAYER, APP_LAYER], {"Cmd": ["x"]}, ["app:1"])],
    )
    base, app = store.load(archive)
    assert (base.names, app.names) == (("docker.io/library/base:1",), ("docker.io/library/app:1",))
    assert base.layers[0] == app.layers[0]
    assert len(snapshot(store)["blobs/sha256"]) == 4  # two configs, two layers
    store.delete("base:1")
    assert store.rootfs(store.get("app:1")).joinpath("bin/busybox").read_bytes() == b"BB"


def test_a_duplicate_layer_as_a_symlink_in_old_docker_archives(tmp_path, store):
    cfg = config_bytes([ROOT_LAYER, ROOT_LAYER])
    archive = write_tar(
        tmp_path / "dup.tar",
        {
            f"{sha(cfg)[7:]}.json": cfg,
            "aaa/layer.tar": ROOT_LAYER,
            "bbb/layer.tar": "../aaa/layer.tar",
            "manifest.json": json.dumps(
                [
                    {
                        "Config": f"{sha(cfg)[7:]}.json",
                        "RepoTags": ["d:1"],
                        "Layers": ["aaa/layer.tar", "bbb/layer.tar"],
                    }
                ]
            ).encode(),
        },
    )
    [image] = store.load(archive)
    assert image.layers[0] == image.layers[1]


def good_docker(tmp_path: Path) -> dict[str, bytes | str]:
    cfg = config_bytes([ROOT_LAYER])
    return {
        f"{sha(cfg)[7:]}.json": cfg,
        "l1/layer.tar": ROOT_LAYER,
        "manifest.json": json.dumps(
            [{"Config": f"{sha(cfg)[7:]}.json", "RepoTags": ["x:1"], "Layers": ["l1/layer.tar"]}]
        ).encode(),
    }


def damaged(change):
    def build(path: Path) -> Path:
        members = good_docker(path)
        change(members)
        return write_tar(path, members)

    return build


def _manifest(members, **fields):
    doc = json.loads(members["manifest.json"])
    doc[0].update(fields)
    members["manifest.json"] = json.dumps(doc).encode()


def _rename_config(members):
    name = next(n for n in members if n.endswith(".json") and n != "manifest.json")
    members["0" * 64 + ".json"] = members.pop(name)
    _manifest(members, Config="0" * 64 + ".json")


def _oci_bad(change):
    def build(path: Path) -> Path:
        oci_archive(path, [([ROOT_LAYER], {}, {})])
        with tarfile.open(path) as t:
            members = {m.name: t.extractfile(m).read() for m in t.getmembers()}  # type: ignore[union-attr]
        change(members)
        return write_tar(path, members)

    return build


def _oci_index(members, edit):
    doc = json.loads(members["index.json"])
    edit(doc["manifests"][0])
    members["index.json"] = json.dumps(doc).encode()


def _swap_layer(members):
    digest = sha(ROOT_LAYER)[7:]
    members[f"blobs/sha256/{digest}"] = layer_tar({"other": b"o"})


def _zstd(members):
    name = next(n for n, d in members.items() if n.startswith("blobs/") and b'"layers": [' in d)
    data = members.pop(name).replace(b"tar+gzip", b"tar+zstd")
    members[f"blobs/sha256/{sha(data)[7:]}"] = data
    _oci_index(members, lambda m: m.update(digest=sha(data), size=len(data)))


DAMAGE = [
    ("not a tar", lambda p: (p.write_bytes(b"hello" * 200), p)[1], "is not a tar file"),
    ("a tar of something else", lambda p: write_tar(p, {"a.txt": b"a"}), "is not an image archive"),
    (
        "a manifest that is no JSON",
        damaged(lambda m: m.update({"manifest.json": b"{"})),
        "manifest.json is not valid JSON",
    ),
    (
        "a missing layer",
        damaged(lambda m: m.pop("l1/layer.tar")),
        "l1/layer.tar is missing from the archive",
    ),
    ("a config that is not its digest", damaged(_rename_config), "has digest sha256:"),
    (
        "a layer that is not the config's diff_id",
        damaged(lambda m: m.update({"l1/layer.tar": layer_tar({"x": b"y"})})),
        "uncompresses to sha256:",
    ),
    (
        "more layers than diff_ids",
        damaged(lambda m: _manifest(m, Layers=["l1/layer.tar", "l1/layer.tar"])),
        "lists 2 layers but its config's rootfs.diff_ids has 1",
    ),
    (
        "a layer path out of the archive",
        damaged(lambda m: _manifest(m, Layers=["../etc/passwd"])),
        "points outside the archive",
    ),
    (
        "a bad RepoTag",
        damaged(lambda m: _manifest(m, RepoTags=["Bad:Name"])),
        "a name in the archive is bad: image 'Bad:Name'",
    ),
    (
        "a layer that does not decompress",
        damaged(lambda m: m.update({"l1/layer.tar": b"\x1f\x8b\x08broken"})),
        "does not decompress",
    ),
    ("an OCI blob that is not its digest", _oci_bad(_swap_layer), "has digest sha256:"),
    (
        "an OCI manifest of the wrong size",
        _oci_bad(lambda m: _oci_index(m, lambda d: d.update(size=d["size"] + 1))),
        "bytes, but the archive says",
    ),
    (
        "an OCI digest that is not sha256",
        _oci_bad(lambda m: _oci_index(m, lambda d: d.update(digest="sha512:ab"))),
        "only sha256 is read",
    ),
    ("an OCI zstd layer", _oci_bad(_zstd), "zstd-compressed layer"),
    (
        "an OCI index without manifests",
        _oci_bad(lambda m: m.update({"index.json": b"{}"})),
        "index.json has no 'manifests' list",
    ),
]


@pytest.mark.parametrize(("what", "build", "said"), DAMAGE, ids=[d[0] for d in DAMAGE])
def test_a_bad_archive_is_refused_naming_the_file_and_changes_nothing(
    tmp_path, store, what, build, said
):
    archive = build(tmp_path / "bad.tar")
    before = snapshot(store)
    with pytest.raises(InvalidInput) as caught:
        store.load(archive)
    assert said in caught.value.message and caught.value.message.startswith(str(archive))
    after = snapshot(store)
    assert after == before


def test_a_missing_file_is_named(tmp_path, store):
    with pytest.raises(InvalidInput, match="nope.tar does not exist"):
        store.load(tmp_path / "nope.tar")


# ------------------------------------------------------------------------ list and delete


def test_list_delete_and_dangling_images(tmp_path, store):
    old = store.load(
        docker_archive(tmp_path / "old.tar", [([ROOT_LAYER], {}, ["etl:1", "etl:latest"])])
    )[0]
    new = store.load(
        docker_archive(tmp_path / "new.tar", [([ROOT_LAYER, APP_LAYER], {}, ["etl:latest"])])
    )[0]
    listed = store.images()
    assert [(i.id, i.names) for i in listed] == [
        (old.id, ("docker.io/library/etl:1",)),
        (new.id, ("docker.io/library/etl:latest",)),
    ]
    store.rootfs(listed[0])
    gone = store.delete("etl:1")
    assert (gone.names, gone.data) == (("docker.io/library/etl:1",), True)
    assert snapshot(store)["roots"] == [] and store.find(old.id) is None
    assert (store.path / "blobs/sha256" / new.layers[0][7:]).exists()  # shared layer stays
    assert not (store.path / "blobs/sha256" / old.id[7:]).exists()
    store.load(tmp_path / "new.tar", names=["etl:also"])
    first = store.delete("etl")
    assert (first.names, first.data) == (("docker.io/library/etl:latest",), False)
    assert store.find("etl:also") is not None
    last = store.delete(new.id[7:19])  # an id removes every name and the data
    assert (last.names, last.data) == (("docker.io/library/etl:also",), True)
    assert snapshot(store) == {
        "records": [],
        "roots": [],
        "blobs/sha256": [],
        "tmp": [],
        "names": [],
    }


def test_deleting_an_unknown_image_says_how_to_list(store):
    with pytest.raises(
        ImageNotFound, match="'nope' is not in the image store .*'pachstream list image'"
    ):
        store.delete("nope")


def test_a_name_moved_to_a_new_image_leaves_the_old_one_unnamed(tmp_path, store):
    old = store.load(docker_archive(tmp_path / "a.tar", [([ROOT_LAYER], {}, ["t:1"])]))[0]
    store.load(docker_archive(tmp_path / "b.tar", [([APP_LAYER], {}, ["t:1"])]))
    assert [i.names for i in store.images()] == [("docker.io/library/t:1",), ()]
    assert store.find(old.id) is not None and store.find(old.id).names == ()  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------- pulling


def test_without_skopeo_an_unknown_image_names_both_ways(store, monkeypatch):
    monkeypatch.setattr("pachstream.images._pull.shutil.which", lambda name: None)
    with pytest.raises(ImageNotFound) as caught:
        store.get("myorg/etl:1.2")
    message = caught.value.message
    assert message.startswith(
        "image 'myorg/etl:1.2' (docker.io/myorg/etl:1.2) is not in the image store ("
    )
    assert "skopeo is not installed" in message
    assert "'pachstream image load FILE'" in message and "install skopeo" in message
    assert caught.value.image == "myorg/etl:1.2"


def test_a_puller_fills_the_store_under_the_requested_name(tmp_path):
    pulled: list[str] = []

    def pull(ref: str, dest: Path) -> None:
        pulled.append(ref)
        oci_archive(dest, [([ROOT_LAYER], {"Cmd": ["sh"]}, {})])

    store = ImageStore(tmp_path / "s", puller=pull, arch="amd64")
    image = store.get("myorg/etl:1.2")
    assert image.names == ("docker.io/myorg/etl:1.2",) and pulled == ["docker.io/myorg/etl:1.2"]
    assert store.get("docker.io/myorg/etl:1.2") == image and len(pulled) == 1
    assert list((store.path / "pulls").iterdir()) == []


def test_an_unknown_id_is_not_pulled(tmp_path):
    def pull(ref: str, dest: Path) -> None:
        raise AssertionError("an id is never pulled")

    with pytest.raises(ImageNotFound, match="has id 'sha256:abababababab', and an id cannot"):
        ImageStore(tmp_path / "s", puller=pull).get("sha256:abababababab")


def test_a_failed_pull_is_image_not_found(tmp_path):
    def pull(ref: str, dest: Path) -> None:
        raise ImageNotFound(f"image {ref!r}: unreachable", image=ref)

    with pytest.raises(ImageNotFound, match="unreachable"):
        ImageStore(tmp_path / "s", puller=pull).get("x")


# ---------------------------------------------------------------------------------- unpacking


def test_unpack_once_even_when_raced(tmp_path, store, monkeypatch):
    [image] = store.load(
        docker_archive(tmp_path / "a.tar", [([ROOT_LAYER, APP_LAYER], {}, ["a:1"])])
    )
    applied: list[str] = []
    real = store_module.apply_layer

    def counting(state, layer, *, name):
        applied.append(name)
        real(state, layer, name=name)

    monkeypatch.setattr(store_module, "apply_layer", counting)
    roots: list[Path] = []
    threads = [
        threading.Thread(target=lambda: roots.append(ImageStore(store.path).rootfs(image)))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(roots)) == 1 and len(roots) == 6 and len(applied) == 2
    assert store.rootfs(image) == roots[0] and len(applied) == 2


def test_a_failed_unpack_leaves_no_half_root(tmp_path, store, monkeypatch):
    [image] = store.load(
        docker_archive(tmp_path / "a.tar", [([ROOT_LAYER, APP_LAYER], {}, ["a:1"])])
    )
    real = store_module.apply_layer

    def crash_on_second(state, layer, *, name):
        if name.startswith("1 "):
            raise InvalidInput("boom")
        real(state, layer, name=name)

    monkeypatch.setattr(store_module, "apply_layer", crash_on_second)
    with pytest.raises(InvalidInput, match="boom"):
        store.rootfs(image)
    assert snapshot(store)["roots"] == [] and snapshot(store)["tmp"] == []
    monkeypatch.setattr(store_module, "apply_layer", real)
    assert (store.rootfs(image) / "app/etl.py").exists()


def test_leftovers_of_a_crash_go_at_the_next_load(tmp_path, store):
    (store.path / "tmp" / "root-crashed").mkdir()
    (store.path / "tmp" / "root-crashed" / "half").write_text("x")
    store.load(docker_archive(tmp_path / "a.tar", [([ROOT_LAYER], {}, ["a:1"])]))
    assert snapshot(store)["tmp"] == []


def test_plan_resolves_the_user_from_the_images_passwd(tmp_path, store):
    files = {"etc/passwd": b"root:x:0:0::/:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n", "app/x": b""}
    archive = docker_archive(
        tmp_path / "u.tar",
        [([layer_tar(files)], {"User": "app", "WorkingDir": "/app", "Cmd": ["run"]}, ["u:1"])],
    )
    store.load(archive)
    root, plan = store.plan("u:1", env={"A": "1"})
    assert (root / "app").is_dir()
    assert (plan.cmd, plan.working_dir, plan.uid, plan.gid, plan.env["A"]) == (
        ("run",),
        "/app",
        1000,
        1000,
        "1",
    )


# ---------------------------------------------------------------------------------- settings


def test_settings_place_the_store(tmp_path):
    base = {"PACHSTREAM_HOME": str(tmp_path / "home")}
    assert Settings.from_env(base, stack_file=False).images_dir == tmp_path / "home" / "images"
    mine = Settings.from_env({**base, "PACHSTREAM_IMAGES": str(tmp_path / "img")}, stack_file=False)
    assert mine.images_dir == tmp_path / "img"
    assert mine.child_env()["PACHSTREAM_IMAGES"] == str(tmp_path / "img")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="PACHSTREAM_IMAGES=.* is not a directory"):
        Settings.from_env({**base, "PACHSTREAM_IMAGES": str(tmp_path / "file")}, stack_file=False)


def test_skopeo_on_path_pulls_and_its_failure_is_named(tmp_path, monkeypatch):
    source = oci_archive(tmp_path / "remote.tar", [([ROOT_LAYER], {"Cmd": ["sh"]}, {})])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "skopeo"
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$1 $2" = "copy --quiet" ] || exit 9\n'
        'case "$3" in\n'
        f'  docker://docker.io/myorg/etl:1.2) cp {source} "${{4#oci-archive:}}" ;;\n'
        '  *) echo "reading manifest: manifest unknown" >&2; exit 1 ;;\n'
        "esac\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    store = ImageStore(tmp_path / "s", arch="amd64")
    assert store.get("myorg/etl:1.2").names == ("docker.io/myorg/etl:1.2",)
    with pytest.raises(ImageNotFound) as caught:
        store.get("myorg/missing")
    assert caught.value.message.startswith(
        "image 'docker.io/myorg/missing:latest' is not in the image store and skopeo could not "
        "pull it "
        "(reading manifest: manifest unknown); load it with 'pachstream image load FILE'"
    )
