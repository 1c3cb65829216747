"""Notices (no announcement missed between a look and the wait after it) and Answers (the
requests waited for, looked up together).

The fallback sleep is set to a minute in these tests: a wait that ends within the test's
few-second guard was ended by a notice, never by the fallback.
"""

from __future__ import annotations

import asyncio

import pytest

from pachstream.client import _notices
from pachstream.client._notices import Answers, Notices
from pachstream.errors import Unavailable

GUARD_S = 5.0
"""Longest a step that should end at once may take before the test fails."""


@pytest.fixture(autouse=True)
def _no_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_notices, "FALLBACK_S", 60.0)


async def test_a_notice_during_a_look_ends_the_wait_after_it_whoever_else_waits() -> None:
    notices = Notices()
    mark_b = notices.mark()  # B looks...
    notices.notify()  # ...the rows land meanwhile...
    mark_a = notices.mark()  # ...and A, woken by them, looks again (it cleared the event before)
    await asyncio.wait_for(notices.wait(mark_b, 60), GUARD_S)  # B does not sleep past them
    assert not mark_a.is_set()


async def test_without_a_notice_the_wait_lasts_its_timeout() -> None:
    notices = Notices()
    mark = notices.mark()
    await notices.wait(mark, 0.01)
    assert not mark.is_set()
    await notices.wait(notices.mark(), -1.0)  # a spent deadline: no wait at all


class Table:
    """The requests table: answers land in it; every lookup is recorded."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}
        self.lookups: list[list[str]] = []
        self.gate: asyncio.Event | None = None
        """While set to an unset event, a lookup waits for it (a query in flight)."""
        self.error: Exception | None = None

    async def lookup(self, ids: list[str]) -> dict[str, str]:
        self.lookups.append(sorted(ids))
        found = {i: self.rows[i] for i in ids if i in self.rows}  # what the query saw
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return found


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_requests_waited_for_together_are_looked_up_in_one_query() -> None:
    table = Table()
    answers: Answers[str] = Answers(table.lookup)
    waits = [asyncio.create_task(answers.wait(rid, 60)) for rid in ("r1", "r2", "r3")]
    await _settle()
    assert table.lookups[-1] == ["r1", "r2", "r3"]
    table.rows.update(r1="c1", r3="c3")
    answers.poke()
    done, _ = await asyncio.wait([waits[0], waits[2]], timeout=GUARD_S)
    assert {t.result() for t in done} == {"c1", "c3"}
    assert table.lookups[-1] == ["r1", "r2", "r3"]  # one query for all after the notice
    table.rows["r2"] = "c2"
    answers.poke()
    assert await asyncio.wait_for(waits[1], GUARD_S) == "c2"
    assert table.lookups[-1] == ["r2"]  # the answered ones are no longer asked for
    await answers.close()


async def test_a_request_that_joins_during_a_lookup_is_asked_for_at_once_after_it() -> None:
    table = Table()
    answers: Answers[str] = Answers(table.lookup)
    table.gate = asyncio.Event()
    first = asyncio.create_task(answers.wait("r1", 60))
    await _settle()
    assert table.lookups == [["r1"]]  # in flight, held at the gate
    table.rows["r2"] = "c2"  # r2 is answered before it is even waited for
    second = asyncio.create_task(answers.wait("r2", 60))
    await _settle()
    table.gate.set()
    # No notice comes (the answer landed before the wait): the join itself looks again.
    assert await asyncio.wait_for(second, GUARD_S) == "c2"
    assert table.lookups[-1] == ["r1", "r2"]
    assert not first.done()
    await answers.close()
    with pytest.raises(Unavailable, match="closed"):
        await first


async def test_a_wait_that_times_out_is_no_longer_asked_for() -> None:
    table = Table()
    answers: Answers[str] = Answers(table.lookup)
    assert await answers.wait("gone", 0.01) is None
    kept = asyncio.create_task(answers.wait("kept", 60))
    await _settle()
    assert table.lookups[-1] == ["kept"]
    kept.cancel()
    await _settle()
    await answers.close()


async def test_a_failed_lookup_reaches_each_waiter_and_the_next_wait_looks_again() -> None:
    table = Table()
    answers: Answers[str] = Answers(table.lookup)
    table.gate = asyncio.Event()
    waits = [asyncio.create_task(answers.wait(rid, 60)) for rid in ("r1", "r2")]
    await _settle()
    table.error = ConnectionError("database went away")
    table.gate.set()
    for wait in waits:
        with pytest.raises(ConnectionError, match="went away"):
            await asyncio.wait_for(wait, GUARD_S)
    table.error, table.gate = None, None
    table.rows["r3"] = "c3"
    assert await asyncio.wait_for(answers.wait("r3", 60), GUARD_S) == "c3"
    await answers.close()
