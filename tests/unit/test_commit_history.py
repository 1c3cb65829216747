"""Deleting and squashing commits: the commit processor's pure decisions, as tables."""

from __future__ import annotations

import pytest

from pachstream.commits import _core
from pachstream.commits._store import checkpoint_rows
from pachstream.commits.events import (
    CommitDeleted,
    CommitSquashed,
    CreateBranch,
    CreateRepo,
    DeleteCommit,
    FinishCommit,
    ModifyFiles,
    Reparented,
    RequestDone,
    SquashCommit,
    StartCommit,
)
from pachstream.model import Chunk, FileEntry, FileOp, derive_id

C = CreateRepo(request_id="c", repo="r", time=1.0)
BYTE = FileEntry(hash="h" * 64, size=1, chunks=(Chunk(hash="h" * 64, size=1),))


def put(rid, branch="master"):
    op = FileOp(op="put", path=f"/{rid}", file=BYTE)
    return ModifyFiles(request_id=rid, repo="r", branch=branch, time=2.0, ops=(op,))


def start(rid):
    return StartCommit(request_id=rid, repo="r", branch="master", time=3.0)


def cid(rid):
    return derive_id("r", rid)


def drop(rid, commit, pipeline=None):
    return DeleteCommit(request_id=rid, repo="r", commit_id=commit, time=9.0, pipeline=pipeline)


def squash(rid, commit):
    return SquashCommit(request_id=rid, repo="r", commit_id=commit, time=9.0)


def move(rid, name, head):
    return CreateBranch(request_id=rid, repo="r", branch=name, head=head, time=8.0)


def apply(requests, repos=None):
    """Apply requests, completing finishes with a synthetic tree and squashes with empty
    diffs (the shell's part). Returns the states and every fact."""
    repos = {} if repos is None else repos
    facts = []
    for req in requests:
        step = _core.handle(repos, req)
        facts.extend(step.facts)
        if step.finish is not None:
            facts.extend(
                _core.complete_finish(
                    repos, step.finish, "manifests/x", 1, 1, ["added"], [], "diffs/x"
                )
            )
        if step.squash is not None:
            kids = tuple(
                Reparented(
                    commit_id=c,
                    parent=step.squash.parent,
                    added=0,
                    modified=0,
                    deleted=0,
                    diff_ref="d",
                )
                for c, _ in step.squash.children
            )
            facts.extend(_core.complete_squash(repos, step.squash, kids))
    return repos, facts


def summary(facts):
    return " ".join(
        ("ok" if f.ok else f.error_code) if isinstance(f, RequestDone) else type(f).__name__
        for f in facts
    )


ONE, TWO, THREE = cid("m1"), cid("m2"), cid("m3")
LINE = [C, put("m1"), put("m2"), put("m3")]
"""Three commits on master: ONE ← TWO ← THREE."""

CASES = [
    ("delete the head", [*LINE, drop("d", THREE)], "CommitDeleted ok", {"master": TWO}),
    (
        "delete the only commit",
        [C, put("m1"), drop("d", ONE)],
        "CommitDeleted ok",
        {"master": None},
    ),
    ("delete a commit with a child", [*LINE, drop("d", TWO)], "Conflict", {"master": THREE}),
    ("delete an unknown commit", [*LINE, drop("d", "0" * 32)], "CommitNotFound", {"master": THREE}),
    (
        "delete an open commit",
        [*LINE, start("s"), drop("d", cid("s"))],
        "CommitDeleted ok",
        {"master": THREE},
    ),
    (
        "delete a head two branches share",
        [*LINE, move("b", "dev", THREE), drop("d", THREE)],
        "CommitDeleted ok",
        {"master": TWO, "dev": TWO},
    ),
    ("squash a middle commit", [*LINE, squash("q", TWO)], "CommitSquashed ok", {"master": THREE}),
    ("squash the first commit", [*LINE, squash("q", ONE)], "CommitSquashed ok", {"master": THREE}),
    (
        "squash the head: no child keeps its data",
        [*LINE, squash("q", THREE)],
        "Conflict",
        {"master": THREE},
    ),
    (
        "squash an open commit",
        [*LINE, start("s"), squash("q", cid("s"))],
        "Conflict",
        {"master": cid("s")},
    ),
    (
        "squash a commit another branch points at",
        [*LINE, move("b", "dev", TWO), squash("q", TWO)],
        "Conflict",
        {"master": THREE, "dev": TWO},
    ),
    (
        "squash a commit whose child is open",
        [C, put("m1"), put("m2"), start("s"), squash("q", TWO)],
        "Conflict",
        {"master": cid("s")},
    ),
]


