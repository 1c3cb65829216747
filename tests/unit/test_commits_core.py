"""The commit processor's pure decisions, as tables of request sequences."""

from __future__ import annotations

import orjson
import pytest

from pachstream.codec import encode
from pachstream.commits import _core
from pachstream.commits.events import (
    BranchDeleted,
    BranchSet,
    CommitFinished,
    CommitStarted,
    CreateBranch,
    CreateRepo,
    DeleteBranch,
    DeleteCommit,
    DeleteRepo,
    FinishCommit,
    ModifyFiles,
    RepoCreated,
    RequestDone,
    StartCommit,
)
from pachstream.model import Chunk, FileEntry, FileOp, derive_id
from pachstream.objectstore import MemoryObjectStore
from pachstream.tree import TreeStore, to_diff_entry

FILE = FileEntry(hash="h" * 64, size=1, chunks=(Chunk(hash="h" * 64, size=1, pack="packs/p"),))


def create(rid, repo="r", description="", update=False, time=1.0):
    return CreateRepo(request_id=rid, repo=repo, time=time, description=description, update=update)


def start(rid, repo="r", branch="master", description="", require=False):
    return StartCommit(
        request_id=rid,
        repo=repo,
        branch=branch,
        time=2.0,
        description=description,
        require_branch=require,
    )


def finish(rid, repo="r", branch="master", description=None):
    return FinishCommit(request_id=rid, repo=repo, branch=branch, time=3.0, description=description)


def modify(rid, repo="r", branch="master", path="/a", op="put", file=FILE, require=False):
    ops = (FileOp(op=op, path=path, file=None if op == "delete" else file),)
    return ModifyFiles(
        request_id=rid, repo=repo, branch=branch, time=4.0, ops=ops, require_branch=require
    )


def branch(rid, name="b", head=None, repo="r"):
    return CreateBranch(request_id=rid, repo=repo, branch=name, time=5.0, head=head)


def drop_branch(rid, name="b", repo="r", force=False):
    return DeleteBranch(request_id=rid, repo=repo, branch=name, time=6.0, force=force)


def drop_repo(rid, repo="r"):
    return DeleteRepo(request_id=rid, repo=repo, time=7.0)


def cid(rid, repo="r"):
    return derive_id(repo, rid)


def run(requests, repos=None):
    """Apply requests; finish plans complete with a synthetic tree. Returns every fact."""
    repos = {} if repos is None else repos
    facts = []
    for req in requests:
        step = _core.handle(repos, req)
        facts.extend(step.facts)
        if step.finish is not None:
            assert not any(isinstance(f, RequestDone) for f in step.facts)
            facts.extend(
                _core.complete_finish(
                    repos, step.finish, "manifests/x", 1, 1, ["added"], [], "diffs/x"
                )
            )
    return repos, facts


def summary(facts):
    """Each fact as its type name; a RequestDone as "ok" or its error code."""
    out = []
    for f in facts:
        if isinstance(f, RequestDone):
            out.append("ok" if f.ok else f.error_code)
        else:
            out.append(type(f).__name__)
    return out


