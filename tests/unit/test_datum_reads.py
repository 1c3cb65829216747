"""A datum's input reads: a pack that many files share is fetched once, whole; the rest by
range; every file's bytes come out the same as a plain read.
"""

from __future__ import annotations

import asyncio

from fake_packs import CountingStore, packed

from pachstream.content import ContentWriter, read_file
from pachstream.worker._reads import WHOLE_PACK_MIN, DatumReader, whole_packs


def test_whole_packs_are_those_with_enough_wanted_chunks() -> None:
    entries = [packed("packs/a", i) for i in range(WHOLE_PACK_MIN)]
    entries += [packed("packs/b", i) for i in range(WHOLE_PACK_MIN - 1)]
    entries += [packed(None, i) for i in range(50)]  # blobs are never "packs"
    assert whole_packs(entries) == {"packs/a"}
    assert whole_packs(entries, least=1) == {"packs/a", "packs/b"}
    assert whole_packs([]) == set()


async def test_a_shared_pack_is_read_once_and_sliced() -> None:
    store = CountingStore()
    contents = [f"file {i}\n".encode() for i in range(500)]
    big = b"x" * (2 * 1024 * 1024)  # a blob of its own
    entries = await ContentWriter(store).store_many([*contents, big])
    expected = [await read_file(store, e) for e in entries]
    assert expected == [*contents, big]
    store.gets.clear()

    reader = DatumReader(store, entries)
    got = await asyncio.gather(*(reader.read(e) for e in entries))
    assert list(got) == expected
    (pack,) = {c.pack for e in entries for c in e.chunks if c.pack is not None}
    assert sorted(store.gets) == sorted([(pack, 0, None), (f"blobs/{entries[-1].hash}", 0, None)])


async def test_a_pack_of_few_wanted_files_is_read_by_range() -> None:
    store = CountingStore()
    entries = await ContentWriter(store).store_many([f"{i}".encode() for i in range(100)])
    wanted = entries[:3]
    store.gets.clear()
    reader = DatumReader(store, wanted)
    assert [await reader.read(e) for e in wanted] == [b"0", b"1", b"2"]
    # Neighbours: one range that covers the three, never the whole pack.
    assert [(off, length) for _, off, length in store.gets] == [(0, 3)]
