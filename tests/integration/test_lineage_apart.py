"""A big commit's blob index goes in beside its file rows, in a transaction of its own: it is
there while the commit's own transaction still waits, and the commit lands whole after."""

from __future__ import annotations

import asyncio
import hashlib

import orjson

from pachstream.codec import encode
from pachstream.commits.events import CommitFinished
from pachstream.kafka import Producer, Topics, ensure_topics
from pachstream.lineage import Materializer
from pachstream.lineage._materializer import APART_ROWS
from pachstream.objectstore import S3ObjectStore
from pachstream.pg import connect_pool

FILES = APART_ROWS + 100
COMMIT = "c" * 32


def _hash(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


async def _until(probe, expected, what: str, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (got := await probe()) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"{what}: {got} != {expected}"
        await asyncio.sleep(0.05)


async def test_a_big_commits_blob_index_is_written_beside_its_file_rows(settings) -> None:
    kafka, pg, s3 = settings.require()
    diff = [
        [f"/f{k:05d}", "added", [_hash(k), 1, [[_hash(k), 1, "packs/p", k]]], None]
        for k in range(FILES)
    ]
    objects = S3ObjectStore(s3, settings.namespace)
    try:
        await objects.put(f"diffs/{COMMIT}", orjson.dumps(diff))
    finally:
        await objects.close()
    fact = CommitFinished(
        event_id="cf", request_id="r", repo="raw", branch="master", commit_id=COMMIT,
        parent=None, started=1.0, finished=2.0, description="", root="manifests/x",
        file_count=FILES, size_bytes=FILES, added=FILES, modified=0, deleted=0,
        diff_ref=f"diffs/{COMMIT}", diff=None,
    )  # fmt: skip
    await ensure_topics(kafka, Topics(settings.namespace).all(kafka.partitions))
    consumer = Materializer(settings)
    await consumer.start()  # its tables made before the lock below
    pool = await connect_pool(pg, settings.namespace)
    try:
        async with pool.acquire() as holder:
            lock = holder.transaction()
            await lock.start()
            # The commit's file rows cannot go in while this is held; the blob index can.
            await holder.execute("LOCK TABLE commit_files IN EXCLUSIVE MODE")
            producer = Producer(kafka)
            await producer.start()
            try:
                await producer.send_all([(Topics(settings.namespace).events, "raw", encode(fact))])
            finally:
                await producer.stop()

            async def blobs() -> int:
                return await pool.fetchval("SELECT count(*) FROM blobs")

            await _until(blobs, FILES, "blob rows while the commit's rows wait")
            assert await pool.fetchval("SELECT count(*) FROM commits") == 0
            await lock.rollback()

        async def files() -> int:
            return await pool.fetchval("SELECT count(*) FROM commit_files")

        await _until(files, FILES, "the commit's file rows once the lock is gone")
        row = await pool.fetchrow("SELECT finished, file_count FROM commits WHERE id = $1", COMMIT)
        assert row is not None and row["finished"] == 2.0 and row["file_count"] == FILES
        located = await pool.fetchrow(
            "SELECT pack, pack_offset FROM blobs WHERE hash = $1", _hash(FILES - 1)
        )
        assert located is not None and tuple(located) == ("packs/p", FILES - 1)
    finally:
        await pool.close()
        await consumer.stop()