C = create("c")
"""Most cases start by creating repo "r"."""
CASES = [
    ("create repo", [C], "RepoCreated ok"),
    ("create twice", [C, create("c2")], "RepoCreated ok RepoExists"),
    ("update description", [C, create("u", update=True)], "RepoCreated ok RepoCreated ok"),
    ("update creates a missing repo", [create("u", update=True)], "RepoCreated ok"),
    ("put into missing repo", [modify("m", repo="nope")], "RepoNotFound"),
    ("start in missing repo", [start("s", repo="nope")], "RepoNotFound"),
    ("auto-commit", [C, modify("m")], "RepoCreated ok CommitStarted CommitFinished ok"),
    (
        "start twice",
        [C, start("s1"), start("s2")],
        "RepoCreated ok CommitStarted ok CommitAlreadyOpen",
    ),
    (
        "two branches",
        [C, start("s1"), start("s2", branch="dev")],
        "RepoCreated ok CommitStarted ok CommitStarted ok",
    ),
    ("finish with none open", [C, finish("f")], "RepoCreated ok NoOpenCommit"),
    (
        "writes into an open commit",
        [C, start("s"), modify("m1"), modify("m2", path="/b"), finish("f")],
        "RepoCreated ok CommitStarted ok ok ok CommitFinished ok",
    ),
    (
        "finish twice",
        [C, start("s"), finish("f1"), finish("f2")],
        "RepoCreated ok CommitStarted ok CommitFinished ok NoOpenCommit",
    ),
    ("repeated request id", [C, start("s"), start("s")], "RepoCreated ok CommitStarted ok"),
    (
        "repeated auto-commit",
        [C, modify("m"), modify("m")],
        "RepoCreated ok CommitStarted CommitFinished ok",
    ),
    ("repeated refused request", [C, create("x"), create("x")], "RepoCreated ok RepoExists"),
    ("delete repo", [C, drop_repo("d")], "RepoCreated ok RepoDeleted ok"),
    ("delete missing repo", [drop_repo("d")], "RepoNotFound"),
    (
        "delete repo then write",
        [C, drop_repo("d"), modify("m")],
        "RepoCreated ok RepoDeleted ok RepoNotFound",
    ),
    (
        "delete repo then create",
        [C, drop_repo("d"), create("c2")],
        "RepoCreated ok RepoDeleted ok RepoCreated ok",
    ),
    ("branch at unknown commit", [C, branch("b", head="0" * 32)], "RepoCreated ok CommitNotFound"),
    (
        "branch at open commit",
        [C, start("s"), branch("b", head=cid("s"))],
        "RepoCreated ok CommitStarted ok Conflict",
    ),
    (
        "branch at finished commit",
        [C, modify("m"), branch("b", head=cid("m"))],
        "RepoCreated ok CommitStarted CommitFinished ok BranchSet ok",
    ),
    (
        "move a branch with an open commit",
        [C, start("s", branch="b"), branch("b2", name="b")],
        "RepoCreated ok CommitStarted ok CommitAlreadyOpen",
    ),
    (
        "empty branch then delete",
        [C, branch("b"), drop_branch("d")],
        "RepoCreated ok BranchSet ok BranchDeleted ok",
    ),
    ("delete missing branch", [C, drop_branch("d")], "RepoCreated ok BranchNotFound"),
    # require_branch (the S3 gateway's writes): a missing branch is refused, not created.
    (
        "required branch, missing: put",
        [C, modify("m", require=True)],
        "RepoCreated ok BranchNotFound",
    ),
    (
        "required branch, missing: start",
        [C, start("s", require=True)],
        "RepoCreated ok BranchNotFound",
    ),
    (
        "required branch, empty: put",
        [C, branch("b", name="master"), modify("m", require=True)],
        "RepoCreated ok BranchSet ok CommitStarted CommitFinished ok",
    ),
    (
        "required branch, with commits: start, put",
        [C, modify("m"), start("s", require=True), modify("m2", require=True)],
        "RepoCreated ok CommitStarted CommitFinished ok CommitStarted ok ok",
    ),
    (
        "required branch, deleted: put",
        [C, branch("b"), drop_branch("d"), modify("m", branch="b", require=True)],
        "RepoCreated ok BranchSet ok BranchDeleted ok BranchNotFound",
    ),
    (
        "required branch, deleted with its open commit: put",
        [
            C,
            start("s", branch="b"),
            drop_branch("d", force=True),
            modify("m", branch="b", require=True),
        ],
        "RepoCreated ok CommitStarted ok CommitDeleted BranchDeleted ok BranchNotFound",
    ),
    ("required branch, missing repo", [modify("m", repo="nope", require=True)], "RepoNotFound"),
    (
        "branch not required, deleted: put makes it again",
        [C, branch("b"), drop_branch("d"), modify("m", branch="b")],
        "RepoCreated ok BranchSet ok BranchDeleted ok CommitStarted CommitFinished ok",
    ),
    ("invalid repo name", [create("c", repo="bad name")], "InvalidName"),
    ("empty repo name", [create("c", repo="")], "InvalidName"),
    ("repo name too long", [create("c", repo="a" * 64)], "InvalidName"),
    ("invalid branch name", [C, modify("m", branch="a/b")], "RepoCreated ok InvalidName"),
    (
        "branch name like a commit id",
        [C, start("s", branch="a" * 32)],
        "RepoCreated ok InvalidName",
    ),
    ("invalid branch to create", [C, branch("b", name="x y")], "RepoCreated ok InvalidName"),
    ("path with ..", [C, modify("m", path="/a/../b")], "RepoCreated ok InvalidPath"),
    ("path with NUL", [C, modify("m", path="/a\x00b")], "RepoCreated ok InvalidPath"),
    ("root as a file", [C, modify("m", path="/")], "RepoCreated ok InvalidPath"),
    (
        "append to a .. path",
        [C, modify("m", op="append", path="/..")],
        "RepoCreated ok InvalidPath",
    ),
    ("put without content", [C, modify("m", file=None)], "RepoCreated ok InvalidInput"),
]


