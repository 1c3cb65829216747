"""The shell of the gateway's object listings.

A tree of manifest version 3 keeps its paths in order: a page is read straight from its start
key (:meth:`~pachstream.tree.TreeStore.scan`, O(log files) to get there), a common prefix is
skipped by seeking past it, and nothing is kept between pages. What follows is for the hash
shards of version 2 (trees written before it): the lister drives a :class:`~._pages.Merge`
over a commit's shards and keeps a few merges between pages.

A page reads the shards its merge asks for (a few at a time, so that only that many decoded
shards are alive at once), feeds them in, and renders the page's keys with their
last-modified times, asked of Postgres for the page's keys only. The merge is then kept,
keyed by ``(commit, prefix, delimiter, last entry)``: a client that continues with the
page's token (or marker) resumes it without reading the shards again. A merge is taken out
while a page uses it, so two requests never share one; a request that finds none (an
evicted merge, a StartAfter, another gateway) starts a new one after its start key, which
gives the same page.

Memory: at most :data:`CURSORS_KEPT` merges of at most :data:`BUDGET` entries each, plus
:data:`READ_AHEAD` decoded shards per listing in progress, whatever the size of the tree.
Shards stored in at most :data:`KEEP_BYTES` bytes stay in the tree store's cache, so the
listings of small repos (most of them, and every s3-tests case) read no shard twice.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from contextlib import aclosing

from pachstream.client import Client, CommitInfo
from pachstream.gateway._listing import ListPage, ObjectInfo, encode_token
from pachstream.gateway._pages import PREFIX_SIZE, Merge, sorted_keys
from pachstream.tree import SCAN_AHEAD, Root

__all__ = ["BUDGET", "CURSORS_KEPT", "KEEP_BYTES", "READ_AHEAD", "Lister"]

BUDGET = 131_072
"""Entries one listing keeps across its shards (about 35 MiB; the gateway's RSS grew 65 MiB
while listing 1,000,000 keys, 1,092 MiB before the merge): the window of each shard is
this over the number of shards (128 for the 1,024 shards of a big tree), at least
:data:`MIN_WINDOW`. A full listing of N files reads about ``N × 1024 / BUDGET`` shards."""
MIN_WINDOW = 16
"""Fewest entries kept per shard."""
CURSORS_KEPT = 4
"""Listings kept between pages, most recently used first."""
READ_AHEAD = 16
"""Shards read (and held decoded) at once."""
KEEP_BYTES = 16_384
"""Shards stored in at most this many bytes stay in the tree store's cache (about 60
entries: every shard of a tree up to ~60,000 files)."""

_CursorKey = tuple[str, str, str, str]


class Lister:
    """Pages of S3 listings of commits' trees."""

    def __init__(self, client: Client) -> None:
        """List through ``client``'s tree store and history."""
        self._client = client
        self._cursors: OrderedDict[_CursorKey, Merge] = OrderedDict()

    async def page(
        self,
        info: CommitInfo | None,
        root: Root | None,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        max_keys: int = 1000,
    ) -> ListPage:
        """One page of the listing of ``root`` (the tree of commit ``info``), as
        :func:`~pachstream.gateway._listing.list_page` gives it on the sorted keys.
        """
        if info is None or root is None or max_keys <= 0:
            return ListPage([], [], is_truncated=False, next_token=None, next_marker=None)
        if root.version >= 3:
            return await self._page_in_order(info, root, prefix, delimiter, after, max_keys)
        # Tree paths are the keys with a leading '/': the same order, the same roll-ups.
        merge = self._cursors.pop((info.id, prefix, delimiter, after), None)
        if merge is None:
            window = max(MIN_WINDOW, BUDGET // max(1, len(root.shards)))
            merge = Merge(
                root.shards, prefix="/" + prefix, delimiter=delimiter, after="/" + after,
                window=window,
            )  # fmt: skip
        merge.new_page()
        while not merge.advance(max_keys):
            wanted = merge.wanted()
            for start in range(0, len(wanted), READ_AHEAD):
                batch = wanted[start : start + READ_AHEAD]
                shards = await asyncio.gather(
                    *(self._client.trees.shard(root, i, keep_bytes=KEEP_BYTES) for i in batch)
                )
                for index, shard in zip(batch, shards, strict=True):
                    merge.feed(index, sorted_keys(shard), shard)
                del shards
        last = merge.last[1:]
        if merge.truncated:
            self._cursors[(info.id, prefix, delimiter, last)] = merge
            while len(self._cursors) > CURSORS_KEPT:
                self._cursors.popitem(last=False)
        return await self._render(info, merge.contents, merge.prefixes, merge.truncated, last)

    async def _page_in_order(
        self,
        info: CommitInfo,
        root: Root,
        prefix: str,
        delimiter: str,
        after: str,
        max_keys: int,
    ) -> ListPage:
        """A page of a tree stored in path order (manifest version 3): read on from the start,
        a common prefix skipped by seeking past it. No merge, nothing kept between pages.
        """
        start, floor = "/" + prefix, "/" + after
        items: list[tuple[str, str, int]] = []
        prefixes: list[str] = []
        last, truncated = floor, False
        seek: str | None = start
        while seek is not None:
            rolled: str | None = None
            # With a delimiter a scan may end at its first entry (a common prefix): read ahead
            # from one child, not sixteen. A page shows each key's hash and size: heads.
            entries = self._client.trees.scan(
                root,
                start=seek,
                after=floor,
                keep=False,
                ahead=1 if delimiter else SCAN_AHEAD,
                heads=True,
            )
            async with aclosing(entries):
                async for path, raw in entries:
                    if not path.startswith(start):
                        break
                    found = path.find(delimiter, len(start)) if delimiter else -1
                    common = path[: found + len(delimiter)] if found >= 0 else None
                    if common is None or common > floor:  # else an earlier page had it
                        if len(items) + len(prefixes) >= max_keys:
                            truncated = True
                            break
                        if common is None:
                            items.append((path, raw[0], raw[1]))
                        else:
                            prefixes.append(common)
                        last = common or path
                    if common is not None:
                        rolled = common
                        break
            # Past every path under the common prefix: its last character, one up.
            seek = None if rolled is None else rolled[:-1] + chr(ord(rolled[-1]) + 1)
        return await self._render(info, items, prefixes, truncated, last[1:])

    async def _render(
        self,
        info: CommitInfo,
        items: list[tuple[str, str, int]],
        prefixes: list[str],
        truncated: bool,
        last: str,
    ) -> ListPage:
        """The page of these entries (tree paths), with the keys' last-modified times."""
        finished = float(info.finished or 0)
        times = (
            await self._client.last_changed(info.id, paths=[k for k, _, _ in items])
            if items
            else {}
        )
        contents = [
            ObjectInfo(path[1:], size, etag, times.get(path, finished))
            for path, etag, size in items
            if size != PREFIX_SIZE
        ]
        return ListPage(
            contents,
            [p[1:] for p in prefixes],
            is_truncated=truncated,
            next_token=encode_token(last) if truncated else None,
            next_marker=last if truncated else None,
        )
