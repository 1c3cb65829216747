"""The tree: the pure fold of file ops, shard diffs, and builds over an in-memory store."""

from __future__ import annotations

import hashlib
import random

import pytest

from pachstream.model import Chunk, FileEntry, FileOp, file_hash
from pachstream.objectstore import MemoryObjectStore
from pachstream.tree import (
    EMPTY_ROOT,
    FANOUT,
    Overlay,
    TreeStore,
    apply_to_shard,
    diff_shards,
    entry_to_raw,
    raw_to_entry,
    shard_of,
)

_TEXTS: dict[str, str] = {}
"""Chunk hash → the text it stands for, so expectations can be written as text."""


def entry(text: str) -> FileEntry:
    h = hashlib.sha256(text.encode()).hexdigest()
    _TEXTS[h] = text
    return FileEntry(
        hash=h, size=len(text), chunks=(Chunk(hash=h, size=len(text), pack="packs/p"),)
    )


def text_of(e: FileEntry) -> str:
    return "".join(_TEXTS[c.hash] for c in e.chunks)


def put(path: str, text: str) -> FileOp:
    return FileOp(op="put", path=path, file=entry(text))


def append(path: str, text: str) -> FileOp:
    return FileOp(op="append", path=path, file=entry(text))


def delete(path: str) -> FileOp:
    return FileOp(op="delete", path=path)


# ----------------------------------------------------------------------------- shard_of

SHARD_CASES = [
    # Part of the stored format: a new hash would orphan every stored tree.
    ("/a", FANOUT, 133),
    ("/b/c.txt", FANOUT, 719),
    ("/données/été.csv", FANOUT, 954),
    ("/", FANOUT, 690),
    ("/a", 16, 5),
]


@pytest.mark.parametrize(("path", "fanout", "index"), SHARD_CASES)
def test_shard_of_is_stable(path, fanout, index):
    assert shard_of(path, fanout) == index


def test_shard_of_stays_in_range():
    indexes = {shard_of(f"/f{i}") for i in range(5000)}
    assert min(indexes) >= 0 and max(indexes) < FANOUT
    assert len(indexes) > 900  # spread over the shards, not a few buckets


# ----------------------------------------------------------------------------- Overlay.apply

OVERLAY_CASES = [
    ("put", [put("/a", "1")], {"/a": ("put", "1")}, set()),
    ("put twice: last wins", [put("/a", "1"), put("/a", "2")], {"/a": ("put", "2")}, set()),
    ("put then delete", [put("/a", "1"), delete("/a")], {}, {"/a"}),
    ("delete then put", [delete("/a"), put("/a", "2")], {"/a": ("put", "2")}, {"/a"}),
    (
        "append to nothing: to the parent's file",
        [append("/a", "x")],
        {"/a": ("append", "x")},
        set(),
    ),
    (
        "append twice to nothing",
        [append("/a", "1"), append("/a", "2")],
        {"/a": ("append", "12")},
        set(),
    ),
    ("append after put", [put("/a", "1"), append("/a", "2")], {"/a": ("put", "12")}, set()),
    ("append after delete", [delete("/a"), append("/a", "2")], {"/a": ("put", "2")}, {"/a"}),
    (
        "append after dir delete",
        [delete("/d"), append("/d/f", "2")],
        {"/d/f": ("put", "2")},
        {"/d"},
    ),
    ("append after root delete", [delete("/"), append("/f", "2")], {"/f": ("put", "2")}, {"/"}),
    (
        "append after a sibling's delete",
        [delete("/d"), append("/dx", "2")],
        {"/dx": ("append", "2")},
        {"/d"},
    ),
    (
        "dir delete removes puts below, not siblings sharing a prefix",
        [put("/a/x", "1"), put("/a/y/z", "1"), put("/ab", "2"), put("/a", "3"), delete("/a")],
        {"/ab": ("put", "2")},
        {"/a"},
    ),
    ("delete root", [put("/a", "1"), put("/b/c", "2"), delete("/")], {}, {"/"}),
    ("delete nothing", [delete("/missing")], {}, {"/missing"}),
]


