"""Bulk loads of append-only rows: new rows go straight in by COPY, also for the blob index
whose smallest location wins; rows that meet existing keys, or each other, still give the
smallest location, whatever the order they come in. Rows of a fact delivered again (a table
whose keys do not recur otherwise) fail the first try of their batch, which goes in again
through stages, each row once."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from pachstream.bench.lineage import synthetic_job
from pachstream.kafka import Topics, ensure_topics
from pachstream.lineage import Materializer
from pachstream.lineage._materializer import COPY_THRESHOLD, execute
from pachstream.lineage._rows import INSERT_BLOB, INSERT_COMMIT_FILE, Statement
from pachstream.lineage._schema import MIGRATIONS
from pachstream.pg import connect_pool, migrate
from pachstream.testing.services import produce_events, read_dead_letters
from pachstream.testing.waits import eventually

ROWS = COPY_THRESHOLD + 100
"""Enough rows of one table for the bulk path."""


def _hash(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def _blobs(keys: range, pack: str, offset: int = 0) -> list[Statement]:
    return [(INSERT_BLOB, (_hash(k), 1, pack, offset + k)) for k in keys]


@pytest.fixture
async def pool(settings) -> AsyncIterator[Any]:
    """A pool on a fresh schema with the lineage tables."""
    _, pg, _ = settings.require()
    schema = "b" + uuid.uuid4().hex[:12]
    pool = await connect_pool(pg, schema)
    await migrate(pool, "lineage", MIGRATIONS)
    try:
        yield pool
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")
        await pool.close()


async def _load(
    pool: Any, statements: list[Statement], table: str = "blobs", *, again: bool = False
) -> bool:
    """Apply ``statements`` as the materializer does; whether the staging table of ``table``
    was used.
    """
    async with pool.acquire() as conn:
        async with conn.transaction():
            await execute(conn, statements, bulk=True, again=again)
        staged = await conn.fetchval(f"SELECT to_regclass('pg_temp.stage_{table}') IS NOT NULL")
        # A later test of the same connection sees no stage of ours.
        await conn.execute(f"DROP TABLE IF EXISTS pg_temp.stage_{table}")
    return bool(staged)


async def _blob_table(pool: Any) -> dict[str, tuple[str, int]]:
    rows = await pool.fetch("SELECT hash, pack, pack_offset FROM blobs")
    return {r["hash"]: (r["pack"], r["pack_offset"]) for r in rows}


async def test_new_blobs_go_straight_in_and_the_smallest_location_still_wins(pool) -> None:
    """New blobs: one COPY, no staging. Then the same contents stored elsewhere (half at a
    smaller location, half at a larger one, some twice in one batch): the staged upsert keeps
    the smallest location of each."""
    assert not await _load(pool, _blobs(range(ROWS), "packs/m"))
    assert await _blob_table(pool) == {_hash(k): ("packs/m", k) for k in range(ROWS)}

    again = _blobs(range(0, ROWS, 2), "packs/a") + _blobs(range(1, ROWS, 2), "packs/z")
    again += _blobs(range(0, ROWS, 3), "packs/a", offset=-1)  # twice in this batch
    assert await _load(pool, again)
    expected = {
        _hash(k): ("packs/a", k - 1)
        if k % 3 == 0
        else ("packs/a", k)
        if k % 2 == 0
        else ("packs/m", k)
        for k in range(ROWS)
    }
    assert await _blob_table(pool) == expected


async def test_a_batch_with_one_content_twice_takes_its_smallest_location(pool) -> None:
    """A key twice in one COPY fails it, even on an empty table: the staged upsert then
    chooses, the same whichever copy comes first."""
    rows = _blobs(range(ROWS), "packs/m")
    rows.insert(0, (INSERT_BLOB, (_hash(7), 1, "packs/z", 0)))
    rows.append((INSERT_BLOB, (_hash(9), 1, "packs/a", 99)))
    assert await _load(pool, rows)
    table = await _blob_table(pool)
    assert len(table) == ROWS
    assert table[_hash(7)] == ("packs/m", 7)
    assert table[_hash(9)] == ("packs/a", 99)


def _files(keys: range) -> list[Statement]:
    return [(INSERT_COMMIT_FILE, ("c1", "raw", f"/f{k}", "added", _hash(k), k)) for k in keys]


async def test_a_commits_rows_written_before_fail_the_first_try_and_go_in_once_again(
    pool,
) -> None:
    """File rows (keys of one fact only) go straight in without a savepoint; the same rows
    again fail the whole transaction, leaving the table as it was; the second try (``again``)
    stages them and adds only the new ones."""
    assert not await _load(pool, _files(range(ROWS)), "commit_files")
    before = await pool.fetch("SELECT * FROM commit_files ORDER BY path")
    assert len(before) == ROWS

    more = _files(range(ROWS + 50))  # delivered again, with 50 rows more
    with pytest.raises(asyncpg.UniqueViolationError):
        await _load(pool, more, "commit_files")
    assert await pool.fetch("SELECT * FROM commit_files ORDER BY path") == before

    assert await _load(pool, more, "commit_files", again=True)
    rows = await pool.fetch("SELECT path, hash, size FROM commit_files")
    assert sorted(tuple(r) for r in rows) == sorted(
        (f"/f{k}", _hash(k), k) for k in range(ROWS + 50)
    )


DATUMS = 600
"""Datum results of the job delivered again: each table's rows past :data:`COPY_THRESHOLD`
in any batch of them."""


async def _counts(pool: Any) -> dict[str, int]:
    tables = ("jobs", "datums", "datum_inputs", "datum_outputs")
    return {t: await pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables}


async def test_datum_results_delivered_again_are_written_once(settings, caplog) -> None:
    # A job's facts, materialized; then the same job's datum results again (a worker's
    # results sent twice) beside a new job's, read by a materializer started afresh: one
    # batch, whose first try meets the rows already there.
    caplog.set_level(logging.INFO, "pachstream.lineage")
    kafka, pg, _ = settings.require()
    first, second = synthetic_job("p", DATUMS), synthetic_job("q", 50)
    await ensure_topics(kafka, Topics(settings.namespace).all(kafka.partitions))
    pool = await connect_pool(pg, settings.namespace)
    try:
        for facts in (first, first[1:-1] + second):
            await produce_events(settings, facts)
            consumer = Materializer(settings)
            await consumer.start()
            try:
                await eventually(
                    lambda c=consumer: c.applied, "the facts applied", until=len(facts).__eq__
                )
            finally:
                await consumer.stop()
        assert await _counts(pool) == {
            "jobs": 2,
            "datums": DATUMS + 50,
            "datum_inputs": 2 * (DATUMS + 50),
            "datum_outputs": DATUMS + 50,
        }
        assert any("writing it again" in r.getMessage() for r in caplog.records)
        assert not any("fact by fact" in r.getMessage() for r in caplog.records)
        assert await read_dead_letters(settings, 1, timeout_s=1) == []
    finally:
        await pool.close()
