"""The dispatcher's pure decisions: reruns in the plan, output deltas, job outcomes, tasks."""

from __future__ import annotations

import dataclasses

import pytest

from pachstream.dispatch import _core
from pachstream.dispatch._core import Result
from pachstream.dispatch.datums import PfsInput, datums
from pachstream.dispatch.events import DatumFinished, InputCommit
from pachstream.dispatch.plan import IndexEntry, apply_delta, output_delta, plan_job
from pachstream.dispatch.spec import parse_spec
from pachstream.errors import OutputConflict
from pachstream.model import Chunk, FileEntry, output_commit_id

SPEC = PfsInput(name="in", repo="in", glob="/*")


def entry(h: str) -> FileEntry:
    return FileEntry(hash=h, size=1, chunks=(Chunk(hash=h, size=1),))


def ie(datum: str, *paths: str, h: str = "x") -> IndexEntry:
    return IndexEntry(datum, "hash-" + datum, {p: entry(f"{h}{p}") for p in paths})


# ----------------------------------------------------------------------------- plan with reruns


def test_rerun_carries_successes_and_runs_the_rest():
    ds = datums(SPEC, {"in@master": {"/a": "1", "/b": "2", "/c": "3"}})
    a, b, _ = ds
    earlier = {a.id: IndexEntry(a.id, a.hash("s"), {"/a": entry("A")})}
    plan = plan_job({}, ds, "s", earlier=earlier)
    assert set(plan.carried) == {a.id} and [d.id for d in plan.run] == [d.id for d in ds[1:]]
    forced = plan_job(
        {b.id: IndexEntry(b.id, b.hash("s"), {})}, ds, "s", earlier=earlier, force=frozenset([a.id])
    )
    assert [d.id for d in forced.run] == [a.id, ds[2].id] and [e.datum_id for e in forced.skip] == [
        b.id
    ]


def test_stale_earlier_result_runs_again():
    ds = datums(SPEC, {"in@master": {"/a": "changed"}})
    earlier = {ds[0].id: IndexEntry(ds[0].id, "old-hash", {})}
    assert len(plan_job({}, ds, "s", earlier=earlier).run) == 1


def test_duplicate_datums_count_once():
    ds = datums(SPEC, {"in@master": {"/a": "1"}})
    plan = plan_job({}, ds + ds, "s")
    assert plan.total == 1 and len(plan.run) == 1


# ----------------------------------------------------------------------------- output deltas

DELTAS = [
    # (name, index, changed, deletes, puts)
    ("first job", {}, {"d1": ie("d1", "/a"), "d2": ie("d2", "/b")}, [], ["/a", "/b"]),
    ("vanished datum", {"d1": ie("d1", "/a"), "d2": ie("d2", "/b")}, {"d2": None}, ["/b"], []),
    (
        "rerun writes fewer",
        {"d1": ie("d1", "/a", "/a2")},
        {"d1": ie("d1", "/a", h="y")},
        ["/a2"],
        ["/a"],
    ),
    ("same content is no put", {"d1": ie("d1", "/a")}, {"d1": ie("d1", "/a")}, [], []),
    (
        "path moves between datums",
        {"d1": ie("d1", "/a")},
        {"d1": None, "d2": ie("d2", "/a", h="z")},
        [],
        ["/a"],
    ),
    ("recovered leaves", {"d1": ie("d1", "/a")}, {"d1": None}, ["/a"], []),
]


@pytest.mark.parametrize(
    ("name", "index", "changed", "deletes", "puts"), DELTAS, ids=[d[0] for d in DELTAS]
)
def test_output_delta(name, index, changed, deletes, puts):
    owners = {p: i for i, e in index.items() for p in e.outputs}
    delta = output_delta(index, owners, changed)
    assert (delta.deletes, sorted(delta.puts)) == (deletes, puts)
    apply_delta(index, owners, changed)
    assert owners == {p: i for i, e in index.items() for p in e.outputs}


def test_conflict_with_an_unchanged_datum_names_both():
    index = {"d1": ie("d1", "/same")}
    with pytest.raises(OutputConflict) as exc:
        output_delta(index, {"/same": "d1"}, {"d2": ie("d2", "/same")})
    assert "d1 and d2 both wrote '/same'" in exc.value.message


def test_conflict_between_two_new_datums():
    with pytest.raises(OutputConflict, match="d1 and d2 both wrote '/x'"):
        output_delta({}, {}, {"d2": ie("d2", "/x"), "d1": ie("d1", "/x")})


# ----------------------------------------------------------------------------- job outcomes


def test_output_ops_delete_before_put():
    ops = _core.output_ops(
        output_delta({"d1": ie("d1", "/z")}, {"/z": "d1"}, {"d1": ie("d1", "/a")})
    )
    assert [(o.op, o.path) for o in ops] == [("delete", "/z"), ("put", "/a")]


