"""Commit trees: the manifest format, the pure fold of file operations, and its store.

A tree maps paths to :class:`~pachstream.model.FileEntry`. It is stored as content-addressed
objects so that finishing a commit costs O(changed paths), whatever the size of the repo.

**Version 3** (written since issue 17): the entries in path order, cut into nodes whose
boundaries are set by the paths alone (a path ends its leaf when the low :data:`LEAF_BITS`
bits of its hash are zero; each index level up needs :data:`NODE_BITS` more), as in a
"prolly tree":

- a **leaf** holds ~32 entries (``{path: [hash, size, [[chunk_hash, chunk_size, pack,
  offset], ...]]}``, keys sorted);
- an **index node** lists ~16 children as ``[last path under it, pack key, offset, length]``;
- the **root** object (``manifests/<sha256 of its bytes>``) holds the count, the total size,
  the height and the top node inline.

The nodes a commit rewrites (the leaves of its paths and the index nodes above them: about
``changed × height``) are written together as one pack object (``manifests/packs/<sha256>``),
so a commit costs two PUTs (pack and root) of a size that does not grow with the repo: a
10-file commit writes ~150 KB on 1,000 files and ~180 KB on 1,000,000 (version 2: 110 KB and
2.4 MB). Since boundaries depend only on the paths, the nodes are a function of the set of
files (the same files give the same nodes, whatever the history), an edit moves only the
boundaries of the paths it adds or removes, unchanged nodes are shared by every tree that has
them, and comparing two trees opens only the nodes they do not share. Path order also makes a
directory a range: deleting or listing it reads only its files.

**Version 4** (written since issue 17's packed leaves) is version 3 with each leaf stored
packed (:func:`pack_leaf`): its pack keys listed once, and a file of one chunk as ``[path,
hash, size, pack index, offset]``. A leaf of 100-byte files takes ~100 bytes an entry instead
of ~240 (a 100,000-file commit's tree pack: 24 to 10 MB). Only the stored bytes change:
readers get the same ``{path: raw entry}`` (:func:`unpack_leaf`), so a version-4 tree may keep
version-3 nodes its first commit did not touch. Diff objects are packed the same way
(:func:`pack_diff`).

**Version 2** (read, and written only for tests): ``FANOUT`` hash shards (``shard_of``) listed
by index in the root. Its shards grow with the repo (~1,000 entries at 1M files), and the first
commit on a version-2 tree rewrites it as version 3 (once, O(files)).

Directories are implicit: a directory exists while a file lies under it. The fold
(:class:`Overlay`) is pure: operations in order in, puts and deletes out; so are chunking and
merging a node (:func:`chunk_items`, :func:`merge_leaf`, :func:`merge_index`) and resolving an
overlay against a version-2 shard (:func:`apply_to_shard`). :class:`TreeStore` is the shell
that reads and writes the objects.
"""

from __future__ import annotations

import asyncio
import hashlib
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import orjson

from pachstream.model import Chunk, DiffEntry, FileEntry, FileOp, file_hash
from pachstream.objectstore import ObjectStore

MANIFEST_VERSION = 4
"""Format of root objects this code writes (1: shards as separate objects, 2: hash shards in
packs, 3: a tree of nodes in path order, 4: the same with packed leaves, see
:func:`pack_leaf`). Versions 2 to 4 are read."""

READ_VERSIONS = (2, 3, 4)
"""Manifest versions this code reads: homes made by earlier versions keep working."""

LEAF_BITS = 5
"""Version 3: a path ends its leaf when the low ``LEAF_BITS`` bits of its key hash are zero
(leaves of ~32 entries, ~6 KB)."""
NODE_BITS = 4
"""Version 3: each level up needs ``NODE_BITS`` more zero bits (index nodes of ~16 children)."""

SCAN_AHEAD = 16
"""Version 3: most children of a node a scan reads at once."""

FANOUT = 1024
"""Shards per tree. With 1M files a shard holds ~1,000 entries (~100 KB); a 10-file commit
rewrites at most 10 shards and the root."""

RawEntry = list[Any]
"""A FileEntry as stored: ``[hash, size, [[chunk_hash, chunk_size, pack, offset], ...]]``."""
RawDiff = tuple[str, str, RawEntry | None, RawEntry | None]
"""One changed path as ``(path, "added" | "modified" | "deleted", new entry, old entry)``.
Diffs stay in this form on the hot path: a 100,000-file commit would otherwise build 300,000
objects only to serialize them again (measured: most of a large commit's cost)."""


def shard_of(path: str, fanout: int = FANOUT) -> int:
    """The shard index of a path: stable across processes and versions."""
    return int.from_bytes(hashlib.sha256(path.encode()).digest()[:4], "big") % fanout


def entry_to_raw(entry: FileEntry) -> RawEntry:
    """A FileEntry in its stored form."""
    chunks = entry.chunks
    if len(chunks) == 1:  # nearly every file: no comprehension's frame (a commit's finish)
        c = chunks[0]
        return [entry.hash, entry.size, [[c.hash, c.size, c.pack, c.offset]]]
    return [entry.hash, entry.size, [[c.hash, c.size, c.pack, c.offset] for c in chunks]]


