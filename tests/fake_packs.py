"""What the worker's read tests share: an object store that records each GET, and file
entries that claim a place in a pack without any bytes behind them (for the pure planners).

Imported as ``from fake_packs import ...`` (pytest puts ``tests/`` on the path).
"""

from __future__ import annotations

import hashlib

from pachstream.model import Chunk, FileEntry
from pachstream.objectstore import MemoryObjectStore


class CountingStore(MemoryObjectStore):
    """A memory store whose ``gets`` lists every GET as (key, offset, length), in order."""

    def __init__(self) -> None:
        super().__init__()
        self.gets: list[tuple[str, int, int | None]] = []

    async def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        self.gets.append((key, offset, length))
        return await super().get(key, offset, length)


def packed(pack: str | None, offset: int, size: int = 1) -> FileEntry:
    """A one-chunk file at ``offset`` of ``pack`` (None: a blob of its own); the same
    arguments give the same entry, other arguments another hash.
    """
    digest = hashlib.sha256(f"{pack}@{offset}+{size}".encode()).hexdigest()
    chunk = Chunk(hash=digest, size=size, pack=pack, offset=offset)
    return FileEntry(hash=chunk.hash, size=size, chunks=(chunk,))
