"""Reading a datum's input files: packs that many of them share are read once, whole.

Small files live in packs (:mod:`pachstream.content`), so a datum of 200,000 small files is
200,000 ranged GETs of a handful of packs, one request each: measured on the embedded
stack, staging a 200,000-file ``/`` datum spent two thirds of its samples in those GETs.
When a datum wants :data:`WHOLE_PACK_MIN` or more chunks of one pack, the reader fetches
that pack once and slices it; a pack it wants a few chunks of is still read by range (a
pack holds up to 8 MB; one file of it is not worth the whole).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable

from pachstream.content import read_chunk
from pachstream.model import FileEntry
from pachstream.objectstore import ObjectStore

WHOLE_PACK_MIN = 16
"""Chunks of one pack wanted by a datum from which the whole pack is read once."""


def whole_packs(entries: Iterable[FileEntry], least: int = WHOLE_PACK_MIN) -> set[str]:
    """Packs that ``least`` or more of the entries' chunks are in. Pure."""
    counts = Counter(c.pack for e in entries for c in e.chunks if c.pack is not None)
    return {pack for pack, n in counts.items() if n >= least}


class DatumReader:
    """Reads the contents of one datum's files (build one per datum: it holds the packs it
    read until it is dropped).
    """

    def __init__(self, objects: ObjectStore, entries: Iterable[FileEntry]) -> None:
        self._objects = objects
        self._whole = whole_packs(entries)
        self._packs: dict[str, asyncio.Future[bytes]] = {}

    async def read(self, entry: FileEntry) -> bytes:
        """A file's whole content."""
        parts = []
        for chunk in entry.chunks:
            if chunk.pack is not None and chunk.pack in self._whole:
                pack = await self._pack(chunk.pack)
                parts.append(pack[chunk.offset : chunk.offset + chunk.size])
            else:
                parts.append(await read_chunk(self._objects, chunk))
        return b"".join(parts)

    def _pack(self, key: str) -> asyncio.Future[bytes]:
        # One GET per pack however many files wait on it at once.
        pending = self._packs.get(key)
        if pending is None:
            pending = self._packs[key] = asyncio.ensure_future(self._objects.get(key))
        return pending


__all__ = ["WHOLE_PACK_MIN", "DatumReader", "whole_packs"]
