"""The commit processor's checkpoint rows: what a batch leaves to write, per repo touched."""

from __future__ import annotations

import re

import pytest

from pachstream.commits._core import CommitInfo, RepoState
from pachstream.commits._store import CHECKPOINT, checkpoint_args, checkpoint_rows


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


def test_the_args_fill_every_parameter_of_the_statement() -> None:
    rows = checkpoint_rows({"a": _repo("a", {"c": True}, dirty=["c"])}, {"a"}, set())
    args = checkpoint_args(rows, {("requests", 3): 10})
    highest = max(int(n) for n in re.findall(r"\$(\d+)", CHECKPOINT))
    assert len(args) == highest
    assert args[-3:] == [["requests"], [3], [10]]
