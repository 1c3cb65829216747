"""The dispatcher's tree reads: a job's diff answered from its commit's inline diff when the
dispatcher has just read that fact, from the object store otherwise, the same either way."""

from __future__ import annotations

import hashlib

import pytest

from pachstream.commits.events import CommitFinished
from pachstream.dispatch import trees as loader_module
from pachstream.dispatch._steps import LoadDiff
from pachstream.dispatch.trees import TreeLoader
from pachstream.errors import ObjectMissing
from pachstream.model import Chunk, FileEntry, FileOp
from pachstream.objectstore import MemoryObjectStore
from pachstream.tree import EMPTY_ROOT, Overlay, TreeStore, to_diff_entry


def entry(text: str) -> FileEntry:
    h = hashlib.sha256(text.encode()).hexdigest()
    return FileEntry(hash=h, size=len(text), chunks=(Chunk(hash=h, size=len(text), pack="p"),))


def put(path: str, text: str) -> FileOp:
    return FileOp(op="put", path=path, file=entry(text))


def finished(commit: str, parent: str | None, root: str, diff: list | None) -> CommitFinished:
    return CommitFinished(
        event_id=f"e-{commit}", request_id=f"r-{commit}", repo="r", branch="master",
        commit_id=commit, parent=parent, started=0.0, finished=0.0, description="",
        root=root, file_count=0, size_bytes=0, added=0, modified=0, deleted=0,
        diff_ref="" if diff is not None else f"diffs/{commit}",
        diff=None if diff is None else tuple(to_diff_entry(d) for d in diff),
    )  # fmt: skip


async def three_commits() -> tuple[MemoryObjectStore, list]:
    """Commits a → b → c of one branch: their built trees (root, diff against the parent)."""
    store = MemoryObjectStore()
    trees = TreeStore(store)
    a = await trees.build(EMPTY_ROOT, Overlay().apply(put(f"/f{i}", "1") for i in range(50)))
    b = await trees.build(a.root, Overlay().apply([put("/f1", "2"), put("/new", "n")]))
    delete = FileOp(op="delete", path="/f2")
    c = await trees.build(b.root, Overlay().apply([put("/f3", "3"), delete]))
    return store, [a, b, c]


async def test_a_remembered_inline_diff_answers_without_a_read_and_matches_the_store():
    store, (a, b, c) = await three_commits()
    from_store = TreeLoader(TreeStore(store))
    remembered = TreeLoader(TreeStore(MemoryObjectStore()))  # any read would fail
    remembered.remember(finished("a", None, a.root.key, a.diff))
    remembered.remember(finished("b", "a", b.root.key, b.diff))
    remembered.remember(finished("c", "b", c.root.key, c.diff))
    for old, new in ((a, b), (b, c)):
        step = LoadDiff("r@master", old.root.key, new.root.key)
        got = await remembered.answer(step)
        assert got == await from_store.answer(step)
    got = await remembered.answer(LoadDiff("r@master", b.root.key, c.root.key))
    assert got.changed == {"/f2": None, "/f3": entry("3")}


async def test_what_the_facts_do_not_give_is_read_from_the_store():
    store, (a, b, c) = await three_commits()
    loader = TreeLoader(TreeStore(store))
    loader.remember(finished("a", None, a.root.key, a.diff))
    loader.remember(finished("b", "a", b.root.key, None))  # too large to travel inline
    loader.remember(finished("c", "b", c.root.key, c.diff))
    # b's diff from the store; a → c (an index two commits behind) too, and not c's own diff.
    got = await loader.answer(LoadDiff("r@master", a.root.key, c.root.key))
    assert got.changed == {"/f1": entry("2"), "/new": entry("n"), "/f2": None, "/f3": entry("3")}
    assert (await loader.answer(LoadDiff("r@master", a.root.key, b.root.key))).changed == {
        "/f1": entry("2"),
        "/new": entry("n"),
    }
    # A parent finished before the loader started: its root is unknown, so is the pair.
    fresh = TreeLoader(TreeStore(MemoryObjectStore()))
    fresh.remember(finished("c", "b", c.root.key, c.diff))
    with pytest.raises(ObjectMissing):
        await fresh.answer(LoadDiff("r@master", b.root.key, c.root.key))


async def test_only_the_newest_diffs_are_kept(monkeypatch):
    monkeypatch.setattr(loader_module, "KNOWN_DIFFS", 2)
    monkeypatch.setattr(loader_module, "KNOWN_ROOTS", 3)
    loader = TreeLoader(TreeStore(MemoryObjectStore()))
    loader.remember(finished("c0", None, "root0", []))
    for n in range(1, 5):
        loader.remember(finished(f"c{n}", f"c{n - 1}", f"root{n}", [put_row(f"/f{n}")]))
    answered = set()
    for old, new in [(f"root{n - 1}", f"root{n}") for n in range(1, 5)]:
        try:
            await loader.answer(LoadDiff("r@master", old, new))
            answered.add((old, new))
        except ObjectMissing:
            pass
    assert answered == {("root2", "root3"), ("root3", "root4")}


def put_row(path: str) -> tuple:
    raw = [entry("x").hash, 1, [[entry("x").hash, 1, "p", 0]]]
    return (path, "added", raw, None)
