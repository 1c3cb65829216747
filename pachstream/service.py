"""The lifecycle every long-running part shares (STYLE.md §7).

A :class:`Service` has a state enum with checked transitions, ``start()`` that refuses a second
call, ``stop()`` that is idempotent and safe before start, ``async with``, and one named loop
task whose death fails the service loudly (its exception is re-raised by :meth:`wait`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import sys
import time
from collections.abc import Callable
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


RESTART_BASE_S = 0.25
"""Seconds before the first in-process restart of a service (see :func:`run_until_stopped`)."""
RESTART_CAP_S = 4.0
"""The longest wait between two in-process restarts: a server that comes back is used
within this many seconds."""
HEALTHY_AFTER_S = 30.0
"""A service that ran this long before it failed starts its backoff over."""


def own_command(module: str, *args: str) -> list[str]:
    """The command that runs ``python -m module args`` with this process's Python, importing
    pachstream as this process's command did: from ``PYTHONPATH`` and the installed package.

    ``-P``: without it, ``-m`` puts the working directory first on ``sys.path``, and a child
    started in a directory holding a ``pachstream/`` folder (a clone of the project, say) ran
    that folder's code whatever the parent ran. Found comparing two versions in a benchmark:
    the stack's processors, started from the clone, ran the clone's code on both sides.
    """
    return [sys.executable, "-P", "-m", module, *args]


def restart_delay(failures: int) -> float:
    """Seconds to wait before in-process restart number ``failures`` (1, 2, ...): doubling
    from :data:`RESTART_BASE_S`, capped at :data:`RESTART_CAP_S`. Pure.
    """
    return min(RESTART_CAP_S, RESTART_BASE_S * 2.0 ** max(0, min(failures - 1, 16)))


async def run_until_stopped(
    service: Service,
    stop: asyncio.Event,
    *,
    again: Callable[[], Service] | None = None,
    transient: Callable[[BaseException], bool] = lambda exc: False,
) -> None:
    """Run ``service`` until ``stop`` is set (then stop it gracefully and return).

    When its start or its loop fails with an error ``transient`` accepts (a server it needs
    went away: PostgreSQL, the broker), the failed instance is closed and a fresh one from
    ``again()`` starts after :func:`restart_delay`, in this process. A fresh instance
    restores its state and offsets from what its last transaction committed, exactly as a
    new process would, so a batch cut off by the failure is read and applied again once and
    only once; what it saves is the new process (its interpreter, imports and connections)
    and the supervisor's backoff. Any other error, or any error without ``again``, is raised.
    """
    failures = 0
    while True:
        began = time.monotonic()
        try:
            await service.start()
            waiter = asyncio.create_task(service.wait(), name=f"{service.name}-wait")
            stopper = asyncio.create_task(stop.wait(), name="stop-signal")
            try:
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                await service.stop()
            failed = waiter.exception() if waiter.done() and not waiter.cancelled() else None
            if failed is not None:
                raise failed
            return
        except Exception as exc:
            if again is None or stop.is_set() or not transient(exc):
                raise
            # A run that was healthy for a while starts the backoff over: a server killed
            # once an hour must not cost the maximum wait.
            failures = 1 if time.monotonic() - began >= HEALTHY_AFTER_S else failures + 1
            delay = restart_delay(failures)
            log.warning(
                "%s: %s: %s; starting it again in this process in %.2f s (restart %d)",
                service.name,
                type(exc).__name__,
                exc,
                delay,
                failures,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        if stop.is_set():
            return
        service = again()
