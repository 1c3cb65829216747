"""Where squashed commits went: the map a materializer keeps (:func:`note_squash`, flat, in
any order of the squashes), and the rows it remaps as they come (:func:`follow_squashes`)."""

from __future__ import annotations

import pytest

from pachstream.commits.events import CommitSquashed, Reparented
from pachstream.dispatch.events import InputCommit, JobStarted
from pachstream.lineage._rows import (
    CHAIN_SQUASH,
    INSERT_DATUM_INPUT,
    INSERT_DATUM_OUTPUT,
    INSERT_PROVENANCE,
    RECORD_SQUASH,
    REMAP_DATUM_INPUTS,
    REMAP_JOB_DATUM_INPUTS,
    follow_squashes,
    job_remaps,
    note_squash,
    rows_for,
    squashed_into,
)


def _squash(commit: str, *children: str) -> CommitSquashed:
    return CommitSquashed(
        event_id="e", request_id="r", repo="raw", commit_id=commit, parent=None, time=1.0,
        children=tuple(
            Reparented(commit_id=c, parent=None, added=0, modified=0, deleted=0, diff_ref="",
                       diff=())
            for c in children
        ),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("squashes", "final"),
    [
        ([("x", "y")], {"x": "y"}),
        # A chain in order: x's data went to y, then y's to z.
        ([("x", "y"), ("y", "z")], {"x": "z", "y": "z"}),
        # The same chain the other way round (facts of two partitions): x still ends at z.
        ([("y", "z"), ("x", "y")], {"x": "z", "y": "z"}),
        # A squash noted twice (a redelivered fact) changes nothing, also after its chain.
        ([("x", "y"), ("y", "z"), ("x", "y")], {"x": "z", "y": "z"}),
        # Unrelated squashes stay apart.
        ([("x", "y"), ("a", "b")], {"x": "y", "a": "b"}),
    ],
)
def test_note_squash_keeps_the_map_flat(
    squashes: list[tuple[str, str]], final: dict[str, str]
) -> None:
    got: dict[str, str] = {}
    for squashed, into in squashes:
        note_squash(got, squashed, into)
    assert got == final


def test_squashed_into_only_for_one_child() -> None:
    assert squashed_into(_squash("x", "y")) == ("x", "y")
    assert squashed_into(_squash("x", "y", "w")) is None  # two children: nothing remapped
    assert squashed_into(object()) is None


DATUM_INPUT = (INSERT_DATUM_INPUT, ("j", "d", "in", "raw", "x", "/a", "h", 1))
PROVENANCE = (INSERT_PROVENANCE, ("out", "p", "j", "in", "raw", "master", "x"))
OUTPUT = (INSERT_DATUM_OUTPUT, ("j", "d", "out", "x", "/a", "h", 1))


@pytest.mark.parametrize(
    ("statements", "squashes", "expected"),
    [
        # Nothing squashed: the statements themselves.
        ([DATUM_INPUT], {}, [DATUM_INPUT]),
        # An input commit that was squashed: where its data went, in both kinds of rows.
        ([DATUM_INPUT, PROVENANCE], {"x": "z"},
         [(INSERT_DATUM_INPUT, ("j", "d", "in", "raw", "z", "/a", "h", 1)),
          (INSERT_PROVENANCE, ("out", "p", "j", "in", "raw", "master", "z"))]),
        # Other columns and other statements are never touched, even when equal to an id.
        ([OUTPUT], {"x": "z"}, [OUTPUT]),
        ([DATUM_INPUT], {"y": "z"}, [DATUM_INPUT]),
        # A squash into a commit squashed already goes where that one went; its own id stays.
        ([(REMAP_DATUM_INPUTS, ("x", "y")), (CHAIN_SQUASH, ("x", "y")),
          (RECORD_SQUASH, ("x", "y"))], {"y": "z", "x": "q"},
         [(REMAP_DATUM_INPUTS, ("x", "z")), (CHAIN_SQUASH, ("x", "z")),
          (RECORD_SQUASH, ("x", "z"))]),
    ],
)  # fmt: skip
def test_follow_squashes(statements: list, squashes: dict, expected: list) -> None:
    assert follow_squashes(statements, squashes) == expected


def test_a_squash_of_one_child_records_where_it_went() -> None:
    sqls = [sql for sql, _ in rows_for(_squash("x", "y"))]
    assert CHAIN_SQUASH in sqls and RECORD_SQUASH in sqls
    assert RECORD_SQUASH not in [sql for sql, _ in rows_for(_squash("x", "y", "w"))]


def test_job_remaps_only_a_start_that_read_a_squashed_commit() -> None:
    started = JobStarted(
        event_id="s", job_id="j", pipeline="p", version=1, output_commit="o", time=1.0,
        datums=1, to_run=1, skipped=0,
        inputs=(InputCommit(name="a", repo="raw", branch="master", commit_id="x"),
                InputCommit(name="b", repo="other", branch="master", commit_id=None)),
    )  # fmt: skip
    assert job_remaps(started, {"x": "y"}) == [(REMAP_JOB_DATUM_INPUTS, ("j",))]
    assert job_remaps(started, {"w": "y"}) == []  # read nothing squashed
    assert job_remaps(started, {}) == []
    assert job_remaps(_squash("x", "y"), {"x": "y"}) == []  # not a job's start