def finished(state: str, **kw) -> DatumFinished:
    base = dict(
        event_id="e",
        job_id="j",
        pipeline="p",
        datum_id="d",
        hash="h",
        state=state,
        tries=3,
        exit_code=3,
        timed_out=False,
        stderr_tail="line one\nsomething broke\n",
        log_ref="logs/j/d",
        started=1.0,
        duration_s=0.5,
        worker="w",
    )
    return DatumFinished(**{**base, **kw})


def test_failure_reason_names_datums_exit_and_the_way_out():
    results = {"d1": _core.result_of(finished("failed")), "d2": Result("success", "h")}
    reason = _core.failure_reason("j", results)
    assert reason is not None
    assert "1 datum(s) failed: datum d1 exit 3 after 3 tries: something broke" in reason
    assert "rerun job j --failed" in reason
    timed = _core.result_of(finished("failed", exit_code=None, timed_out=True, stderr_tail=""))
    assert timed.detail == "timed out after 3 tries"
    assert _core.failure_reason("j", {"d2": Result("success", "h")}) is None


def test_changes_drop_vanished_and_recovered():
    results = {"a": Result("success", "ha", {"/a": entry("x")}), "r": Result("recovered", "hr")}
    changed = _core.changes(results, ["gone"])
    assert (
        changed["gone"] is None
        and changed["r"] is None
        and changed["a"] == IndexEntry("a", "ha", {"/a": entry("x")})
    )


def test_ids_are_deterministic_and_distinct():
    inputs = [InputCommit(name="in", repo="in", branch="master", commit_id="c1")]
    j = _core.job_id("p", 1, "salt", inputs, "set1")
    assert j == _core.job_id("p", 1, "salt", inputs, "set1")
    others = {
        _core.job_id("p", 2, "salt", inputs, "set1"),
        _core.job_id("p", 1, "salt2", inputs, "set1"),
        _core.job_id("p", 1, "salt", inputs, "set2"),
    }
    assert j not in others and len(others) == 3
    assert output_commit_id("p", j) != output_commit_id("q", j)


def test_task_carries_entries_env_and_limits():
    spec = parse_spec(
        {
            "pipeline": {"name": "p"},
            "input": {"pfs": {"repo": "in", "glob": "/*", "empty_files": True}},
            "transform": {"cmd": ["cat"], "env": {"A": "1"}},
            "datum_tries": 2,
            "datum_timeout": "5s",
        }
    )
    d = datums(spec.input, {"in@master": {"/a": "ha"}})[0]
    task = _core.task_for(
        d, spec, 1, "s", "j", "o", {"in@master": "c"}, {"in@master": {"/a": entry("ha")}}
    )
    assert task.inputs[0].files[0].file == entry("ha") and task.inputs[0].empty_files
    assert (task.tries, task.timeout_s, task.env, task.hash) == (2, 5.0, (("A", "1"),), d.hash("s"))


# -------------------------------------------------------------------------- no spec stops the loop


def _spec_with(input_spec):
    spec = parse_spec(
        {
            "pipeline": {"name": "p"},
            "input": {"pfs": {"repo": "in", "glob": "/*"}},
            "transform": {"cmd": ["true"]},
        }
    )
    # Built around parse_spec, as a spec stored by an older version (or a defect) would be.
    return dataclasses.replace(spec, input=input_spec)


def test_a_job_whose_datums_cannot_be_made_fails_with_the_reason():
    bad_glob = _spec_with(PfsInput(name="in", repo="in", glob="/[a"))
    reason = _core.plan_or_reason(bad_glob, 1, "s", "j", {}, {"in@master": {"/a": entry("h")}}, {})
    assert isinstance(reason, str)
    assert reason.startswith("its datums could not be made: glob '/[a': '[' is never closed")
    assert "update pipeline" in reason


def test_a_defect_while_planning_fails_the_job_as_a_defect():
    # Not an Input at all: datums() raises TypeError, as a planning defect would.
    broken = _spec_with("not an input")
    reason = _core.plan_or_reason(broken, 1, "s", "j", {}, {}, {})
    assert isinstance(reason, str) and "(TypeError: " in reason and "defect" in reason


def test_a_plannable_job_is_planned():
    spec = _spec_with(SPEC)
    made = _core.plan_or_reason(
        spec, 1, "s", "j", {}, {"in@master": {"/a": entry("h")}}, {"in@master": "c1"}
    )
    assert isinstance(made, _core.NewJob)
    assert [t.inputs[0].commit_id for t in made.tasks] == ["c1"] and made.plan.total == 1
