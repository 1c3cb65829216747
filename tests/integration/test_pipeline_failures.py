"""Pipelines under bad input: invalid specs refused at create time; failing, escaping, endless
and conflicting user code fails its own job with a clear reason while other pipelines run on;
and kill -9 of a worker mid-job loses nothing."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time

import pytest

from pachstream.client import Client
from pachstream.dispatch.events import CreatePipeline
from pachstream.errors import Conflict, InvalidSpec
from pachstream.model import derive_id
from pachstream.testing.services import RunningStack

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)


def spec(name: str, cmd: str, glob: str = "/*", **extra) -> dict:
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": "raw", "glob": glob}},
        "transform": {"cmd": ["sh", "-c", cmd]},
        "datum_tries": 1,
        **extra,
    }


INVALID = [
    (spec("p1", "true") | {"input": {"pfs": {"repo": "nope", "glob": "/*"}}}, "nope"),
    (spec("p2", "true") | {"input": {"pfs": {"repo": "raw", "glob": "/[a"}}}, "glob"),
    (
        {
            "pipeline": {"name": "p3"},
            "input": {"pfs": {"repo": "raw", "glob": "/*"}},
            "transform": {},
        },
        "cmd",
    ),
    (
        spec("p4", "true")
        | {
            "input": {
                "cross": [
                    {"pfs": {"repo": "raw", "glob": "/*"}},
                    {"pfs": {"repo": "raw", "glob": "/"}},
                ]
            }
        },
        "raw",
    ),
    (
        spec("p5", "true")
        | {
            "input": {
                "join": [
                    {"pfs": {"repo": "raw", "name": "l", "glob": "/(*)", "join_on": "$1"}},
                    {"pfs": {"repo": "raw", "name": "r", "glob": "/(*)"}},
                ]
            }
        },
        "join_on",
    ),
    (spec("p6", "true") | {"standby": True}, "standby"),
]


async def test_invalid_specs_are_refused_at_create_time(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("raw")
    for bad, word in INVALID:
        with pytest.raises(InvalidSpec) as exc:
            await c.create_pipeline(bad)
        assert word in exc.value.message, exc.value.message
        # The dispatcher refuses it too when a writer skips the SDK's checks.
        req = CreatePipeline(
            request_id=Client._rid(), pipeline=bad["pipeline"]["name"], time=time.time(), spec=bad
        )
        with pytest.raises(InvalidSpec):
            await c._request(req, "raw create")
    assert await c.list_pipeline() == []
    await c.create_pipeline(spec("ok", "true"))
    with pytest.raises(Conflict, match="update pipeline"):
        await c.create_pipeline(spec("ok", "true"))


async def test_bad_user_code_fails_its_job_and_others_run_on(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("raw")
    cid = await c.put_files("raw@master", [("/a", b"1"), ("/b", b"2")])
    cases = {
        "exits": (spec("exits", "echo bad thing >&2; exit 3"), "exit 3 after 1 tries: bad thing"),
        "escapes": (
            spec("escapes", "echo x > /pfs/raw/evil; echo y > /usr/evil"),
            "Read-only file system",
        ),
        "endless": (spec("endless", "sleep 600", datum_timeout="2s"), "timed out"),
        "conflict": (spec("conflict", "echo 1 > /pfs/out/same"), "both wrote '/same'"),
        "good": (spec("good", "cp /pfs/raw/* /pfs/out/"), ""),
    }
    for s, _ in cases.values():
        await c.create_pipeline(s)
    jobs = {j.pipeline: j for j in await c.flush("raw", cid, timeout_s=180)}
    for name, (_, reason) in cases.items():
        job = jobs[name]
        if name == "good":
            assert job.state == "success", job
            assert await c.get_file("good@master", "/b") == b"2"
        else:
            assert job.state == "failure", job
            assert reason in job.reason, job.reason
    assert not os.path.exists("/usr/evil")
    # A failed job makes no output commit; its datums keep their logs and exit codes.
    assert await c.list_commit("exits") == []
    datum = (await c.list_datum(jobs["exits"].id))[0]
    assert (datum.state, datum.exit_code) == ("failed", 3)
    logs = await c.logs(job_id=jobs["exits"].id, datum_id=datum.id)
    assert "bad thing" in logs[0]["stderr"]
    # Fix the code, rerun only what failed.
    await c.create_pipeline(spec("exits", "cp /pfs/raw/* /pfs/out/"), update=True)
    fixed = await c.wait_job((await job_of_version(c, "exits", 2)).id, timeout_s=120)
    assert (fixed.state, fixed.processed) == ("success", 2), fixed
    assert await c.get_file("exits@master", "/a") == b"1"


async def job_of_version(c: Client, pipeline: str, version: int):
    """The first job of a pipeline's spec version (polls until the dispatcher made it)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [j for j in await c.list_job(pipeline) if j.version == version]
        if found:
            return found[-1]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no job of {pipeline} version {version}")


