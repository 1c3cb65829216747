"""The chaos campaign's pure core: each invariant as a table of facts → held or the problem
named; the fault plan from a seed; the recovery clock."""

from __future__ import annotations

import pytest

from pachstream.chaos import (
    TARGETS,
    Ack,
    CommitFact,
    DeadLetter,
    JobFact,
    OpenCommitFact,
    ReadBack,
    check_acknowledged,
    check_dead_letters,
    check_jobs,
    check_lineage,
    check_open_commits,
    check_outputs,
    downstream_of,
    fault_classes,
    first_job,
    first_write,
    percentile,
    plan_faults,
    recovered_at,
)
from pachstream.errors import InvalidInput


def ack(commit: str | None = "c1", sha: str = "aa" * 32, kind: str = "sdk-put", sent=0.0,
        acked=1.0) -> Ack:  # fmt: skip
    return Ack(kind=kind, repo="left", path="/g0/x", sha256=sha, size=3, commit_id=commit,  # type: ignore[arg-type]
               sent=sent, acked=acked)  # fmt: skip


GOOD = "aa" * 32
READS = [
    # (read back, problem expected, or None when it holds)
    (ReadBack(ack=ack(), commit_id="c1", sha256=GOOD), None),
    (ReadBack(ack=ack(commit=None), commit_id="c9", sha256=GOOD), None),  # found where added
    (ReadBack(ack=ack(), commit_id="c1", sha256="bb" * 32), "content sha256 bbbbbbbbbbbb"),
    (ReadBack(ack=ack(), commit_id="c1", sha256=None), "missing at commit c1"),
    (ReadBack(ack=ack(commit=None), commit_id=None, sha256=None), "no commit of left holds it"),
    (ReadBack(ack=ack(), commit_id="c2", sha256=GOOD), "acknowledged in c1, read at c2"),
    (ReadBack(ack=ack(), commit_id="c1", sha256=None, error="gone"), "read failed: gone"),
]


@pytest.mark.parametrize(("read", "problem"), READS)
def test_acknowledged_writes(read: ReadBack, problem: str | None) -> None:
    held = check_acknowledged([read])
    assert held.checked == 1
    if problem is None:
        assert held.held and not held.problems
    else:
        assert not held.held and held.count == 1
        assert problem in held.problems[0] and "left:/g0/x" in held.problems[0]


def test_problems_are_counted_all_and_shown_five() -> None:
    bad = [ReadBack(ack=ack(), commit_id="c1", sha256=None)] * 7
    held = check_acknowledged(bad)
    assert held.count == 7 and len(held.problems) == 5


def test_downstream_is_transitive() -> None:
    got = downstream_of({"joined": ["left", "right"], "summary": ["joined"], "other": ["x"]})
    assert got == {
        "left": ["joined", "summary"],
        "right": ["joined", "summary"],
        "joined": ["summary"],
        "x": ["other"],
    }


def job(pipeline: str, commitset: str | None, state: str = "success", jid: str = "") -> JobFact:
    return JobFact(id=jid or f"{pipeline}-{commitset}-{state}", pipeline=pipeline,
                   commitset=commitset, state=state, started=1.0, finished=2.0)  # fmt: skip


DOWN = {"left": ["joined", "summary"]}
C1 = CommitFact(repo="left", id="c1", finished=5.0)
JOBS = [
    # (jobs of commit set c1, problem expected or None)
    ([job("joined", "c1"), job("summary", "c1")], None),
    ([job("joined", "c1")], "pipeline summary has no job"),
    ([job("joined", "c1"), job("summary", "c1"), job("summary", "c1", jid="again")],
     "pipeline summary has success 2"),
    ([job("joined", "c1"), job("summary", "c1"), job("summary", "c1", "failure")],
     "pipeline summary has failure 1, success 1"),
    ([job("joined", "c1"), job("summary", "c1", "running")], "pipeline summary has running 1"),
    ([job("joined", "c1"), job("summary", "c2")], "pipeline summary has no job"),
    ([job("joined", "c1"), job("summary", None)], "pipeline summary has no job"),
]  # fmt: skip


@pytest.mark.parametrize(("jobs", "problem"), JOBS)
def test_one_successful_job_per_commit_and_pipeline(jobs: list[JobFact], problem: str | None):
    held = check_jobs([C1], jobs, DOWN)
    assert held.checked == 2
    if problem is None:
        assert held.held
    else:
        assert not held.held and problem in held.problems[0] and "left@c1" in held.problems[0]


def test_an_open_commit_needs_no_job_and_other_repos_none() -> None:
    commits = [CommitFact(repo="left", id="c1", finished=None), CommitFact(repo="notes", id="n",
               finished=1.0)]  # fmt: skip
    held = check_jobs(commits, [], DOWN)
    assert held.held and held.checked == 0


OUTPUTS = [
    ({"a": "h1"}, {"a": "h1"}, None),
    ({"a": "h1"}, {"a": "h2"}, "1 different path(s)"),
    ({}, {"a": "h1"}, "1 missing path(s)"),
    ({"a": "h1", "b": "h2"}, {"a": "h1"}, "1 extra path(s)"),
]


@pytest.mark.parametrize(("live", "scratch", "problem"), OUTPUTS)
def test_outputs_equal_a_from_scratch_run(live, scratch, problem) -> None:
    held = check_outputs({"joined": live}, {"joined": scratch})
    if problem is None:
        assert held.held and held.checked == 1
    else:
        assert not held.held and held.problems[0].startswith(f"pipeline joined: {problem}")