@pytest.mark.parametrize(
    ("name", "requests", "expected", "heads"), CASES, ids=[c[0] for c in CASES]
)
def test_history_requests(name, requests, expected, heads):
    repos, facts = apply(requests)
    last = facts[-2:] if expected.endswith("ok") else facts[-1:]
    assert summary(last) == expected
    assert {b: repos["r"].heads[b] for b in heads} == heads
    for f in facts:
        assert f.event_id == derive_id(f.request_id, f.TYPE)


def test_a_deleted_head_moves_its_branches_to_the_parent_with_its_root():
    repos, facts = apply([*LINE, move("b", "dev", THREE), drop("d", THREE)])
    ev = facts[-2]
    assert isinstance(ev, CommitDeleted) and not ev.was_open
    assert [(m.branch, m.head, m.root) for m in ev.moved] == [
        ("dev", TWO, "manifests/x"),
        ("master", TWO, "manifests/x"),
    ]
    assert ev.commitset == derive_id("commitset", "d")
    assert THREE not in repos["r"].commits and THREE in repos["r"].removed_commits
    assert facts[-1].commit_id == TWO  # the answer names the head now


def test_a_deleted_open_commit_frees_its_branch():
    repos, facts = apply([*LINE, start("s"), drop("d", cid("s")), start("s2")])
    deleted = next(f for f in facts if isinstance(f, CommitDeleted))
    assert deleted.was_open and deleted.parent == THREE
    assert "master" in repos["r"].open and repos["r"].open["master"].parent == THREE


def test_a_squash_re_parents_the_children_and_forgets_the_commit():
    repos, facts = apply([*LINE, squash("q", TWO)])
    ev = facts[-2]
    assert isinstance(ev, CommitSquashed) and ev.parent == ONE
    assert [c.commit_id for c in ev.children] == [THREE]
    assert repos["r"].commits[THREE].parent == ONE
    assert TWO not in repos["r"].commits
    assert {THREE} <= repos["r"].dirty_commits and TWO in repos["r"].removed_commits


def test_a_squash_plan_names_the_trees_the_shell_diffs():
    repos, _ = apply([*LINE, move("b", "dev", TWO), put("x", branch="dev")])
    # TWO has two children now: THREE on master and the dev commit.
    plan = _core.handle(repos, squash("q", TWO))
    assert plan.squash is not None and not plan.facts
    assert plan.squash.parent == ONE and plan.squash.parent_root == "manifests/x"
    assert sorted(c for c, _ in plan.squash.children) == sorted([THREE, cid("x")])


def test_output_repos_refuse_history_changes_from_anyone_but_their_pipeline():
    repos, _ = apply([C, put("m1")])
    repos["r"].owner = "edges"
    refused = apply([drop("d", ONE)], repos)[1]
    assert summary(refused) == "OutputRepo" and "pipeline 'edges'" in refused[0].error_message
    assert summary(apply([squash("q", ONE)], repos)[1]) == "OutputRepo"
    assert summary(apply([drop("d2", ONE, pipeline="edges")], repos)[1]) == "CommitDeleted ok"


# ----------------------------------------------------------------------------- delete branch


