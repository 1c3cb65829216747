"""A local pool keeps standby workers (interpreters with the worker's code loaded): a new
pipeline's workers are those processes, they run the job, and the pool makes new standbys;
a pool that stops leaves no standby behind.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import pytest

from pachstream.lineage import queries
from pachstream.testing.services import RunningStack
from pachstream.worker._worker import REFILL_DEFER_MAX_S

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

SPEC = """
pipeline: {name: warm}
input: {pfs: {repo: cold, glob: "/*"}}
transform:
  cmd: [sh, -c, 'cp /pfs/cold/* /pfs/out/']
parallelism_spec: {constant: 2}
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie the pool has not reaped yet counts as gone.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_new_pipeline_runs_on_the_standby_workers(stack: RunningStack) -> None:
    pool = stack.workers
    for _ in range(100):  # the pool makes its standbys at its first idle step
        if len(pool._standby) == 2:
            break
        await asyncio.sleep(0.1)
    spares = {p.pid for p in pool._standby}
    assert len(spares) == 2 and all(_alive(p) for p in spares), spares

    c = stack.client
    await c.create_repo("cold")
    cid = await c.put_files("cold@master", [(f"/f{i}", f"{i}\n".encode()) for i in range(6)])
    await c.create_pipeline(SPEC)
    (job,) = await c.flush("cold", cid, timeout_s=120)
    assert (job.state, job.processed) == ("success", 6), job
    assert await c.get_file("warm@master", "/f4") == b"4\n"
    workers = {pid for (name, _, _), pid in pool.pids().items() if name == "warm"}
    assert workers == spares, "the pipeline's workers were not the standbys"

    # And the pool makes new ones once no job runs or ended lately (REFILL_QUIET_S), at the
    # latest REFILL_DEFER_MAX_S after.
    deadline = asyncio.get_running_loop().time() + REFILL_DEFER_MAX_S + 20
    while asyncio.get_running_loop().time() < deadline:
        fresh = {p.pid for p in pool._standby}
        if len(fresh) == 2 and not fresh & spares:
            break
        await asyncio.sleep(0.1)
    assert len(fresh) == 2 and not fresh & spares, (fresh, spares)

    await pool.stop()
    assert not any(_alive(p) for p in fresh | workers), "a standby or worker outlived its pool"


async def test_standbys_wait_while_a_job_runs(stack: RunningStack) -> None:
    """The sign the pool makes standbys by: no job running or ended lately (their imports
    take a core for a second). A worker's CPU share was the sign before, and on a loaded
    machine an idle worker passed it: standbys then came only after REFILL_DEFER_MAX_S.
    """
    c = stack.client
    assert not await queries.jobs_active(c._pool, time.time())
    await c.create_repo("slow")
    cid = await c.put_file("slow@master", "/a", b"a")
    await c.create_pipeline(
        {
            "pipeline": {"name": "sleeper"},
            "input": {"pfs": {"repo": "slow", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "sleep 3; cp /pfs/slow/* /pfs/out/"]},
        }
    )
    running = False
    for _ in range(200):
        jobs = await c.list_job("sleeper")
        if jobs and jobs[0].state == "running":
            running = await queries.jobs_active(c._pool, time.time())
            break
        await asyncio.sleep(0.05)
    assert running, "a running job was not seen as running"
    (job,) = await c.flush("slow", cid, timeout_s=120)
    assert job.state == "success" and job.finished is not None
    assert await queries.jobs_active(c._pool, job.finished - 1)  # ended lately
    assert not await queries.jobs_active(c._pool, job.finished)
