"""The lineage benches run end to end at small sizes and check their answers (no timings).

The benches drop their scratch schema before returning, so what they wrote is inspected from
inside: a wrapper around the step that runs after the rows are in (the raw COPY for
lineage-write, the load for lineage-query) counts them first.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from pachstream.bench import lineage as bench_lineage
from pachstream.bench.lineage import lineage_query, lineage_write

WRITE_DATUMS = 300
# One job: its start (job row + one provenance row), each datum (datum + 2 inputs + 1
# output), its end (job row again).
WRITE_ROWS = 2 + 4 * WRITE_DATUMS + 1

QUERY_DATUMS = 3_000
# Stages of 1,200 / 1,200 / 600 datums: commit_files 1,200 (raw) + 1,200 + 1,200 + 600,
# datum_inputs 1,200 + 1,200 + 2 × 600, datum_outputs and datums 3,000 each.
QUERY_ROWS = 4_200 + 3_600 + 3_000 + 3_000


async def _bench_schemas(settings) -> set[str]:
    _, pg, _ = settings.require()
    conn = await asyncpg.connect(pg.dsn)
    try:
        rows = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'benchl%'")
    finally:
        await conn.close()
    return {r["nspname"] for r in rows}


async def test_lineage_write_materializes_every_row(settings, monkeypatch):
    before = await _bench_schemas(settings)
    seen: dict[str, Any] = {}
    raw_copy = bench_lineage._raw_copy_rate

    async def count_then_copy(pool: Any, facts: list[Any]) -> float:
        # Called before the materializer starts (nothing yet) and after it stopped (the
        # schema is not dropped yet): the last call's counts stay.
        seen["calls"] = seen.get("calls", 0) + 1
        for table in ("datums", "datum_inputs", "datum_outputs", "commit_provenance"):
            seen[table] = await pool.fetchval(f"SELECT count(*) FROM {table}")
        seen["jobs"] = [tuple(r) for r in await pool.fetch("SELECT id, state FROM jobs")]
        return await raw_copy(pool, facts)

    monkeypatch.setattr(bench_lineage, "_raw_copy_rate", count_then_copy)
    # A materializer that never catches up must fail the test, not hang it.
    result = await asyncio.wait_for(lineage_write(settings, WRITE_DATUMS, lambda _: None), 120)
    figures = {f.name: f for f in result}

    assert seen["calls"] == 2
    assert seen["datums"] == WRITE_DATUMS
    assert seen["datum_inputs"] == 2 * WRITE_DATUMS
    assert seen["datum_outputs"] == WRITE_DATUMS
    assert seen["commit_provenance"] == 1
    assert [state for _, state in seen["jobs"]] == ["success"]

    elapsed = figures[f"materialize {WRITE_DATUMS} datums ({WRITE_ROWS:,} rows)"].value
    rate = figures["lineage rows materialized"].value
    copied = [f.value for name, f in figures.items() if name.startswith("raw COPY")]
    raw = sum(copied) / 2
    ratio = figures["ratio materialized / raw COPY (mean of before and after)"]
    assert elapsed > 0 and rate > 0 and len(copied) == 2 and min(copied) > 0
    assert rate * elapsed == pytest.approx(WRITE_ROWS)
    assert ratio.value == pytest.approx(rate / raw) and ratio.target == "≥ 0.8"
    assert await _bench_schemas(settings) <= before, "the scratch schema was left behind"


async def test_lineage_query_answers_are_checked(settings):
    before = await _bench_schemas(settings)
    # lineage_query raises on a wrong answer (see the test below); these are its figures.
    figures = await lineage_query(settings, QUERY_DATUMS, 20, lambda _: None)
    assert [f.unit for f in figures] == ["s", "ms", "ms"]
    assert figures[0].name == f"load {QUERY_DATUMS:,} datums ({QUERY_ROWS:,} rows) with COPY"
    assert all(f.value > 0 for f in figures)
    assert figures[1].value <= figures[2].value  # p50 ≤ p95
    assert figures[2].target == "≤ 50 ms"
    assert await _bench_schemas(settings) <= before, "the scratch schema was left behind"


async def test_lineage_query_fails_loudly_on_a_wrong_answer(settings, monkeypatch):
    before = await _bench_schemas(settings)
    load = bench_lineage._load_three_stages

    async def load_then_cut(conn: Any, datums: int) -> tuple[str, int, int]:
        loaded = await load(conn, datums)
        # s2 datums lose their inputs: every upstream answer stops one level short.
        await conn.execute("DELETE FROM datum_inputs WHERE repo = 's1'")
        return loaded

    monkeypatch.setattr(bench_lineage, "_load_three_stages", load_then_cut)
    with pytest.raises(AssertionError, match="upstream of s3:/o[0-9]+ is wrong"):
        await lineage_query(settings, QUERY_DATUMS, 5, lambda _: None)
    assert await _bench_schemas(settings) <= before, "a failed run left its schema behind"
