"""The lifecycle every long-running part shares (STYLE.md §7).

A :class:`Service` has a state enum with checked transitions, ``start()`` that refuses a second
call, ``stop()`` that is idempotent and safe before start, ``async with``, and one named loop
task whose death fails the service loudly (its exception is re-raised by :meth:`wait`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from types import TracebackType
from typing import Self

log = logging.getLogger("pachstream")


class State(enum.Enum):
    """Lifecycle of a service."""

    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"

    def can_become(self, other: State) -> bool:
        """Whether the transition ``self → other`` is allowed."""
        return other in _TRANSITIONS[self]


_TRANSITIONS = {
    State.NEW: {State.STARTING, State.STOPPED},
    State.STARTING: {State.RUNNING, State.STOPPING},
    State.RUNNING: {State.STOPPING},
    State.STOPPING: {State.STOPPED},
    State.STOPPED: set(),
}


class Service:
    """Base of processors: subclasses implement ``_open``, ``_step`` and ``_close``."""

    name = "service"

    def __init__(self) -> None:
        self.state = State.NEW
        self._task: asyncio.Task[None] | None = None

    def _become(self, new: State) -> None:
        if not self.state.can_become(new):
            raise RuntimeError(f"{self.name}: cannot go from {self.state.value} to {new.value}")
        self.state = new

    async def start(self) -> None:
        """Open connections, restore state, and start the loop."""
        self._become(State.STARTING)
        try:
            await self._open()
        except BaseException:
            self._become(State.STOPPING)
            await self._close()
            self._become(State.STOPPED)
            raise
        self._become(State.RUNNING)
        self._task = asyncio.create_task(self._loop(), name=f"{self.name}-loop")

    async def _loop(self) -> None:
        while self.state is State.RUNNING:
            await self._step()

    async def wait(self) -> None:
        """Return when the loop ends; re-raise what killed it."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        """Finish the batch in hand, checkpoint, close. Idempotent."""
        if self.state in (State.STOPPING, State.STOPPED):
            return
        if self.state is State.NEW:
            self._become(State.STOPPED)
            return
        self._become(State.STOPPING)
        if self._task is not None:
            # The loop checks the state between batches; a batch in hand finishes first.
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=10)
            except TimeoutError:
                self._task.cancel()
            except Exception:
                log.exception("%s: loop had failed", self.name)
        await self._close()
        self._become(State.STOPPED)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _open(self) -> None:
        raise NotImplementedError

    async def _step(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError
