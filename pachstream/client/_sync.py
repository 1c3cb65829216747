"""A blocking facade over :class:`Client` for scripts and notebooks.

It runs the async client on a private event loop in a daemon thread, so it also works where
a loop is already running (Jupyter). Every public coroutine method of :class:`Client` is
available with the same name, arguments and types, returning its result; an async iterator
(``iter_file``, ``subscribe_commit``) becomes an iterator. The methods are generated into
``_sync_verbs.py`` (see ``_gen_sync``), so IDEs and mypy see their signatures.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator
from typing import Any, TypeVar

from pachstream.client._client import Client
from pachstream.client._sync_verbs import SyncVerbs
from pachstream.settings import Settings

T = TypeVar("T")


class SyncClient(SyncVerbs):
    """``with SyncClient.connect() as c: c.put_file("images@master", "/a.png", data)``."""

    def __init__(
        self, client: Client, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self._client = client
        self._loop = loop
        self._thread = thread

    @classmethod
    def connect(cls, settings: Settings | None = None, *, timeout_s: float = 120.0) -> SyncClient:
        """Connect on a private loop."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="pachstream-sync", daemon=True)
        thread.start()
        try:
            connecting = Client.connect(settings, timeout_s=timeout_s)
            client = asyncio.run_coroutine_threadsafe(connecting, loop).result()
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            raise
        return cls(client, loop, thread)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        """An async iterator, pulled item by item on the loop; closed when the caller stops."""

        async def step() -> tuple[bool, T | None]:
            try:
                return True, await anext(agen)
            except StopAsyncIteration:
                return False, None

        async def close() -> None:
            await agen.aclose()  # type: ignore[attr-defined]

        def pull() -> Iterator[T]:
            try:
                while True:
                    more, item = self._run(step())
                    if not more:
                        return
                    yield item  # type: ignore[misc]
            finally:
                if not self._loop.is_closed():
                    self._run(close())

        return pull()

    def __getattr__(self, name: str) -> Any:
        # Attributes of the async client (``settings``...); its verbs are methods of SyncVerbs.
        attr = getattr(self._client, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._run(attr(*args, **kwargs))

        return call

    @contextlib.contextmanager
    def commit(self, branch_ref: str, description: str = "") -> Iterator[_SyncOpenCommit]:
        """Open a commit; finish it on normal exit, leave it open (and say so) on an exception."""
        cm = self._client.commit(branch_ref, description)
        handle = self._run(cm.__aenter__())
        try:
            yield _SyncOpenCommit(self, handle)
        except BaseException as exc:
            # __aexit__ adds the note naming the open commit and re-raises the same exception.
            try:
                self._run(cm.__aexit__(type(exc), exc, exc.__traceback__))
            except BaseException as again:
                if again is not exc:
                    raise
            raise
        self._run(cm.__aexit__(None, None, None))

    def close(self) -> None:
        """Close the client and its loop. Idempotent."""
        if self._loop.is_closed():
            return
        self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SyncOpenCommit:
    def __init__(self, owner: SyncClient, handle: Any) -> None:
        self._owner = owner
        self._handle = handle
        self.id: str = handle.id

    def put_file(self, path: str, data: bytes | str, *, append: bool = False) -> None:
        """Write a file into the open commit (``str``: UTF-8)."""
        self._owner._run(self._handle.put_file(path, data, append=append))

    def put_files(self, files: Iterable[tuple[str, bytes | str]]) -> None:
        """Write many files into the open commit."""
        self._owner._run(self._handle.put_files(files))

    def delete_file(self, path: str) -> None:
        """Delete a file or directory in the open commit."""
        self._owner._run(self._handle.delete_file(path))
