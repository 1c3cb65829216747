"""The rate benches (``ingest``, ``datum-overhead``, ``incremental``) end to end at small sizes:
the work they time is done and checked, each ratio is its two rates' ratio, and the CPU they
print beside the rates is there (no timings checked: machines here are shared and noisy)."""

from __future__ import annotations

import pytest

from pachstream import bench
from pachstream.testing.services import RunningStack


def _by_name(figures: list[bench.Figure]) -> dict[str, float]:
    return {f.name: f.value for f in figures}


def _cpu_checked(figures: dict[str, float], said: list[str], unit: str) -> None:
    """The CPU figures of a timed stretch: a positive CPU per unit, its split said by process."""
    assert figures[f"CPU per {unit}, every process"] > 0
    assert figures["cores kept busy meanwhile"] > 0
    (split,) = [s for s in said if s.startswith(f"CPU per {unit}, ms: ")]
    # Processors run in this process here: the bench's own CPU is all of it.
    assert split.split(": ", 1)[1].startswith("bench ")


async def test_ingest_puts_every_file_and_prints_its_cpu(settings):
    said: list[str] = []
    async with RunningStack(settings, pipelines=False) as stack:
        figures = _by_name(await bench.ingest(stack.client, settings, 3000, 20, said.append))
        repos = [r.name for r in await stack.client.list_repo()]
    (repo,) = [r for r in repos if r.startswith("bench_ingest_")]
    assert figures["pachstream ingest"] == pytest.approx(
        3000 / figures["put 3,000 files of 20 B into one commit"]
    )
    assert figures["ratio ingest / raw"] == pytest.approx(
        figures["pachstream ingest"] / figures["raw aiokafka produce of 3,000 messages"]
    )
    assert figures["raw produce: CPU per 1,000 messages, every process"] > 0
    _cpu_checked(figures, said, "1,000 files")


async def test_datum_overhead_runs_every_datum_and_prints_its_cpu_beside_the_loops(settings):
    said: list[str] = []
    async with RunningStack(settings) as stack:
        figures = _by_name(
            await bench.datum_overhead(stack.client, settings, 20, None, said.append)
        )
    rate = figures["pipeline, 2 workers (success)"]
    raw = figures["raw: sh -c cp, spawned in a loop, before"] + figures["raw: the same loop, after"]
    assert figures["ratio pipeline / raw (mean of before and after)"] == pytest.approx(
        rate / (raw / 2)
    )
    assert figures["raw: CPU per spawn (mean of before and after)"] > 0
    _cpu_checked(figures, said, "datum")


async def test_incremental_reruns_only_the_changed_datums_and_prints_its_cpu(settings):
    said: list[str] = []
    async with RunningStack(settings) as stack:
        figures = _by_name(
            await bench.incremental(stack.client, settings, 30, 10.0, None, said.append)
        )
    assert figures["files changed"] == 3
    assert figures["datums run in the rerun"] == 3
    assert figures["datums run == files changed"] == 1
    _cpu_checked(figures, said, "datum of the full run")


async def test_latency_with_other_repos_makes_them_each_with_a_head_first(settings):
    async with RunningStack(settings) as stack:
        figures = await bench.latency(stack.client, 3, repos=5)
        idle = [r for r in await stack.client.list_repo() if r.name.startswith("bench_idle_")]
        heads = [(await stack.client.inspect_branch(f"{r.name}@master")).head for r in idle]
    assert len(idle) == 5 and all(heads)
    (p50,) = [f for f in figures if f.name.startswith("put file → output commit, p50")]
    assert p50.name.endswith(", 5 other repos") and p50.value > 0


async def test_latency_with_history_makes_its_commits_first(settings):
    async with RunningStack(settings) as stack:
        figures = await bench.latency(stack.client, 3, stack.settings, commits=40)
        (history,) = [r for r in await stack.client.list_repo() if r.name.startswith("bench_hist")]
        made = await stack.client.list_commit(history.name)
    assert len(made) == 40
    (p50,) = [f for f in figures if f.name.startswith("put file → output commit, p50")]
    assert p50.name.endswith(", 40 commits of history") and p50.value > 0
