"""A ``/`` datum of 200,000 files: its task (~64 MB encoded) passes the broker's 16 MiB record
limit, so the dispatcher spills it to the object store and the worker reads it back; the
datum's result names its inputs by reference, and lineage still records every input file.
"""

from __future__ import annotations

import shutil
import time

import pytest

from pachstream.dispatch.spill import KEY_PREFIX
from pachstream.objectstore import S3ObjectStore
from pachstream.settings import Settings
from pachstream.testing.services import RunningStack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
    ),
]


FILES = 200_000

COUNT = {
    "pipeline": {"name": "count"},
    "input": {"pfs": {"repo": "raw", "glob": "/"}},
    "transform": {"cmd": ["sh", "-c", "find /pfs/raw -type f | wc -l > /pfs/out/count"]},
}


def _path(i: int) -> str:
    return f"/d{i % 250:03d}/f{i:06d}.txt"


@pytest.mark.timeout(2700)
async def test_a_200k_file_root_datum_runs_through_a_spilled_task(settings: Settings) -> None:
    # Finishing a 200,000-file commit takes longer than the default client's minute on a
    # loaded 2-core box.
    async with RunningStack(settings, timeout_s=1200) as stack:
        await _big_datum(stack)


async def _big_datum(stack: RunningStack) -> None:
    c = stack.client
    t0 = time.monotonic()
    await c.create_repo("raw")
    cid = await c.put_files("raw@master", ((_path(i), f"{i}\n".encode()) for i in range(FILES)))
    t_put = time.monotonic()
    await c.create_pipeline(COUNT)
    (job,) = await c.flush("raw", cid, timeout_s=1500)
    t_job = time.monotonic()
    assert (job.state, job.datums, job.processed) == ("success", 1, 1), job
    assert (await c.get_file("count@master", "/count")).strip() == str(FILES).encode()

    # The task did travel by reference: exactly one spilled object, under its sha256.
    objects = S3ObjectStore(stack.settings.require()[2], stack.settings.namespace)
    try:
        (key,) = await objects.list(KEY_PREFIX)
    finally:
        await objects.close()
    assert len(key) == len(KEY_PREFIX) + 64

    # Lineage has every input file of the datum, read back from the spilled task.
    (datum,) = await c.list_datum(job.id)
    files = [f for i in datum.inputs for f in i["files"]]
    assert len(files) == FILES
    assert sorted(p for p, _ in files)[:2] == sorted(_path(i) for i in range(FILES))[:2]
    for i in (0, 123_457, FILES - 1):
        down = await c.downstream(f"raw@master:{_path(i)}")
        assert {(f.repo, f.path) for f in down.files()} == {("count", "/count")}
    up = await c.upstream("count@master:/count", depth=1)
    assert len(up.files()) == FILES
    t_end = time.monotonic()
    print(
        f"\nbig datum: put {FILES} files {t_put - t0:.1f}s, job {t_job - t_put:.1f}s, "
        f"lineage checks {t_end - t_job:.1f}s"
    )
