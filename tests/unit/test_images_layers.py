"""The layer applier: member names, whiteouts, opaque dirs, hardlinks, symlink escapes."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from pachstream.errors import InvalidInput
from pachstream.images._layers import (
    Unpacking,
    apply_layer,
    member_parts,
    read_in_root,
    resolve_in_root,
    whiteout,
)


def layer(*entries: tuple, gz: bool = False) -> io.BytesIO:
    """A layer tar: (name, "file", data[, mode]) | (name, "dir"[, mode]) | (name, "sym", target)
    | (name, "link", target) | (name, "chr", (major, minor)) | (name, "fifo")."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, *rest in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            data = b""
            if kind == "file":
                data = rest[0]
                info.size = len(data)
                info.mode = rest[1] if len(rest) > 1 else 0o644
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = rest[0] if rest else 0o755
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, rest[0]
            elif kind == "link":
                info.type, info.linkname = tarfile.LNKTYPE, rest[0]
            elif kind == "chr":
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = rest[0]
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            t.addfile(info, io.BytesIO(data) if kind == "file" else None)
    buf.seek(0)
    return buf


def unpack(root: Path, *layers: io.BytesIO) -> Unpacking:
    state = Unpacking(root=root, file="test-image")
    for i, one in enumerate(layers):
        apply_layer(state, one, name=str(i))
    state.finish()
    return state


