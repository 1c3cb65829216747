"""``autoscaling: true`` with local workers: a pipeline's workers stop once it has had no job
for the idle time, and its next job starts them again and runs; a pipeline without it keeps
its workers (Pachyderm's default)."""

from __future__ import annotations

import shutil

import pytest

from pachstream.testing.services import RunningStack
from pachstream.testing.waits import eventually

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

IDLE_S = 2.0


def copy(name: str, **extra: object) -> dict[str, object]:
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": "raw", "glob": "/*"}},
        "transform": {"cmd": ["sh", "-c", "cp /pfs/raw/* /pfs/out/"]},
        "parallelism_spec": {"constant": 2},
        **extra,
    }


async def test_idle_workers_of_an_autoscaling_pipeline_stop_and_its_next_job_starts_them(
    settings,
) -> None:
    async with RunningStack(settings, idle_kept_s=IDLE_S) as stack:
        c = stack.client
        await c.create_repo("raw")
        first = await c.put_file("raw@master", "/a", b"a")
        await c.create_pipeline(copy("scales", autoscaling=True))
        await c.create_pipeline(copy("stays"))
        for job in await c.flush("raw", first, timeout_s=120):
            assert job.state == "success", job

        def shards(name: str) -> int:
            return sum(1 for (pipeline, _, _) in stack.workers.pids() if pipeline == name)

        assert shards("scales") == 2  # a job a moment ago
        await eventually(lambda: shards("scales") == 0, "the idle workers stopped", timeout_s=60)
        assert shards("stays") == 2

        second = await c.put_file("raw@master", "/b", b"b")
        jobs = {j.pipeline: j for j in await c.flush("raw", second, timeout_s=120)}
        assert jobs["scales"].state == "success", jobs["scales"]
        assert await c.get_file("scales@master", "/b") == b"b"
        assert await c.get_file("scales@master", "/a") == b"a"
        assert shards("scales") == 2
