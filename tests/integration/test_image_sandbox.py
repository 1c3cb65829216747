"""The sandbox with an image root: the image's files, not the host's, with /pfs as always.

The image is built here with tarfile: busybox-static's binary as its only program, an
/etc/os-release, a script shadowing a busybox applet, and a config with Env and WorkingDir.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pachstream.images import ImageStore
from pachstream.worker.sandbox import (
    SHELL_INSIDE,
    Sandbox,
    command_script,
    free_memory,
    is_static_elf,
    static_shell,
)

OS_RELEASE = b'ID=pachstream-test\nNAME="pachstream test image"\n'


def _busybox() -> Path:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (make installs it)")
    for candidate in ("/usr/bin/busybox", "/bin/busybox"):
        if is_static_elf(Path(candidate)):
            return Path(candidate)
    pytest.skip("no static busybox (apt-get install busybox-static; make system-deps does it)")


def _image_archive(path: Path, busybox: Path, config: dict) -> Path:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        for name in ("bin", "etc", "work"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            t.addfile(info)
        files = {
            "bin/busybox": (busybox.read_bytes(), 0o755),
            # Named as a busybox applet: the sandbox must run the image's, not busybox's.
            "bin/true": (b'#!/bin/busybox sh\necho "the image\x27s own true"\n', 0o755),
            "etc/os-release": (OS_RELEASE, 0o644),
            "etc/passwd": (b"root:x:0:0::/:/bin/sh\napp:x:1000:1000::/work:/bin/sh\n", 0o644),
        }
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            t.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.LNKTYPE, "bin/busybox"
        t.addfile(link)
    layer_bytes = layer.getvalue()
    cfg = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()],
            },
        }
    ).encode()
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    manifest = [{"Config": cfg_name, "RepoTags": ["pstest/tiny:1"], "Layers": ["l/layer.tar"]}]
    with tarfile.open(path, "w") as t:
        for name, data in (
            (cfg_name, cfg),
            ("l/layer.tar", layer_bytes),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


CONFIG = {"Env": ["PATH=/bin", "GREETING=from the image"], "WorkingDir": "/work"}


@pytest.fixture
async def image_box(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, ImageStore]]:
    busybox = _busybox()
    store = ImageStore(tmp_path / "images")
    store.load(_image_archive(tmp_path / "tiny.tar", busybox, CONFIG))
    root = store.rootfs(store.get("pstest/tiny:1"))
    box = Sandbox(tmp_path / "box", ["in"], image_root=root)
    yield box, store
    await box.stop()


async def test_a_command_sees_the_images_files_not_the_hosts(image_box):
    box, store = image_box
    root, plan = store.plan("pstest/tiny:1", cmd=["busybox", "cat", "/etc/os-release"])
    result = await box.run(plan.cmd, env=plan.env, working_dir=plan.working_dir)
    assert (result.exit_code, result.stdout_tail) == (0, OS_RELEASE.decode())
    assert OS_RELEASE.decode() != Path("/etc/os-release").read_text()
    host_usr = await box.run(["busybox", "ls", "/usr"], env=plan.env)
    assert host_usr.exit_code != 0  # the image has no /usr; the host's is not there
    listing = await box.run(["busybox", "ls", "-a", "/"], env=plan.env)
    assert set(listing.stdout_tail.split()) == {
        ".", "..", ".pachstream", "bin", "dev", "etc", "pfs", "proc", "tmp", "work", "ctl"
    }  # fmt: skip


async def test_the_images_env_and_workdir_and_nothing_of_the_host(image_box, monkeypatch):
    box, store = image_box
    monkeypatch.setenv("PACHSTREAM_HOST_SECRET", "leak")
    _, plan = store.plan(
        "pstest/tiny:1",
        cmd=["sh", "-c", 'pwd; echo "$GREETING/$EXTRA/${PACHSTREAM_HOST_SECRET:-none}"'],
        env={"EXTRA": "spec"},
    )
    result = await box.run(plan.cmd, env=plan.env, working_dir=plan.working_dir)
    assert (result.exit_code, result.stdout_tail) == (0, "/work\nfrom the image/spec/none\n")


async def test_pfs_tmp_and_a_read_only_image(image_box):
    box, store = image_box
    (box.input_dir("in") / "a").write_text("input\n")
    _, plan = store.plan("pstest/tiny:1", cmd=["sh", "-c", "cat /pfs/in/a > /pfs/out/b"])
    ok = await box.run(plan.cmd, env=plan.env)
    assert ok.exit_code == 0 and (box.out_dir / "b").read_text() == "input\n"
    for target in ["/etc/os-release", "/newfile", "/pfs/in/x", "/work/x", "/bin/x"]:
        refused = await box.run(["sh", "-c", f"echo x > {target}"], env=plan.env)
        assert refused.exit_code != 0, target
    scratch = await box.run(["sh", "-c", "echo x > /tmp/s && cat /tmp/s"], env=plan.env)
    assert scratch.stdout_tail == "x\n"


async def test_programs_are_the_images_even_where_busybox_has_an_applet(image_box):
    box, store = image_box
    _, plan = store.plan("pstest/tiny:1", cmd=["true"])
    result = await box.run(plan.cmd, env=plan.env, working_dir=plan.working_dir)
    assert (result.exit_code, result.stdout_tail) == (0, "the image's own true\n")
    missing = await box.run(["python3", "-V"], env=plan.env)
    assert missing.exit_code == 127
    assert "command 'python3' is not found in PATH (PATH=/bin)" in missing.stderr_tail


async def test_no_network_and_a_warm_sandbox(image_box):
    box, store = image_box
    _, plan = store.plan("pstest/tiny:1", cmd=["sh", "-c", "cat /proc/net/dev | grep -c :"])
    first = await box.run(plan.cmd, env=plan.env)
    assert first.stdout_tail.strip() == "1"
    proc = box._proc
    again = await box.run(plan.cmd, env=plan.env)
    assert again.exit_code == 0 and box._proc is proc


async def test_the_images_user(tmp_path):
    busybox = _busybox()
    store = ImageStore(tmp_path / "images")
    store.load(_image_archive(tmp_path / "u.tar", busybox, {**CONFIG, "User": "app"}))
    root, plan = store.plan("pstest/tiny:1", cmd=["sh", "-c", "busybox id -u; busybox id -g"])
    box = Sandbox(tmp_path / "box", [], image_root=root, user=(plan.uid, plan.gid))
    try:
        result = await box.run(plan.cmd, env=plan.env)
        assert (result.exit_code, result.stdout_tail) == (0, "1000\n1000\n")
        wrote = await box.run(["sh", "-c", "echo x > /pfs/out/by-app"], env=plan.env)
        assert wrote.exit_code == 0 and (box.out_dir / "by-app").exists()
    finally:
        await box.stop()


def test_host_paths_map_into_the_image_never_the_host(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "shadow-link").symlink_to("/etc/shadow")
    box = Sandbox(tmp_path / "box", ["in"], image_root=root)
    try:
        assert box.host_path("/etc/os-release") == root / "etc/os-release"
        assert box.host_path("/etc/shadow-link") == root / "etc/shadow"
        assert box.host_path("/pfs/out/x") == box.out_dir / "x"
        assert box.host_path("/pfs/in/y") == box.input_dir("in") / "y"
        assert [box.host_path(p) for p in ("/tmp/x", "/proc/1", SHELL_INSIDE, "/")] == [None] * 4
    finally:
        # Never started, so never stopped: its memory folders (made when it was built) go
        # here, not with pytest's folder three runs later.
        free_memory(box.root)


def test_image_scripts():
    assert command_script(["/bin/tool", "a b"], {"PATH": "/bin:", "my-x": "1"}, None) == (
        "cd / 2>/dev/null || { echo 'pachstream: working_dir '\"'\"'/'\"'\"' does not exist; "
        "set transform.working_dir (or the image'\"'\"'s WORKDIR) to an existing directory, "
        "such as /pfs/out or /tmp' >&2; exit 126; }\n"
        f"exec $S {SHELL_INSIDE} env -i -- PATH=/bin: my-x=1 /bin/tool 'a b'\n"
    )
    script = command_script(["tool"], {"PATH": "/bin:"}, "/w")
    assert "for d in /bin .; do" in script and script.endswith(
        '\nunset PWD OLDPWD SHLVL\nexport PATH=/bin:\nexec $S "$p"\n'
    )


def test_the_static_shell_is_found_or_named():
    try:
        shell = static_shell()
    except Exception as exc:  # noqa: BLE001 - the message is what is checked
        assert "apt-get install busybox-static" in str(exc)
    else:
        assert is_static_elf(shell)
    assert not is_static_elf(Path("/bin/ls")) and not is_static_elf(Path("/etc/hostname"))
