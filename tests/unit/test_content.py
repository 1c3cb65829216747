"""File content in the object store: packing, blobs, deduplication and reading back."""

from __future__ import annotations

import hashlib

import pytest

from pachstream import content
from pachstream.content import BLOB_MIN, ContentWriter, read_chunk, read_file
from pachstream.errors import ObjectMissing
from pachstream.model import Chunk, FileEntry, file_hash
from pachstream.objectstore import MemoryObjectStore


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def keys(store: MemoryObjectStore, prefix: str) -> list[str]:
    return sorted(k for k in store.objects if k.startswith(prefix))


async def test_many_small_contents_share_one_pack():
    store = MemoryObjectStore()
    contents = [f"file {i}\n".encode() for i in range(1000)]
    entries = await ContentWriter(store).store_many(contents)
    (pack,) = keys(store, "packs/")
    assert list(store.objects) == [pack]
    assert store.objects[pack] == b"".join(contents)
    assert pack == "packs/" + sha(b"".join(contents))  # content-addressed
    offset = 0
    for data, e in zip(contents, entries, strict=True):
        assert e == FileEntry(
            hash=sha(data),
            size=len(data),
            chunks=(Chunk(hash=sha(data), size=len(data), pack=pack, offset=offset),),
        )
        offset += len(data)
        assert await read_file(store, e) == data


PACK_CASES = [
    # (pack target, sizes of the contents) → sizes of the packs, in order
    (10, [4, 4, 4, 4], [12, 4]),
    (8, [4, 4, 4, 4], [8, 8]),
    (100, [4, 4, 4, 4], [16]),
    (1, [3, 3], [3, 3]),
]


@pytest.mark.parametrize(("target", "sizes", "packs"), PACK_CASES)
async def test_packs_are_sealed_at_the_target(monkeypatch, target, sizes, packs):
    monkeypatch.setattr(content, "PACK_TARGET", target)
    store = MemoryObjectStore()
    contents = [bytes([65 + i]) * n for i, n in enumerate(sizes)]
    entries = await ContentWriter(store).store_many(contents)
    by_pack: dict[str, int] = {}
    for e in entries:
        by_pack[e.chunks[0].pack] = by_pack.get(e.chunks[0].pack, 0) + e.size
    assert list(by_pack.values()) == packs
    assert len(keys(store, "packs/")) == len(packs) and len(store.objects) == len(packs)
    assert [await read_file(store, e) for e in entries] == contents


async def test_identical_contents_are_stored_once_in_a_batch():
    store = MemoryObjectStore()
    entries = await ContentWriter(store).store_many([b"same", b"other", b"same", b"same"])
    (pack,) = keys(store, "packs/")
    assert store.objects[pack] == b"sameother"
    assert entries[0] == entries[2] == entries[3]
    assert entries[0].chunks[0].offset == 0 and entries[1].chunks[0].offset == 4


async def test_identical_contents_across_packs_are_stored_once(monkeypatch):
    monkeypatch.setattr(content, "PACK_TARGET", 4)
    store = MemoryObjectStore()
    entries = await ContentWriter(store).store_many([b"aaaa", b"bbbb", b"aaaa"])
    assert sorted(store.objects.values()) == [b"aaaa", b"bbbb"]
    assert entries[2] == entries[0]


async def test_known_content_is_not_stored_again():
    store = MemoryObjectStore()
    index: dict[str, Chunk] = {}
    asked: list[list[str]] = []

    async def known(hashes: list[str]) -> dict[str, Chunk]:
        asked.append(hashes)
        return {h: index[h] for h in hashes if h in index}

    writer = ContentWriter(store, known)
    first = await writer.store_many([b"one", b"two"])
    index.update({e.hash: e.chunks[0] for e in first})
    before = dict(store.objects)
    second = await writer.store_many([b"two", b"three", b"one", b"two"])
    assert asked[1] == sorted({sha(b"one"), sha(b"two"), sha(b"three")})  # unique, sorted
    assert second[0] == second[3] == first[1] and second[2] == first[0]
    (new,) = set(store.objects) - set(before)
    assert store.objects[new] == b"three"  # only the unknown content is written
    assert [await read_file(store, e) for e in second] == [b"two", b"three", b"one", b"two"]


