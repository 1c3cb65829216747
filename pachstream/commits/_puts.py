"""Object writes of a commit's finish sent together: each put starts at once, and the shell
awaits them all (:meth:`PutsInFlight.settle`) before it produces the facts that name them.

A finish writes three objects that do not depend on each other: the pack of the tree's new
nodes, the tree's root and the diff (for 100,000 new files of 100 B: 24 MB, 386 B and
25.6 MB). One after the other, each waited for the object store while the next could have
been on its way or serialized; together, the store takes them at once and the processor goes
on meanwhile.
Nothing names an object before it is stored: the facts are produced only once every put
has settled (a failed put fails the batch, as before: it is not checkpointed, and is
replayed after the restart, writing the same content-addressed objects).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pachstream.aio import wait_all
from pachstream.objectstore import ObjectStore


class PutsInFlight:
    """An :class:`~pachstream.objectstore.ObjectStore` whose puts run in the background.

    Reads of a key being written answer from the bytes in hand, so a reader in the same
    process sees its own writes (a tree build reads nodes it has just written).
    """

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects
        self._writing: dict[str, bytes] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def put(self, key: str, data: bytes) -> None:
        """Start storing ``data`` under ``key``; :meth:`settle` waits for it."""
        data = bytes(data)
        self._writing[key] = data
        self._tasks.append(asyncio.create_task(self._put(key, data), name=f"put {key}"))

    async def _put(self, key: str, data: bytes) -> None:
        await self._objects.put(key, data)
        if self._writing.get(key) is data:
            del self._writing[key]

    async def settle(self) -> None:
        """Wait until every put started is stored; raise the first failure (after all have
        ended, so none is left running unobserved).
        """
        tasks, self._tasks = self._tasks, []
        await wait_all(tasks)

    async def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """The object's bytes, or a range of them: from a put in flight if there is one."""
        data = self._writing.get(key)
        if data is None:
            return await self._objects.get(key, offset, length)
        end = len(data) if length is None else offset + length
        return data[offset:end]

    async def exists(self, key: str) -> bool:
        """Whether ``key`` is stored or being stored."""
        return key in self._writing or await self._objects.exists(key)

    async def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix``, stored or being stored."""
        stored = await self._objects.list(prefix)
        return sorted(set(stored) | {k for k in self._writing if k.startswith(prefix)})

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove stored objects (garbage: none of them is being written)."""
        await self._objects.delete(keys)

    async def close(self) -> None:
        """Wait for the puts in flight (the store itself belongs to the caller)."""
        await self.settle()
