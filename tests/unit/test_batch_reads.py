"""A worker's batch of datums reads its inputs in runs: chunks of a pack that lie close
together come in one ranged GET, started before the first datum asks; far-apart chunks, blobs
and chunks the reader was not told of are read on their own; every file's bytes are a plain
read's.
"""

from __future__ import annotations

import asyncio
import os

from fake_packs import CountingStore, packed

from pachstream.content import ContentWriter, read_file
from pachstream.worker._reads import GAP_MAX, DatumReader, pack_runs


def test_runs_join_chunks_up_to_the_gap_per_pack() -> None:
    entries = [
        packed("packs/a", 0, 10),
        packed("packs/a", 10, 5),  # touching
        packed("packs/a", 15 + GAP_MAX, 1),  # exactly the gap away: same run
        packed("packs/a", 16 + 2 * GAP_MAX + 1, 2),  # one byte more than the gap: a new run
        packed("packs/b", 7, 3),
        packed("packs/a", 0, 10),  # the same chunk twice (two datums of one file)
        packed(None, 0, 99),  # a blob: no run
        packed("packs/c", 0, 0),  # empty: nothing to read
    ]
    assert pack_runs(entries) == [
        ("packs/a", 0, 16 + GAP_MAX),
        ("packs/a", 16 + 2 * GAP_MAX + 1, 18 + 2 * GAP_MAX + 1),
        ("packs/b", 7, 10),
    ]
    assert pack_runs(entries, skip={"packs/a"}) == [("packs/b", 7, 10)]
    assert pack_runs([]) == []


async def test_a_batch_of_one_file_datums_is_read_with_one_get_started_in_advance() -> None:
    store = CountingStore()
    contents = [os.urandom(50) for _ in range(20)]
    entries = await ContentWriter(store).store_many(contents)
    (pack,) = {c.pack for e in entries for c in e.chunks}
    store.gets.clear()

    # Datums of the batch: every other file (a shard's share), each read on its own.
    wanted = entries[::2]
    reader = DatumReader(store, wanted)
    reader.prefetch()
    await asyncio.sleep(0)
    assert store.gets == [(pack, 0, 50 * 19)], "the run is read before any datum asks"
    got = [await reader.read(e) for e in wanted]
    assert got == contents[::2]
    assert len(store.gets) == 1

    # Files the reader was not told of: inside the run, sliced from it; past it, read alone.
    assert await reader.read(entries[1]) == contents[1]
    assert len(store.gets) == 1
    assert await reader.read(entries[19]) == contents[19]
    assert store.gets[1:] == [(pack, 950, 50)]


async def test_far_apart_chunks_and_blobs_are_read_apart_and_right() -> None:
    store = CountingStore()
    big = os.urandom(3 * GAP_MAX)  # under BLOB_MIN: packed between the two small files
    contents = [b"first", big, b"last", os.urandom(5 * 1024 * 1024)]
    entries = await ContentWriter(store).store_many(contents)
    expected = [await read_file(store, e) for e in entries]
    assert expected == contents
    store.gets.clear()
    wanted = [entries[0], entries[2], entries[3]]  # the big middle file is not wanted
    reader = DatumReader(store, wanted)
    reader.prefetch()
    got = await asyncio.gather(*(reader.read(e) for e in wanted))
    assert list(got) == [contents[0], contents[2], contents[3]]
    ranges = sorted((off, length) for key, off, length in store.gets if key.startswith("packs/"))
    blobs = [key for key, _, _ in store.gets if key.startswith("blobs/")]
    assert ranges == [(0, 5), (5 + len(big), 4)], "two runs: the gap is wider than GAP_MAX"
    assert blobs == [f"blobs/{entries[3].hash}"]