def tree(root: Path) -> dict[str, str]:
    """Every entry under root: 'dir', 'file:<text>' or 'sym:<target>'."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = f"sym:{os.readlink(path)}"
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = f"file:{path.read_text()}"
    return out


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("etc/passwd", ("etc", "passwd")),
        ("./etc//passwd", ("etc", "passwd")),
        ("./", ()),
        (".", ()),
        ("usr/bin/", ("usr", "bin")),
        ("a/.wh.b", ("a", ".wh.b")),
    ],
)
def test_member_parts(name, parts):
    assert member_parts(name) == parts


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("/etc/passwd", "absolute name"),
        ("../outside", "'..' segment"),
        ("a/../../b", "'..' segment"),
        ("./a/..", "'..' segment"),
    ],
)
def test_member_names_that_escape_are_refused(name, said):
    with pytest.raises(InvalidInput, match=said) as caught:
        member_parts(name, file="img layer 0")
    assert caught.value.member == name and "img layer 0" in caught.value.message


@pytest.mark.parametrize(
    ("parts", "marker"),
    [
        (("etc", "passwd"), None),
        (("etc", ".wh.passwd"), ("delete", ("etc", "passwd"))),
        ((".wh.tmp",), ("delete", ("tmp",))),
        (("var", "cache", ".wh..wh..opq"), ("opaque", ("var", "cache"))),
        (("a", ".wh..wh.plnk"), ("skip", ("a", ".wh..wh.plnk"))),
        ((), None),
    ],
)
def test_whiteout(parts, marker):
    assert whiteout(parts) == marker


LAYER_CASES = [
    (
        "upper layers add and replace files",
        [
            [("etc", "dir"), ("etc/a", "file", b"1"), ("etc/b", "file", b"2")],
            [("etc/a", "file", b"one")],
        ],
        {"etc": "dir", "etc/a": "file:one", "etc/b": "file:2"},
    ),
    (
        "a whiteout deletes a lower file and a lower directory with its contents",
        [
            [("a", "file", b"x"), ("d", "dir"), ("d/f", "file", b"y"), ("k", "file", b"k")],
            [(".wh.a", "file", b""), (".wh.d", "file", b"")],
        ],
        {"k": "file:k"},
    ),
    (
        "a whiteout does not delete what its own layer adds",
        [[("a", "file", b"lower")], [("a", "file", b"same layer"), (".wh.a", "file", b"")]],
        {"a": "file:same layer"},
    ),
    (
        "an opaque dir keeps this layer's entries, wherever the marker sits",
        [
            [("d", "dir"), ("d/old", "file", b"o"), ("d/sub", "dir"), ("d/sub/x", "file", b"x")],
            [
                ("d", "dir"),
                ("d/new", "file", b"n"),
                ("d/sub", "dir"),
                ("d/sub/y", "file", b"y"),
                ("d/.wh..wh..opq", "file", b""),
            ],
        ],
        {"d": "dir", "d/new": "file:n", "d/sub": "dir", "d/sub/y": "file:y"},
    ),
    (
        "a file replaces a directory and a directory a file",
        [
            [("x", "dir"), ("x/inner", "file", b"i"), ("y", "file", b"f")],
            [("x", "file", b"now a file"), ("y", "dir"), ("y/z", "file", b"z")],
        ],
        {"x": "file:now a file", "y": "dir", "y/z": "file:z"},
    ),
    (
        "a missing parent directory is created",
        [[("deep/er/file", "file", b"d")]],
        {"deep": "dir", "deep/er": "dir", "deep/er/file": "file:d"},
    ),
    (
        "a lower layer's symlinked dir takes upper files inside the root (merged /usr)",
        [
            [("usr", "dir"), ("usr/bin", "dir"), ("bin", "sym", "usr/bin")],
            [("bin/tool", "file", b"t")],
        ],
        {"bin": "sym:usr/bin", "usr": "dir", "usr/bin": "dir", "usr/bin/tool": "file:t"},
    ),
    (
        "an absolute symlink is followed inside the root, never on the host",
        [[("etc", "dir"), ("evil", "sym", "/etc")], [("evil/passwd", "file", b"root-only")]],
        {"etc": "dir", "etc/passwd": "file:root-only", "evil": "sym:/etc"},
    ),
    (
        "a '..' symlink stops at the root",
        [[("up", "sym", "../../../..")], [("up/escaped", "file", b"e")]],
        {"escaped": "file:e", "up": "sym:../../../.."},
    ),
    (
        "a member replacing a symlink replaces the link, not its target",
        [[("target", "file", b"keep"), ("link", "sym", "target")], [("link", "file", b"new")]],
        {"link": "file:new", "target": "file:keep"},
    ),
    (
        "a whiteout through a symlinked parent deletes inside the root",
        [
            [("real", "dir"), ("real/f", "file", b"f"), ("alias", "sym", "/real")],
            [("alias/.wh.f", "file", b"")],
        ],
        {"alias": "sym:/real", "real": "dir"},
    ),
]


@pytest.mark.parametrize(
    ("what", "layers", "expected"), LAYER_CASES, ids=[c[0] for c in LAYER_CASES]
)
def test_apply_layers(tmp_path, what, layers, expected):
    root = tmp_path / "root"
    root.mkdir()
    unpack(root, *(layer(*entries) for entries in layers))
    assert tree(root) == expected
    assert not (tmp_path / "escaped").exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "root"
    ]


def test_hardlinks_share_the_inode_and_may_follow_a_whiteout(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    unpack(
        root,
        layer(
            ("bin", "dir"), ("bin/busybox", "file", b"BB", 0o755), ("bin/sh", "link", "bin/busybox")
        ),
        layer(("bin/ls", "link", "./bin/busybox")),
    )
    assert (root / "bin/sh").read_bytes() == b"BB"
    assert os.stat(root / "bin/sh").st_ino == os.stat(root / "bin/busybox").st_ino
    assert os.stat(root / "bin/ls").st_ino == os.stat(root / "bin/busybox").st_ino
    assert os.stat(root / "bin/busybox").st_nlink == 3


@pytest.mark.parametrize(
    ("entries", "said"),
    [
        ([("a", "link", "missing")], "points to 'missing', which no earlier member created"),
        ([("a", "link", "../../etc/passwd")], "'..' segment"),
        ([("a", "link", "/etc/passwd")], "absolute name"),
        ([("/etc/x", "file", b"x")], "absolute name"),
        ([("../x", "file", b"x")], "'..' segment"),
        ([("f", "file", b"x"), ("f/under", "file", b"y")], "which is no directory"),
    ],
)
def test_bad_members_are_refused_naming_image_layer_and_member(tmp_path, entries, said):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(InvalidInput, match=said) as caught:
        unpack(root, layer(*entries))
    assert "test-image layer 0" in caught.value.message
    assert not (tmp_path / "etc").exists()


def test_a_symlink_to_a_host_file_is_not_written_through(tmp_path):
    host = tmp_path / "host-secret"
    host.write_text("host")
    root = tmp_path / "root"
    root.mkdir()
    unpack(root, layer(("s", "sym", str(host))), layer(("s", "file", b"image")))
    assert host.read_text() == "host" and (root / "s").read_text() == "image"


def test_modes_times_and_read_only_dirs_are_kept(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    unpack(
        root,
        layer(
            ("ro", "dir", 0o555), ("ro/x", "file", b"x", 0o4755), ("secret", "file", b"s", 0o600)
        ),
        layer(("ro/late", "file", b"late", 0o444)),  # into the read-only dir of a lower layer
    )
    assert stat.S_IMODE(os.stat(root / "ro").st_mode) == 0o555
    assert stat.S_IMODE(os.stat(root / "ro/x").st_mode) == 0o4755
    assert stat.S_IMODE(os.stat(root / "ro/late").st_mode) == 0o444
    assert stat.S_IMODE(os.stat(root / "secret").st_mode) == 0o600
    assert os.stat(root / "ro").st_mtime == 1_700_000_000


def test_gzip_layers_fifos_and_devices(tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()

    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "mknod", refuse)
    state = unpack(
        root,
        layer(
            ("dev", "dir"),
            ("dev/null", "chr", (1, 3)),
            ("pipe", "fifo"),
            ("f", "file", b"z"),
            gz=True,
        ),
    )
    assert state.skipped_devices == 1 and not (root / "dev/null").exists()
    assert stat.S_ISFIFO(os.lstat(root / "pipe").st_mode) and (root / "f").read_text() == "z"


def test_a_symlink_loop_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(InvalidInput, match="too many symlinks"):
        unpack(root, layer(("a", "sym", "b"), ("b", "sym", "a")), layer(("a/x", "file", b"x")))


def test_not_a_tar_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="layer 0 is not a tar"):
        unpack(tmp_path, io.BytesIO(b"\x00garbage" * 10))


@pytest.mark.parametrize(
    ("parts", "follow_last", "expected"),
    [
        (["etc", "passwd"], True, "etc/passwd"),
        (["link", "passwd"], True, "etc/passwd"),
        (["link"], False, "link"),
        (["link"], True, "etc"),
        (["abs", "x"], True, "etc/x"),
        (["..", "..", "etc"], True, "etc"),
        (["up", "etc"], True, "etc"),
    ],
)
def test_resolve_in_root(tmp_path, parts, follow_last, expected):
    (tmp_path / "etc").mkdir()
    (tmp_path / "link").symlink_to("etc")
    (tmp_path / "abs").symlink_to("/etc")
    (tmp_path / "up").symlink_to("../../..")
    assert resolve_in_root(tmp_path, parts, follow_last=follow_last) == tmp_path / expected


def test_read_in_root_never_reads_the_host(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").symlink_to("/etc/hostname")
    (tmp_path / "etc" / "group").write_text("g:x:5:\n")
    assert read_in_root(tmp_path, "etc/passwd") is None  # the image has no /etc/hostname
    assert read_in_root(tmp_path, "etc/group") == b"g:x:5:\n"
    assert read_in_root(tmp_path, "etc") is None and read_in_root(tmp_path, "nope/x") is None
