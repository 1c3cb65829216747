"""A commit's finish sends its object writes together: puts start at once, reads of a key in
flight answer from the bytes in hand, and ``settle`` waits for all and raises a failure."""

from __future__ import annotations

import asyncio

import pytest

from pachstream.commits._puts import PutsInFlight
from pachstream.errors import Unavailable
from pachstream.model import FileEntry, FileOp
from pachstream.objectstore import MemoryObjectStore
from pachstream.tree import EMPTY_ROOT, Overlay, TreeStore


class GatedStore(MemoryObjectStore):
    """Puts wait for ``gate``; counts the puts in flight; ``fail`` names keys that fail."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.in_flight = 0
        self.most = 0
        self.fail = fail

    async def put(self, key: str, data: bytes) -> None:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.gate.wait()
            if key in self.fail:
                raise Unavailable(f"object store refused {key}")
            await super().put(key, data)
        finally:
            self.in_flight -= 1


async def test_puts_run_together_and_settle_waits_for_all() -> None:
    store = GatedStore()
    puts = PutsInFlight(store)
    for key in ("pack", "root", "diff"):
        await puts.put(key, key.encode() * 3)
    await asyncio.sleep(0)
    assert store.most == 3 and store.objects == {}
    # Reads of a key being written see it, ranges included.
    assert await puts.get("pack") == b"packpackpack"
    assert await puts.get("pack", 4, 4) == b"pack"
    assert await puts.exists("root") and await puts.list("d") == ["diff"]
    settling = asyncio.create_task(puts.settle())
    await asyncio.sleep(0)
    assert not settling.done()
    store.gate.set()
    await settling
    assert store.objects == {
        "pack": b"packpackpack",
        "root": b"rootrootroot",
        "diff": b"diffdiffdiff",
    }
    assert await puts.get("diff") == b"diffdiffdiff"  # now from the store


async def test_a_failed_put_fails_settle_after_the_others_ended() -> None:
    store = GatedStore(fail=frozenset({"root"}))
    puts = PutsInFlight(store)
    for key in ("pack", "root", "diff"):
        await puts.put(key, b"x")
    store.gate.set()
    with pytest.raises(Unavailable, match="refused root"):
        await puts.settle()
    assert store.in_flight == 0 and sorted(store.objects) == ["diff", "pack"]
    await puts.settle()  # nothing left over


async def test_a_tree_built_through_it_is_stored_once_settled() -> None:
    store = GatedStore()
    store.gate.set()
    puts = PutsInFlight(store)
    trees = TreeStore(puts)
    ops = [FileOp(op="put", path=f"/f{i:04d}", file=FileEntry(hash=f"{i:064x}", size=1, chunks=()))
           for i in range(500)]  # fmt: skip
    built = await trees.build(EMPTY_ROOT, Overlay().apply(ops))
    await puts.settle()
    fresh = TreeStore(store)  # no cache: every node from the store
    root = await fresh.root(built.root.key)
    assert [p async for p, _ in fresh.walk(root)] == [op.path for op in ops]
