"""The tree: the pure fold of file ops, shard diffs, and builds over an in-memory store."""

from __future__ import annotations

import hashlib

import pytest

from pachstream.commits.events import Chunk, FileEntry, FileOp, file_hash
from pachstream.objectstore import MemoryObjectStore
from pachstream.tree import (
    EMPTY_ROOT,
    Overlay,
    TreeStore,
    apply_to_shard,
    diff_shards,
    entry_to_raw,
    shard_of,
)


def entry(text: str) -> FileEntry:
    h = hashlib.sha256(text.encode()).hexdigest()
    return FileEntry(hash=h, size=len(text), chunks=(Chunk(hash=h, size=len(text), pack="packs/p", offset=0),))


def put(path: str, text: str) -> FileOp:
    return FileOp(op="put", path=path, file=entry(text))


def append(path: str, text: str) -> FileOp:
    return FileOp(op="append", path=path, file=entry(text))


def delete(path: str) -> FileOp:
    return FileOp(op="delete", path=path)


def test_shard_of_is_stable():
    # Changing the hash would orphan every stored tree: these values are part of the format.
    assert shard_of("/a") == shard_of("/a")
    assert [shard_of(p) for p in ("/a", "/b/c.txt", "/données/été.csv")] == [
        int.from_bytes(hashlib.sha256(p.encode()).digest()[:4], "big") % 1024
        for p in ("/a", "/b/c.txt", "/données/été.csv")
    ]
    assert all(0 <= shard_of(f"/f{i}") < 1024 for i in range(1000))


OVERLAY_CASES = [
    ("put", [put("/a", "1")], {"/a": ("put", "1")}, set()),
    ("put twice: last wins", [put("/a", "1"), put("/a", "2")], {"/a": ("put", "2")}, set()),
    ("put then delete", [put("/a", "1"), delete("/a")], {}, {"/a"}),
    ("delete then put", [delete("/a"), put("/a", "2")], {"/a": ("put", "2")}, {"/a"}),
    ("append to nothing here: appends to the parent's", [append("/a", "x")], {"/a": ("append", "x")}, set()),
    ("append after put", [put("/a", "1"), append("/a", "2")], {"/a": ("put", "12")}, set()),
    ("append after delete: a fresh file", [delete("/a"), append("/a", "2")], {"/a": ("put", "2")}, {"/a"}),
    ("append after parent dir delete", [delete("/d"), append("/d/f", "2")], {"/d/f": ("put", "2")}, {"/d"}),
    (
        "dir delete removes puts below, not siblings sharing a prefix",
        [put("/a/x", "1"), put("/ab", "2"), put("/a", "3"), delete("/a")],
        {"/ab": ("put", "2")},
        {"/a"},
    ),
    ("delete root", [put("/a", "1"), put("/b/c", "2"), delete("/")], {}, {"/"}),
]


@pytest.mark.parametrize(("name", "ops", "puts", "cleared"), OVERLAY_CASES, ids=[c[0] for c in OVERLAY_CASES])
def test_overlay_fold(name, ops, puts, cleared):
    overlay = Overlay().apply(ops)
    got = {}
    for path, (mode, e) in overlay.puts.items():
        got[path] = (mode, "".join(_text_of(c) for c in e.chunks))
    assert got == puts
    assert overlay.cleared == cleared


_TEXTS = {hashlib.sha256(t.encode()).hexdigest(): t for t in ["1", "2", "3", "x", "12", "old"]}


def _text_of(chunk: Chunk) -> str:
    return _TEXTS[chunk.hash]


def test_append_keeps_chunks_and_hash_of_chunks():
    overlay = Overlay().apply([put("/a", "1"), append("/a", "2")])
    mode, e = overlay.puts["/a"]
    assert [c.hash for c in e.chunks] == [entry("1").hash, entry("2").hash]
    assert e.size == 2 and e.hash == file_hash(e.chunks)


SHARD_CASES = [
    (
        "add, modify, delete",
        {"/a": "old", "/b": "1"},
        [put("/a", "2"), delete("/b"), put("/c", "3")],
        {"/a": "2", "/c": "3"},
        [("/a", "modified"), ("/b", "deleted"), ("/c", "added")],
    ),
    ("same content: no diff", {"/a": "1"}, [put("/a", "1")], {"/a": "1"}, []),
    ("delete missing: no-op", {"/a": "1"}, [delete("/zzz")], {"/a": "1"}, []),
    ("dir delete", {"/d/1": "1", "/d/2": "2", "/dx": "3"}, [delete("/d")], {"/dx": "3"}, [("/d/1", "deleted"), ("/d/2", "deleted")]),
    ("append to parent's file", {"/a": "1"}, [append("/a", "2")], {"/a": "12"}, [("/a", "modified")]),
]


@pytest.mark.parametrize(("name", "base", "ops", "after", "changes"), SHARD_CASES, ids=[c[0] for c in SHARD_CASES])
def test_apply_to_shard(name, base, ops, after, changes):
    raw_base = {p: entry_to_raw(entry(t)) for p, t in base.items()}
    new, diff = apply_to_shard(raw_base, Overlay().apply(ops))
    assert {p: "".join(_TEXTS[c[0]] for c in raw[2]) for p, raw in new.items()} == after
    assert [(d[0], d[1]) for d in diff] == changes
    assert diff == diff_shards(raw_base, new)


async def test_build_lookup_walk_diff_over_commits():
    store = MemoryObjectStore()
    trees = TreeStore(store)
    first = await trees.build(EMPTY_ROOT, Overlay().apply([put(f"/f{i:04d}", "1") for i in range(2000)]))
    root1 = first.root
    assert (root1.count, root1.size, len(first.diff)) == (2000, 2000, 2000)
    before = set(store.objects)
    second = await trees.build(root1, Overlay().apply([put("/f0007", "2")]))
    root2 = second.root
    # O(changed): one pack holding the one rewritten shard, and the root.
    assert len(set(store.objects) - before) == 2
    assert [(d[0], d[1]) for d in second.diff] == [("/f0007", "modified")]
    assert sum(1 for i in root1.shards if root1.shards[i] != root2.shards[i]) == 1
    assert (await trees.lookup(root2, "/f0007")).hash == entry("2").hash
    assert (await trees.lookup(root1, "/f0007")).hash == entry("1").hash
    assert await trees.lookup(root2, "/nope") is None
    assert len({p async for p, _ in trees.walk(root2)}) == 2000
    # The diff of two stored trees equals what the build reported; a fresh store agrees.
    assert await trees.diff(root1, root2) == second.diff
    cold = TreeStore(store)
    assert await cold.diff(await cold.root(root1.key), await cold.root(root2.key)) == second.diff
    third = await trees.build(root2, Overlay().apply([delete("/")]))
    assert (third.root.count, third.root.shards, len(third.diff)) == (0, {}, 2000)


async def test_empty_change_keeps_the_parent_root():
    trees = TreeStore(MemoryObjectStore())
    built = await trees.build(EMPTY_ROOT, Overlay().apply([put("/a", "1")]))
    again = await trees.build(built.root, Overlay().apply([put("/a", "1"), delete("/missing")]))
    assert again.root == built.root and again.diff == []


async def test_old_manifest_version_is_refused_clearly():
    store = MemoryObjectStore()
    store.objects["manifests/old"] = b'{"v": 1, "fanout": 1024, "shards": {}, "count": 0, "size": 0}'
    with pytest.raises(ValueError, match="manifest version 1"):
        await TreeStore(store).root("manifests/old")