def test_a_pipeline_missing_from_the_live_side_is_every_path_missing() -> None:
    held = check_outputs({}, {"summary": {"/total": "h"}})
    assert held.problems == ("pipeline summary: 1 missing path(s) against the from-scratch run, "
                             "e.g. /total",)  # fmt: skip


LINEAGE = [
    ({"jobs": (3, "x")}, {"jobs": (3, "x")}, None),
    ({"jobs": (4, "y")}, {"jobs": (3, "x")}, "table jobs: 1 row(s) more than the replay"),
    ({"jobs": (2, "y")}, {"jobs": (3, "x")}, "table jobs: 1 row(s) fewer than the replay"),
    ({"jobs": (3, "y")}, {"jobs": (3, "x")}, "table jobs: same row count, different rows"),
    ({}, {"jobs": (3, "x")}, "table jobs: only in the replay"),
]


@pytest.mark.parametrize(("live", "replayed", "problem"), LINEAGE)
def test_lineage_equals_a_replay(live, replayed, problem) -> None:
    held = check_lineage(live, replayed)
    if problem is None:
        assert held.held
    else:
        assert not held.held and held.problems[0].startswith(problem)


def test_open_commits_and_dead_letters_are_each_a_problem() -> None:
    opened = OpenCommitFact(repo="uploads", id="c7", branch="master", description="s3 gateway",
                            started=1.0)  # fmt: skip
    held = check_open_commits([opened])
    assert not held.held
    assert held.problems == ("commit uploads@c7 on branch master is open ('s3 gateway') with "
                             "no writer left",)  # fmt: skip
    assert check_open_commits([]).held
    letter = DeadLetter(component="commits", topic="ps.requests", offset=3, reason="unknown")
    dead = check_dead_letters([letter])
    assert dead.problems == ("commits dead-lettered ps.requests offset 3: unknown",)
    assert check_dead_letters([]).held


def test_the_plan_is_a_function_of_the_seed() -> None:
    classes = fault_classes()
    first = plan_faults(42, 30, classes)
    assert first == plan_faults(42, 30, classes)
    assert first != plan_faults(43, 30, classes)
    # Shuffled rounds: every target once in each round of len(TARGETS) faults.
    for r in range(2):
        round_ = first[r * len(TARGETS) : (r + 1) * len(TARGETS)]
        assert sorted(s.target for s in round_) == sorted(TARGETS)
    assert {s.signal for s in first} == {"SIGKILL", "SIGTERM"}
    assert all(1.0 <= s.gap_s <= 5.0 for s in first)


def test_exclusions_drop_a_target_or_one_of_its_signals() -> None:
    classes = fault_classes(["postgres:SIGTERM", "supervisor"])
    assert classes["postgres"] == ("SIGKILL",) and "supervisor" not in classes
    plan = plan_faults(1, 100, classes)
    assert not [s for s in plan if s.target == "supervisor"]
    assert {s.signal for s in plan if s.target == "postgres"} == {"SIGKILL"}
    assert "postgres" not in fault_classes(["postgres:SIGTERM", "postgres:SIGKILL"])


@pytest.mark.parametrize(
    ("exclude", "named"),
    [(["kafka"], "unknown process 'kafka'"), (["tansu:SIGHUP"], "unknown signal 'SIGHUP'"),
     (list(TARGETS), "every chaos fault is excluded")],
)  # fmt: skip
def test_a_bad_exclusion_is_refused_naming_it(exclude: list[str], named: str) -> None:
    with pytest.raises(InvalidInput, match=named):
        fault_classes(exclude)


def test_recovery_needs_a_write_sent_after_the_fault_and_a_job_started_after_it() -> None:
    fault = 10.0
    before = ack(sent=9.0, acked=11.0)  # sent before the fault: proves nothing
    write = ack(sent=10.5, acked=12.0)
    ingest = ack(kind="ingest", sent=10.1, acked=10.2)  # the broker's acknowledgement only
    old_job = JobFact(id="o", pipeline="p", commitset="c", state="success", started=9.0,
                      finished=13.0)  # fmt: skip
    failed = JobFact(id="f", pipeline="p", commitset="c", state="failure", started=11.0,
                     finished=12.0)  # fmt: skip
    new_job = JobFact(id="n", pipeline="p", commitset="c", state="success", started=11.0,
                      finished=15.0)  # fmt: skip
    assert recovered_at(fault, [before, ingest], [new_job]) is None
    assert recovered_at(fault, [write], [old_job, failed]) is None
    assert recovered_at(fault, [before, write, ingest], [old_job, failed, new_job]) == 15.0
    assert recovered_at(fault, [write], [JobFact(id="q", pipeline="p", commitset="c",
                        state="success", started=10.0, finished=10.5)]) == 12.0  # fmt: skip
    gw = frozenset({"ingest"})
    assert recovered_at(fault, [ingest], [new_job], write_kinds=gw) == 15.0
    # Each part on its own: the report shows which one the recovery waited for.
    assert first_write(fault, [before, write, ingest]) == 12.0
    assert first_write(fault, [ingest], gw) == 10.2
    assert first_write(fault, [before]) is None
    assert first_job(fault, [old_job, failed, new_job]) == 15.0
    assert first_job(fault, [old_job, failed]) is None


@pytest.mark.parametrize(
    ("values", "pct", "want"),
    [([], 95, None), ([3.0], 95, 3.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
     ([float(i) for i in range(1, 21)], 95, 19.0), ([1.0, float("inf")], 95, float("inf"))],
)  # fmt: skip
def test_percentile_is_nearest_rank(values: list[float], pct: float, want: float | None) -> None:
    assert percentile(values, pct) == want
