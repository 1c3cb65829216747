"""How a put cuts its files into batches (``_groups``) and stores the next batches while one is
sent (``_ahead``): order kept, at most ``depth`` running ahead, jobs taken lazily, and a failure
stops the rest."""

from __future__ import annotations

import asyncio

import pytest

from pachstream.client._client import BATCH_BYTES, BATCH_OPS, _ahead, _groups

BIG = BATCH_BYTES // 2 + 1
"""Two of these close a batch by size."""


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([], []),
        ([1], [1]),
        ([1] * BATCH_OPS, [BATCH_OPS]),
        ([1] * (BATCH_OPS + 1), [BATCH_OPS, 1]),
        ([BIG, BIG, 1], [2, 1]),  # closed once it holds BATCH_BYTES or more
        ([BATCH_BYTES + 5, 1, 1], [1, 2]),  # one file over the size is a batch of its own
        ([BIG, 1, BIG, BIG], [3, 1]),
    ],
)
def test_groups_close_by_count_or_size(sizes: list[int], expected: list[int]) -> None:
    files = [(f"/f{i}", b"x" * n) for i, n in enumerate(sizes)]
    groups = list(_groups(files))
    assert [len(g) for g in groups] == expected
    assert [f for g in groups for f in g] == files  # every file once, in order


def test_groups_take_files_as_batches_are_asked_for() -> None:
    taken: list[int] = []

    def files():
        for i in range(3 * BATCH_OPS):
            taken.append(i)
            yield f"/f{i}", b"x"

    groups = _groups(files())
    next(groups)
    assert len(taken) == BATCH_OPS


async def test_ahead_keeps_order_and_runs_at_most_depth_ahead() -> None:
    running = most = 0
    started: list[int] = []

    async def job(n: int) -> int:
        nonlocal running, most
        started.append(n)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.001 * (5 - n % 5))  # later jobs end first
        running -= 1
        return n

    got = []
    async for n in _ahead(((lambda n=n: job(n)) for n in range(12)), 2):
        got.append(n)
        await asyncio.sleep(0.01)  # the caller's own work: the next jobs run meanwhile
    assert got == list(range(12))
    assert most == 3  # the one awaited and depth (2) more, never more
    assert sorted(started) == list(range(12))


async def test_ahead_takes_a_job_only_when_it_starts_it() -> None:
    taken: list[int] = []

    def jobs():
        for n in range(10):
            taken.append(n)
            yield lambda n=n: asyncio.sleep(0, n)

    results = _ahead(jobs(), 2)
    assert await anext(results) == 0
    assert taken == [0, 1, 2]
    await results.aclose()


async def test_a_failed_job_raises_in_order_and_cancels_the_jobs_ahead() -> None:
    cancelled: list[int] = []

    async def job(n: int) -> int:
        if n == 1:
            raise ValueError("job 1")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise
        return n

    async def fast_zero() -> int:
        return 0

    taken: list[int] = []

    def jobs():
        yield fast_zero
        for n in range(1, 6):
            taken.append(n)
            yield lambda n=n: job(n)

    results = _ahead(jobs(), 2)
    assert await anext(results) == 0
    with pytest.raises(ValueError, match="job 1"):
        await anext(results)
    assert taken == [1, 2, 3]  # the jobs after those never taken
    assert 2 in cancelled and set(cancelled) <= {2, 3}  # the ones ahead stopped, not left
    assert asyncio.all_tasks() == {asyncio.current_task()}
