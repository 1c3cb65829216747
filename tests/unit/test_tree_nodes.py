"""Version-3 trees (nodes in path order, boundaries by key hash): pure chunking, builds over
an in-memory store against a model dict, diffs across layouts, and the cost of a commit."""

from __future__ import annotations

import asyncio
import hashlib
import random

import orjson
import pytest

from pachstream.model import Chunk, FileEntry, FileOp
from pachstream.objectstore import MemoryObjectStore
from pachstream.tree import (
    EMPTY_ROOT,
    LEAF_BITS,
    MANIFEST_VERSION,
    NODE_BITS,
    SCAN_AHEAD,
    Overlay,
    TreeStore,
    apply_to_shard,
    chunk_items,
    diff_shards,
    entry_to_raw,
    is_boundary,
    key_hash,
    merge_index,
    merge_leaf,
    node_ends,
    pack_diff,
    pack_leaf,
    raw_to_entry,
    unpack_diff,
    unpack_leaf,
)


def entry(text: str) -> FileEntry:
    h = hashlib.sha256(text.encode()).hexdigest()
    return FileEntry(hash=h, size=len(text), chunks=(Chunk(hash=h, size=len(text), pack="p"),))


def raw(text: str) -> list:
    return entry_to_raw(entry(text))


def put(path: str, text: str) -> FileOp:
    return FileOp(op="put", path=path, file=entry(text))


def delete(path: str) -> FileOp:
    return FileOp(op="delete", path=path)


def append(path: str, text: str) -> FileOp:
    return FileOp(op="append", path=path, file=entry(text))


# ----------------------------------------------------------------------------- pure parts

# Keys that are (or are not) boundaries at each level: part of the stored format.
BOUNDARY_KEYS = sorted(
    (f"/k{i}" for i in range(5000)), key=lambda k: -((key_hash(k) & 0xFFFF) == 0)
)


def test_boundaries_nest_and_have_the_documented_rate():
    keys = [f"/k{i}" for i in range(20_000)]
    at0 = {k for k in keys if is_boundary(k, 0)}
    at1 = {k for k in keys if is_boundary(k, 1)}
    assert at1 <= at0  # a boundary of a level is one of every level below
    assert 20_000 / len(at0) == pytest.approx(2**LEAF_BITS, rel=0.2)
    assert len(at0) / len(at1) == pytest.approx(2**NODE_BITS, rel=0.35)
    assert key_hash("/a") == int.from_bytes(hashlib.sha256(b"/a").digest()[8:16], "big")


def test_node_ends_takes_known_hashes_and_computes_the_others():
    ends0 = [k for k in BOUNDARY_KEYS[:40] if is_boundary(k, 0)]
    plain = [k for k in BOUNDARY_KEYS[-40:] if not is_boundary(k, 0)]
    keys = ends0[:3] + plain[:3]
    assert node_ends(keys, 0, {}) == set(ends0[:3])
    known = {k: key_hash(k) for k in keys}
    assert node_ends(keys, 0, known) == set(ends0[:3])
    # A known hash is trusted, not taken again: here one that ends a node at every level.
    assert node_ends(keys, 3, {plain[0]: 0}) == {plain[0]} | {
        k for k in ends0[:3] if is_boundary(k, 3)
    }


def test_folding_ops_takes_the_hashes_of_the_paths_written():
    overlay = Overlay().apply([put("/a", "1"), append("/b", "2"), delete("/c"), put("/a", "3")])
    assert overlay.hashes == {"/a": key_hash("/a"), "/b": key_hash("/b")}


CHUNK_CASES = [
    ("nothing", [], []),
    ("no boundary: one node", ["/x"], [["/x"]]),
]


@pytest.mark.parametrize(("name", "keys", "nodes"), CHUNK_CASES, ids=[c[0] for c in CHUNK_CASES])
def test_chunk_items_table(name, keys, nodes):
    assert [[k for k, _ in n] for n in chunk_items([(k, 0) for k in keys], 0)] == nodes


def test_chunk_items_cuts_after_each_boundary_only():
    keys = sorted(f"/k{i}" for i in range(3000))
    nodes = chunk_items([(k, None) for k in keys], 0)
    assert [k for n in nodes for k, _ in n] == keys
    assert all(is_boundary(n[-1][0], 0) for n in nodes[:-1])
    assert not any(is_boundary(k, 0) for n in nodes for k, _ in n[:-1])