async def test_known_lookup_is_not_called_for_nothing():
    async def known(hashes: list[str]) -> dict[str, Chunk]:
        raise AssertionError("asked for no hashes")

    store = MemoryObjectStore()
    assert await ContentWriter(store, known).store_many([]) == []
    assert store.objects == {}


BLOB_CASES = [
    ("just under BLOB_MIN: packed", BLOB_MIN - 1, False),
    ("BLOB_MIN: a blob", BLOB_MIN, True),
    ("over BLOB_MIN: a blob", BLOB_MIN + 5, True),
]


@pytest.mark.parametrize(("name", "size", "blob"), BLOB_CASES, ids=[c[0] for c in BLOB_CASES])
async def test_large_content_becomes_a_blob(name, size, blob):
    store = MemoryObjectStore()
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    (e,) = await ContentWriter(store).store_many([data])
    if blob:
        assert list(store.objects) == [f"blobs/{sha(data)}"]
        assert e.chunks == (Chunk(hash=sha(data), size=size, pack=None, offset=0),)
    else:
        assert keys(store, "blobs/") == [] and len(keys(store, "packs/")) == 1
    assert (e.hash, e.size) == (sha(data), size)
    assert await read_file(store, e) == data


async def test_blobs_and_small_files_in_one_batch():
    store = MemoryObjectStore()
    big = b"B" * BLOB_MIN
    entries = await ContentWriter(store).store_many([b"s1", big, b"s2", big])
    assert keys(store, "blobs/") == [f"blobs/{sha(big)}"]
    (pack,) = keys(store, "packs/")
    assert store.objects[pack] == b"s1s2"
    assert entries[1] == entries[3] and entries[1].chunks[0].pack is None
    assert [await read_file(store, e) for e in entries] == [b"s1", big, b"s2", big]


EMPTY_CASES = [[b""], [b"", b"x"], [b"x", b"", b""]]


@pytest.mark.parametrize("contents", EMPTY_CASES, ids=["alone", "first", "last twice"])
async def test_empty_content_reads_back_empty(contents):
    store = MemoryObjectStore()
    entries = await ContentWriter(store).store_many(contents)
    empty = entries[contents.index(b"")]
    assert (empty.hash, empty.size) == (sha(b""), 0)
    assert [await read_file(store, e) for e in entries] == contents


async def test_store_stream_of_several_pieces():
    store = MemoryObjectStore()
    pieces = [b"head,", b"B" * BLOB_MIN, b"tail", b"head,"]

    async def gen():
        for p in pieces:
            yield p

    e = await ContentWriter(store).store_stream(gen())
    assert [c.hash for c in e.chunks] == [sha(p) for p in pieces]
    assert [c.size for c in e.chunks] == [len(p) for p in pieces]
    assert e.hash == file_hash(e.chunks) != sha(b"".join(pieces))
    assert e.size == sum(len(p) for p in pieces)
    assert await read_file(store, e) == b"".join(pieces)
    assert e.chunks[1].pack is None and e.chunks[0] == e.chunks[3]


STREAM_CASES = [
    ("one piece: hash of the bytes", [b"only"], sha(b"only")),
    ("no piece: the empty file", [], sha(b"")),
]


@pytest.mark.parametrize(("name", "pieces", "hash"), STREAM_CASES, ids=[c[0] for c in STREAM_CASES])
async def test_store_stream_single_or_empty(name, pieces, hash):
    store = MemoryObjectStore()

    async def gen():
        for p in pieces:
            yield p

    e = await ContentWriter(store).store_stream(gen())
    assert (e.hash, e.size, len(e.chunks)) == (hash, len(b"".join(pieces)), 1)
    assert await read_file(store, e) == b"".join(pieces)


async def test_read_chunk_uses_the_range_and_reports_missing_objects():
    store = MemoryObjectStore()
    store.objects["packs/p"] = b"0123456789"
    assert await read_chunk(store, Chunk(hash="h", size=3, pack="packs/p", offset=4)) == b"456"
    assert await read_chunk(store, Chunk(hash="h", size=0, pack="packs/gone", offset=0)) == b""
    with pytest.raises(ObjectMissing, match="'blobs/h' does not exist"):
        await read_chunk(store, Chunk(hash="h", size=3))