def raw_to_entry(raw: RawEntry) -> FileEntry:
    """A stored entry as a FileEntry."""
    return FileEntry(
        hash=raw[0],
        size=raw[1],
        chunks=tuple(Chunk(hash=c[0], size=c[1], pack=c[2], offset=c[3]) for c in raw[2]),
    )


def concat(base: FileEntry, more: FileEntry) -> FileEntry:
    """``base`` with ``more`` appended."""
    chunks = base.chunks + more.chunks
    return FileEntry(hash=file_hash(chunks), size=base.size + more.size, chunks=chunks)


def _under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` itself or lies below it (prefix without trailing '/')."""
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


# ----------------------------------------------------------------------------- the pure fold


@dataclass
class Overlay:
    """The net effect of a commit's file operations, before the parent tree is consulted.

    Invariants: a path in ``puts`` was written after every delete that covers it; ``cleared``
    holds paths whose parent-tree content (the file, or everything under the directory) is gone.
    """

    puts: dict[str, tuple[str, FileEntry]] = field(default_factory=dict)
    """path → ("put" | "append", entry). "append" means: append to the parent's file."""
    cleared: set[str] = field(default_factory=set)
    """Paths deleted from the parent tree, each as a file and as a directory."""
    hashes: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    """path → :func:`key_hash` of every path put or appended, taken as the ops are folded (a
    commit's batches, while the next ones arrive): the finish's tree build then hashes none of
    them, a fifth of its CPU for a commit of new files (0.16 of 0.72 s at 100,000)."""

    def apply(self, ops: Iterable[FileOp]) -> Overlay:
        """Fold operations, in order, into this overlay; returns self."""
        hashes = self.hashes
        for op in ops:
            path = op.path
            if op.op != "delete" and path not in hashes:
                hashes[path] = key_hash(path)
            if op.op == "put":
                assert op.file is not None
                self.puts[path] = ("put", op.file)
            elif op.op == "append":
                assert op.file is not None
                prior = self.puts.get(path)
                if prior is not None:
                    self.puts[path] = (prior[0], concat(prior[1], op.file))
                elif self.is_cleared(path):
                    self.puts[path] = ("put", op.file)
                else:
                    self.puts[path] = ("append", op.file)
            else:
                for p in [p for p in self.puts if _under(p, path)]:
                    del self.puts[p]
                self.cleared.add(path)
        return self

    def is_cleared(self, path: str) -> bool:
        """Whether the parent's content at ``path`` is deleted by this overlay."""
        return any(_under(path, c) for c in self.cleared)

    def by_shard(self, fanout: int = FANOUT) -> dict[int, dict[str, tuple[str, FileEntry]]]:
        """The puts grouped by shard index (computed once per build: hashing is the cost)."""
        out: dict[int, dict[str, tuple[str, FileEntry]]] = {}
        for path, put in self.puts.items():
            out.setdefault(shard_of(path, fanout), {})[path] = put
        return out

    def shards(self, fanout: int = FANOUT) -> set[int]:
        """Shards that the puts and exact deletes touch."""
        puts = {shard_of(p, fanout) for p in self.puts}
        return puts | {shard_of(p, fanout) for p in self.cleared}

    def __len__(self) -> int:
        return len(self.puts) + len(self.cleared)


def apply_to_shard(
    base: dict[str, RawEntry],
    overlay: Overlay,
    puts: dict[str, tuple[str, FileEntry]] | None = None,
) -> tuple[dict[str, RawEntry], list[RawDiff]]:
    """One shard of the new tree and its diff against the parent's shard. Pure.

    ``puts`` are the overlay's puts that fall in this shard (``Overlay.by_shard``); None
    means all of them (for small overlays and tests).
    """
    new = dict(base)
    touched: list[str] = []
    if overlay.cleared:
        touched = [p for p in new if overlay.is_cleared(p)]
        for path in touched:
            del new[path]
    puts = overlay.puts if puts is None else puts
    for path, (mode, entry) in puts.items():
        if mode == "append" and path in new:
            new[path] = entry_to_raw(concat(raw_to_entry(new[path]), entry))
        else:
            new[path] = entry_to_raw(entry)
    # Only the paths written or removed can differ: comparing the whole shard made a 10-file
    # commit on a 1M-file repo walk ~10,000 entries (a third of its tree build, measured).
    return new, _diff_paths(base, new, touched + list(puts))


def diff_shards(a: dict[str, RawEntry], b: dict[str, RawEntry]) -> list[RawDiff]:
    """Paths that differ between two shards, from ``a`` to ``b``, sorted. Pure."""
    return _diff_paths(a, b, a.keys() | b.keys())


def _diff_paths(
    a: dict[str, RawEntry], b: dict[str, RawEntry], paths: Iterable[str]
) -> list[RawDiff]:
    """Those of ``paths`` that differ between two shards, from ``a`` to ``b``, sorted."""
    out: list[RawDiff] = []
    for path in sorted(set(paths)):
        old, cur = a.get(path), b.get(path)
        if old != cur:
            change = "added" if old is None else "deleted" if cur is None else "modified"
            out.append((path, change, cur, old))
    return out


def to_diff_entry(row: RawDiff) -> DiffEntry:
    """A raw diff row as the event record."""
    path, change, cur, old = row
    return DiffEntry(
        path=path,
        change=change,  # type: ignore[arg-type]
        file=raw_to_entry(cur) if cur is not None else None,
        old=raw_to_entry(old) if old is not None else None,
    )


def encode_object(obj: Any) -> tuple[str, bytes]:
    """A manifest object's bytes and their sha256."""
    data = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest(), data


# ----------------------------------------------------------------------------- packed form, pure


def _packed(raw: RawEntry, packs: dict[str, int]) -> list[Any]:
    """One raw entry with its chunks' pack keys as indexes into ``packs`` (grown as needed):
    ``[hash, size, pack index, offset]`` for a file of one chunk that is the whole file (nearly
    every file: its chunk's hash and size are the file's, said once), else ``[hash, size,
    [[chunk hash, chunk size, pack index, offset], ...]]``.
    """
    h, size, chunks = raw
    if len(chunks) == 1:
        c = chunks[0]
        if c[0] == h and c[1] == size:
            at = packs.get(c[2])
            if at is None:
                at = packs[c[2]] = len(packs)
            return [h, size, at, c[3]]
    return [h, size, [[c[0], c[1], packs.setdefault(c[2], len(packs)), c[3]] for c in chunks]]


def _unpacked(packed: list[Any], packs: list[str]) -> RawEntry:
    """A raw entry from its packed form (:func:`_packed`)."""
    if len(packed) == 4:
        h, size, at, offset = packed
        return [h, size, [[h, size, packs[at], offset]]]
    h, size, chunks = packed
    return [h, size, [[c[0], c[1], packs[c[2]], c[3]] for c in chunks]]


def pack_leaf(entries: dict[str, RawEntry]) -> dict[str, Any]:
    """A leaf as version 4 stores it: ``{"packs": [pack key, ...], "entries": [[path, *packed
    entry], ...]}`` in path order (:func:`_packed`). A leaf of 100-byte files is 2.4 times
    smaller than the version-3 one: each entry named its content's hash twice and its pack
    key whole (of ~240 bytes an entry, ~70 and ~75). Pure.
    """
    packs: dict[str, int] = {}
    return {
        "entries": [[path, *_packed(raw, packs)] for path, raw in entries.items()],
        "packs": list(packs),  # made while the entries were: keys in index order
    }


def unpack_leaf(body: Any) -> Any:
    """A stored node as its body: a packed leaf (version 4) as ``{path: raw entry}``; anything
    else (an index node, a version-3 leaf, whose keys are paths, never ``"packs"``) as it
    is. Pure.
    """
    if not isinstance(body, dict) or "packs" not in body:
        return body
    packs = body["packs"]
    out: dict[str, RawEntry] = {}
    # The common row inline: every whole-tree read unpacks each of its leaves (~20 % less
    # than through _unpacked, measured on 100,000 entries).
    for row in body["entries"]:
        if len(row) == 5:
            path, h, size, at, offset = row
            out[path] = [h, size, [[h, size, packs[at], offset]]]
        else:
            out[row[0]] = _unpacked(row[1:], packs)
    return out


def _readable_root(raw: Any) -> Any:
    """A root object as readers use it: its inline top node unpacked (:func:`unpack_leaf`)."""
    if isinstance(raw, dict) and isinstance(raw.get("node"), dict):
        return {**raw, "node": unpack_leaf(raw["node"])}
    return raw


def pack_diff(diff: Iterable[RawDiff]) -> dict[str, Any]:
    """A diff as its object stores it: ``{"packs": [...], "rows": [[path, change, new, old],
    ...]}``, entries packed as in :func:`pack_leaf` (None for none). Pure.
    """
    packs: dict[str, int] = {}
    rows = [
        [
            path,
            change,
            None if cur is None else _packed(cur, packs),
            None if old is None else _packed(old, packs),
        ]
        for path, change, cur, old in diff
    ]
    return {"packs": list(packs), "rows": rows}


def unpack_diff(stored: Any) -> list[Any]:
    """A diff object's rows as ``[path, change, new raw entry, old raw entry]``: packed
    (:func:`pack_diff`) or as written before (a plain list of such rows). Pure.
    """
    if isinstance(stored, list):
        return stored
    packs = stored["packs"]
    return [
        [
            path,
            change,
            None if cur is None else _unpacked(cur, packs),
            None if old is None else _unpacked(old, packs),
        ]
        for path, change, cur, old in stored["rows"]
    ]


ShardRef = list[Any]
"""Where a version-2 shard lives: ``[sha256, pack key, offset, length]``."""
NodeRef = list[Any]
"""Where a version-3 node lives: ``[last path under it, pack key, offset, length]``. A pack key
of ``""`` inside a stored index node means the pack that node is stored in (a pack's key is
the hash of its bytes, so its nodes cannot name it)."""
NodeBody = dict[str, RawEntry] | list[NodeRef]
"""A version-3 node: a leaf (path → entry, in path order) or an index node (child refs)."""
Edit = tuple[str, RawEntry] | None
"""A level-0 change: ``("put" | "append", raw entry)``, or None to delete the path."""


# ----------------------------------------------------------------------------- version 3, pure


def key_hash(key: str) -> int:
    """The 64-bit hash that places node boundaries (bytes 8..16 of the path's sha256)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[8:16], "big")


def is_boundary(key: str, level: int) -> bool:
    """Whether ``key`` ends its node at ``level`` (0: leaves).

    A property of the key alone, so the nodes are a function of the set of paths (whatever
    the history that made it) and an edit moves only the boundaries of the keys it adds or
    removes. Boundaries of a level are boundaries of every level below it.
    """
    return key_hash(key) & _level_mask(level) == 0


def _level_mask(level: int) -> int:
    """The low bits of a key's hash that are all zero for a key ending a node of ``level``."""
    return (1 << (LEAF_BITS + level * NODE_BITS)) - 1


def node_ends(keys: Iterable[str], level: int, known: Mapping[str, int]) -> set[str]:
    """The keys among ``keys`` that end their node at ``level`` (:func:`is_boundary`);
    ``known``: hashes already taken (:attr:`Overlay.hashes`), the others are computed. Pure.
    """
    mask = _level_mask(level)
    ends = set()
    for key in keys:
        h = known.get(key)
        if h is None:
            h = key_hash(key)
        if h & mask == 0:
            ends.add(key)
    return ends


def chunk_items(items: Iterable[tuple[str, Any]], level: int) -> list[list[tuple[str, Any]]]:
    """Sorted items cut into the nodes of ``level``: each ends at a boundary key (the last
    node at the end of the items). Pure.
    """
    out: list[list[tuple[str, Any]]] = []
    buf: list[tuple[str, Any]] = []
    for item in items:
        buf.append(item)
        if is_boundary(item[0], level):
            out.append(buf)
            buf = []
    if buf:
        out.append(buf)
    return out


def merge_leaf(
    old: list[tuple[str, RawEntry]], keys: list[str], edits: Mapping[str, Edit]
) -> tuple[list[tuple[str, RawEntry]], list[RawDiff]]:
    """A leaf's entries with the edits of ``keys`` applied, and the diff. Pure.

    ``keys`` are sorted (as :meth:`TreeStore._step` takes them).
    """
    if not old:
        # A new leaf (every leaf of a first commit): a put or an append adds its entry, a
        # delete changes nothing; already in key order.
        added = [(key, edit[1]) for key in keys if (edit := edits[key]) is not None]
        return added, [(key, "added", raw, None) for key, raw in added]
    entries = dict(old)
    diff: list[RawDiff] = []
    for key in keys:
        edit, prev = edits[key], entries.get(key)
        cur: RawEntry | None
        if edit is None:
            cur = None
        elif edit[0] == "append" and prev is not None:
            cur = entry_to_raw(concat(raw_to_entry(prev), raw_to_entry(edit[1])))
        else:
            cur = edit[1]
        if cur == prev:
            continue
        change = "added" if prev is None else "deleted" if cur is None else "modified"
        diff.append((key, change, cur, prev))
        if cur is None:
            del entries[key]
        else:
            entries[key] = cur
    return sorted(entries.items()), diff


def merge_index(
    old: list[tuple[str, NodeRef]], keys: list[str], edits: Mapping[str, NodeRef | None]
) -> list[tuple[str, NodeRef]]:
    """An index level's child refs with the edits of ``keys`` applied. Pure."""
    refs = dict(old)
    for key in keys:
        ref = edits[key]
        if ref is None:
            refs.pop(key, None)
        else:
            refs[key] = ref
    return sorted(refs.items())


def _items(body: NodeBody) -> list[tuple[str, Any]]:
    return list(body.items()) if isinstance(body, dict) else [(r[0], r) for r in body]


# ----------------------------------------------------------------------------- the shell


@dataclass(frozen=True, slots=True)
class Root:
    """A tree's root object (version 2: hash shards; version 3: a node tree in path order)."""

    key: str | None
    """Its object key; None for the empty tree."""
    shards: dict[int, ShardRef]
    """Version 2: shard index → where the shard lives (empty in version 3)."""
    count: int
    """Files in the tree."""
    size: int
    """Sum of file sizes."""
    fanout: int = FANOUT
    """Version 2: shards per tree."""
    version: int = MANIFEST_VERSION
    """The manifest version of the root object."""
    height: int = 0
    """Version 3: the level of the top node (0: the root holds the entries itself)."""
    node: NodeBody | None = None
    """Version 3: the top node, stored inline in the root object (None: no files)."""


EMPTY_ROOT = Root(key=None, shards={}, count=0, size=0)


@dataclass(frozen=True, slots=True)
class Built:
    """What finishing a commit's tree produced."""

    root: Root
    """The new tree."""
    diff: list[RawDiff]
    """Changes against the parent tree, sorted by path."""


@dataclass
class _Pack:
    """The nodes one build writes, in order, as one object."""

    packed: bool = True
    """Leaves as version 4 stores them (:func:`pack_leaf`); False: as version 3 did."""
    pieces: list[bytes] = field(default_factory=list)
    bodies: list[NodeBody] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    size: int = 0

    def add(self, body: NodeBody) -> NodeRef:
        last = next(reversed(body)) if isinstance(body, dict) else body[-1][0]
        stored = pack_leaf(body) if self.packed and isinstance(body, dict) else body
        data = orjson.dumps(stored, option=orjson.OPT_SORT_KEYS)
        ref = [last, "", self.size, len(data)]
        self.pieces.append(data)
        self.bodies.append(body)
        self.offsets.append(self.size)
        self.size += len(data)
        return ref


class TreeStore:
    """Reads and writes trees in an object store; caches immutable objects by key.

    Args:
        objects: Where the manifests are.
        cache_objects: Decoded objects kept (roots, shards, nodes).
        write_version: Manifest version of the trees :meth:`build` writes (2 and 3 only for
            tests of homes made by earlier versions).
    """

    def __init__(
        self,
        objects: ObjectStore,
        cache_objects: int = 4096,
        write_version: int = MANIFEST_VERSION,
    ) -> None:
        self._objects = objects
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_max = cache_objects
        self._write_version = write_version

    async def _load(
        self,
        key: str,
        offset: int = 0,
        length: int | None = None,
        sha: str | None = None,
        keep: bool = True,
        decode: Callable[[Any], Any] | None = None,
    ) -> Any:
        """An object (or a piece of a pack) parsed, and turned by ``decode`` before it is
        cached: the cache holds what readers use.
        """
        cache_key = sha or key
        hit = self._cache.get(cache_key)
        if hit is not None:
            self._cache.move_to_end(cache_key)
            return hit
        obj = orjson.loads(await self._objects.get(key, offset, length))
        if decode is not None:
            obj = decode(obj)
        if keep:
            self._remember(cache_key, obj)
        return obj

    def _remember(self, key: str, obj: Any) -> None:
        self._cache[key] = obj
        if len(self._cache) > self._cache_max:
            self._cache.popitem(last=False)

    async def root(self, key: str | None) -> Root:
        """Load a root by key (None: the empty tree)."""
        if key is None:
            return EMPTY_ROOT
        raw = await self._load(key, decode=_readable_root)
        version = raw.get("v")
        if version not in READ_VERSIONS:
            raise ValueError(
                f"tree root {key} has manifest version {version!r}; this pachstream reads "
                f"versions {', '.join(map(str, READ_VERSIONS))}: upgrade pachstream"
            )
        if version != 2:
            return Root(
                key=key,
                shards={},
                count=raw["count"],
                size=raw["size"],
                version=version,
                height=raw["height"],
                node=raw["node"],
            )
        return Root(
            key=key,
            shards={int(i): ref for i, ref in raw["shards"].items()},
            count=raw["count"],
            size=raw["size"],
            fanout=raw["fanout"],
            version=2,
        )

    # ------------------------------------------------------------------ version 2 shards

    async def shard(
        self, root: Root, index: int, *, keep_bytes: int | None = None
    ) -> dict[str, RawEntry]:
        """One version-2 shard's entries (empty when the tree has none there).

        ``keep_bytes``: cache the shard only when it is stored in at most this many bytes
        (a listing reads every shard of a big tree once and must not keep them all).
        """
        ref = root.shards.get(index)
        if ref is None:
            return {}
        sha, pack, offset, length = ref
        keep = keep_bytes is None or length <= keep_bytes
        shard: dict[str, RawEntry] = await self._load(pack, offset, length, sha, keep)
        return shard

    # ------------------------------------------------------------------ version 3 nodes

    async def _node(self, ref: NodeRef, keep: bool = True, *, unpack: bool = True) -> Any:
        """A stored node, its children's refs made absolute; with ``unpack`` false a packed
        leaf stays as stored (:func:`pack_leaf`), and is never cached.
        """
        _, pack, offset, length = ref
        body: NodeBody = await self._load(
            pack,
            offset,
            length,
            f"{pack}#{offset}",
            keep and unpack,
            unpack_leaf if unpack else None,
        )
        if isinstance(body, list):
            for child in body:
                if not child[1]:
                    child[1] = pack
        return body

    async def _descend(
        self, root: Root, level: int, key: str, *, after: bool = False
    ) -> list[tuple[str, Any]] | None:
        """The items of the node at ``level`` that holds ``key`` (the last node when none
        reaches it), or with ``after`` the first node whose last key is past ``key``.
        """
        body, height = root.node, root.height
        if body is None or level > height:
            return None
        while True:
            if height == level:
                items = _items(body)
                return None if after and items[-1][0] <= key else items
            assert isinstance(body, list)
            lasts = [ref[0] for ref in body]
            at = bisect_right(lasts, key) if after else bisect_left(lasts, key)
            if at == len(body):
                if after:
                    return None
                at -= 1
            body, height = await self._node(body[at]), height - 1

    async def _step(
        self,
        parent: Root,
        level: int,
        edits: Mapping[str, Any],
        diff: list[RawDiff] | None,
        known: Mapping[str, int],
    ) -> tuple[list[list[tuple[str, Any]]], list[str]]:
        """Apply one level's edits: the new nodes of the stretches they touch, and the last
        keys of the parent's nodes those replace. Level 0 adds its changes to ``diff``.
        ``known``: key hashes already taken (:func:`node_ends`).

        A stretch starts at the parent's node holding the first edit not yet applied and
        takes the next node of the parent while its new nodes do not end where a node of
        the parent ended (a removed boundary joins two nodes, an added one splits one).
        """
        keys = sorted(edits)
        made: list[list[tuple[str, Any]]] = []
        replaced: list[str] = []
        at = 0
        while at < len(keys):
            node = await self._descend(parent, level, keys[at])
            buf: list[tuple[str, Any]] = []
            while True:
                following = None
                end = len(keys)
                if node is not None:
                    last = node[-1][0]
                    following = await self._descend(parent, level, last, after=True)
                    if following is not None:
                        end = bisect_right(keys, last, at)
                taken = keys[at:end]
                at = end
                if level == 0:
                    merged, part = merge_leaf(node or [], taken, edits)
                    if not part and not buf and node is not None:
                        break  # nothing changed here: the parent's node stays
                    assert diff is not None
                    diff.extend(part)
                else:
                    merged = merge_index(node or [], taken, edits)
                # Of the parent's items only its node's last can end a node (the others did
                # not): hashing just the edited keys and that one saves most of the CPU.
                check = taken
                if node is not None:
                    replaced.append(node[-1][0])
                    check = [*taken, node[-1][0]]
                ends = node_ends(check, level, known)
                for item in merged:
                    buf.append(item)
                    if item[0] in ends:
                        made.append(buf)
                        buf = []
                if following is None or not buf:
                    if buf:
                        made.append(buf)
                    break
                node = following
        return made, replaced

    async def _build_v3(
        self, parent: Root, edits: dict[str, Edit], known: Mapping[str, int]
    ) -> Built:
        """The tree of ``parent`` (version 3 or empty) with level-0 ``edits``; ``known``: key
        hashes already taken (:attr:`Overlay.hashes`).
        """
        diff: list[RawDiff] = []
        version = self._write_version
        pack = _Pack(packed=version >= 4)
        level = 0
        made, replaced = await self._step(parent, 0, edits, diff, known)
        if not diff:
            return Built(root=parent, diff=[])
        count, size = parent.count, parent.size
        for _, _, cur, old in diff:
            count += (cur is not None) - (old is not None)
            size += (cur[1] if cur else 0) - (old[1] if old else 0)
        top: NodeBody | None = None
        while True:
            whole = parent.node is None or level >= parent.height
            if whole and len(made) <= 1:
                if made:
                    top = _body(made[0], level)
                break
            upper: dict[str, NodeRef | None] = dict.fromkeys(replaced)
            for items in made:
                ref = pack.add(_body(items, level))
                upper[ref[0]] = ref
            level += 1
            made, replaced = await self._step(parent, level, upper, None, known)
        # One child under the top: the child is the top (the tree is as if built anew).
        fresh = {off: body for off, body in zip(pack.offsets, pack.bodies, strict=True)}
        while level > 0 and isinstance(top, list) and len(top) == 1:
            ref = top[0]
            top = fresh[ref[2]] if not ref[1] else await self._node(ref)
            level -= 1
        key_of_pack = ""
        writes: list[tuple[str, bytes]] = []
        if pack.pieces:
            data = b"".join(pack.pieces)
            key_of_pack = f"manifests/packs/{hashlib.sha256(data).hexdigest()}"
            writes.append((key_of_pack, data))
        if isinstance(top, list):
            top = [[r[0], r[1] or key_of_pack, r[2], r[3]] for r in top]
        for body in pack.bodies:  # cached as loaded: children's packs made absolute
            if isinstance(body, list):
                for child in body:
                    if not child[1]:
                        child[1] = key_of_pack
        stored_top = pack_leaf(top) if pack.packed and isinstance(top, dict) else top
        raw_root = {"v": version, "count": count, "size": size, "height": level, "node": top}
        stored = {**raw_root, "node": stored_top}
        sha, data = encode_object(stored)
        root_key = f"manifests/{sha}"
        # The pack and the root are written together: nobody reads the root before the
        # build returns (its key is published only in the commit's fact, after), so the
        # order of the two writes does not matter, and one round trip is saved per commit.
        writes.append((root_key, data))
        await asyncio.gather(*(self._objects.put(k, d) for k, d in writes))
        for off, body in fresh.items():
            self._remember(f"{key_of_pack}#{off}", body)
        self._remember(root_key, raw_root)
        root = Root(root_key, {}, count, size, version=version, height=level, node=top)
        return Built(root, diff)

    async def _edits(self, parent: Root, overlay: Overlay) -> dict[str, Edit]:
        """The overlay as level-0 edits on ``parent``: a deleted directory is the range of
        paths under it (one ordered scan, not a pass over the tree).
        """
        edits: dict[str, Edit] = {}
        for path in sorted(overlay.cleared):
            if path != "/":
                edits[path] = None
            async for p, _ in self.under(parent, "/" if path == "/" else path + "/"):
                edits[p] = None
        for path, (mode, entry) in overlay.puts.items():
            edits[path] = (mode, entry_to_raw(entry))
        return edits

    # ------------------------------------------------------------------ both versions

    async def build(self, parent: Root, overlay: Overlay) -> Built:
        """Write the tree of ``parent`` with ``overlay`` applied: O(changed paths).

        New trees are version 3. A version-2 parent is read whole once and written as
        version 3 (the first commit of a home made before version 3).
        """
        if self._write_version == 2:
            return await self._build_v2(parent, overlay)
        if parent.version == 2 and parent.shards:
            if not len(overlay):
                return Built(root=parent, diff=[])
            entries = {p: raw async for p, raw in self.walk(parent)}
            new, diff = apply_to_shard(entries, overlay)
            if not diff:
                return Built(root=parent, diff=[])
            edits: dict[str, Edit] = {p: ("put", r) for p, r in new.items()}
            built = await self._build_v3(EMPTY_ROOT, edits, overlay.hashes)
            return Built(built.root, sorted(diff, key=lambda d: d[0]))
        return await self._build_v3(parent, await self._edits(parent, overlay), overlay.hashes)

    async def _build_v2(self, parent: Root, overlay: Overlay) -> Built:
        """Version 2: write the touched hash shards and the whole shard list."""
        if parent.version != 2 and parent.node is not None:
            raise ValueError(
                f"tree root {parent.key} is version {parent.version}; a version-2 writer "
                "cannot extend it: write with the default version"
            )
        grouped = overlay.by_shard(parent.fanout)
        indexes = set(grouped) | {shard_of(p, parent.fanout) for p in overlay.cleared}
        # A deleted path that is no file of the parent may be a directory, whose files can lie
        # in any shard: only then is every shard opened.
        for path in overlay.cleared:
            if path == "/" or await self.lookup(parent, path) is None:
                indexes |= set(parent.shards)
                break
        ordered = sorted(indexes)
        bases = await asyncio.gather(*(self.shard(parent, i) for i in ordered))
        shards = dict(parent.shards)
        diff: list[RawDiff] = []
        count, size = parent.count, parent.size
        pieces: list[bytes] = []
        placed: list[tuple[int, str, int, int, dict[str, RawEntry]]] = []
        offset = 0
        for index, base in zip(ordered, bases, strict=True):
            new, part = apply_to_shard(base, overlay, grouped.get(index, {}))
            if not part:
                continue
            diff.extend(part)
            for _, _, cur, old in part:
                count += (cur is not None) - (old is not None)
                size += (cur[1] if cur else 0) - (old[1] if old else 0)
            if not new:
                shards.pop(index, None)
                continue
            sha, data = encode_object(new)
            placed.append((index, sha, offset, len(data), new))
            pieces.append(data)
            offset += len(data)
        if not diff:
            return Built(root=parent, diff=[])
        if pieces:
            pack_data = b"".join(pieces)
            pack = f"manifests/packs/{hashlib.sha256(pack_data).hexdigest()}"
            await self._objects.put(pack, pack_data)
            for index, sha, off, length, new in placed:
                shards[index] = [sha, pack, off, length]
                self._remember(sha, new)
        diff.sort(key=lambda d: d[0])
        raw_root = {
            "v": 2,
            "fanout": parent.fanout,
            "shards": {str(i): ref for i, ref in sorted(shards.items())},
            "count": count,
            "size": size,
        }
        sha, data = encode_object(raw_root)
        root_key = f"manifests/{sha}"
        await self._objects.put(root_key, data)
        self._remember(root_key, raw_root)
        return Built(Root(root_key, shards, count, size, parent.fanout, version=2), diff)

    async def lookup(self, root: Root, path: str) -> FileEntry | None:
        """The entry of one file, or None."""
        if root.version == 2:
            raw = (await self.shard(root, shard_of(path, root.fanout))).get(path)
        else:
            leaf = await self._descend(root, 0, path)
            raw = dict(leaf).get(path) if leaf else None
        return raw_to_entry(raw) if raw is not None else None

    async def walk(self, root: Root) -> AsyncIterator[tuple[str, RawEntry]]:
        """Every (path, raw entry) of the tree (version 3: in path order; 2: by shard)."""
        if root.version != 2:
            async for item in self.scan(root):
                yield item
            return
        indexes = sorted(root.shards)
        for start in range(0, len(indexes), 64):
            batch = indexes[start : start + 64]
            shards = await asyncio.gather(*(self.shard(root, i) for i in batch))
            for shard in shards:
                for item in shard.items():
                    yield item

    async def under(self, root: Root, prefix: str) -> AsyncIterator[tuple[str, RawEntry]]:
        """The (path, raw entry) of the files whose path starts with ``prefix`` (a directory
        with its trailing '/', or '/'): version 3 reads only them, in path order; version 2
        reads every shard.
        """
        if root.version == 2:
            async for path, raw in self.walk(root):
                if path.startswith(prefix):
                    yield path, raw
            return
        entries = self.scan(root, start=prefix)
        async with aclosing(entries):
            async for path, raw in entries:
                if not path.startswith(prefix):
                    break
                yield path, raw

    async def scan(
        self,
        root: Root,
        *,
        start: str = "",
        after: str | None = None,
        keep: bool = True,
        ahead: int = SCAN_AHEAD,
        heads: bool = False,
    ) -> AsyncGenerator[tuple[str, RawEntry], None]:
        """The (path, raw entry) of a version-3 tree in path order, from ``start`` (included)
        and past ``after`` (excluded): O(log files) to the first, then node by node.

        ``keep``: cache the leaves read (a listing of a big tree passes False). ``ahead``:
        children of a node read at once at first, doubling on each level up to
        :data:`SCAN_AHEAD`; a reader that will take one entry and stop (a listing seeking past
        each common prefix) passes 1 and pays one read a level, not sixteen. ``heads``: an
        entry is good only for its hash and size (``[0]`` and ``[1]``), what a listing shows:
        packed leaves are not unpacked (nor cached), a third of a 1M-key listing's tree CPU.
        """
        if root.version == 2:
            raise ValueError(f"tree root {root.key} is version 2, which has no path order: walk it")
        if root.node is None:
            return
        aheads = dict.fromkeys(range(root.height + 1), max(1, min(ahead, SCAN_AHEAD)))
        scanned = self._scan(root.node, root.height, start, after, keep, aheads, heads)
        async with aclosing(scanned):
            async for item in scanned:
                yield item

    async def _scan(
        self,
        body: NodeBody,
        height: int,
        start: str,
        after: str | None,
        keep: bool,
        aheads: dict[int, int],
        heads: bool = False,
    ) -> AsyncGenerator[tuple[str, RawEntry], None]:
        if isinstance(body, dict):
            # A packed leaf is read for heads only: its rows as (path, [hash, size, ...]).
            rows = ((r[0], r[1:]) for r in body["entries"]) if "packs" in body else body.items()
            for path, raw in rows:
                if path >= start and (after is None or path > after):
                    yield path, raw
            return
        refs = [r for r in body if r[0] >= start and (after is None or r[0] > after)]
        lo = 0
        while lo < len(refs):
            batch = refs[lo : lo + aheads[height]]
            lo += len(batch)
            aheads[height] = min(aheads[height] * 2, SCAN_AHEAD)  # for the whole scan
            # Index nodes are few and small: they stay cached, so a seek costs no GET.
            unpack = not heads or height > 1
            children = await asyncio.gather(
                *(self._node(r, keep or height > 1, unpack=unpack) for r in batch)
            )
            for child in children:
                scanned = self._scan(child, height - 1, start, after, keep, aheads, heads)
                async with aclosing(scanned):
                    async for item in scanned:
                        yield item

    async def diff(self, a: Root, b: Root) -> list[RawDiff]:
        """Changes from tree ``a`` to tree ``b``: opens only the nodes (or shards) that are
        not shared. Trees of two layouts (a version-2 home's last tree and its first version-3
        tree) are compared entry by entry.
        """
        if a.version == 2 and b.version == 2 and a.fanout == b.fanout:
            return await self._diff_v2(a, b)
        if a.version == 2 or b.version == 2:
            old = {p: raw async for p, raw in self.walk(a)}
            new = {p: raw async for p, raw in self.walk(b)}
            return diff_shards(old, new)
        return await self._diff_v3(a, b)

    async def _diff_v3(self, a: Root, b: Root) -> list[RawDiff]:
        # Each side as spans (level, identity, body or ref) covering its entries: drop the
        # spans both sides share, open the highest of the rest, until only leaves are left.
        Span = tuple[int, str | None, Any]
        sides: list[list[Span]] = [
            [(r.height, None, r.node)] if r.node is not None else [] for r in (a, b)
        ]
        while True:
            shared = {s[1] for s in sides[0]} & {s[1] for s in sides[1]}
            shared.discard(None)
            sides = [[s for s in side if s[1] not in shared] for side in sides]
            top = max((s[0] for side in sides for s in side), default=0)
            if top == 0:
                break
            # Both sides' nodes of a level read together: a round trip to the object store
            # per level, not two (the height of a 1,000,000-file tree is 4).
            sides = list(await asyncio.gather(*(self._open_level(side, top) for side in sides)))
        old, new = await asyncio.gather(*(self._open_leaves(side) for side in sides))
        return diff_shards(old, new)

    async def _open_level(
        self, side: list[tuple[int, str | None, Any]], top: int
    ) -> list[tuple[int, str | None, Any]]:
        """One side's spans with those at level ``top`` opened into their children's."""
        bodies = await asyncio.gather(*(self._open(s) for s in side if s[0] == top))
        kept = [s for s in side if s[0] != top]
        for body in bodies:
            assert isinstance(body, list)
            kept.extend((top - 1, f"{r[1]}#{r[2]}", r) for r in body)
        return kept

    async def _open_leaves(self, side: list[tuple[int, str | None, Any]]) -> dict[str, RawEntry]:
        """The entries of one side's spans, every one a leaf, read together."""
        entries: dict[str, RawEntry] = {}
        for body in await asyncio.gather(*(self._open(s) for s in side)):
            assert isinstance(body, dict)
            entries.update(body)
        return entries

    async def _open(self, span: tuple[int, str | None, Any]) -> NodeBody:
        body: NodeBody = span[2] if span[1] is None else await self._node(span[2])
        return body

    async def _diff_v2(self, a: Root, b: Root) -> list[RawDiff]:
        def sha(root: Root, i: int) -> str | None:
            ref = root.shards.get(i)
            return ref[0] if ref else None

        indexes = sorted(i for i in set(a.shards) | set(b.shards) if sha(a, i) != sha(b, i))
        out: list[RawDiff] = []
        for i in indexes:
            sa, sb = await asyncio.gather(self.shard(a, i), self.shard(b, i))
            out.extend(diff_shards(sa, sb))
        out.sort(key=lambda d: d[0])
        return out

    async def levels(self, root: Root) -> list[list[list[str]]]:
        """The keys of every node, level by level from the leaves (version 3; for tests and
        ``pachstream bench``): shows the layout without reading the bytes.
        """
        if root.node is None:
            return []
        out: list[list[list[str]]] = [[] for _ in range(root.height + 1)]
        todo: list[tuple[int, NodeBody]] = [(root.height, root.node)]
        while todo:
            level, body = todo.pop(0)
            out[level].append([k for k, _ in _items(body)])
            if isinstance(body, list):
                for ref in body:
                    todo.append((level - 1, await self._node(ref)))
        return out


def _body(items: list[tuple[str, Any]], level: int) -> NodeBody:
    """A node's stored form from its items."""
    if level == 0:
        return dict(items)
    return [ref for _, ref in items]