MERGE_LEAF_CASES = [
    # (name, old entries, edits, new entries, diff as (path, change))
    ("add", {"/a": "1"}, {"/b": ("put", "2")}, {"/a": "1", "/b": "2"}, [("/b", "added")]),
    ("modify", {"/a": "1"}, {"/a": ("put", "2")}, {"/a": "2"}, [("/a", "modified")]),
    ("same content", {"/a": "1"}, {"/a": ("put", "1")}, {"/a": "1"}, []),
    ("delete", {"/a": "1", "/b": "2"}, {"/a": None}, {"/b": "2"}, [("/a", "deleted")]),
    ("delete a missing path", {"/a": "1"}, {"/z": None}, {"/a": "1"}, []),
    ("append to nothing", {}, {"/a": ("append", "x")}, {"/a": "x"}, [("/a", "added")]),
    # A new leaf (a first commit's), every kind of edit at once, in key order.
    (
        "new leaf",
        {},
        {"/c": ("put", "3"), "/a": ("append", "1"), "/b": None, "/d": ("put", "4")},
        {"/a": "1", "/c": "3", "/d": "4"},
        [("/a", "added"), ("/c", "added"), ("/d", "added")],
    ),
    ("new leaf, only deletes", {}, {"/a": None, "/b": None}, {}, []),
]


@pytest.mark.parametrize(
    ("name", "old", "edits", "new", "changes"),
    MERGE_LEAF_CASES,
    ids=[c[0] for c in MERGE_LEAF_CASES],
)
def test_merge_leaf_table(name, old, edits, new, changes):
    raw_old = [(p, raw(t)) for p, t in sorted(old.items())]
    raw_edits = {p: None if e is None else (e[0], raw(e[1])) for p, e in edits.items()}
    merged, diff = merge_leaf(raw_old, sorted(raw_edits), raw_edits)
    assert merged == [(p, raw(t)) for p, t in sorted(new.items())]
    assert [(d[0], d[1]) for d in diff] == changes


def test_merge_leaf_appends_chunks_to_the_old_entry():
    merged, diff = merge_leaf([("/a", raw("1"))], ["/a"], {"/a": ("append", raw("2"))})
    ((_, cur),) = merged
    assert cur[1] == 2 and len(cur[2]) == 2 and diff[0][1] == "modified"


def test_merge_index_puts_and_removes_refs():
    old = [("/b", ["/b", "p", 0, 1]), ("/d", ["/d", "p", 1, 1])]
    edits = {"/b": None, "/c": ["/c", "", 0, 5], "/x": None}
    assert merge_index(old, sorted(edits), edits) == [
        ("/c", ["/c", "", 0, 5]),
        ("/d", ["/d", "p", 1, 1]),
    ]


# ----------------------------------------------------------------------------- builds


async def contents(trees: TreeStore, root) -> dict[str, list]:
    return {p: r async for p, r in trees.walk(root)}


def random_ops(rng: random.Random, model: dict[str, list], n: int) -> list[FileOp]:
    ops: list[FileOp] = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.55 or not model:
            ops.append(put(f"/d{rng.randrange(12)}/f{rng.randrange(3000)}", str(rng.random())))
        elif roll < 0.8:
            ops.append(delete(rng.choice(sorted(model))))
        elif roll < 0.9:
            ops.append(append(rng.choice(sorted(model)), "+"))
        elif roll < 0.97:
            ops.append(delete(f"/d{rng.randrange(12)}"))
        else:
            ops.append(put(f"/d{rng.randrange(12)}", "file where a directory was"))
    return ops