@pytest.mark.parametrize(("name", "requests", "expected"), CASES, ids=[c[0] for c in CASES])
def test_requests(name, requests, expected):
    _, facts = run(requests)
    assert " ".join(summary(facts)) == expected
    # One answer per request, each naming its request; ids derive from the request id.
    done = [f for f in facts if isinstance(f, RequestDone)]
    assert len({f.request_id for f in done}) == len(done)
    for f in facts:
        assert f.event_id == derive_id(f.request_id, f.TYPE)


def test_a_refused_request_changes_no_state():
    repos, _ = run([create("c"), start("s")])
    before = repos["r"].to_json()
    recent_before = list(repos["r"].recent)
    _, facts = run([start("s2"), finish("f", branch="x y"), branch("b", head="0" * 32)], repos)
    assert summary(facts) == ["CommitAlreadyOpen", "InvalidName", "CommitNotFound"]
    after = repos["r"].to_json()
    assert list(repos["r"].recent) == [*recent_before, "s2", "f", "b"]
    assert after.pop("recent_seq") == before.pop("recent_seq") + 3
    assert after == before


def test_second_start_names_the_open_commit():
    _, facts = run([create("c"), start("s1"), start("s2")])
    refused = facts[-1]
    assert cid("s1") == "5aa8d8ed5e89f95f1a41ff8ae1e18d6b"  # ids are part of the format
    assert cid("s1") in refused.error_message
    assert refused.error_fields == {"repo": "r", "branch": "master", "commit_id": cid("s1")}
    assert refused.commit_id is None


def test_auto_commit_plans_a_finish():
    repos, _ = run([create("c"), modify("base")])
    step = _core.handle(repos, modify("m", path="/b"))
    assert [type(f) for f in step.facts] == [CommitStarted]
    plan = step.finish
    assert isinstance(plan, _core.FinishPlan)
    assert (plan.repo, plan.branch, plan.request_id, plan.time) == ("r", "master", "m", 4.0)
    assert plan.commit.commit_id == cid("m") and plan.commit.parent == cid("base")
    assert plan.parent_root == "manifests/x"  # the parent's tree, from its CommitFinished
    assert set(plan.commit.overlay.puts) == {"/b"}
    assert repos["r"].heads["master"] == cid("m") and "master" in repos["r"].open


