"""A big commit's blob index goes in beside its file rows, in a transaction of its own: it is
there while the commit's own transaction still waits, and the commit lands whole after; and
when Postgres refuses another fact of the batch, the blob rows already committed apart do not
stop the batch's replay fact by fact."""

from __future__ import annotations

import base64
import hashlib

import orjson

from pachstream.codec import encode
from pachstream.commits.events import CommitFinished
from pachstream.dispatch.events import DatumFinished
from pachstream.kafka import Topics, ensure_topics
from pachstream.lineage import Materializer
from pachstream.lineage._materializer import APART_ROWS
from pachstream.objectstore import S3ObjectStore
from pachstream.pg import connect_pool
from pachstream.testing.services import produce_events, read_dead_letters
from pachstream.testing.waits import eventually

FILES = APART_ROWS + 100
COMMIT = "c" * 32


def _hash(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


async def _big_commit(settings) -> CommitFinished:
    """A finished commit of ``FILES`` files whose diff travels by reference (stored here)."""
    diff = [
        [f"/f{k:05d}", "added", [_hash(k), 1, [[_hash(k), 1, "packs/p", k]]], None]
        for k in range(FILES)
    ]
    objects = S3ObjectStore(settings.require()[2], settings.namespace)
    try:
        await objects.put(f"diffs/{COMMIT}", orjson.dumps(diff))
    finally:
        await objects.close()
    return CommitFinished(
        event_id="cf", request_id="r", repo="raw", branch="master", commit_id=COMMIT,
        parent=None, started=1.0, finished=2.0, description="", root="manifests/x",
        file_count=FILES, size_bytes=FILES, added=FILES, modified=0, deleted=0,
        diff_ref=f"diffs/{COMMIT}", diff=None,
    )  # fmt: skip


async def _assert_commit_whole(pool) -> None:
    """Every file row and blob row of the big commit, and its commit row, are there."""
    assert await pool.fetchval("SELECT count(*) FROM commit_files") == FILES
    assert await pool.fetchval("SELECT count(*) FROM blobs") == FILES
    row = await pool.fetchrow("SELECT finished, file_count FROM commits WHERE id = $1", COMMIT)
    assert row is not None and row["finished"] == 2.0 and row["file_count"] == FILES
    located = await pool.fetchrow(
        "SELECT pack, pack_offset FROM blobs WHERE hash = $1", _hash(FILES - 1)
    )
    assert located is not None and tuple(located) == ("packs/p", FILES - 1)


async def test_a_big_commits_blob_index_is_written_beside_its_file_rows(settings) -> None:
    kafka, pg, _ = settings.require()
    fact = await _big_commit(settings)
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
            await produce_events(settings, [fact])

            async def blobs() -> int:
                return await pool.fetchval("SELECT count(*) FROM blobs")

            await eventually(blobs, "blob rows while the commit's rows wait", until=FILES.__eq__)
            assert await pool.fetchval("SELECT count(*) FROM commits") == 0
            await lock.rollback()

        async def files() -> int:
            return await pool.fetchval("SELECT count(*) FROM commit_files")

        await eventually(files, "the commit's file rows once the lock is gone", until=FILES.__eq__)
        await _assert_commit_whole(pool)
    finally:
        await pool.close()
        await consumer.stop()


async def test_a_refused_fact_beside_a_big_commit_is_dead_lettered_and_the_commit_lands(
    settings, caplog
) -> None:
    # One batch: the big commit (its blob rows committed apart, on their own connection)
    # and a datum result whose text Postgres refuses. The batch's transaction fails, its
    # facts are applied one by one, and the blob rows come again through the replay.
    kafka, pg, _ = settings.require()
    commit = await _big_commit(settings)
    refused = DatumFinished(
        event_id="d-nul", job_id="a" * 32, pipeline="p", datum_id="d" * 32, hash="h" * 64,
        state="failed", tries=1, exit_code=1, timed_out=False, stderr_tail="a NUL \x00 byte",
        log_ref="", started=11.0, duration_s=0.5, worker="w0", inputs=(),
    )  # fmt: skip
    await ensure_topics(kafka, Topics(settings.namespace).all(kafka.partitions))
    await produce_events(settings, [commit, refused])  # before the consumer starts: one batch
    consumer = Materializer(settings)
    await consumer.start()
    pool = await connect_pool(pg, settings.namespace)
    try:
        letters = await read_dead_letters(settings, 1)
        assert len(letters) == 1 and "Postgres refused" in letters[0]["reason"], letters
        assert base64.b64decode(letters[0]["value_b64"]) == encode(refused)  # never lost

        async def files() -> int:
            return await pool.fetchval("SELECT count(*) FROM commit_files")

        await eventually(files, "the commit's file rows after the replay", until=FILES.__eq__)
        await _assert_commit_whole(pool)
        assert await pool.fetchval("SELECT count(*) FROM datums") == 0
        assert consumer.applied == 1
        # The path this test is for: the batch went in whole first (its blob rows apart).
        assert any("applying fact by fact" in r.getMessage() for r in caplog.records)
    finally:
        await pool.close()
        await consumer.stop()
