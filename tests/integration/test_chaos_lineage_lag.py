"""``lineage_lag``: the events partitions the live lineage materializer has not applied to
their end, on real servers.

The chaos suite asks it whether the materializer has caught up before it compares the live
tables with a replay; a lag it fails to see makes that comparison race the materializer, and
a lag it sees where there is none makes the suite wait for nothing. So both ways are tested:
a quiet stack whose materializer applied everything has no lag, and records produced while
the materializer is stopped are named with the offset it applied and the true log end (as
the broker acknowledged the records), then closed by a materializer that applies them.
"""

from __future__ import annotations

import asyncio
import time

from pachstream.chaos._collect import _log_ends, lineage_lag, lineage_offsets
from pachstream.codec import encode
from pachstream.commits.events import RequestDone
from pachstream.kafka import Producer, Topics
from pachstream.lineage import Materializer
from pachstream.testing.services import RunningStack

BEHIND = 5
"""Records produced while no materializer runs."""


async def _settled(
    stack: RunningStack, timeout_s: float = 15
) -> dict[tuple[str, int], tuple[int, int | None]]:
    """The lag, asked again until it is empty or ``timeout_s`` passed: the materializer
    applies asynchronously, and facts the client did not wait for (a commit's others beside
    its answer) may still be on their way. Returns the last answer, whatever it was.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        lag = await lineage_lag(stack.settings)
        if not lag or time.monotonic() > deadline:
            return lag
        await asyncio.sleep(0.2)


async def _commit(stack: RunningStack) -> None:
    """A repo and a finished commit: facts on the events topic that the client waited for."""
    c = stack.client
    await c.create_repo("lag")
    await c.put_files("lag@master", [("/a", b"one"), ("/b", b"two")])
    await c.wait_commit("lag@master", timeout_s=15)


async def test_a_caught_up_materializer_has_no_lag(stack: RunningStack) -> None:
    await _commit(stack)
    assert await _settled(stack) == {}
    # Not empty for want of facts: the materializer applied every record the topic holds,
    # counted by reading it (so {} above is the truth, not a topic lineage_lag never saw).
    held = await _log_ends(stack.settings, Topics(stack.settings.namespace).events)
    assert held, "the commit left no facts on the events topic"
    assert await lineage_offsets(stack.settings) == held


async def test_records_the_materializer_has_not_applied_are_its_lag(stack: RunningStack) -> None:
    settings = stack.settings
    events = Topics(settings.namespace).events
    # Some facts applied first, so the applied offset reported is a stored one, not 0.
    await _commit(stack)
    assert await _settled(stack) == {}
    applied = await lineage_offsets(settings)
    await stack.lineage.stop()  # the stack's exit stops it again: stop is idempotent

    kafka, _, _ = settings.require()
    producer = Producer(kafka)
    await producer.start()
    try:
        # One key: every record in one partition, the way a repo's facts go.
        futures = [
            await producer.send(
                events,
                "lag",
                encode(RequestDone(event_id=f"e{n}", request_id=f"r{n}", repo="lag", ok=True)),
            )
            for n in range(BEHIND)
        ]
        acked = [await f for f in futures]
    finally:
        await producer.stop()
    partition = acked[0].partition  # type: ignore[attr-defined]
    assert {m.partition for m in acked} == {partition}  # type: ignore[attr-defined]
    end = acked[-1].offset + 1  # type: ignore[attr-defined]
    before = applied.get((events, partition), 0)
    assert end == before + BEHIND  # nothing else wrote to the partition meanwhile

    assert await lineage_lag(settings) == {(events, partition): (before, end)}

    # The lag closes once a materializer applies the records (the stack's exit stops it).
    stack.lineage = Materializer(settings)
    await stack.lineage.start()
    assert await _settled(stack) == {}
    assert (await lineage_offsets(settings))[(events, partition)] == end


async def test_a_namespace_no_materializer_ran_in_has_applied_nothing(settings) -> None:
    # No lineage tables at all: nothing applied, not an error (chaos asks before any ran).
    assert await lineage_offsets(settings) == {}