@pytest.mark.parametrize(
    ("name", "ops", "puts", "cleared"), OVERLAY_CASES, ids=[c[0] for c in OVERLAY_CASES]
)
def test_overlay_apply(name, ops, puts, cleared):
    overlay = Overlay().apply(ops)
    assert {p: (mode, text_of(e)) for p, (mode, e) in overlay.puts.items()} == puts
    assert overlay.cleared == cleared
    assert len(overlay) == len(puts) + len(cleared)


def test_appended_entry_keeps_chunks_and_hashes_them():
    _, e = Overlay().apply([put("/a", "1"), append("/a", "2")]).puts["/a"]
    assert [c.hash for c in e.chunks] == [entry("1").hash, entry("2").hash]
    assert (e.size, e.hash) == (2, file_hash(e.chunks))
    assert e.hash != entry("12").hash  # a multi-chunk hash is not the hash of the bytes


def test_overlay_groups_puts_by_shard():
    overlay = Overlay().apply([put("/a", "1"), put("/b/c.txt", "2"), delete("/données/été.csv")])
    assert {i: set(p) for i, p in overlay.by_shard().items()} == {133: {"/a"}, 719: {"/b/c.txt"}}
    assert overlay.shards() == {133, 719, 954}


# ----------------------------------------------------------------------------- apply_to_shard

APPLY_CASES = [
    (
        "add, modify, delete",
        {"/a": "old", "/b": "1"},
        [put("/a", "2"), delete("/b"), put("/c", "3")],
        {"/a": "2", "/c": "3"},
        [("/a", "modified"), ("/b", "deleted"), ("/c", "added")],
    ),
    ("same content: no diff", {"/a": "1"}, [put("/a", "1")], {"/a": "1"}, []),
    ("delete missing: no-op", {"/a": "1"}, [delete("/zzz")], {"/a": "1"}, []),
    ("delete then same put: no diff", {"/a": "1"}, [delete("/a"), put("/a", "1")], {"/a": "1"}, []),
    (
        "dir delete keeps siblings sharing a prefix",
        {"/d/1": "1", "/d/e/2": "2", "/dx": "3", "/d": "old"},
        [delete("/d")],
        {"/dx": "3"},
        [("/d", "deleted"), ("/d/1", "deleted"), ("/d/e/2", "deleted")],
    ),
    (
        "root delete",
        {"/a": "1", "/b/c": "2"},
        [delete("/")],
        {},
        [("/a", "deleted"), ("/b/c", "deleted")],
    ),
    (
        "append to parent's file",
        {"/a": "1"},
        [append("/a", "2")],
        {"/a": "12"},
        [("/a", "modified")],
    ),
    ("append to no file: a new file", {}, [append("/a", "2")], {"/a": "2"}, [("/a", "added")]),
    (
        "append after delete",
        {"/a": "1"},
        [delete("/a"), append("/a", "2")],
        {"/a": "2"},
        [("/a", "modified")],
    ),
]


@pytest.mark.parametrize(
    ("name", "base", "ops", "after", "changes"), APPLY_CASES, ids=[c[0] for c in APPLY_CASES]
)
def test_apply_to_shard(name, base, ops, after, changes):
    raw_base = {p: entry_to_raw(entry(t)) for p, t in base.items()}
    frozen = {p: list(r) for p, r in raw_base.items()}
    new, diff = apply_to_shard(raw_base, Overlay().apply(ops))
    assert {p: text_of(raw_to_entry(raw)) for p, raw in new.items()} == after
    assert [(d[0], d[1]) for d in diff] == changes
    for path, change, cur, old in diff:
        assert cur == new.get(path) and old == raw_base.get(path), change
    assert diff == diff_shards(raw_base, new)
    assert raw_base == frozen  # the parent's shard (maybe cached) is not mutated


