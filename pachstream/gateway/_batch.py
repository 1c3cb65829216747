"""Group work: concurrent callers share one call of a batch function (group commit).

A caller submits an item and awaits its result. When no batch is running, the item starts one;
items submitted while a batch runs wait and go together in the next. Under no load each item is
its own batch (no added latency); under load a batch holds what arrived during the previous one,
so a round trip is paid per batch, not per item. The gateway groups content uploads (one pack
object for many small PUTs) and file ops (one request for many PUTs) this way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Runs ``run`` on the items gathered since its last call, one call at a time."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], name: str) -> None:
        self._run = run
        self._name = name
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """Whether a batch is running or items are waiting."""
        return self._task is not None

    async def submit(self, item: T) -> R:
        """The result ``run`` gave for ``item`` (or the exception it raised for its batch)."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name=self._name)
        return await done

    async def idle(self) -> None:
        """Return once every item submitted so far has its result."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    results = await self._run([item for item, _ in batch])
                except Exception as exc:  # every caller of the batch gets the error
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for (_, done), result in zip(batch, results, strict=True):
                    if not done.done():
                        done.set_result(result)
        finally:
            self._task = None
