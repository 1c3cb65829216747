"""Bulk loads of append-only rows: new rows go straight in by COPY, also for the blob index
whose smallest location wins; rows that meet existing keys, or each other, still give the
smallest location, whatever the order they come in."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pachstream.lineage._materializer import COPY_THRESHOLD, execute
from pachstream.lineage._rows import INSERT_BLOB, Statement
from pachstream.lineage._schema import MIGRATIONS
from pachstream.pg import connect_pool, migrate

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


async def _load(pool: Any, statements: list[Statement]) -> bool:
    """Apply ``statements`` as the materializer does; whether the staging table was used."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            await execute(conn, statements, bulk=True)
        staged = await conn.fetchval("SELECT to_regclass('pg_temp.stage_blobs') IS NOT NULL")
        # A later test of the same connection sees no stage of ours.
        await conn.execute("DROP TABLE IF EXISTS pg_temp.stage_blobs")
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