@pytest.mark.parametrize("seed", range(300))
def test_apply_to_shard_diffs_only_what_changed(seed):
    """The diff from the touched paths alone equals the diff of the whole shards, for random
    bases and ops: same-content puts, appends, file and directory deletes, puts after deletes;
    over all the overlay's puts and over one shard's (as ``TreeStore.build`` calls it).
    """
    rng = random.Random(seed)
    paths = [f"/{d}/{f}" for d in "abc" for f in ("x", "y", "z", "w/v")] + ["/a", "/q"]
    base = {p: entry_to_raw(entry(rng.choice("01"))) for p in paths if rng.random() < 0.6}
    ops = []
    for _ in range(rng.randrange(1, 8)):
        kind, path = rng.random(), rng.choice([*paths, "/b", "/c/w"])
        if kind < 0.5:
            ops.append(put(path, rng.choice("01")))  # "0"/"1": often the content already there
        elif kind < 0.7:
            ops.append(append(path, rng.choice("01")))
        else:
            ops.append(delete(path))
    overlay = Overlay().apply(ops)
    frozen = {p: list(r) for p, r in base.items()}
    new, diff = apply_to_shard(base, overlay)
    assert diff == diff_shards(base, new)
    for index, puts in overlay.by_shard(4).items():
        shard = {p: r for p, r in base.items() if shard_of(p, 4) == index}
        new, diff = apply_to_shard(shard, overlay, puts)
        assert diff == diff_shards(shard, new)
    assert base == frozen


def test_raw_entry_round_trip():
    e = FileEntry(
        hash="h",
        size=5,
        chunks=(Chunk(hash="x", size=2, pack="packs/p", offset=9), Chunk(hash="y", size=3)),
    )
    assert entry_to_raw(e) == ["h", 5, [["x", 2, "packs/p", 9], ["y", 3, None, 0]]]
    assert raw_to_entry(entry_to_raw(e)) == e


# ----------------------------------------------------------------------------- TreeStore


async def tree_of(trees: TreeStore, root) -> dict[str, str]:
    return {p: text_of(raw_to_entry(raw)) async for p, raw in trees.walk(root)}


async def test_build_over_several_commits():
    # The version-2 layout (hash shards), as homes made before version 3 hold it: its builds
    # and reads must keep working. Version 3: tests/unit/test_tree_nodes.py.
    store = MemoryObjectStore()
    trees = TreeStore(store, write_version=2)
    first = await trees.build(
        EMPTY_ROOT, Overlay().apply([put(f"/f{i:04d}", "1") for i in range(2000)])
    )
    root1 = first.root
    assert (root1.count, root1.size, len(first.diff)) == (2000, 2000, 2000)
    assert {d[1] for d in first.diff} == {"added"}
    assert [d[0] for d in first.diff] == sorted(d[0] for d in first.diff)
    assert root1.key == "manifests/" + hashlib.sha256(store.objects[root1.key]).hexdigest()

    before = dict(store.objects)
    second = await trees.build(root1, Overlay().apply([put("/f0007", "222")]))
    root2 = second.root
    # O(changed): one pack holding the one rewritten shard, and the root.
    (pack,) = set(store.objects) - set(before) - {root2.key}
    assert pack.startswith("manifests/packs/") and len(store.objects) == len(before) + 2
    assert all(store.objects[k] == v for k, v in before.items())  # nothing rewritten
    assert set(root2.shards) == set(root1.shards)
    changed = [i for i in root1.shards if root1.shards[i] != root2.shards[i]]
    assert changed == [shard_of("/f0007")]
    assert (root2.count, root2.size) == (2000, 2002)
    assert [(d[0], d[1]) for d in second.diff] == [("/f0007", "modified")]

    assert text_of(await trees.lookup(root2, "/f0007")) == "222"
    assert text_of(await trees.lookup(root1, "/f0007")) == "1"  # the old tree is immutable
    assert await trees.lookup(root2, "/nope") is None
    walked = await tree_of(trees, root2)
    assert len(walked) == 2000 and walked["/f0007"] == "222" and walked["/f1999"] == "1"

    third = await trees.build(root2, Overlay().apply([append("/f0001", "x"), delete("/f0002")]))
    assert (third.root.count, third.root.size) == (1999, 2002)
    assert [(d[0], d[1]) for d in third.diff] == [("/f0001", "modified"), ("/f0002", "deleted")]
    appended = await trees.lookup(third.root, "/f0001")
    assert text_of(appended) == "1x" and appended.hash == file_hash(appended.chunks)

    # The diff of two stored trees equals what build reported, also read cold from the store.
    assert await trees.diff(root1, root2) == second.diff
    assert await trees.diff(root2, third.root) == third.diff
    cold = TreeStore(store)
    r1, r3 = await cold.root(root1.key), await cold.root(third.root.key)
    assert r3 == third.root
    assert await cold.diff(r1, r3) == sorted(second.diff + third.diff)
    assert await cold.diff(r3, r3) == []

    emptied = await trees.build(third.root, Overlay().apply([delete("/")]))
    assert (emptied.root.count, emptied.root.size, emptied.root.shards) == (0, 0, {})
    assert len(emptied.diff) == 1999 and {d[1] for d in emptied.diff} == {"deleted"}
    assert await tree_of(trees, emptied.root) == {}