async def test_rerun_failed_datums_only(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("raw")
    cid = await c.put_files("raw@master", [("/a", b"1"), ("/b", b"2"), ("/c", b"3")])
    # Fails on /b until the marker file exists in the worker's scratch (a flaky dependency).
    flaky = (
        'f=$(ls /pfs/raw); if [ "$f" = b ] && [ ! -e /ctl/ok ]; then exit 7; fi; '
        "cp /pfs/raw/$f /pfs/out/"
    )
    await c.create_pipeline(spec("flaky", flaky))
    job = (await c.flush("raw", cid, timeout_s=120))[0]
    assert (job.state, job.processed, job.failed) == ("failure", 2, 1)
    # Every worker's sandbox (the pool's folder also holds its metrics files, no sandbox).
    for box in (stack.settings.home / "workers" / stack.settings.namespace).glob("*/box"):
        (box / "ctl" / "ok").touch()
    rerun = await c.rerun_job(job.id)
    done = await c.wait_job(rerun, timeout_s=120)
    assert (done.state, done.processed, done.skipped, done.rerun_of) == ("success", 1, 2, job.id), (
        done
    )
    assert [f.path for f in await c.list_file(f"flaky@{done.output_commit}", "/")] == [
        "/a",
        "/b",
        "/c",
    ]
    one = await c.rerun_datum(done.id, (await c.list_datum(done.id))[0].id)
    assert (await c.wait_job(one, timeout_s=120)).processed == 1


async def test_kill_9_of_a_worker_mid_job_loses_nothing(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("raw")
    n = 1000
    cid = await c.put_files("raw@master", ((f"/f{i:04d}", f"{i}\n".encode()) for i in range(n)))
    body = 'for f in /pfs/raw/*; do sed s/^/x/ "$f" > /pfs/out/$(basename "$f"); done'
    await c.create_pipeline(spec("killed", body, parallelism_spec={"constant": 2}))
    await c.create_pipeline(spec("calm", body, parallelism_spec={"constant": 2}))
    # Wait until the job is well under way, then kill -9 one of its workers.
    deadline = time.monotonic() + 120
    while True:
        jobs = await c.list_job("killed")
        if jobs and len(await c.list_datum(jobs[0].id)) >= 100:
            break
        assert time.monotonic() < deadline, "the job never got going"
        await asyncio.sleep(0.2)
    victim = next(pid for (name, _, _), pid in stack.workers.pids().items() if name == "killed")
    os.kill(victim, signal.SIGKILL)
    jobs = {j.pipeline: j for j in await c.flush("raw", cid, timeout_s=600)}
    assert jobs["killed"].state == "success" and jobs["calm"].state == "success", jobs
    assert jobs["killed"].processed == n
    killed = {
        f.path: f.hash for f in await c.list_file(f"killed@{jobs['killed'].output_commit}", "/")
    }
    calm = {f.path: f.hash for f in await c.list_file(f"calm@{jobs['calm'].output_commit}", "/")}
    assert len(killed) == n and killed == calm
    assert await c.get_file("killed@master", "/f0042") == b"x42\n"
    assert (
        stack.workers.procs[("killed", 1, 0)].restarts
        + stack.workers.procs[("killed", 1, 1)].restarts
        >= 1
    )
    assert derive_id  # ids stay deterministic: the same job id on both runs is not required


def grouped(name: str, key: str) -> dict:
    """A group pipeline writing each datum's group key into a file named after its first file."""
    return {
        "pipeline": {"name": name},
        "input": {"group": [{"pfs": {"repo": "raw", "glob": "/(*)-(*).csv", "group_by": key}}]},
        "transform": {
            "cmd": [
                "sh",
                "-c",
                'printf "%s" "$PACH_DATUM_raw_GROUP_BY" > "/pfs/out/$(ls /pfs/raw | head -1)"',
            ]
        },
        "datum_tries": 1,
    }


async def test_no_template_command_or_working_dir_stops_the_dispatcher(stack: RunningStack) -> None:
    # Each of these once raised inside the dispatcher's loop, or could: now each pipeline gets
    # its own outcome, and the healthy one keeps getting jobs.
    c = stack.client
    await c.create_repo("raw")
    first = await c.put_files("raw@master", [("/x-1.csv", b"1"), ("/y-2.csv", b"2")])
    await c.create_pipeline(grouped("whole", "$0"))  # $0: the whole match, as in Pachyderm
    await c.create_pipeline(grouped("missing", "$7"))  # no group 7: empty, one group of all
    await c.create_pipeline(grouped("unclosed", "${1"))  # not a reference: literal text
    await c.create_pipeline(spec("nobinary", "true") | {"transform": {"cmd": ["/no/such/program"]}})
    await c.create_pipeline(
        spec("nowhere", "true") | {"transform": {"cmd": ["true"], "working_dir": "/no/such/dir"}}
    )
    await c.create_pipeline(spec("healthy", "cp /pfs/raw/* /pfs/out/"))
    jobs = {j.pipeline: j for j in await c.flush("raw", first, timeout_s=180)}
    assert {n: j.state for n, j in jobs.items()} == {
        "whole": "success",
        "missing": "success",
        "unclosed": "success",
        "nobinary": "failure",
        "nowhere": "failure",
        "healthy": "success",
    }, jobs
    assert await c.get_file("whole@master", "/x-1.csv") == b"/x-1.csv"
    assert await c.get_file("whole@master", "/y-2.csv") == b"/y-2.csv"
    assert [f.path for f in await c.list_file("missing@master", "/")] == ["/x-1.csv"]
    assert await c.get_file("missing@master", "/x-1.csv") == b""
    assert [f.path for f in await c.list_file("unclosed@master", "/")] == ["/x-1.csv"]
    assert await c.get_file("unclosed@master", "/x-1.csv") == b"${1"
    assert "exit 127" in jobs["nobinary"].reason and "/no/such/program" in jobs["nobinary"].reason
    assert "working_dir '/no/such/dir' does not exist" in jobs["nowhere"].reason
    assert (await c.inspect_job(jobs["nowhere"].id)).reason == jobs["nowhere"].reason
    # The loop goes on: a second commit gives every pipeline its next job.
    second = await c.put_files("raw@master", [("/z-3.csv", b"3")])
    again = {j.pipeline: j for j in await c.flush("raw", second, timeout_s=180)}
    assert again["healthy"].state == "success" and again["healthy"].processed == 1
    assert await c.get_file("healthy@master", "/z-3.csv") == b"3"
    assert again["nobinary"].state == "failure" and again["nobinary"].id != jobs["nobinary"].id