def test_facts_carry_the_state():
    repos, facts = run(
        [
            create("c", description="one"),
            create("c2", description="two", update=True, time=9.0),
            start("s", description="msg"),
            modify("m"),
            finish("f", description="final"),
            start("s2", branch="dev"),
            finish("f2", branch="dev"),
        ]
    )
    created = [f for f in facts if isinstance(f, RepoCreated)]
    # An update keeps the creation time, whatever the update request's clock says.
    assert [(f.description, f.time) for f in created] == [("one", 1.0), ("two", 1.0)]
    started = [f for f in facts if isinstance(f, CommitStarted)]
    assert [(f.commit_id, f.parent, f.description) for f in started] == [
        (cid("s"), None, "msg"),
        (cid("s2"), None, ""),
    ]
    finished = [f for f in facts if isinstance(f, CommitFinished)]
    assert [(f.commit_id, f.description, f.started, f.finished) for f in finished] == [
        (cid("s"), "final", 2.0, 3.0),
        (cid("s2"), "", 2.0, 3.0),
    ]
    done = {f.request_id: f.commit_id for f in facts if isinstance(f, RequestDone)}
    assert done == {
        "c": None,
        "c2": None,
        "s": cid("s"),
        "m": cid("s"),
        "f": cid("s"),
        "s2": cid("s2"),
        "f2": cid("s2"),
    }
    state = repos["r"]
    assert state.heads == {"master": cid("s"), "dev": cid("s2")} and state.open == {}
    assert state.commits[cid("s")] == _core.CommitInfo("master", None, "manifests/x", True)
    assert state.dirty_commits == {cid("s"), cid("s2")}


def test_branch_facts():
    repos, facts = run(
        [
            create("c"),
            modify("m"),
            branch("b", name="dev", head=cid("m")),
            drop_branch("d", name="dev"),
        ]
    )
    kinds = [f for f in facts if isinstance(f, (BranchSet, BranchDeleted))]
    assert [(type(f), f.branch, getattr(f, "head", None)) for f in kinds] == [
        (BranchSet, "dev", cid("m")),
        (BranchDeleted, "dev", None),
    ]
    assert repos["r"].heads == {"master": cid("m")}


async def test_finish_plans_driven_through_real_trees():
    store = MemoryObjectStore()
    trees = TreeStore(store)
    repos: dict[str, _core.RepoState] = {}

    async def drive(req):
        step = _core.handle(repos, req)
        if step.finish is None:
            return step.facts
        plan = step.finish
        built = await trees.build(await trees.root(plan.parent_root), plan.commit.overlay)
        return step.facts + _core.complete_finish(
            repos,
            plan,
            built.root.key,
            built.root.count,
            built.root.size,
            [d[1] for d in built.diff],
            [to_diff_entry(d) for d in built.diff],
            f"diffs/{plan.commit.commit_id}",
        )

    other = FileEntry(hash="g" * 64, size=10, chunks=(Chunk(hash="g" * 64, size=10),))
    await drive(create("c"))
    first = (await drive(modify("m1", path="/a")))[1]
    await drive(modify("m2", path="/b", file=other))
    await drive(start("s"))
    await drive(modify("m3", path="/a", op="delete"))
    await drive(modify("m4", path="/c"))
    await drive(modify("m5", path="/b", file=FILE))
    last, done = await drive(finish("f"))
    assert isinstance(first, CommitFinished) and (
        first.file_count,
        first.size_bytes,
        first.added,
    ) == (1, 1, 1)
    assert (last.commit_id, last.parent) == (cid("s"), cid("m2"))
    assert (last.added, last.modified, last.deleted, last.file_count, last.size_bytes) == (
        1,
        1,
        1,
        2,
        2,
    )
    assert [(d.path, d.change) for d in last.diff] == [
        ("/a", "deleted"),
        ("/b", "modified"),
        ("/c", "added"),
    ]
    assert last.diff[1].old == other and last.diff[1].file == FILE
    assert done.ok and done.commit_id == cid("s")
    root = await trees.root(last.root)
    assert {p async for p, _ in trees.walk(root)} == {"/b", "/c"}
    assert repos["r"].commits[cid("s")].root == last.root

    await drive(start("s9"))
    empty = (await drive(finish("f9")))[0]  # an empty commit keeps its parent's tree
    assert (empty.root, empty.added + empty.modified + empty.deleted) == (last.root, 0)


