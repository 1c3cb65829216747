"""Incremental planning: only new, changed and failed datums run; vanished ones leave."""

from __future__ import annotations

import pytest

from pachstream.dispatch.datums import PfsInput, datums
from pachstream.dispatch.plan import IndexEntry, merge_outputs, plan_job
from pachstream.errors import OutputConflict

SPEC = PfsInput(name="in", repo="in", glob="/*")


def files(n: int, changed: dict[int, str] | None = None) -> dict[str, str]:
    changed = changed or {}
    return {f"/f{i:05d}": changed.get(i, f"h{i}") for i in range(n)}


def index_of(tree: dict[str, str], salt: str = "s") -> dict[str, IndexEntry]:
    return {
        d.id: IndexEntry(
            d.id, d.hash(salt), {f"/out{d.inputs[0].path}": (f"o{d.inputs[0].path}", 1)}
        )
        for d in datums(SPEC, {SPEC.source: tree})
    }


def test_first_job_runs_everything():
    plan = plan_job({}, datums(SPEC, {SPEC.source: files(100)}), "s")
    assert (len(plan.run), len(plan.skip), len(plan.vanished)) == (100, 0, 0)


def test_one_changed_file_runs_exactly_one_datum():
    index = index_of(files(10_000))
    plan = plan_job(index, datums(SPEC, {SPEC.source: files(10_000, {42: "new"})}), "s")
    assert [d.inputs[0].path for d in plan.run] == ["/f00042"]
    assert len(plan.skip) == 9_999 and plan.vanished == []


def test_added_and_deleted_files():
    index = index_of(files(3))
    grown = dict(files(3), **{"/f00009": "h9"})
    del grown["/f00001"]
    plan = plan_job(index, datums(SPEC, {SPEC.source: grown}), "s")
    assert [d.inputs[0].path for d in plan.run] == ["/f00009"]
    assert [list(e.outputs) for e in plan.vanished] == [["/out/f00001"]]


def test_failed_datums_are_not_in_the_index_so_they_rerun():
    index = index_of(files(3))
    failed = next(i for i, e in index.items() if "/out/f00002" in e.outputs)
    del index[failed]
    plan = plan_job(index, datums(SPEC, {SPEC.source: files(3)}), "s")
    assert [d.id for d in plan.run] == [failed]


@pytest.mark.parametrize(
    ("salt", "every_job", "runs"), [("s", False, 0), ("new salt", False, 3), ("s", True, 3)]
)
def test_salt_and_every_job(salt, every_job, runs):
    plan = plan_job(
        index_of(files(3)), datums(SPEC, {SPEC.source: files(3)}), salt, every_job=every_job
    )
    assert len(plan.run) == runs


def test_merge_outputs_and_conflicts_name_both_datums():
    merged = merge_outputs([("d1", {"/a": ("h", 1)}), ("d2", {"/b": ("g", 2)})])
    assert merged == {"/a": ("h", 1), "/b": ("g", 2)}
    with pytest.raises(OutputConflict) as raised:
        merge_outputs([("d2", {"/same": ("h", 1)}), ("d1", {"/same": ("g", 1)})])
    assert "datums d1 and d2 both wrote '/same'" in raised.value.message