async def test_same_tree_gives_the_same_root_key():
    ops = [put("/b", "2"), put("/a", "1"), put("/c/d", "3")]
    one = await TreeStore(MemoryObjectStore()).build(EMPTY_ROOT, Overlay().apply(ops))
    two = await TreeStore(MemoryObjectStore()).build(EMPTY_ROOT, Overlay().apply(reversed(ops)))
    assert one.root.key == two.root.key and one.diff == two.diff


async def test_directory_delete_spans_shards_and_keeps_siblings():
    trees = TreeStore(MemoryObjectStore())
    files = {f"/d/{i}": "1" for i in range(50)} | {"/dx": "2", "/e/f": "3", "/d2/x": "4"}
    base = await trees.build(EMPTY_ROOT, Overlay().apply([put(p, t) for p, t in files.items()]))
    assert len({shard_of(p) for p in files if p.startswith("/d/")}) > 1
    built = await trees.build(base.root, Overlay().apply([delete("/d")]))
    assert await tree_of(trees, built.root) == {"/dx": "2", "/e/f": "3", "/d2/x": "4"}
    assert [d[0] for d in built.diff] == sorted(f"/d/{i}" for i in range(50))
    assert (built.root.count, built.root.size) == (3, 3)
    assert await trees.diff(base.root, built.root) == built.diff


NO_CHANGE_CASES = [
    ("empty overlay", []),
    ("delete a missing file", [delete("/missing")]),
    ("delete a missing directory", [delete("/nope/deeper")]),
    ("put the same content", [put("/a", "1")]),
    ("delete and put back", [delete("/a"), put("/a", "1")]),
]


@pytest.mark.parametrize(("name", "ops"), NO_CHANGE_CASES, ids=[c[0] for c in NO_CHANGE_CASES])
async def test_no_change_returns_the_parent_root(name, ops):
    store = MemoryObjectStore()
    trees = TreeStore(store)
    parent = (
        await trees.build(EMPTY_ROOT, Overlay().apply([put("/a", "1"), put("/b/c", "2")]))
    ).root
    before = dict(store.objects)
    built = await trees.build(parent, Overlay().apply(ops))
    assert built.root is parent and built.diff == []
    assert store.objects == before  # nothing written


async def test_empty_commit_on_the_empty_tree():
    store = MemoryObjectStore()
    built = await TreeStore(store).build(EMPTY_ROOT, Overlay())
    assert built.root is EMPTY_ROOT and built.diff == [] and store.objects == {}
    assert await TreeStore(store).root(None) is EMPTY_ROOT


async def test_old_manifest_version_is_refused_clearly():
    store = MemoryObjectStore()
    store.objects["manifests/old"] = (
        b'{"v": 1, "fanout": 1024, "shards": {}, "count": 0, "size": 0}'
    )
    with pytest.raises(ValueError, match="version 1; this pachstream reads versions 2, 3, 4"):
        await TreeStore(store).root("manifests/old")


async def test_delete_of_a_path_that_is_file_and_directory():
    # Fixed by version 3 (a deleted directory is a range of paths); version 2 still has the bug.
    trees = TreeStore(MemoryObjectStore())
    below = next(f"/a/{i}" for i in range(100) if shard_of(f"/a/{i}") != shard_of("/a"))
    base = await trees.build(EMPTY_ROOT, Overlay().apply([put("/a", "1"), put(below, "2")]))
    built = await trees.build(base.root, Overlay().apply([delete("/a")]))
    # apply_to_shard's rule (delete removes the path and everything under it) says empty.
    assert await tree_of(trees, built.root) == {}
