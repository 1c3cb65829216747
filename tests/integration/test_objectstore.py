"""The object store against the embedded SeaweedFS: signed requests for single objects,
aiobotocore for listings, the same bytes either way, and errors that name the object."""

from __future__ import annotations

import dataclasses
import uuid

import aiohttp
import pytest

from pachstream import objectstore
from pachstream.errors import ObjectMissing, ObjectStoreRefused, Unavailable
from pachstream.objectstore import S3ObjectStore
from pachstream.stack.servers import free_port

KEYS = ["a/b", "sp ace/ü+%x", "q?x#y&z=1", "~tilde*'()!$,;:@", "deep/" * 20 + "leaf", "e"]


@pytest.fixture
async def stores(settings):
    """Three stores on one prefix: the filer's socket (the embedded stack's own objects),
    signed S3 requests, and aiobotocore alone."""
    _, _, s3 = settings.require()
    assert s3.filer_socket, "the embedded servers name their filer's socket"
    prefix = f"os-{uuid.uuid4().hex[:8]}"
    through_s3 = dataclasses.replace(s3, filer_socket="")
    filer, signed, botocore = (
        S3ObjectStore(s3, prefix),
        S3ObjectStore(through_s3, prefix),
        S3ObjectStore(through_s3, prefix),
    )
    assert isinstance(filer._http, objectstore._FilerHttp)
    assert isinstance(signed._http, objectstore._SignedHttp)
    botocore._http = None
    yield filer, signed, botocore
    for store in (filer, signed, botocore):
        await store.close()


async def test_odd_keys_round_trip_every_way(stores) -> None:
    filer, signed, botocore = stores
    for i, key in enumerate(KEYS):
        data = key.encode() * 20 if i % 2 else bytes(range(256)) * 40
        writer = stores[i % 3]
        await writer.put(key, data)
        for reader in stores:
            assert await reader.get(key) == data, (key, writer, reader)
            assert await reader.get(key, 3, 7) == data[3:10]
            assert await reader.get(key, len(data) - 2) == data[-2:]
            assert await reader.get(key, 0, 0) == b""
            assert await reader.exists(key)
    for writer in stores:
        await writer.put("empty", b"")
        assert [await reader.get("empty") for reader in stores] == [b""] * 3
    big = bytes(range(256)) * (12 << 10)  # 3 MiB: sent as a stream, not one bytes body
    for i, writer in enumerate(stores):
        await writer.put(f"big{i}", big)
        for reader in stores:
            assert await reader.get(f"big{i}") == big
            assert await reader.get(f"big{i}", 1 << 20, 10) == big[1 << 20 : (1 << 20) + 10]
    expected = sorted([*KEYS, "big0", "big1", "big2", "empty"])
    assert await signed.list("") == await filer.list("") == expected


async def test_deletes_remove_exactly_the_keys_named_every_way(stores) -> None:
    for i, deleter in enumerate(stores):
        keys = [f"del{i}/{key}" for key in KEYS] + [f"del{i}/more/{n}" for n in range(40)]
        for key in keys:
            await stores[(i + 1) % 3].put(key, key.encode())
        gone = keys[::2] + [f"del{i}/never-stored", f"del{i}/more/0"]  # absent: no error
        await deleter.delete(gone)
        await deleter.delete([])
        kept = sorted(set(keys) - set(gone))
        for reader in stores:
            assert await reader.list(f"del{i}/") == kept, (deleter, reader)
            assert not await reader.exists(gone[0])
            with pytest.raises(ObjectMissing):
                await reader.get(gone[0])
            assert await reader.get(kept[0]) == kept[0].encode()
        await deleter.delete(gone)  # again: a retried delete is no error


@pytest.mark.parametrize("client", ["filer", "signed", "botocore"])
async def test_a_missing_key_is_object_missing_and_a_missing_bucket_is_refused(
    client, settings
) -> None:
    _, _, s3 = settings.require()
    if client != "filer":
        s3 = dataclasses.replace(s3, filer_socket="")
    here = S3ObjectStore(s3, f"os-{uuid.uuid4().hex[:8]}")
    elsewhere = S3ObjectStore(dataclasses.replace(s3, bucket="no-such-bucket-here"), "p")
    if client == "botocore":
        here._http = elsewhere._http = None
    try:
        assert not await here.exists("nope")
        with pytest.raises(ObjectMissing, match="'nope' does not exist"):
            await here.get("nope")
        if client == "filer":
            return  # only ever the stack's own bucket, made before any store is used
        with pytest.raises(ObjectStoreRefused, match="no-such-bucket-here.*NoSuchBucket") as e:
            await elsewhere.get("k")
        assert (e.value.bucket, e.value.status) == ("no-such-bucket-here", 404)
        assert e.value.answer.startswith("HTTP 404 NoSuchBucket")
        # SeaweedFS refuses a write to a bucket it lacks as access denied, not as no bucket.
        with pytest.raises(ObjectStoreRefused, match="PUT 'p/k' in bucket 'no-such-bucket-here'"):
            await elsewhere.put("k", b"x")
    finally:
        await here.close()
        await elsewhere.close()


async def test_a_range_past_the_end_is_refused_naming_the_object(stores) -> None:
    for store in stores:
        await store.put("short", b"abc")
        with pytest.raises(ObjectStoreRefused, match=r"'.*/short'.*HTTP 416.*past the object"):
            await store.get("short", 10, 5)


async def test_no_way_of_writing_lets_seaweedfs_compress_an_object(settings, stores) -> None:
    # SeaweedFS gzips what it guesses is text, and then unzips a whole chunk for each
    # ranged read of it (34 ms for 2 KiB of an 8 MiB JSON pack, against 0.6): every way of
    # writing names a binary type, which it stores as sent. Seen in the filer's own record.
    _, _, s3 = settings.require()
    text = b"\n".join(
        b'{"path": "/d%03d/f%06d.txt", "size": %d}' % (i % 250, i, i) for i in range(2000)
    )
    async with aiohttp.ClientSession(
        connector=aiohttp.UnixConnector(path=s3.filer_socket)
    ) as filer:
        for i, writer in enumerate(stores):
            await writer.put(f"text{i}.json", text)
            url = f"http://filer/buckets/{s3.bucket}/{writer._key(f'text{i}.json')}?metadata=true"
            async with filer.get(url) as resp:
                entry = await resp.json()
            assert entry["Mime"] == objectstore.CONTENT_TYPE, (writer, entry["Mime"])
            assert entry["chunks"], entry
            assert not any(c.get("is_compressed") for c in entry["chunks"]), (writer, entry)
            assert await writer.get(f"text{i}.json", 100, 50) == text[100:150]


async def test_an_unreachable_store_is_unavailable_after_every_try(settings, monkeypatch) -> None:
    waits: list[int] = []
    monkeypatch.setattr(objectstore, "backoff_s", lambda attempt: waits.append(attempt) or 0.0)
    _, _, s3 = settings.require()
    gone = f"http://127.0.0.1:{free_port()}"
    for where in (
        dataclasses.replace(s3, endpoint=gone, filer_socket=""),
        dataclasses.replace(s3, filer_socket=f"{s3.filer_socket}.gone"),
    ):
        dead = S3ObjectStore(where, "p")
        try:
            with pytest.raises(Unavailable, match=r"did not take PUT 'p/k' after 5 tries"):
                await dead.put("k", b"v")
        finally:
            await dead.close()
        assert waits == [1, 2, 3, 4]
        waits.clear()
