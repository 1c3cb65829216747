"""Waiting for a condition that becomes true on its own: the polling loop the tests share.

A test against real servers often waits for something another process does (rows landed,
pods running, a file ingested). :func:`eventually` asks again until the answer is the one
wanted, and fails naming what it waited for and the last answer, so a timeout says what was
missing rather than only that time ran out.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

SHOWN_CHARS = 200
"""Most characters of the last answer a timeout's message shows."""


async def eventually(
    probe: Callable[[], Awaitable[T] | T],
    what: str,
    *,
    timeout_s: float = 60.0,
    every_s: float = 0.1,
    until: Callable[[T], object] = bool,
) -> T:
    """``probe()`` (a coroutine function or a plain one), called every ``every_s`` until
    ``until`` holds for its answer (by default: the answer is truthy); returns that answer.

    Raises AssertionError naming ``what`` and the last answer when ``timeout_s`` runs out.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        answer = probe()
        value: T = await answer if inspect.isawaitable(answer) else answer
        if until(value):
            return value
        if time.monotonic() >= deadline:
            shown = repr(value)
            if len(shown) > SHOWN_CHARS:
                shown = shown[:SHOWN_CHARS] + "..."
            raise AssertionError(f"not within {timeout_s:g} s: {what} (last: {shown})")
        await asyncio.sleep(every_s)


__all__ = ["eventually"]