@pytest.mark.parametrize("seed", range(6))
async def test_builds_match_a_model_and_a_build_from_scratch(seed):
    """Over commits of random puts, appends, file and directory deletes: the tree holds what a
    plain dict says, its nodes are those of the same files built at once (the layout is a
    function of the files, not the history), and build, diff, lookup and scan agree."""
    rng = random.Random(seed)
    store = MemoryObjectStore()
    trees = TreeStore(store, cache_objects=64)  # small: reads go to the store too
    model: dict[str, list] = {}  # the whole tree as one dict: apply_to_shard is the rule
    root = EMPTY_ROOT
    heights = set()
    for step in range(8):
        ops = random_ops(rng, model, 3000 if step == 0 else 40)
        overlay = Overlay().apply(ops)
        built = await trees.build(root, overlay)
        model, expected = apply_to_shard(model, Overlay().apply(ops))
        assert built.diff == expected
        # The paths' hashes taken as the ops were folded place the nodes as hashing them
        # in the build does: the same tree, object for object.
        unhashed = Overlay(puts=dict(overlay.puts), cleared=set(overlay.cleared))
        assert not unhashed.hashes
        again = await TreeStore(store).build(root, unhashed)
        assert again.root.key == built.root.key
        new = await contents(trees, built.root)
        assert new == model
        assert list(new) == sorted(new)  # walk is in path order
        assert (built.root.count, built.root.size) == (len(new), sum(r[1] for r in new.values()))
        assert await TreeStore(store).diff(root, built.root) == built.diff
        assert await trees.diff(built.root, root) == [
            (p, {"added": "deleted", "deleted": "added"}.get(c, c), o, n)
            for p, c, n, o in built.diff
        ]
        fresh = TreeStore(MemoryObjectStore())
        scratch = await fresh.build(
            EMPTY_ROOT, Overlay().apply(put_raw(p, r) for p, r in new.items())
        )
        assert await trees.levels(built.root) == await fresh.levels(scratch.root)
        for path in rng.sample(sorted(new), min(20, len(new))) + ["/nope", "/d3"]:
            got = await trees.lookup(built.root, path)
            assert (entry_to_raw(got) if got else None) == new.get(path)
        start = rng.choice(sorted(new)) if new else ""
        scanned = [p async for p, _ in trees.scan(built.root, start=start, after=start)]
        assert scanned == [p for p in sorted(new) if p > start]
        root = built.root
        heights.add(root.height)
    assert max(heights) >= 2  # the cases cross index levels


def put_raw(path: str, r: list) -> FileOp:
    return FileOp(op="put", path=path, file=raw_to_entry(r))


async def test_no_change_and_emptying_and_regrowing():
    store = MemoryObjectStore()
    trees = TreeStore(store)
    base = await trees.build(EMPTY_ROOT, Overlay().apply(put(f"/f{i}", "1") for i in range(500)))
    before = dict(store.objects)
    same = await trees.build(base.root, Overlay().apply([put("/f1", "1"), delete("/zz")]))
    assert same.root is base.root and same.diff == [] and store.objects == before
    emptied = await trees.build(base.root, Overlay().apply([delete("/")]))
    assert (emptied.root.count, emptied.root.node, len(emptied.diff)) == (0, None, 500)
    again = await trees.build(emptied.root, Overlay().apply([put("/f1", "1")]))
    assert await contents(trees, again.root) == {"/f1": raw("1")} and again.root.height == 0
    assert await trees.root(again.root.key) == again.root


async def test_shrinking_lowers_the_top():
    trees = TreeStore(MemoryObjectStore())
    big = await trees.build(EMPTY_ROOT, Overlay().apply(put(f"/f{i}", "1") for i in range(3000)))
    assert big.root.height >= 2
    keep = sorted(f"/f{i}" for i in range(3000))[:3]
    small = await trees.build(
        big.root, Overlay().apply(delete(f"/f{i}") for i in range(3000) if f"/f{i}" not in keep)
    )
    assert small.root.height == 0 and list(await contents(trees, small.root)) == keep


# ----------------------------------------------------------------------------- across layouts


async def test_a_version_2_home_is_read_then_written_as_version_3():
    """A tree written by the version-2 code (hash shards) reads the same through the new
    code, its next commit writes the node layout (the current version), and diffs across the
    two layouts are right."""
    store = MemoryObjectStore()
    old = TreeStore(store, write_version=2)
    files = {f"/d{i % 7}/f{i}": str(i) for i in range(1500)}
    v2 = (await old.build(EMPTY_ROOT, Overlay().apply(put(p, t) for p, t in files.items()))).root
    trees = TreeStore(store)  # the new code, cold
    v2 = await trees.root(v2.key)
    assert v2.version == 2 and len(v2.shards) > 500
    assert await contents(trees, v2) == {p: raw(t) for p, t in files.items()}
    assert entry_to_raw(await trees.lookup(v2, "/d3/f3")) == raw("3")

    ops = [put("/d1/f1", "new"), delete("/d2"), put("/e/g", "x"), append("/d0/f0", "+")]
    v3 = await trees.build(v2, Overlay().apply(ops))
    assert v3.root.version == MANIFEST_VERSION
    assert (await trees.root(v3.root.key)).version == MANIFEST_VERSION
    expected = await old.build(v2, Overlay().apply(ops))
    assert v3.diff == expected.diff and len(v3.diff) == 3 + len([p for p in files if "/d2/" in p])
    assert await contents(trees, v3.root) == await contents(trees, expected.root)
    assert await trees.diff(v2, v3.root) == v3.diff
    assert await trees.diff(v3.root, v2) == diff_shards(
        await contents(trees, v3.root), await contents(trees, v2)
    )
    # And on from there in the node layout only.
    nxt = await trees.build(v3.root, Overlay().apply([put("/d4/f4", "again")]))
    assert [(d[0], d[1]) for d in await trees.diff(v3.root, nxt.root)] == [("/d4/f4", "modified")]


