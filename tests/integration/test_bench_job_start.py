"""``bench job-start`` end to end at small sizes: both plans make the one task of the change,
and the plan from the change reads only the nodes it touched (counted, not timed)."""

from __future__ import annotations

from pachstream.bench.job_start import job_start
from pachstream.objectstore import S3ObjectStore


async def test_job_start_makes_the_one_task_both_ways_and_prints_its_ratio(settings):
    said: list[str] = []
    figures = await job_start(settings, (50, 400), said.append)
    names = [f.name for f in figures]
    assert len(figures) == 6 and names[-2].startswith("ratio 400 / 50 files, from the change")
    assert all(f.value > 0 for f in figures)


async def test_the_plan_from_the_change_reads_a_few_objects_the_tree_plan_every_shard(
    settings, monkeypatch
):
    gets: list[str] = []
    real_get = S3ObjectStore.get

    async def counting_get(self, key, *args, **kwargs):
        gets.append(key)
        return await real_get(self, key, *args, **kwargs)

    monkeypatch.setattr(S3ObjectStore, "get", counting_get)
    from pachstream.bench import job_start as bench

    read: dict[str, int] = {}
    real = bench.time_job_start

    async def counted(*args, from_change, **kwargs):
        gets.clear()
        result = await real(*args, from_change=from_change, **kwargs)
        read["change" if from_change else "tree"] = len(gets)
        return result

    monkeypatch.setattr(bench, "time_job_start", counted)
    await job_start(settings, (2_000,) * 2, lambda _: None)
    # Two roots and, in each tree, the one node per level on the path to the change (three
    # levels under the root at 2,000 files), against every node of the tree (~66 leaves).
    assert read["change"] <= 8 and read["tree"] > 50, read