def test_state_round_trips_through_json():
    repos, _ = run([create("c", description="d"), modify("m"), start("s"), modify("m2", path="/b")])
    state = repos["r"]
    state.open["master"].staged += 1
    raw = orjson.loads(orjson.dumps(state.to_json()))  # the persisted form is plain JSON
    assert raw["open"]["master"] == {
        "commit_id": cid("s"),
        "parent": cid("m"),
        "started": 2.0,
        "description": "",
        "request_id": "s",
        "commitset": None,
        "staged": 1,  # a count: the keys follow from the commit id
    }
    assert "recent" not in raw and raw["recent_seq"] == 4  # the ids are rows of their own
    back = _core.RepoState.from_json(raw, list(state.recent))
    _core.take_commits(back, state.commits)  # as the shell does for the live commits
    assert back.to_json() == state.to_json()
    assert back.open["master"].overlay is None  # ops are re-read from staging after a restore
    assert back.recent.maxlen == _core.RECENT_REQUESTS
    assert (list(back.recent), back.recent_unsaved) == (["c", "m", "s", "m2"], 0)
    # The restored state still drops retries and refuses a second start.
    assert summary(run([modify("m2", path="/b"), start("s3")], {"r": back})[1]) == [
        "CommitAlreadyOpen"
    ]
    step = _core.handle({"r": back}, finish("f"))
    assert step.finish.commit.overlay is None
    assert step.finish.commit.staged_keys() == [f"staging/{cid('s')}/00000000"]


def test_a_state_written_with_its_ids_inline_is_read_and_saves_them_as_rows():
    repos, _ = run([create("c"), modify("m")])
    raw = repos["r"].to_json()
    del raw["recent_seq"]
    raw["recent"] = ["c", "m"]  # the form before the ids were rows
    back = _core.RepoState.from_json(raw)
    _core.take_commits(back, repos["r"].commits)
    assert list(back.recent) == ["c", "m"]
    assert back.unsaved_recent() == [(1, "c"), (2, "m")]
    assert summary(run([modify("m")], {"r": back})[1]) == []  # still a retry