def delete_branch(rid, force=False):
    from pachstream.commits.events import DeleteBranch

    return DeleteBranch(request_id=rid, repo="r", branch="master", time=9.0, force=force)


def test_deleting_a_branch_with_an_open_commit_is_refused_naming_both_ways_out():
    repos, _ = apply([C, start("s"), put("p")])
    _, facts = apply([delete_branch("d")], repos)
    done = facts[-1]
    assert isinstance(done, RequestDone) and not done.ok and done.error_code == "Conflict"
    assert "finish commit r@master" in done.error_message and "--force" in done.error_message
    assert "master" in repos["r"].heads and "master" in repos["r"].open  # nothing changed


def test_deleting_a_branch_with_force_drops_its_open_commit_and_leaves_nothing_open():
    repos, _ = apply([C, put("p1"), start("s"), put("p2")])
    first, opened = cid("p1"), repos["r"].open["master"].commit_id
    _, facts = apply([delete_branch("d", force=True)], repos)
    deleted = [f for f in facts if isinstance(f, CommitDeleted)]
    assert [(d.commit_id, d.parent, d.was_open, d.moved) for d in deleted] == [
        (opened, first, True, ())  # no head moves: nothing downstream reruns
    ]
    assert facts[-1].ok
    assert repos["r"].open == {} and "master" not in repos["r"].heads
    assert opened not in repos["r"].commits and first in repos["r"].commits
    # The finished commit is still there to make a branch at again.
    _, again = apply([move("b", "master", first)], repos)
    assert again[-1].ok and repos["r"].heads["master"] == first


def test_deleting_a_branch_without_an_open_commit_needs_no_force():
    repos, _ = apply([C, put("p1")])
    _, facts = apply([delete_branch("d")], repos)
    assert facts[-1].ok and not [f for f in facts if isinstance(f, CommitDeleted)]


# ------------------------------------------------------------------ commits out of memory


def finish(rid):
    return FinishCommit(request_id=rid, repo="r", branch="master", time=4.0)


def apply_evicting(requests):
    """:func:`apply` as the shell runs it: only live commits stay in memory between requests
    (each request a batch of its own), a history request first loads the commit it names, its
    parent and its children from the rows the checkpoints left (a dict standing for
    ``commits_commits``, written through the real :func:`checkpoint_rows`).
    """
    repos: dict = {}
    rows: dict[tuple[str, str], _core.CommitInfo] = {}
    facts = []
    for req in requests:
        named = _core.commit_named(req)
        if named is not None and req.repo in repos:
            hit = {c: i for (r, c), i in rows.items() if r == req.repo and c == named}
            kids = {c: i for (r, c), i in rows.items() if r == req.repo and i.parent == named}
            parents = {c: i for (r, c), i in rows.items()
                       if r == req.repo and any(h.parent == c for h in hit.values())}  # fmt: skip
            _core.take_commits(repos[req.repo], {**hit, **kids, **parents})
        _, more = apply([req], repos)
        facts.extend(more)
        out = checkpoint_rows(repos, {req.repo}, set())
        for repo, cid in out.removed:
            rows.pop((repo, cid), None)
        for repo, cid, branch, parent, root, done in out.commits:
            rows[(repo, cid)] = _core.CommitInfo(branch, parent, root, done)
        for state in repos.values():
            _core.evict_commits(state)
            assert set(state.commits) == _core.live_commits(state)
    return repos, facts


OPEN_THEN_FINISH = [C, put("m1"), put("m2"), start("s"), put("s1"), finish("f")]
EVICTING = [
    *CASES,
    ("a commit finished batches after it opened", OPEN_THEN_FINISH, "CommitFinished ok", {}),
    (
        "a branch moved to an old commit",
        [*LINE, put("m4"), move("b", "old", ONE)],
        "BranchSet ok",
        {"old": ONE},
    ),
    (
        "squash a commit whose children are no branch's head",
        [
            *LINE,
            move("b", "dev", TWO),
            put("x", branch="dev"),
            put("y", branch="dev"),
            put("m4"),
            squash("q", TWO),
        ],
        "CommitSquashed ok",
        {"dev": cid("y")},
    ),  # fmt: skip
    (
        "a branch moved to a deleted commit",
        [*LINE, drop("d", THREE), move("b", "back", THREE)],
        "CommitNotFound",
        {"master": TWO},
    ),
]


