"""The commit processor's pure decisions, as tables of request sequences."""

from __future__ import annotations

import pytest

from pachstream.codec import encode
from pachstream.commits import _core
from pachstream.commits.events import (
    BranchDeleted,
    BranchSet,
    Chunk,
    CommitFinished,
    CommitStarted,
    CreateBranch,
    CreateRepo,
    DeleteBranch,
    DeleteRepo,
    FileEntry,
    FileOp,
    FinishCommit,
    ModifyFiles,
    RepoCreated,
    RepoDeleted,
    RequestDone,
    StartCommit,
    derive_id,
)

FILE = FileEntry(hash="h" * 64, size=1, chunks=(Chunk(hash="h" * 64, size=1, pack="packs/p"),))
_n = 0


def rid() -> str:
    global _n
    _n += 1
    return f"req{_n}"


def create(repo="r", **kw):
    return CreateRepo(request_id=kw.pop("rid", rid()), repo=repo, time=1.0, **kw)


def start(repo="r", branch="master"):
    return StartCommit(request_id=rid(), repo=repo, branch=branch, time=2.0)


def finish(repo="r", branch="master"):
    return FinishCommit(request_id=rid(), repo=repo, branch=branch, time=3.0)


def modify(repo="r", branch="master", path="/a", op="put"):
    ops = (FileOp(op=op, path=path, file=None if op == "delete" else FILE),)
    return ModifyFiles(request_id=rid(), repo=repo, branch=branch, time=4.0, ops=ops)


def run(requests):
    """Apply requests; finish plans complete with a synthetic tree. Returns every fact."""
    repos: dict[str, _core.RepoState] = {}
    facts = []
    for req in requests:
        step = _core.handle(repos, req)
        facts.extend(step.facts)
        if step.finish is not None:
            facts.extend(_core.complete_finish(repos, step.finish, "manifests/root", 1, 1, ["added"], [], "diffs/x"))
    return repos, facts


def answers(facts):
    return [(f.ok, f.error_code) for f in facts if isinstance(f, RequestDone)]


CASES = [
    ("create repo", [create()], [(True, None)], [RepoCreated]),
    ("create twice", [create(), create()], [(True, None), (False, "RepoExists")], [RepoCreated]),
    ("update description", [create(), create(description="new", update=True)], [(True, None), (True, None)], [RepoCreated, RepoCreated]),
    ("put into missing repo", [modify(repo="nope")], [(False, "RepoNotFound")], []),
    ("auto-commit", [create(), modify()], [(True, None), (True, None)], [RepoCreated, CommitStarted, CommitFinished]),
    ("start twice", [create(), start(), start()], [(True, None), (True, None), (False, "CommitAlreadyOpen")], [RepoCreated, CommitStarted]),
    ("finish with none open", [create(), finish()], [(True, None), (False, "NoOpenCommit")], [RepoCreated]),
    ("put into open commit", [create(), start(), modify(), finish()], [(True, None)] * 4, [RepoCreated, CommitStarted, CommitFinished]),
    ("delete repo then write", [create(), DeleteRepo(request_id=rid(), repo="r", time=5.0), modify()], [(True, None), (True, None), (False, "RepoNotFound")], [RepoCreated, RepoDeleted]),
    ("branch at unknown commit", [create(), CreateBranch(request_id=rid(), repo="r", branch="b", time=1.0, head="0" * 32)], [(True, None), (False, "CommitNotFound")], [RepoCreated]),
    ("delete missing branch", [create(), DeleteBranch(request_id=rid(), repo="r", branch="b", time=1.0)], [(True, None), (False, "BranchNotFound")], [RepoCreated]),
    ("empty branch then delete", [create(), CreateBranch(request_id=rid(), repo="r", branch="b", time=1.0), DeleteBranch(request_id=rid(), repo="r", branch="b", time=1.0)], [(True, None)] * 3, [RepoCreated, BranchSet, BranchDeleted]),
    ("invalid repo name", [create(repo="bad name")], [(False, "InvalidName")], []),
    ("invalid branch name", [create(), modify(branch="a/b")], [(True, None), (False, "InvalidName")], [RepoCreated]),
    ("path with ..", [create(), modify(path="/a/../b")], [(True, None), (False, "InvalidPath")], [RepoCreated]),
    ("path with NUL", [create(), modify(path="/a\x00b")], [(True, None), (False, "InvalidPath")], [RepoCreated]),
]


@pytest.mark.parametrize(("name", "requests", "expected", "kinds"), CASES, ids=[c[0] for c in CASES])
def test_requests(name, requests, expected, kinds):
    _, facts = run(requests)
    assert answers(facts) == expected
    assert [type(f) for f in facts if not isinstance(f, RequestDone)] == kinds


def test_second_start_names_the_open_commit():
    first = start()
    _, facts = run([create(), first, start()])
    refused = [f for f in facts if isinstance(f, RequestDone) and not f.ok][0]
    assert derive_id("r", first.request_id) in refused.error_message
    assert refused.error_fields["commit_id"] == derive_id("r", first.request_id)


def test_a_repeated_request_id_changes_nothing():
    again = create(rid="same")
    repos, facts = run([create(rid="same"), again])
    assert answers(facts) == [(True, None)]


def test_branch_at_open_commit_is_a_conflict_and_history_links_parents():
    opened = start()
    repos, facts = run([create(), modify(), opened])
    open_id = derive_id("r", opened.request_id)
    _, more = run([create(), modify(), opened, CreateBranch(request_id=rid(), repo="r", branch="b", time=1.0, head=open_id)])
    assert answers(more)[-1] == (False, "Conflict")
    started = [f for f in facts if isinstance(f, CommitStarted)]
    assert started[1].parent == started[0].commit_id
    assert repos["r"].heads["master"] == open_id


def test_state_round_trips_through_json():
    repos, _ = run([create(), modify(), start(), modify(path="/b")])
    state = repos["r"]
    back = _core.RepoState.from_json(state.to_json(), state.commits)
    assert back.to_json() == state.to_json()
    assert back.open["master"].overlay is None  # ops are re-read from staging after a restore


def test_replay_gives_identical_facts():
    global _n
    _n = 1000
    _, first = run([create(), modify(), start(), modify(path="/b"), finish(), DeleteRepo(request_id=rid(), repo="r", time=9.0)])
    _n = 1000
    _, second = run([create(), modify(), start(), modify(path="/b"), finish(), DeleteRepo(request_id=rid(), repo="r", time=9.0)])
    assert [encode(f) for f in first] == [encode(f) for f in second]
