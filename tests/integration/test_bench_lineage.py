"""The lineage benches run end to end at small sizes and check their answers (no timings)."""

from __future__ import annotations

from pachstream.bench_lineage import lineage_query, lineage_write


async def test_lineage_write_materializes_every_row(settings):
    figures = {f.name: f for f in await lineage_write(settings, 300, lambda _: None)}
    rate = figures["lineage rows materialized"].value
    raw = next(f.value for name, f in figures.items() if name.startswith("raw COPY"))
    assert rate > 0 and raw > 0
    assert figures["ratio materialized / raw COPY"].value == rate / raw


async def test_lineage_query_answers_are_checked(settings):
    # lineage_query raises on a wrong answer; these are the figures it prints.
    figures = await lineage_query(settings, 3_000, 20, lambda _: None)
    assert [f.unit for f in figures] == ["s", "ms", "ms"]
    assert all(f.value > 0 for f in figures)