async def test_an_emptied_version_2_tree_takes_deletes_and_puts():
    store = MemoryObjectStore()
    old = TreeStore(store, write_version=2)
    full = await old.build(EMPTY_ROOT, Overlay().apply([put("/a/b", "1"), put("/c", "2")]))
    empty = (await old.build(full.root, Overlay().apply([delete("/")]))).root
    assert empty.version == 2 and empty.key is not None and not empty.shards
    trees = TreeStore(store)
    built = await trees.build(empty, Overlay().apply([delete("/"), delete("/a"), put("/x", "3")]))
    assert built.root.version == MANIFEST_VERSION
    assert [(d[0], d[1]) for d in built.diff] == [("/x", "added")]
    assert await contents(trees, built.root) == {"/x": raw("3")}


async def test_unknown_version_is_refused_and_v2_writer_refuses_v3_parent():
    store = MemoryObjectStore()
    store.objects["manifests/x"] = b'{"v": 5, "count": 0, "size": 0}'
    with pytest.raises(ValueError, match="manifest version 5; this pachstream reads versions"):
        await TreeStore(store).root("manifests/x")
    v3 = (await TreeStore(store).build(EMPTY_ROOT, Overlay().apply([put("/a", "1")]))).root
    with pytest.raises(ValueError, match="version-2 writer cannot extend it"):
        await TreeStore(store, write_version=2).build(v3, Overlay().apply([put("/b", "1")]))
    with pytest.raises(ValueError, match="no path order"):
        v2 = await TreeStore(store, write_version=2).build(
            EMPTY_ROOT, Overlay().apply([put("/a", "1")])
        )
        [x async for x in TreeStore(store).scan(v2.root)]


# ----------------------------------------------------------------------------- cost


