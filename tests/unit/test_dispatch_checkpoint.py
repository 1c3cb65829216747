"""The dispatcher's checkpoint rows: folded so one statement can write them all at once."""

from __future__ import annotations

import orjson

from pachstream.dispatch import _store
from pachstream.dispatch._core import Result
from pachstream.dispatch._state import DispatchState
from pachstream.dispatch._steps import DropPipeline, SaveIndex, SaveJob, SaveResults
from pachstream.dispatch.plan import IndexEntry
from pachstream.processor import checkpoint_columns, columns


def _entry(datum: str, hash_: str) -> IndexEntry:
    return IndexEntry(datum, hash_, {})


def _writes(*steps: object) -> dict[str, list[tuple[object, ...]]]:
    changes = _store.Changes()
    for step in steps:
        changes.add(step)  # type: ignore[arg-type]
    return dict(changes.writes(DispatchState()))


def test_a_job_and_a_result_saved_twice_keep_the_first_as_their_inserts_do() -> None:
    w = _writes(
        SaveJob("j1", "p", {"n": 1}),
        SaveJob("j1", "p", {"n": 2}),
        SaveResults("p", "j1", (("d1", Result("success", "h1")), ("d1", Result("failed", "h2")))),
        SaveResults(
            "p", "j1", (("d1", Result("recovered", "h3")), ("d2", Result("success", "h4")))
        ),
    )
    assert w["insert_job"] == [("j1", "p", '{"n":1}')]
    assert [(r[1], r[3], r[4]) for r in w["insert_result"]] == [
        ("d1", "success", "h1"),
        ("d2", "success", "h4"),
    ]


def test_an_index_row_changed_twice_is_written_once_as_its_last_change() -> None:
    cases = [
        # (changes in order, expected deletes, expected upserts by (datum, hash))
        ([{"a": _entry("a", "1")}, {"a": None}], [("p", "a")], []),
        ([{"a": None}, {"a": _entry("a", "2")}], [], [("a", "2")]),
        ([{"a": _entry("a", "1")}, {"a": _entry("a", "2"), "b": None}], [("p", "b")], [("a", "2")]),
    ]
    for changed, deletes, upserts in cases:
        w = _writes(*(SaveIndex("p", c) for c in changed))
        assert w.get("delete_index", []) == deletes, changed
        assert [(r[1], r[2]) for r in w.get("upsert_index", [])] == upserts, changed


def test_a_pipeline_that_is_gone_leaves_no_index_rows_behind() -> None:
    # Before, its rows were deleted and then the same batch's index changes written back:
    # a pipeline created again under the name would have started with them.
    w = _writes(SaveIndex("p", {"a": _entry("a", "1")}), DropPipeline("p"))
    assert w["delete_pipeline"] == w["delete_pipeline_index"] == [("p",)]
    assert "upsert_index" not in w and "delete_index" not in w


def test_no_table_is_named_twice_by_one_checkpoint() -> None:
    w = _writes(
        SaveIndex("p", {"a": _entry("a", "1"), "b": None}),
        SaveIndex("q", {"a": None}),
        SaveIndex("p", {"b": _entry("b", "2"), "a": None}),
    )
    keys = [r[:2] for kind in ("delete_index", "upsert_index") for r in w.get(kind, [])]
    assert sorted(keys) == [("p", "a"), ("p", "b"), ("q", "a")]


def test_arguments_are_every_kinds_columns_then_offsets_and_outbox() -> None:
    writes = [("insert_job", [("j1", "p", "{}"), ("j2", "p", "{}")])]
    args = _store.checkpoint_args(writes, {("t", 0): 5}, [("events", "k", b"v", None)])
    widths = [len(types) for types, _ in _store.KINDS.values()]
    assert len(args) == sum(widths) + 8
    assert args[sum(widths[:2]) : sum(widths[:3])] == [["j1", "j2"], ["p", "p"], ["{}", "{}"]]
    assert args[-8:] == [["t"], [0], [5], [0], ["events"], ["k"], [b"v"], [None]]
    assert checkpoint_columns({}, []) == [[]] * 8
    assert columns([], 2) == [[], []]
    assert _store.CHECKPOINT.count("$") == len(args) + 1  # the outbox's seq is named twice


def test_only_the_entries_changed_are_written_each_as_it_is_now() -> None:
    """A repo, head or retired version changed in a batch is one row, upserted when it is
    there at the checkpoint and deleted when it is not, however many others there are."""
    state = DispatchState()
    for i in range(1000):
        state.add_repo(f"r{i}")
        state.set_head(f"r{i}@master", [f"c{i}", "root", f"s{i}", 1])
    _store.entry_writes(state)  # the first batch: 2,000 rows
    cases = [
        # (changes, expected upserts by (kind, name), expected deletes)
        (lambda s: s.set_head("r1@master", ["c9", "root", "s9", 2]), [("head", "r1@master")], []),
        (lambda s: (s.add_repo("x"), s.drop_repo("x")), [], [("repo", "x")]),
        (
            lambda s: (s.drop_head("r2@master"), s.set_head("r2@master", ["c", None, "s", 1])),
            [("head", "r2@master")],
            [],
        ),  # fmt: skip
        (lambda s: (s.retire("p", 3), s.unretire("p")), [], [("retired", "p")]),
        (lambda s: s.retire("p", 4), [("retired", "p")], []),
        (lambda s: s.unretire("never-retired"), [], []),
    ]
    for change, upserts, deletes in cases:
        change(state)
        w = dict(_store.entry_writes(state))
        assert [r[:2] for r in w["upsert_entry"]] == upserts, upserts
        assert w["delete_entry"] == deletes, deletes
        assert w["delete_meta"] == [] and not state.changed
    quiet = dict(_store.entry_writes(state))
    assert quiet["upsert_entry"] == quiet["delete_entry"] == []


def test_a_state_that_kept_its_entries_whole_moves_them_to_rows_at_its_next_checkpoint() -> None:
    head = ["c1", "root", "s1", 4]
    old_meta = [
        ("repos", '["a","b"]'),
        ("heads", orjson.dumps({"a@master": head}).decode()),
        ("retired", '{"gone":2}'),
        ("sets", "{}"),
    ]
    state = _store.restore(old_meta, [], [])
    assert (state.repos, state.heads, state.retired) == (
        {"a", "b"},
        {"a@master": head},
        {"gone": 2},
    )
    w = dict(_store.Changes().writes(state))
    assert sorted(r[:2] for r in w["upsert_entry"]) == [
        ("head", "a@master"), ("repo", "a"), ("repo", "b"), ("retired", "gone"),
    ]  # fmt: skip
    assert sorted(w["delete_meta"]) == [("heads",), ("repos",), ("retired",)]
    # Read back from the rows alone, as after that checkpoint.
    entries = [(k, n, v) for k, n, v in w["upsert_entry"]]
    again = _store.restore([("sets", "{}")], [], [], entries)
    assert (again.repos, again.heads, again.retired) == (state.repos, state.heads, state.retired)
    assert _store.Changes().writes(again) == []
