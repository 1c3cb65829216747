"""File content in the object store: stored once per sha256, small files packed.

- A piece of content of ``BLOB_MIN`` bytes or more is stored alone at ``blobs/<sha256>``.
- Smaller pieces are concatenated into a **pack**, stored at ``packs/<sha256 of the pack>``;
  a :class:`~pachstream.model.Chunk` records the pack and the offset. One PUT carries
  thousands of small files, which is what lets a writer of many small files keep up with the
  broker (a PUT costs milliseconds; a record costs microseconds).
- Content is deduplicated by sha256: within a batch, and against every chunk already stored,
  through a ``known`` lookup (the query side's blob index) that the caller supplies.
- Files larger than ``CHUNK_BYTES`` are split into several blobs so that no piece needs to
  fit in memory at once.

Writers (SDK, ingest, S3 gateway, workers) all use :class:`ContentWriter`; readers use
:func:`read_file`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from pachstream.model import Chunk, FileEntry, file_hash, whole_chunk_entry
from pachstream.objectstore import ObjectStore

BLOB_MIN = 1024 * 1024
"""Content of this size or more is its own object."""
PACK_TARGET = 8 * 1024 * 1024
"""A pack is sealed once it holds this many bytes."""
CHUNK_BYTES = 64 * 1024 * 1024
"""Largest piece of one file held in memory while writing."""

KnownLookup = Callable[[list[str]], Awaitable[dict[str, Chunk]]]
"""Given sha256 hashes, the already-stored chunk of each one that exists."""


def sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class ContentWriter:
    """Stores content pieces, returning where each one lives."""

    def __init__(self, objects: ObjectStore, known: KnownLookup | None = None) -> None:
        self._objects = objects
        self._known = known

    async def store_many(self, contents: Iterable[bytes]) -> list[FileEntry]:
        """Store whole small-to-medium contents (each held in memory); one entry per content."""
        items = list(contents)
        hashes = [sha256(c) for c in items]
        entries: dict[str, FileEntry] = {}
        if self._known is not None and hashes:
            for h, c in (await self._known(sorted(set(hashes)))).items():
                entries[h] = whole_chunk_entry(h, c.size, c.pack, c.offset)
        pack: list[bytes] = []
        pack_members: list[tuple[str, int, int]] = []  # hash, offset, size
        pack_size = 0
        uploads: list[Awaitable[None]] = []

        def seal() -> None:
            nonlocal pack, pack_members, pack_size
            if not pack:
                return
            data = b"".join(pack)
            key = f"packs/{sha256(data)}"
            uploads.append(self._objects.put(key, data))
            for h, off, size in pack_members:
                entries[h] = whole_chunk_entry(h, size, key, off)
            pack, pack_members, pack_size = [], [], 0

        pending: set[str] = set()
        for data, h in zip(items, hashes, strict=True):
            if h in entries or h in pending:
                continue
            if len(data) >= BLOB_MIN:
                uploads.append(self._objects.put(f"blobs/{h}", data))
                entries[h] = whole_chunk_entry(h, len(data), None, 0)
                continue
            pending.add(h)
            pack_members.append((h, pack_size, len(data)))
            pack.append(data)
            pack_size += len(data)
            if pack_size >= PACK_TARGET:
                seal()
                pending.clear()
        seal()
        await _gather_limited(uploads, 16)
        # One entry per content: files of the same content share it (it is immutable).
        return [entries[h] for h in hashes]

    async def store_stream(self, pieces: AsyncIterator[bytes]) -> FileEntry:
        """Store one file given as successive pieces of at most ``CHUNK_BYTES``."""
        out: list[Chunk] = []
        async for piece in pieces:
            (entry,) = await self.store_many([piece])
            out.extend(entry.chunks)
        if not out:
            (entry,) = await self.store_many([b""])
            return entry
        chunks = tuple(out)
        return FileEntry(hash=file_hash(chunks), size=sum(c.size for c in chunks), chunks=chunks)


async def _gather_limited(aws: list[Awaitable[None]], limit: int) -> None:
    sem = asyncio.Semaphore(limit)

    async def run(aw: Awaitable[None]) -> None:
        async with sem:
            await aw

    await asyncio.gather(*(run(a) for a in aws))


async def read_chunk(objects: ObjectStore, chunk: Chunk) -> bytes:
    """The bytes of one chunk."""
    if chunk.pack is None:
        return await objects.get(f"blobs/{chunk.hash}")
    if chunk.size == 0:
        return b""
    return await objects.get(chunk.pack, chunk.offset, chunk.size)


async def iter_file(objects: ObjectStore, entry: FileEntry) -> AsyncIterator[bytes]:
    """A file's content, chunk by chunk."""
    for chunk in entry.chunks:
        yield await read_chunk(objects, chunk)


async def read_file(objects: ObjectStore, entry: FileEntry) -> bytes:
    """A file's whole content."""
    return b"".join([piece async for piece in iter_file(objects, entry)])