async def written_by_small_commits(n: int) -> tuple[int, int]:
    """(bytes, objects) written by a 10-file commit on an ``n``-file tree (median of 9)."""
    store = MemoryObjectStore()
    trees = TreeStore(store)
    paths = [f"/d{i // 1000:04d}/f{i:07d}" for i in range(n)]
    root = (await trees.build(EMPTY_ROOT, Overlay().apply(put(p, "0") for p in paths))).root
    sizes, counts = [], []
    for r in range(9):
        before = dict(store.objects)
        ops = [put(paths[i], f"{r}") for i in range(r, n, n // 10)]
        root = (await trees.build(root, Overlay().apply(ops))).root
        new = set(store.objects) - set(before)
        sizes.append(sum(len(store.objects[k]) for k in new))
        counts.append(len(new))
    return sorted(sizes)[4], max(counts)


async def test_a_small_commit_writes_about_the_same_on_a_big_tree():
    """O(changed), not O(files / shards): a 10-file commit writes one pack and one root, and
    about as many bytes on 60,000 files as on 1,000 (version 2: 9x as many)."""
    small, objects_small = await written_by_small_commits(1000)
    big, objects_big = await written_by_small_commits(60_000)
    assert objects_small == objects_big == 2
    assert big < 2 * small, (small, big)


class CountingStore(MemoryObjectStore):
    """A memory store that counts its reads."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = self.flying = self.most = 0

    async def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        self.gets += 1
        self.flying += 1
        self.most = max(self.most, self.flying)
        try:
            await asyncio.sleep(0)  # let reads asked for together overlap, as on a network
            return await super().get(key, offset, length)
        finally:
            self.flying -= 1


async def test_a_scan_that_stops_early_reads_one_node_a_level():
    """A listing that seeks past each common prefix takes one entry per scan: the scan reads
    one node on each level down to it, not a read-ahead batch of sixteen."""
    store = CountingStore()
    built = await TreeStore(store).build(
        EMPTY_ROOT, Overlay().apply(put(f"/d{i // 1000:02}/f{i:05}", "x") for i in range(20_000))
    )
    assert built.root.height >= 2
    for start in ("/d00/", "/d07/", "/d19/"):
        store.gets = 0
        scan = TreeStore(store).scan(built.root, start=start, ahead=1)  # a cold cache
        first = await anext(scan)
        await scan.aclose()
        assert first[0].startswith(start)
        assert store.gets <= built.root.height, (start, store.gets)
        assert store.most == 1
    # A whole walk still reads sixteen children at once (a round trip per sixteen reads).
    store.most = 0
    walked = [p async for p, _ in TreeStore(store).walk(built.root)]
    assert len(walked) == 20_000
    assert store.most == SCAN_AHEAD


async def test_a_diff_reads_both_trees_nodes_of_a_level_together():
    """One file changed in a tree of height >= 2: the diff opens one node per side per level,
    both sides' at once (a round trip per level, not two), and finds the one change."""
    store = CountingStore()
    old = await TreeStore(store).build(
        EMPTY_ROOT, Overlay().apply(put(f"/d{i // 1000:02}/f{i:05}", "x") for i in range(20_000))
    )
    new = await TreeStore(store).build(old.root, Overlay().apply([put("/d07/f07007", "y")]))
    assert old.root.height >= 2
    store.gets = store.most = 0
    rows = await TreeStore(store).diff(old.root, new.root)  # a cold cache
    assert [(r[0], r[1]) for r in rows] == [("/d07/f07007", "modified")]
    assert store.gets == 2 * old.root.height, store.gets
    assert store.most == 2


# ----------------------------------------------------------------------------- packed leaves

H1, H2, H3 = "a" * 64, "b" * 64, "c" * 64
# (raw entry, its packed form with the packs ["p1", "p2"] before it: how version 4 stores it).
PACKED_CASES = [
    # One chunk that is the whole file: its hash and size said once, its pack by index.
    ([H1, 5, [[H1, 5, "p1", 0]]], [H1, 5, 0, 0]),
    ([H2, 7, [[H2, 7, "p2", 40]]], [H2, 7, 1, 40]),
    ([H3, 9, [[H3, 9, "p3", 12]]], [H3, 9, 2, 12]),  # a pack not seen yet: the next index
    # Anything else keeps its chunks, each pack by index.
    ([H3, 12, [[H1, 5, "p1", 0], [H2, 7, "p2", 3]]], [H3, 12, [[H1, 5, 0, 0], [H2, 7, 1, 3]]]),
    ([H2, 5, [[H1, 5, "p1", 0]]], [H2, 5, [[H1, 5, 0, 0]]]),  # a chunk hash not the file's
    ([H1, 6, [[H1, 5, "p1", 0]]], [H1, 6, [[H1, 5, 0, 0]]]),  # a chunk size not the file's
    ([H1, 0, []], [H1, 0, []]),  # an empty file: no chunk
]


@pytest.mark.parametrize(("raw_entry", "packed"), PACKED_CASES)
def test_an_entry_packs_and_unpacks(raw_entry, packed):
    seen = {"p1": 0, "p2": 1}
    leaf = pack_leaf({"/x": [H1, 1, [[H1, 1, "p1", 0]]], "/y": [H2, 1, [[H2, 1, "p2", 0]]]})
    assert leaf["packs"] == list(seen)
    stored = pack_leaf(
        {"/x": [H1, 1, [[H1, 1, "p1", 0]]], "/y": [H2, 1, [[H2, 1, "p2", 0]]], "/z": raw_entry}
    )
    assert stored["entries"][2] == ["/z", *packed]
    assert unpack_leaf(stored) == {
        "/x": [H1, 1, [[H1, 1, "p1", 0]]],
        "/y": [H2, 1, [[H2, 1, "p2", 0]]],
        "/z": raw_entry,
    }
    diff = [
        ("/z", "modified", raw_entry, [H1, 1, [[H1, 1, "p1", 0]]]),
        ("/w", "deleted", None, raw_entry),
    ]
    assert unpack_diff(pack_diff(diff)) == [list(row) for row in diff]


def test_a_pack_key_is_stored_once_and_other_nodes_pass_unchanged():
    leaf = {
        f"/f{i}": [f"{i:064x}", 100, [[f"{i:064x}", 100, "packs/" + "d" * 64, i * 100]]]
        for i in range(32)
    }
    stored = pack_leaf(leaf)
    assert stored["packs"] == ["packs/" + "d" * 64]
    assert [row[0] for row in stored["entries"]] == list(leaf)  # path order kept
    assert len(orjson.dumps(stored)) < 0.5 * len(orjson.dumps(leaf))
    index = [["/f9", "packs/x", 0, 10]]
    assert unpack_leaf(index) is index and unpack_leaf(leaf) is leaf  # version 3, index nodes
    assert unpack_leaf({}) == {}
    rows = [["/a", "added", [H1, 1, [[H1, 1, "p", 0]]], None]]
    assert unpack_diff(rows) is rows  # a diff object written before version 4


async def test_a_version_3_home_is_read_and_extended_with_packed_leaves():
    """A tree written with version-3 leaves reads the same through the new code; its next
    commit writes packed leaves beside the version-3 nodes it did not touch, and contents and
    diffs are those of a tree written all in version 3."""
    store = MemoryObjectStore()
    old = TreeStore(store, write_version=3)
    files = {f"/d{i % 7}/f{i}": str(i) for i in range(3000)}
    v3 = (await old.build(EMPTY_ROOT, Overlay().apply(put(p, t) for p, t in files.items()))).root
    assert v3.version == 3 and v3.height >= 1
    assert not any(b'"packs"' in data for data in store.objects.values())
    trees = TreeStore(store)  # the new code, cold
    v3 = await trees.root(v3.key)
    assert await contents(trees, v3) == {p: raw(t) for p, t in files.items()}

    ops = [put("/d1/f1", "new"), delete("/d2"), put("/e/g", "x"), append("/d0/f0", "+")]
    before = set(store.objects)
    v4 = await trees.build(v3, Overlay().apply(ops))
    expected = await old.build(v3, Overlay().apply(ops))
    assert v4.root.version == MANIFEST_VERSION == 4
    assert any(b'"packs"' in store.objects[k] for k in set(store.objects) - before)
    assert v4.diff == expected.diff
    cold = TreeStore(store)
    assert await contents(cold, await cold.root(v4.root.key)) == await contents(
        trees, expected.root
    )
    assert await cold.diff(v3, await cold.root(v4.root.key)) == v4.diff
    assert await cold.lookup(await cold.root(v4.root.key), "/e/g") == entry("x")


@pytest.mark.parametrize("version", [3, 4])
async def test_a_scan_for_heads_gives_each_hash_and_size_and_caches_no_leaf(version):
    """What a listing reads: the hash and size of every entry, in order, from ``start`` and
    past ``after``, as a full scan gives them; packed leaves are neither unpacked nor cached
    (a later full read still unpacks them)."""
    store = MemoryObjectStore()
    trees = TreeStore(store, write_version=version)
    files = {f"/d{i % 5}/f{i:05d}": str(i) for i in range(3000)}
    root = (
        await trees.build(EMPTY_ROOT, Overlay().apply(put(p, t) for p, t in files.items()))
    ).root
    assert root.height >= 1
    cold = TreeStore(store)
    root = await cold.root(root.key)
    for start, after in [("", None), ("/d2/", None), ("/d2/", "/d2/f01002"), ("/d9", None)]:
        full = [
            (p, r[0], r[1]) async for p, r in cold.scan(root, start=start, after=after, keep=False)
        ]
        heads = [
            (p, r[0], r[1])
            async for p, r in cold.scan(root, start=start, after=after, keep=False, heads=True)
        ]
        assert heads == full
    assert len(heads) == 0 and len(full) == 0  # past the last path: nothing
    cached = list(cold._cache.values())
    assert not any(isinstance(b, dict) and "packs" in b for b in cached)
    assert await contents(cold, root) == {p: raw(t) for p, t in files.items()}


async def test_a_small_tree_read_cold_unpacks_the_leaf_its_root_holds():
    """A tree of a few files is one leaf, inline in the root object and stored packed there:
    a reader that did not build it gets the same entries."""
    store = MemoryObjectStore()
    files = {f"/f{i}": str(i) for i in range(5)}
    built = await TreeStore(store).build(
        EMPTY_ROOT, Overlay().apply(put(p, t) for p, t in files.items())
    )
    assert built.root.height == 0 and b'"packs"' in store.objects[built.root.key]
    cold = TreeStore(store)
    root = await cold.root(built.root.key)
    assert root.node == built.root.node
    assert await contents(cold, root) == {p: raw(t) for p, t in files.items()}
    assert await cold.lookup(root, "/f3") == entry("3")
    assert (await cold.root(built.root.key)).node == root.node  # and from the cache
