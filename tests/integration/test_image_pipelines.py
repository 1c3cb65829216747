"""Pipelines that run in their image (issue 16): built here, loaded with `pachstream image
load`, run by the local runtime in the image's root, never the host's.

The image is busybox-static's binary as its only program, an /etc/os-release, an Env, a
WorkingDir and an Entrypoint: what a user's `docker save` of a small image would carry.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pachstream.images import write_docker_archive
from pachstream.testing.services import RunningStack, run_cli
from pachstream.worker.sandbox import is_static_elf

OS_RELEASE = b'ID=pachstream-test\nNAME="pachstream test image"\n'


def _busybox() -> Path:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (make installs it)")
    for candidate in ("/usr/bin/busybox", "/bin/busybox"):
        if is_static_elf(Path(candidate)):
            return Path(candidate)
    pytest.skip("no static busybox (apt-get install busybox-static; make system-deps does it)")


def _image(path: Path) -> Path:
    return write_docker_archive(
        path,
        tags=["pstest/tool:1"],
        files={
            "bin/busybox": (_busybox().read_bytes(), 0o755),
            "etc/os-release": (OS_RELEASE, 0o644),
            "work/.keep": (b"", 0o644),
        },
        links={"bin/sh": "bin/busybox"},
        config={
            "Env": ["PATH=/bin", "GREETING=from the image", "OVERRIDDEN=image"],
            "WorkingDir": "/work",
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["cp -r /pfs/raw/. /pfs/out/ && echo entrypoint > /pfs/out/how"],
        },
    )


SEES = (
    "cat /etc/os-release > /pfs/out/os-release; "
    'echo "$GREETING|$OVERRIDDEN" > /pfs/out/env; '
    "pwd > /pfs/out/pwd; "
    # The host's /usr is not there: the image has no /usr at all.
    "if [ -e /usr ]; then echo host > /pfs/out/usr; else echo absent > /pfs/out/usr; fi"
)


def _spec(name: str, image: str | None, cmd: list[str] | None, **transform: object) -> dict:
    t: dict[str, object] = dict(transform)
    if image is not None:
        t["image"] = image
    if cmd is not None:
        t["cmd"] = cmd
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": "raw", "glob": "/"}},
        "transform": t,
        "datum_tries": 1,
    }


async def test_a_pipeline_runs_in_its_image(stack: RunningStack, tmp_path: Path) -> None:
    archive = _image(tmp_path / "tool.tar")
    code, out, err = await run_cli(stack.settings, "image", "load", str(archive))
    assert code == 0 and "docker.io/pstest/tool:1" in out, (out, err)

    c = stack.client
    await c.create_repo("raw")
    cid = await c.put_files("raw@master", [("/a.txt", b"A")])
    await c.create_pipeline(
        _spec("sees", "pstest/tool:1", ["/bin/sh", "-c", SEES], env={"OVERRIDDEN": "spec"})
    )
    # No cmd: the image's Entrypoint with its Cmd runs, as on Pachyderm.
    await c.create_pipeline(_spec("entry", "pstest/tool:1", None))
    # An image in neither the store nor a registry fails its own job; the others go on.
    await c.create_pipeline(_spec("absent", "pstest/absent:1", ["/bin/sh", "-c", "true"]))
    # A name no registry could hold: its own job fails saying why; the worker goes on.
    await c.create_pipeline(_spec("misnamed", "NOT a//ref", ["/bin/sh", "-c", "true"]))
    await c.create_pipeline(_spec("host", None, ["sh", "-c", "cp /pfs/raw/* /pfs/out/"]))
    jobs = {j.pipeline: j for j in await c.flush("raw", cid, timeout_s=180)}

    assert jobs["sees"].state == "success", jobs["sees"]
    assert await c.get_file("sees@master", "/os-release") == OS_RELEASE  # not the host's
    assert await c.get_file("sees@master", "/env") == b"from the image|spec\n"
    assert await c.get_file("sees@master", "/pwd") == b"/work\n"
    assert await c.get_file("sees@master", "/usr") == b"absent\n"

    assert jobs["entry"].state == "success", jobs["entry"]
    assert await c.get_file("entry@master", "/how") == b"entrypoint\n"
    assert await c.get_file("entry@master", "/a.txt") == b"A"

    assert jobs["absent"].state == "failure", jobs["absent"]
    reason = jobs["absent"].reason
    assert "pstest/absent:1" in reason and "pachstream image load" in reason, reason

    assert jobs["misnamed"].state == "failure", jobs["misnamed"]
    assert "'NOT a//ref'" in jobs["misnamed"].reason and "lower case" in jobs["misnamed"].reason

    assert jobs["host"].state == "success", jobs["host"]
    assert await c.get_file("host@master", "/a.txt") == b"A"


async def test_kill_9_of_a_worker_mid_datum_in_an_image(
    stack: RunningStack, tmp_path: Path
) -> None:
    """The worker (the sidecar of the local runtime) killed while its image sandbox runs a
    datum: the pool starts it again, the datum runs again, the output is the host's."""
    import asyncio
    import os
    import signal
    import time

    code, out, err = await run_cli(stack.settings, "image", "load", str(_image(tmp_path / "t")))
    assert code == 0, err
    c = stack.client
    await c.create_repo("raw")
    n = 300
    cid = await c.put_files("raw@master", ((f"/f{i:04d}", f"{i}\n".encode()) for i in range(n)))
    body = 'for f in /pfs/raw/*; do sleep 0.02; sed s/^/x/ "$f" > /pfs/out/${f##*/}; done'
    killed = _spec("killed", "pstest/tool:1", ["/bin/sh", "-c", body])
    calm = _spec("calm", None, ["sh", "-c", body])
    for s in (killed, calm):
        s["input"] = {"pfs": {"repo": "raw", "glob": "/*"}}
        s["parallelism_spec"] = {"constant": 2}
        await c.create_pipeline(s)
    deadline = time.monotonic() + 120
    while True:
        jobs = await c.list_job("killed")
        if jobs and len(await c.list_datum(jobs[0].id)) >= 30:
            break
        assert time.monotonic() < deadline, "the job never got going"
        await asyncio.sleep(0.1)
    victim = next(pid for (name, _, _), pid in stack.workers.pids().items() if name == "killed")
    os.kill(victim, signal.SIGKILL)
    done = {j.pipeline: j for j in await c.flush("raw", cid, timeout_s=600)}
    assert done["killed"].state == "success" and done["calm"].state == "success", done
    assert done["killed"].processed == n
    in_image = {f.path: f.hash for f in await c.list_file("killed@master", "/")}
    on_host = {f.path: f.hash for f in await c.list_file("calm@master", "/")}
    assert len(in_image) == n and in_image == on_host
    procs = stack.workers.procs
    assert sum(p.restarts for (name, _, _), p in procs.items() if name == "killed") >= 1
