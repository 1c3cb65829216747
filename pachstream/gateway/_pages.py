"""Listing pages merged from a tree's shards, in key order, in bounded memory. Pure.

A tree's shards are partitioned by the hash of each path (:mod:`pachstream.tree`), so the
keys of one page are spread over every shard and a sorted listing is a k-way merge of the
shards. :class:`Merge` is that merge as a state machine that the gateway's shell drives
(STYLE.md §1): it says which shards it needs (:meth:`Merge.wanted`), the shell reads them
and hands each one in (:meth:`Merge.feed`), and :meth:`Merge.advance` moves entries onto the
page until it is full or another shard is needed. Nothing here reads or awaits.

Each shard is a *run*: its next entries after the listing's position, already filtered by
the prefix and rolled up at the delimiter (the keys under one common prefix are contiguous
in a shard, so a run holds each common prefix once), at most ``window`` of them. When a run
is used up before its shard is, the shard is read again and the next ``window`` entries
taken from where the run stopped. Memory is bounded by ``window × shards`` entries of three
fields, whatever the size of the tree; the decoded shard is dropped as soon as it is fed.
A merge survives between pages (the shell keeps a few, keyed by where the next page
starts), so a full listing reads each shard ``files / (window × shards)`` times in all,
not once per page.

Why this design (issue 17, measured with ``pachstream bench list-rss``):

- (b) streaming every shard once per page, keeping a heap of the next ``max-keys`` keys,
  has flat memory too but costs a decode of the whole tree per page: about 3.5 ms per
  1,000-entry shard here, so 3.6 s a page and an hour for 1,000 pages of a 1M-file repo.
- (c) a sorted path-range index written with each commit would make pages O(page), but it
  changes the tree format and the commit processor's write path; kept for later.
- (a), this module, with the window sized from a budget of entries per listing
  (:data:`~pachstream.gateway._lister.BUDGET`), trades reads of the shards for memory:
  reads = files × shards / budget. Measured on 1,000,000 files (1,024 shards, windows of
  128): the gateway's peak RSS while boto3 lists every key 131 MiB (1,157 MiB with the
  sorted list), its CPU 96 s for the 1,000 pages (about 45 s before: the decodes of the
  ~8,000 shard reads). A delimiter listing whose shards hold more distinct common prefixes
  than the window reads them again (the top level of 1,000 directories: 14 s, in process);
  one directory by prefix reads every shard once (4 s). A sorted index, (c), would make both
  O(page).

Key order is code point order, which is UTF-8 byte order (see :mod:`._listing`).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Item", "Merge", "sorted_keys"]

Item = tuple[str, str, int]
"""A page entry as ``(key or common prefix, etag, size)``; a common prefix has size -1."""

PREFIX_SIZE = -1
"""The size of an :data:`Item` that is a common prefix."""


def sorted_keys(shard: Mapping[str, Any]) -> list[str]:
    """A shard's paths in order. Shards are written with sorted keys, so this is a check,
    not a sort, except for a shard some other writer left unsorted.
    """
    keys = list(shard)
    if any(a >= b for a, b in zip(keys, keys[1:], strict=False)):
        keys.sort()
    return keys


def _run_end(keys: Sequence[str], common: str, lo: int) -> int:
    """The index of the first key from ``lo`` on that does not start with ``common``."""
    width = len(common)
    return bisect_right(keys, common, lo=lo, key=lambda k: k[:width])


@dataclass
class _Run:
    """One shard's next entries."""

    items: deque[Item] = field(default_factory=deque)
    """Entries not yet merged, in order, each greater than those before it."""
    floor: str = ""
    """The last entry taken from the shard (or the listing's start): a read resumes after it."""
    done: bool = False
    """Whether the shard has no entry past ``items``."""


class Merge:
    """A listing of ``(prefix, delimiter)`` across shards, page after page.

    Entries are S3's: keys, and with a delimiter the common prefixes that roll keys up (see
    :func:`~pachstream.gateway._listing.list_page`, which this matches page for page on the
    sorted union of the shards).
    """

    def __init__(
        self,
        shards: Iterable[int],
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        window: int = 128,
    ) -> None:
        """Start a listing of the entries after ``after`` in the shards of these indexes.

        ``window``: most entries kept per shard (at least 1).
        """
        self.prefix, self.delimiter = prefix, delimiter
        self.window = max(1, window)
        self.last = after
        """The last entry placed on a page (or the start): the next page resumes after it."""
        self._runs = {i: _Run(floor=after) for i in shards}
        self._starved = set(self._runs)
        self._heap: list[tuple[str, int]] = []
        self.contents: list[Item] = []
        """Keys on the page being built."""
        self.prefixes: list[str] = []
        """Common prefixes on the page being built."""
        self.truncated = False
        """Whether entries follow the page built (set when :meth:`advance` finishes it)."""

    def wanted(self) -> list[int]:
        """The shards to :meth:`feed` before :meth:`advance` can go on, in index order."""
        return sorted(self._starved)

    def feed(self, index: int, keys: Sequence[str], shard: Mapping[str, Any]) -> None:
        """Take the next entries of shard ``index``: its paths in order (``sorted_keys``) and
        its entries (``path → [hash, size, chunks]``, keys as object keys).
        """
        run = self._runs[index]
        prefix, delimiter, floor = self.prefix, self.delimiter, run.floor
        at = max(bisect_left(keys, prefix), bisect_right(keys, floor))
        width = len(prefix)
        while at < len(keys) and len(run.items) < self.window:
            key = keys[at]
            if key[:width] != prefix:
                at = len(keys)
                break
            found = key.find(delimiter, width) if delimiter else -1
            if found < 0:
                raw = shard[key]
                run.items.append((key, raw[0], raw[1]))
                run.floor = key
                at += 1
                continue
            common = key[: found + len(delimiter)]
            at = _run_end(keys, common, at)
            if common > floor:  # else it was merged before (the floor lies inside it)
                run.items.append((common, "", PREFIX_SIZE))
                run.floor = common
        run.done = at >= len(keys)
        self._starved.discard(index)
        if run.items:
            heapq.heappush(self._heap, (run.items[0][0], index))

    def new_page(self) -> None:
        """Start the next page where the last one stopped."""
        self.contents, self.prefixes, self.truncated = [], [], False

    def advance(self, max_keys: int) -> bool:
        """Move entries onto the page; True when it is finished (full, or the listing is
        over), False when shards must be fed first (:meth:`wanted`).
        """
        heap = self._heap
        while True:
            if self._starved:
                return False
            if not heap:
                return True
            entry, index = heap[0]
            if entry > self.last:
                if len(self.contents) + len(self.prefixes) >= max_keys:
                    self.truncated = True
                    return True
                item = self._runs[index].items[0]
                if item[2] == PREFIX_SIZE:
                    self.prefixes.append(entry)
                else:
                    self.contents.append(item)
                self.last = entry
            # else: the same common prefix from another shard, already on a page
            run = self._runs[index]
            run.items.popleft()
            if run.items:
                heapq.heapreplace(heap, (run.items[0][0], index))
            else:
                heapq.heappop(heap)
                if not run.done:
                    self._starved.add(index)

    def held(self) -> int:
        """Entries held across the runs (what the window bounds)."""
        return sum(len(r.items) for r in self._runs.values())
