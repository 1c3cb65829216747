"""The commit processor's checkpoint rows: what a batch leaves to write, per repo touched."""

from __future__ import annotations

import re

import pytest

from pachstream.commits._core import RECENT_REQUESTS, CommitInfo, RepoState
from pachstream.commits._store import CHECKPOINT, FORGET_ALL, checkpoint_args, checkpoint_rows


def _repo(name: str, commits: dict[str, bool], dirty=(), removed=()) -> RepoState:
    repo = RepoState(name=name, description="", created=1.0)
    repo.commits = {
        cid: CommitInfo("master", None, f"r-{cid}", done) for cid, done in commits.items()
    }
    repo.dirty_commits = set(dirty)
    repo.removed_commits = set(removed)
    return repo


CASES = [
    # (name, repos, touched, deleted, dropped, removed, repos written, commits written)
    ("untouched repos write nothing", {"a": _repo("a", {"c1": True}, dirty=["c1"])}, set(),
     set(), [], [], [], []),
    ("a touched repo: its state and its dirty commits only",
     {"a": _repo("a", {"c1": True, "c2": False}, dirty=["c2"])}, {"a"}, set(),
     [], [], ["a"], [("a", "c2", "master", None, "r-c2", False)]),
    ("removed commits go", {"a": _repo("a", {"c1": True}, removed=["c0", "cx"])}, {"a"}, set(),
     [], [("a", "c0"), ("a", "cx")], ["a"], []),
    ("a deleted repo: dropped, nothing written", {}, {"a"}, {"a"}, ["a"], [], [], []),
    ("deleted and created again: dropped, and every commit it has written",
     {"a": _repo("a", {"n1": True, "n2": False})}, {"a"}, {"a"},
     ["a"], [], ["a"], [("a", "n1", "master", None, "r-n1", True),
                        ("a", "n2", "master", None, "r-n2", False)]),
    ("a touched name with no repo and no delete: nothing", {}, {"ghost"}, set(), [], [], [], []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("repos", "touched", "deleted", "dropped", "removed", "written", "commits"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_checkpoint_rows(repos, touched, deleted, dropped, removed, written, commits) -> None:
    rows = checkpoint_rows(repos, touched, deleted)
    assert rows.dropped == dropped
    assert rows.removed == removed
    assert [name for name, _ in rows.repos] == written
    assert rows.commits == commits
    for name in touched & set(repos):  # written once: the marks are cleared
        assert not repos[name].dirty_commits and not repos[name].removed_commits


def _remembering(name: str, saved: int, unsaved: int) -> RepoState:
    repo = _repo(name, {})
    for i in range(saved + unsaved):
        repo.remember(f"q{i}")
        if i + 1 == saved:
            repo.recent_unsaved = 0  # a checkpoint
    return repo


N = RECENT_REQUESTS
RECENT_CASES = [
    # (name, repos, touched, deleted, recent rows written, forget bounds)
    ("the ids a batch answered, numbered on; none forgotten below the bound",
     {"a": _remembering("a", 3, 2)}, {"a"}, set(), [("a", 4, "q3"), ("a", 5, "q4")], [("a", 0)]),
    ("nothing answered: no rows", {"a": _remembering("a", 3, 0)}, {"a"}, set(), [], []),
    ("past the bound the oldest are forgotten",
     {"a": _remembering("a", N + 3, 2)}, {"a"}, set(), [("a", N + 4, f"q{N + 3}"),
     ("a", N + 5, f"q{N + 4}")], [("a", 5)]),
    ("a deleted repo forgets every id", {}, {"a"}, {"a"}, [], [("a", FORGET_ALL)]),
    ("deleted and created again: every id of the new one written, the rest forgotten",
     {"a": _remembering("a", 1, 1)}, {"a"}, {"a"}, [("a", 1, "q0"), ("a", 2, "q1")],
     [("a", FORGET_ALL)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("repos", "touched", "deleted", "recent", "forget"),
    [c[1:] for c in RECENT_CASES],
    ids=[c[0] for c in RECENT_CASES],
)
def test_checkpoint_recent_rows(repos, touched, deleted, recent, forget) -> None:
    rows = checkpoint_rows(repos, touched, deleted)
    assert (rows.recent, rows.forget) == (recent, forget)
    assert all(repo.recent_unsaved == 0 for repo in repos.values())  # written once
    assert all('"recent"' not in state for _, state in rows.repos)  # not in the JSON too


def test_the_args_fill_every_parameter_of_the_statement() -> None:
    rows = checkpoint_rows({"a": _repo("a", {"c": True}, dirty=["c"])}, {"a"}, set())
    args = checkpoint_args(rows, {("requests", 3): 10})
    highest = max(int(n) for n in re.findall(r"\$(\d+)", CHECKPOINT))
    assert len(args) == highest
    assert args[-3:] == [["requests"], [3], [10]]
