"""Reading datums' input files: packs that many of them share are read once, whole; the
chunks of a pack that lie close together are read with one ranged GET.

Small files live in packs (:mod:`pachstream.content`), so a datum of 200,000 small files is
200,000 ranged GETs of a handful of packs, one request each: measured on the embedded
stack, staging a 200,000-file ``/`` datum spent two thirds of its samples in those GETs.
When a datum wants :data:`WHOLE_PACK_MIN` or more chunks of one pack, the reader fetches
that pack once and slices it; a pack it wants a few chunks of is still read by range (a
pack holds up to 8 MB; one file of it is not worth the whole).

A worker builds one reader for a whole batch of tasks: the one-file datums of a batch are
usually neighbours in one pack (they were put together), so the batch's inputs come in one
ranged GET instead of one per datum (``bench datum-overhead``: a GET through aiobotocore
cost about as much as the sandboxed command itself), fetched while the first datum runs.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import Counter
from collections.abc import Collection, Iterable

from pachstream.content import read_chunk
from pachstream.model import FileEntry
from pachstream.objectstore import ObjectStore

WHOLE_PACK_MIN = 16
"""Chunks of one pack wanted by a datum from which the whole pack is read once."""

GAP_MAX = 64 * 1024
"""Unwanted bytes between two wanted chunks of a pack up to which one ranged GET reads both:
a request costs more than 64 KiB more of its answer."""

PREFETCH_MAX = 64 * 1024 * 1024
"""Bytes :meth:`DatumReader.prefetch` starts reading at once; the rest are read when asked."""


def whole_packs(entries: Iterable[FileEntry], least: int = WHOLE_PACK_MIN) -> set[str]:
    """Packs that ``least`` or more of the entries' chunks are in. Pure."""
    counts = Counter(c.pack for e in entries for c in e.chunks if c.pack is not None)
    return {pack for pack, n in counts.items() if n >= least}


def pack_runs(
    entries: Iterable[FileEntry], skip: Collection[str] = (), gap: int = GAP_MAX
) -> list[tuple[str, int, int]]:
    """(pack, start, end) of the runs of wanted chunks to read with one ranged GET each: the
    chunks of a pack (not in ``skip``) sorted by offset, joined while the bytes between two
    are at most ``gap``. Pure.
    """
    wanted: dict[str, set[tuple[int, int]]] = {}
    for e in entries:
        for c in e.chunks:
            if c.pack is not None and c.pack not in skip and c.size > 0:
                wanted.setdefault(c.pack, set()).add((c.offset, c.offset + c.size))
    runs: list[tuple[str, int, int]] = []
    for pack in sorted(wanted):
        start, end = -1, -1
        for lo, hi in sorted(wanted[pack]):
            if start >= 0 and lo - end <= gap:
                end = max(end, hi)
                continue
            if start >= 0:
                runs.append((pack, start, end))
            start, end = lo, hi
        runs.append((pack, start, end))
    return runs


class DatumReader:
    """Reads the contents of the files of a datum, or of a batch of datums (build one per
    datum or batch: it holds what it read until it is dropped).
    """

    def __init__(self, objects: ObjectStore, entries: Iterable[FileEntry]) -> None:
        self._objects = objects
        entries = list(entries)
        self._whole = whole_packs(entries)
        self._packs: dict[str, asyncio.Future[bytes]] = {}
        self._runs = pack_runs(entries, self._whole)
        self._starts: dict[str, tuple[list[int], int]] = {}
        """pack → its runs' starts (sorted, as the runs are) and the index of its first run."""
        for i, (pack, start, _) in enumerate(self._runs):
            self._starts.setdefault(pack, ([], i))[0].append(start)
        self._fetched: dict[int, asyncio.Future[bytes]] = {}

    def prefetch(self, budget: int = PREFETCH_MAX) -> None:
        """Start reading the whole packs and runs (up to ``budget`` bytes of runs) now, so the
        reads of later datums find them under way or done.
        """
        for pack in sorted(self._whole):
            self._pack(pack)
        for i, (_, start, end) in enumerate(self._runs):
            budget -= end - start
            if budget < 0:
                break
            self._run(i)

    def _find_run(self, pack: str, offset: int, size: int) -> int | None:
        """The run that holds a chunk, if one does (a chunk not given at construction: none)."""
        found = self._starts.get(pack)
        if found is None:
            return None
        starts, first = found
        at = bisect.bisect_right(starts, offset) - 1
        if at < 0:
            return None
        _, start, end = self._runs[first + at]
        return first + at if start <= offset and offset + size <= end else None

    def _run(self, i: int) -> asyncio.Future[bytes]:
        pending = self._fetched.get(i)
        if pending is None:
            pack, start, end = self._runs[i]
            pending = self._fetched[i] = asyncio.ensure_future(
                self._objects.get(pack, start, end - start)
            )
        return pending

    async def read(self, entry: FileEntry) -> bytes:
        """A file's whole content."""
        parts = []
        for chunk in entry.chunks:
            if chunk.pack is not None and chunk.pack in self._whole:
                pack = await self._pack(chunk.pack)
                parts.append(pack[chunk.offset : chunk.offset + chunk.size])
                continue
            run = (
                None if chunk.pack is None else self._find_run(chunk.pack, chunk.offset, chunk.size)
            )
            if run is None:
                parts.append(await read_chunk(self._objects, chunk))
                continue
            start = self._runs[run][1]
            data = await self._run(run)
            parts.append(data[chunk.offset - start : chunk.offset - start + chunk.size])
        return b"".join(parts)

    def _pack(self, key: str) -> asyncio.Future[bytes]:
        # One GET per pack however many files wait on it at once.
        pending = self._packs.get(key)
        if pending is None:
            pending = self._packs[key] = asyncio.ensure_future(self._objects.get(key))
        return pending


__all__ = ["GAP_MAX", "PREFETCH_MAX", "WHOLE_PACK_MIN", "DatumReader", "pack_runs", "whole_packs"]