RECENT_CASES = [
    # (name, ids remembered before the checkpoint, then after it, unsaved (seq, id) expected)
    ("nothing since the checkpoint", 3, 0, []),
    ("the new ones, numbered on", 3, 2, [(4, "x3"), (5, "x4")]),
    ("all of a first batch", 0, 3, [(1, "x0"), (2, "x1"), (3, "x2")]),
    ("past the bound: the last ones remembered only", 2, _core.RECENT_REQUESTS + 1,
     [(s, f"x{s - 1}") for s in range(4, _core.RECENT_REQUESTS + 4)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "after", "expected"), [c[1:] for c in RECENT_CASES], ids=[c[0] for c in RECENT_CASES]
)
def test_unsaved_recent_ids(before, after, expected):
    state = _core.RepoState(name="r", description="", created=1.0)
    for i in range(before):
        state.remember(f"x{i}")
    state.recent_unsaved = 0  # a checkpoint
    for i in range(before, before + after):
        state.remember(f"x{i}")
    assert state.unsaved_recent() == expected
    assert state.recent_seq == before + after


def test_recent_requests_are_bounded():
    repos, _ = run([create("c")])
    run([drop_branch(f"x{i}") for i in range(_core.RECENT_REQUESTS)], repos)
    assert "c" not in repos["r"].recent and len(repos["r"].recent) == _core.RECENT_REQUESTS


def test_replay_gives_identical_facts():
    def requests():
        return [
            create("c"),
            modify("m"),
            start("s"),
            modify("m2", path="/b"),
            finish("f"),
            branch("b", name="dev", head=cid("s")),
            start("s2"),
            start("s3"),
            drop_repo("d"),
        ]

    _, first = run(requests())
    _, second = run(requests())
    assert len(first) == 17
    assert [encode(f) for f in first] == [encode(f) for f in second]


@pytest.mark.parametrize("path", ["/a/../b", "/a\x00b"])
def test_delete_path_is_validated(path):
    _, facts = run([create("c"), modify("m", op="delete", path=path)])
    assert summary(facts) == ["RepoCreated", "ok", "InvalidPath"]


@pytest.mark.parametrize("path", ["a", "/a/", "//a"])
def test_non_canonical_path_is_refused(path):
    repos, facts = run([create("c"), start("s"), modify("m", path=path)])
    assert summary(facts)[-1] == "InvalidPath"
    assert set(repos["r"].open["master"].overlay.puts) == set()


# ----------------------------------------------------------------------------- output repos


def _owned():
    return CreateRepo(request_id="c", repo="edges", time=1.0, pipeline="edges")


OUTPUT_WRITES = [
    # (request, who asks, refused?)
    (
        ModifyFiles(
            request_id="w",
            repo="edges",
            branch="master",
            time=2.0,
            ops=(FileOp(op="put", path="/hack.txt", file=FILE),),
        ),
        None,
        True,
    ),
    (StartCommit(request_id="w", repo="edges", branch="master", time=2.0), None, True),
    (FinishCommit(request_id="w", repo="edges", branch="master", time=2.0), None, True),
    (CreateBranch(request_id="w", repo="edges", branch="dev", time=2.0), None, True),
    (DeleteBranch(request_id="w", repo="edges", branch="master", time=2.0), None, True),
    (DeleteRepo(request_id="w", repo="edges", time=2.0), None, True),
    (DeleteRepo(request_id="w", repo="edges", time=2.0, force=True), None, True),
    (
        ModifyFiles(
            request_id="w",
            repo="edges",
            branch="master",
            time=2.0,
            ops=(FileOp(op="put", path="/o", file=FILE),),
            pipeline="other",
        ),
        "other",
        True,
    ),
    (
        ModifyFiles(
            request_id="w",
            repo="edges",
            branch="master",
            time=2.0,
            ops=(FileOp(op="put", path="/o", file=FILE),),
            pipeline="edges",
        ),
        "edges",
        False,
    ),
    (DeleteRepo(request_id="w", repo="edges", time=2.0, pipeline="edges"), "edges", False),
    (
        CreateRepo(request_id="w", repo="edges", time=2.0, description="new", update=True),
        None,
        False,
    ),
]


@pytest.mark.parametrize(
    ("req", "who", "refused"),
    OUTPUT_WRITES,
    ids=lambda v: type(v).__name__ if not isinstance(v, (str, bool, type(None))) else str(v),
)
def test_only_its_pipeline_writes_an_output_repo(req, who, refused):
    repos, facts = run([_owned(), req])
    done = facts[-1]
    assert isinstance(done, RequestDone) and done.ok is not refused, done
    if refused:
        assert done.error_code == "OutputRepo"
        assert "repo 'edges' is the output of pipeline 'edges'" in done.error_message
        fix = (
            "delete the pipeline instead"
            if isinstance(req, DeleteRepo)
            else "only its jobs write there"
        )
        assert fix in done.error_message
        assert repos["edges"].heads == {} and "edges" in repos


def test_the_owner_survives_a_restart_and_shows_in_the_fact():
    repos, facts = run([_owned()])
    assert facts[0].pipeline == "edges"
    back = _core.RepoState.from_json(orjson.loads(orjson.dumps(repos["edges"].to_json())))
    assert back.owner == "edges"
    assert _core.RepoState.from_json({**repos["edges"].to_json(), "owner": None}).owner is None


# ----------------------------------------------------------------------------- commit sets


def test_a_commit_is_its_own_set_unless_it_joins_one():
    own = modify("m")
    joined = ModifyFiles(
        request_id="j", repo="r", branch="master", time=4.0, ops=own.ops, commitset="origin"
    )
    started = StartCommit(request_id="s", repo="r", branch="dev", time=2.0, commitset="origin2")
    _, facts = run(
        [
            create("c"),
            own,
            joined,
            started,
            FinishCommit(request_id="f", repo="r", branch="dev", time=3.0),
        ]
    )
    sets = [
        (type(f).__name__, f.commit_id, f.commitset)
        for f in facts
        if isinstance(f, (CommitStarted, CommitFinished))
    ]
    assert sets == [
        ("CommitStarted", cid("m"), cid("m")),
        ("CommitFinished", cid("m"), cid("m")),
        ("CommitStarted", cid("j"), "origin"),
        ("CommitFinished", cid("j"), "origin"),
        ("CommitStarted", cid("s"), "origin2"),
        ("CommitFinished", cid("s"), "origin2"),
    ]


def test_an_open_commit_written_with_its_staged_keys_inline_is_read_as_their_count():
    """States written before kept the keys as a list; they were always the commit's own
    numbered keys, so the count is their number and the keys are the same."""
    repos, _ = run([create("c"), start("s")])
    raw = orjson.loads(orjson.dumps(repos["r"].to_json()))
    keys = [f"staging/{cid('s')}/{n:08d}" for n in range(3)]
    raw["open"]["master"]["staged"] = keys
    back = _core.RepoState.from_json(raw)
    assert back.open["master"].staged == 3 and back.open["master"].staged_keys() == keys
    assert back.to_json()["open"]["master"]["staged"] == 3
    del raw["open"]["master"]["staged"]  # none staged at all
    assert _core.RepoState.from_json(raw).open["master"].staged == 0


def test_the_staged_keys_are_numbered_in_order_so_a_replay_rewrites_the_same_object():
    cases = [("c1", 0, "staging/c1/00000000"), ("c1", 7, "staging/c1/00000007"),
             ("abc", 12345678, "staging/abc/12345678")]  # fmt: skip
    for commit, n, key in cases:
        assert _core.staged_key(commit, n) == key


def _garbage_after(req):
    """The staged keys ``req`` makes garbage, with master's open commit 2 batches staged and
    dev's 1."""
    repos, _ = run([C, start("s"), start("d", branch="dev"), modify("m")])
    repos["r"].open["master"].staged = 2
    repos["r"].open["dev"].staged = 1
    before = list(repos["r"].open.values())
    run([req], repos)
    return _core.staged_garbage(before, repos.get("r"))


MASTER = [f"staging/{cid('s')}/{n:08d}" for n in range(2)]
DEV = [f"staging/{cid('d')}/00000000"]
GARBAGE_CASES = [
    ("a write into the open commit", modify("m2", path="/b"), []),
    ("a refused finish (no open commit on the branch)", finish("f", branch="other"), []),
    ("a refused start (one is open)", start("s2"), []),
    ("finish master", finish("f"), MASTER),
    ("finish dev", finish("f", branch="dev"), DEV),
    ("a refused delete of a branch with an open commit", drop_branch("x", name="dev"), []),
    (
        "delete the branch with its open commit, forced",
        DeleteBranch(request_id="x", repo="r", branch="dev", time=6.0, force=True),
        DEV,
    ),
    (
        "delete the open commit",
        DeleteCommit(request_id="x", repo="r", commit_id=cid("s"), time=8.0),
        MASTER,
    ),
    ("delete the repo", drop_repo("x"), MASTER + DEV),
]


@pytest.mark.parametrize(("req", "garbage"), [c[1:] for c in GARBAGE_CASES],
                         ids=[c[0] for c in GARBAGE_CASES])  # fmt: skip
def test_the_staged_batches_of_commits_a_request_ends_are_garbage(req, garbage):
    assert sorted(_garbage_after(req)) == sorted(garbage)
