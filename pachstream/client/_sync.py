"""A blocking facade over :class:`Client` for scripts and notebooks.

It runs the async client on a private event loop in a daemon thread, so it also works where
a loop is already running (Jupyter). Every public coroutine method of :class:`Client` is
available with the same name and arguments, returning its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from pachstream.client._client import Client
from pachstream.settings import Settings

T = TypeVar("T")


class SyncClient:
    """``with SyncClient.connect() as c: c.put_file("images@master", "/a.png", data)``."""

    def __init__(self, client: Client, loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
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
            client = asyncio.run_coroutine_threadsafe(Client.connect(settings, timeout_s=timeout_s), loop).result()
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            raise
        return cls(client, loop, thread)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __getattr__(self, name: str) -> Any:
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

    def put_file(self, path: str, data: bytes, *, append: bool = False) -> None:
        self._owner._run(self._handle.put_file(path, data, append=append))

    def put_files(self, files: Any) -> None:
        self._owner._run(self._handle.put_files(files))

    def delete_file(self, path: str) -> None:
        self._owner._run(self._handle.delete_file(path))
