"""Waiting for the materializer's announcements without missing one, and for request answers
together.

The materializer announces new rows with ``NOTIFY``; a client waits for the rows it needs by
looking, and when they are not there, sleeping until the next announcement (a short fallback
covers a lost connection). Two things made concurrent waiters in one client slower than they
need be:

- **A notice could be missed.** Every waiter cleared one shared event before it looked. A
  notice that came while waiter B was looking set the event; waiter A, woken by it, cleared
  it; B's look (begun before the rows were committed) found nothing, and B then slept to its
  fallback, half a second, though its rows were there. :class:`Notices` hands each look a
  mark: a notice after the mark ends the wait after that look, whoever else is waiting.
- **Each waiter looked on its own.** Every request waiting for its answer ran its own query
  on every announcement: the S3 gateway, with a request in flight per batch of PUTs, ran a
  query per waiting request per announcement. :class:`Answers` looks up every request waited
  for in one query per announcement.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pachstream.errors import Unavailable

FALLBACK_S = 0.5
"""Longest sleep between two looks without an announcement (one may be lost with a
connection; rows are never waited for longer than this after they land)."""

A = TypeVar("A")


class Notices:
    """Announcements, each of which ends every wait on a mark taken before it.

    ``mark = notices.mark()``, then look, then ``await notices.wait(mark, s)`` if the look
    found nothing: the wait returns at once if a notice came since the mark.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """An announcement: every wait on a mark taken before now ends."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    def mark(self) -> asyncio.Event:
        """The mark to take before a look (the event the next announcement sets)."""
        return self._event

    @staticmethod
    async def wait(mark: asyncio.Event, timeout_s: float) -> None:
        """Until an announcement after ``mark``, ``timeout_s`` at most."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(mark.wait(), timeout=max(0.0, timeout_s))


class Answers(Generic[A]):
    """The answers of the requests a client waits for, looked up together: one lookup per
    announcement (or per waiter that joins) for every request then waited for.

    ``lookup(ids)`` returns the answers there are of ``ids`` (by id); the waiters of an id
    found get its answer. One task looks while anyone waits, and ends when no one does.
    """

    def __init__(self, lookup: Callable[[list[str]], Awaitable[dict[str, A]]]) -> None:
        self._lookup = lookup
        self._waiting: dict[str, list[asyncio.Future[A]]] = {}
        self._wake = Notices()
        self._looker: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Rows changed (an announcement): look again."""
        self._wake.notify()

    async def wait(self, request_id: str, timeout_s: float) -> A | None:
        """``request_id``'s answer, or None when there is none after ``timeout_s``.

        Raises what the lookup raised while this request was waited for.
        """
        answer: asyncio.Future[A] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(request_id, []).append(answer)
        self._wake.notify()  # a look begun before this request joined did not ask for it
        if self._looker is None or self._looker.done():
            self._looker = asyncio.create_task(self._look(), name="pachstream-answers")
        try:
            return await asyncio.wait_for(answer, timeout=timeout_s)
        except TimeoutError:
            return None
        finally:
            self._drop(request_id, answer)

    async def close(self) -> None:
        """Stop looking; whoever still waits gets :class:`Unavailable`."""
        looker, self._looker = self._looker, None
        if looker is not None and not looker.done():
            looker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await looker

    def _drop(self, request_id: str, answer: asyncio.Future[A]) -> None:
        waiters = self._waiting.get(request_id)
        if waiters is not None and answer in waiters:
            waiters.remove(answer)
            if not waiters:
                del self._waiting[request_id]

    async def _look(self) -> None:
        try:
            while self._waiting:
                mark = self._wake.mark()
                found = await self._lookup(list(self._waiting))
                for request_id, answer in found.items():
                    for waiter in self._waiting.pop(request_id, []):
                        if not waiter.done():
                            waiter.set_result(answer)
                if self._waiting:
                    await self._wake.wait(mark, FALLBACK_S)
        except asyncio.CancelledError:
            self._fail(Unavailable("the client was closed while waiting for an answer"))
            raise
        except Exception as exc:  # the lookup failed: each waiter raises it; a new one looks again
            self._fail(exc)

    def _fail(self, err: BaseException) -> None:
        for waiters in self._waiting.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(err)
