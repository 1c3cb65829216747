"""SingleFlight: concurrent checks of one key share one call; later ones make their own."""

from __future__ import annotations

import asyncio

import pytest

from pachstream.gateway._singleflight import SingleFlight


class Check:
    """A check that counts its calls and ends when told."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.error = error

    async def __call__(self) -> None:
        self.calls += 1
        await self.release.wait()
        if self.error is not None:
            raise self.error


async def test_concurrent_callers_share_one_call_and_later_ones_call_again() -> None:
    flight, check = SingleFlight(), Check()
    waiters = [asyncio.create_task(flight.run("b", check)) for _ in range(5)]
    await asyncio.sleep(0)
    check.release.set()
    await asyncio.gather(*waiters)
    assert check.calls == 1
    await flight.run("b", check)  # arrived after the first finished: its own call
    assert check.calls == 2


async def test_keys_do_not_share() -> None:
    flight, check = SingleFlight(), Check()
    check.release.set()
    await asyncio.gather(flight.run("a", check), flight.run("b", check))
    assert check.calls == 2


async def test_every_waiter_gets_the_calls_error() -> None:
    flight, check = SingleFlight(), Check(error=LookupError("no bucket"))
    waiters = [asyncio.create_task(flight.run("b", check)) for _ in range(3)]
    await asyncio.sleep(0)
    check.release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert [type(r) for r in results] == [LookupError] * 3 and check.calls == 1


async def test_a_cancelled_waiter_cancels_no_other() -> None:
    flight, check = SingleFlight(), Check()
    first = asyncio.create_task(flight.run("b", check))
    await asyncio.sleep(0)
    second = asyncio.create_task(flight.run("b", check))
    await asyncio.sleep(0)
    second.cancel()  # its client went away
    with pytest.raises(asyncio.CancelledError):
        await second
    check.release.set()
    await first
    assert check.calls == 1 and first.done() and not first.cancelled()
