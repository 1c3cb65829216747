"""The dispatcher announces only what its committed state holds (its outbox).

Its decisions depend on timing (which partitions' records one batch holds, which jobs ended),
so a batch replayed after a crash may plan other jobs: a job announced by a batch whose
checkpoint then failed ran forever in the 10-minute chaos run, known to no dispatcher. A
batch's records are now committed with its state and produced after; a crash between the two
produces them from the outbox on restart.
"""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import pytest

from pachstream.codec import decode
from pachstream.dispatch import _store
from pachstream.dispatch.events import JobStarted
from pachstream.kafka import PartitionReader, Topics
from pachstream.testing.services import RunningStack

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

SPEC = {
    "pipeline": {"name": "copy"},
    "input": {"pfs": {"repo": "raw", "glob": "/*"}},
    "transform": {"cmd": ["sh", "-c", "cp /pfs/raw/* /pfs/out/"]},
}


async def _jobs_announced(stack: RunningStack, wait_s: float = 3.0) -> list[str]:
    """Ids of every ``job.started`` on the events topic, after ``wait_s`` of reading."""
    kafka, _, _ = stack.settings.require()
    reader = PartitionReader(kafka)
    await reader.start([Topics(stack.settings.namespace).events], {})
    found: list[str] = []
    try:
        deadline = asyncio.get_running_loop().time() + wait_s
        while asyncio.get_running_loop().time() < deadline:
            for r in await reader.read(timeout_ms=200):
                event: Any = decode(r.value)
                if isinstance(event, JobStarted):
                    found.append(event.job_id)
    finally:
        await reader.stop()
    return found


async def _dies(stack: RunningStack, timeout_s: float = 60) -> None:
    """Until the dispatcher's loop ended on the injected fault."""
    await asyncio.wait_for(asyncio.shield(stack.dispatch.wait()), timeout_s)


async def test_a_batch_whose_checkpoint_fails_announces_no_job(
    stack: RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = stack.client
    await c.create_repo("raw")
    cid = await c.put_file("raw@master", "/a", b"a\n")

    async def postgres_gone(*args: object) -> None:
        raise ConnectionResetError("injected: Postgres went away at the checkpoint")

    monkeypatch.setattr(_store, "checkpoint", postgres_gone)
    created = asyncio.create_task(c.create_pipeline(SPEC))  # answered by the dispatcher
    with pytest.raises(ConnectionResetError):
        await _dies(stack)
    assert await _jobs_announced(stack) == []  # before: job.started, of a job never stored

    monkeypatch.undo()
    await stack.restart_processors()  # a fresh dispatcher replays the batch
    await created
    job = (await c.flush("raw", cid, timeout_s=120))[0]
    assert job.state == "success"
    assert await _jobs_announced(stack) == [job.id]


async def test_records_committed_but_not_produced_are_produced_after_a_restart(
    stack: RunningStack,
) -> None:
    c = stack.client
    await c.create_repo("raw")
    cid = await c.put_file("raw@master", "/a", b"a\n")

    async def broker_gone(records: object) -> None:
        raise ConnectionResetError("injected: the broker went away after the checkpoint")

    stack.dispatch.send_outbox = broker_gone  # type: ignore[method-assign]
    created = asyncio.create_task(c.create_pipeline(SPEC))
    with pytest.raises(ConnectionResetError):
        await _dies(stack)
    # The batch's state and offsets are committed: only the outbox still has its records.
    await stack.restart_processors()
    await created
    job = (await c.flush("raw", cid, timeout_s=120))[0]
    assert job.state == "success"
    assert await c.get_file("copy@master", "/a") == b"a\n"
