"""One lookup in flight per key, shared by the requests that arrive while it runs.

A gateway PUT first checks that its bucket's branch exists: one Postgres query per PUT, the
bulk of what a PUT through the gateway costs Postgres (1.1 ms against 0.1 ms for a PUT
straight to the object store, ``bench s3-put``). PUTs that arrive while a check of the same
bucket is in flight take that check's answer. A check never answers for a request that
arrived after it finished, and a branch deleted after the check began still fails the
write itself (``NoSuchBucket``): the gateway's requests ask the commit processor for the
branch (``require_branch``). Once a write to a bucket was applied, its next PUTs skip the
check for that reason (:meth:`~pachstream.gateway._writer.Writer.confirmed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable


class SingleFlight:
    """``await flight.run(key, call)``: ``call()``, or the result of the same key's call in
    flight (its exception too).
    """

    def __init__(self) -> None:
        self._flying: dict[Hashable, asyncio.Future[None]] = {}

    async def run(self, key: Hashable, call: Callable[[], Awaitable[None]]) -> None:
        """Run ``call`` unless a call for ``key`` is in flight; wait for that one then."""
        flying = self._flying.get(key)
        if flying is not None:
            # shield: one waiter's cancellation (its client went away) cancels no other.
            await asyncio.shield(flying)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flying[key] = fut
        try:
            await call()
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            fut.set_result(None)
        finally:
            del self._flying[key]
