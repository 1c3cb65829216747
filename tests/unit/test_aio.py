"""wait_all: every awaitable ends before a failure is raised, and the first failure (in the
order given) is the one raised."""

from __future__ import annotations

import asyncio

import pytest

from pachstream.aio import wait_all


async def _ok(log: list[str], name: str, delay: float = 0.0) -> None:
    await asyncio.sleep(delay)
    log.append(name)


async def _fail(log: list[str], name: str, delay: float = 0.0) -> None:
    await asyncio.sleep(delay)
    log.append(name)
    raise ValueError(name)


async def test_all_succeed() -> None:
    log: list[str] = []
    await wait_all([_ok(log, "a"), _ok(log, "b", 0.01)])
    assert sorted(log) == ["a", "b"]


async def test_nothing_to_wait_for() -> None:
    await wait_all([])


async def test_a_failure_is_raised_only_once_the_slower_ones_ended() -> None:
    log: list[str] = []
    with pytest.raises(ValueError, match="fast"):
        await wait_all([_fail(log, "fast"), _ok(log, "slow", 0.05)])
    assert log == ["fast", "slow"]  # gather alone would have raised with "slow" still running


async def test_the_first_failure_in_the_order_given_is_raised() -> None:
    log: list[str] = []
    with pytest.raises(ValueError, match="first"):
        await wait_all([_fail(log, "first", 0.03), _fail(log, "second"), _ok(log, "ok")])
    assert sorted(log) == ["first", "ok", "second"]