@pytest.mark.parametrize(
    ("name", "requests", "expected", "heads"), EVICTING, ids=[c[0] for c in EVICTING]
)
def test_history_with_only_live_commits_in_memory_gives_the_same_facts(
    name, requests, expected, heads
):
    whole, facts = apply(requests)
    live, evicting = apply_evicting(requests)
    assert evicting == facts
    last = facts[-2:] if expected.endswith("ok") else facts[-1:]
    assert summary(last) == expected
    assert {b: live["r"].heads[b] for b in heads} == heads
    assert live["r"].heads == whole["r"].heads


LIVE = [
    ("no commits", [C], set()),
    ("a line keeps its head", LINE, {THREE}),
    ("an open commit keeps its parent", [*LINE, start("s")], {cid("s"), THREE}),
    ("every branch's head", [*LINE, move("b", "dev", ONE)], {THREE, ONE}),
    ("a branch without a head", [*LINE, move("b", "dev", None)], {THREE}),
]


@pytest.mark.parametrize(("name", "requests", "live"), LIVE, ids=[c[0] for c in LIVE])
def test_live_commits(name, requests, live):
    repos, _ = apply(requests)
    assert _core.live_commits(repos["r"]) == live


def test_eviction_keeps_what_waits_for_its_checkpoint():
    repos, _ = apply(LINE)
    repo = repos["r"]
    assert repo.dirty_commits == {ONE, TWO, THREE}
    assert _core.evict_commits(repo) == 0
    checkpoint_rows(repos, {"r"}, set())
    assert _core.evict_commits(repo) == 2 and set(repo.commits) == {THREE}


def test_loaded_rows_never_undo_this_batch():
    repos, _ = apply([*LINE, squash("q", TWO)])
    repo = repos["r"]
    stale = {
        TWO: _core.CommitInfo("master", ONE, "manifests/x", True),
        THREE: _core.CommitInfo("master", TWO, "manifests/x", True),  # before the re-parent
        "new": _core.CommitInfo("master", ONE, None, True),
    }
    _core.take_commits(repo, stale)
    assert TWO not in repo.commits  # squashed in this batch
    assert repo.commits[THREE].parent == ONE
    assert repo.commits["new"] == stale["new"]


NAMED = [
    (move("b", "x", "c1"), "c1"),
    (move("b", "x", None), None),
    (drop("d", "c2"), "c2"),
    (squash("q", "c3"), "c3"),
    (put("p"), None),
    (start("s"), None),
    (finish("f"), None),
    (C, None),
]


@pytest.mark.parametrize(("req", "named"), NAMED, ids=[type(r).__name__ for r, _ in NAMED])
def test_commit_named(req, named):
    assert _core.commit_named(req) == named


def test_a_parent_out_of_memory_is_refused_and_changes_nothing():
    """A finish or a delete whose parent is not in memory (a bug of the loading) is refused,
    never built on, or moved to, an empty tree; the refused request leaves the state as it was.
    """
    repos, _ = apply([*LINE, start("s")])
    repo = repos["r"]
    del repo.commits[THREE]  # the open commit's parent, lost
    before = (dict(repo.heads), set(repo.open), set(repo.commits))
    step = _core.handle(repos, finish("f"))
    assert step.finish is None and summary(step.facts) == "PachstreamError"
    assert "not in the commit processor's memory" in step.facts[0].error_message
    step = _core.handle(repos, drop("d", cid("s")))
    assert summary(step.facts) == "PachstreamError"
    assert (dict(repo.heads), set(repo.open), set(repo.commits)) == before
