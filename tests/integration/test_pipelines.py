"""Pipelines end to end on real servers: specs, jobs, incremental datums, a two-stage DAG."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from pachstream.testing.services import RunningStack

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

UPPER = """
pipeline: {name: upper}
input: {pfs: {repo: raw, glob: "/*"}}
transform:
  cmd: [sh, -c, 'for f in /pfs/raw/*; do tr a-z A-Z < "$f" > "/pfs/out/$(basename "$f")"; done']
parallelism_spec: {constant: 2}
---
pipeline: {name: total}
input: {pfs: {repo: upper, glob: "/"}}
transform:
  cmd: [sh, -c, 'cat /pfs/upper/* | wc -c > /pfs/out/total']
"""


async def test_two_stage_dag_runs_and_reruns_one_datum(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("raw")
    async with c.commit("raw@master") as commit:
        await commit.put_files(
            [("/a.txt", b"alpha\n"), ("/b.txt", b"beta\n"), ("/c.txt", b"gamma\n")]
        )
    first = await c.inspect_commit("raw@master")
    assert await c.create_pipeline(UPPER) == ["upper", "total"]
    jobs = await c.flush("raw", first.id, timeout_s=120)
    assert [(j.pipeline, j.state) for j in jobs] == [("upper", "success"), ("total", "success")], (
        jobs
    )
    assert jobs[0].processed == 3
    assert await c.get_file(f"upper@{jobs[0].output_commit}", "/b.txt") == b"BETA\n"
    assert (await c.get_file("total@master", "/total")).strip() == b"17"

    second = await c.put_file("raw@master", "/b.txt", b"BETA BETA\n")
    jobs = await c.flush("raw", second, timeout_s=120)
    assert [(j.pipeline, j.state) for j in jobs] == [("upper", "success"), ("total", "success")], (
        jobs
    )
    assert (jobs[0].processed, jobs[0].skipped) == (1, 2)
    assert await c.get_file("upper@master", "/b.txt") == b"BETA BETA\n"
    assert await c.get_file("upper@master", "/a.txt") == b"ALPHA\n"
    assert (await c.get_file("total@master", "/total")).strip() == b"22"
    datums = await c.list_datum(jobs[0].id)
    assert len(datums) == 1 and datums[0].inputs[0]["path"] == "/b.txt"

    third = await c.delete_file("raw@master", "/a.txt")
    jobs = await c.flush("raw", third, timeout_s=120)
    assert jobs[0].processed == 0 and jobs[0].skipped == 2
    assert sorted(f.path for f in await c.list_file("upper@master", "/")) == ["/b.txt", "/c.txt"]


async def test_processors_restart_mid_job_and_the_job_ends_the_same(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("raw")
    cid = await c.put_files("raw@master", ((f"/f{i:03d}", f"{i}\n".encode()) for i in range(60)))
    await c.create_pipeline(
        {
            "pipeline": {"name": "copy"},
            "input": {"pfs": {"repo": "raw", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "cp /pfs/raw/* /pfs/out/"]},
            "parallelism_spec": {"constant": 2},
        }
    )
    while not await c.list_job("copy"):
        await asyncio.sleep(0.05)
    await stack.restart_processors()  # the dispatcher's state comes back from Postgres
    job = (await c.flush("raw", cid, timeout_s=180))[0]
    assert (job.state, job.processed, job.datums) == ("success", 60, 60), job
    files = await c.list_file("copy@master", "/")
    assert len(files) == 60 and await c.get_file("copy@master", "/f007") == b"7\n"
    # The restored index still skips: one change, one datum.
    second = await c.put_file("raw@master", "/f007", b"seven\n")
    job = (await c.flush("raw", second, timeout_s=120))[0]
    assert (job.processed, job.skipped) == (1, 59), job
