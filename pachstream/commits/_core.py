"""The commit processor's decisions: pure functions of (state, request) → (state, facts).

No clock, no I/O, no randomness: a replay of the same requests gives the same facts. The one
step that needs I/O, building a finished commit's tree, is handed to the shell as a
:class:`FinishPlan`; the shell builds the tree and calls :func:`complete_finish`.

Rules (Pachyderm's, where it has them):
- a repo must exist before anything is written to it; a put to a missing branch creates it
  (``master`` on first write);
- one open commit per branch; a second start names the open commit;
- writes with no open commit are a commit of their own (auto-commit);
- a commit's parent is the branch head when it starts; the head moves to the new commit at
  start (it is "open" until finished, as in Pachyderm);
- a request id seen before (a writer's retry) changes nothing the second time;
- history changes: only a commit without children is deleted (its branches go back to its
  parent); only a finished commit with children and no branch of its own is squashed (the
  children follow its parent; their diffs against it are rebuilt by the shell from a
  :class:`SquashPlan`, as trees are whole and only diffs depend on the parent).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pachstream.commits.events import (
    BranchDeleted,
    BranchSet,
    CommitDeleted,
    CommitFinished,
    CommitSquashed,
    CommitStarted,
    CreateBranch,
    CreateRepo,
    DeleteBranch,
    DeleteCommit,
    DeleteRepo,
    Fact,
    FinishCommit,
    HeadMove,
    ModifyFiles,
    Reparented,
    RepoCreated,
    RepoDeleted,
    Request,
    RequestDone,
    SquashCommit,
    StartCommit,
    accepted,
    refused,
)
from pachstream.errors import (
    BranchNotFound,
    CommitAlreadyOpen,
    CommitNotFound,
    Conflict,
    InvalidInput,
    InvalidPath,
    NoOpenCommit,
    OutputRepo,
    PachstreamError,
    RepoExists,
    RepoNotFound,
)
from pachstream.model import DiffEntry, FileOp, derive_id
from pachstream.names import validate_branch_name, validate_repo_name
from pachstream.paths import canonical_files, normalize_path, validate_file_path
from pachstream.recent import RecentIds
from pachstream.tree import Overlay

RECENT_REQUESTS = 1000
"""Request ids remembered per repo to drop writers' retries."""


def staged_key(commit_id: str, n: int) -> str:
    """Where the ``n``-th request batch of an open commit is staged (a replay after a crash
    rewrites the same object). Pure.
    """
    return f"staging/{commit_id}/{n:08d}"


@dataclass
class OpenCommit:
    """A commit being written."""

    commit_id: str
    parent: str | None
    started: float
    description: str
    request_id: str
    commitset: str | None = None
    """The commit set it joins; None: its own (named by its id)."""
    staged: int = 0
    """How many request batches the shell staged in the object store, at
    :meth:`staged_keys`. A count, not the keys: the keys were a list in the repo's JSON,
    rewritten at every checkpoint while the commit stayed open (54 bytes a batch: 21 KB after
    2,000 puts into one open commit, and growing with each)."""
    overlay: Overlay | None = field(default_factory=Overlay)
    """Every op so far, folded as they arrive, so finishing needs no re-read of the staged
    batches; None after a restart: the shell then folds the staged request records (every
    accepted request's record is staged or about to be) instead."""

    def staged_keys(self) -> list[str]:
        """The object keys of its staged batches, in order."""
        return [staged_key(self.commit_id, n) for n in range(self.staged)]

    def add(self, ops: tuple[FileOp, ...]) -> None:
        """Take a batch of ops."""
        if self.overlay is not None:
            self.overlay.apply(ops)


@dataclass
class CommitInfo:
    """What the processor needs to know of a commit."""

    branch: str
    parent: str | None
    root: str | None
    finished: bool


@dataclass
class RepoState:
    """Everything the processor keeps about one repo."""

    name: str
    description: str
    created: float
    owner: str | None = None
    """The pipeline whose output repo this is: only its jobs write here."""
    heads: dict[str, str | None] = field(default_factory=dict)
    """Branch → head commit id."""
    open: dict[str, OpenCommit] = field(default_factory=dict)
    """Branch → its open commit."""
    commits: dict[str, CommitInfo] = field(default_factory=dict)
    """Commit id → its info, for the commits in memory: between batches only the live ones
    (:func:`live_commits`); during a batch also those its requests name, with their children
    and parents, loaded by the shell first (:func:`commit_named`). Every commit is a row of
    its own (``commits_commits``), so memory and a restart stay bounded by the branches, not
    by the history."""
    recent: RecentIds = field(default_factory=lambda: RecentIds(RECENT_REQUESTS))
    """The last request ids answered, oldest first (:meth:`remember`)."""
    recent_seq: int = 0
    """How many request ids the repo ever remembered: the last one's sequence number."""
    recent_unsaved: int = 0
    """Ids remembered since the last checkpoint: the newest this many of ``recent`` (all of
    them if more) are not yet rows. The ids are rows of their own (``commits_recent``), so a
    checkpoint writes the few a batch answered, not the thousand remembered: as part of the
    repo's JSON they were 36 KB rewritten per batch (0.9 ms of Postgres per checkpoint)."""
    dirty_commits: set[str] = field(default_factory=set)
    """Commits changed since the last checkpoint (persisted as rows of their own)."""
    removed_commits: set[str] = field(default_factory=set)
    """Commits deleted or squashed since the last checkpoint (their rows go)."""

    def to_json(self) -> dict[str, Any]:
        """The persisted form, without commits (stored as rows) or ops (staged objects)."""
        return {
            "name": self.name,
            "description": self.description,
            "created": self.created,
            "owner": self.owner,
            "heads": self.heads,
            "open": {
                b: {
                    "commit_id": o.commit_id,
                    "parent": o.parent,
                    "started": o.started,
                    "description": o.description,
                    "request_id": o.request_id,
                    "commitset": o.commitset,
                    "staged": o.staged,
                }
                for b, o in self.open.items()
            },
            "recent_seq": self.recent_seq,
        }

    def remember(self, request_id: str) -> None:
        """Keep ``request_id`` among the recent ones (the oldest goes past the bound)."""
        self.recent.append(request_id)
        self.recent_seq += 1
        self.recent_unsaved += 1

    def unsaved_recent(self) -> list[tuple[int, str]]:
        """(sequence number, request id) of the ids remembered since the last checkpoint
        that are still remembered, oldest first.
        """
        count = min(self.recent_unsaved, len(self.recent))
        first = self.recent_seq - count + 1
        tail = list(itertools.islice(self.recent, len(self.recent) - count, None))
        return list(enumerate(tail, start=first))

    @classmethod
    def from_json(cls, raw: dict[str, Any], recent: list[str] | None = None) -> RepoState:
        """Rebuild from :meth:`to_json` and the recent request ids' rows (oldest first), with
        no commit in memory: the shell brings back the ones it needs (:func:`take_commits`).
        A state written before the ids were rows holds them as a list: they are taken from
        it, and count as unsaved so the next checkpoint makes them rows.
        """
        state = cls(
            name=raw["name"],
            description=raw["description"],
            created=raw["created"],
            owner=raw.get("owner"),
        )
        state.heads = dict(raw["heads"])
        state.open = {
            b: OpenCommit(**{"commitset": None, **o, "staged": _staged_count(o)}, overlay=None)
            for b, o in raw["open"].items()
        }
        if "recent" in raw:
            state.recent.extend(raw["recent"])
            state.recent_seq = state.recent_unsaved = len(state.recent)
        else:
            state.recent.extend(recent or ())
            state.recent_seq = raw["recent_seq"]
        return state


def _staged_count(raw: dict[str, Any]) -> int:
    """An open commit's staged batches: a count, or in a state written before, the list of
    their keys, which were always :func:`staged_key` ``(commit, 0 ...)`` in order.
    """
    staged = raw.get("staged", 0)
    return len(staged) if isinstance(staged, list) else int(staged)


@dataclass(frozen=True)
class FinishPlan:
    """A commit whose tree the shell must build before its facts can be emitted."""

    repo: str
    branch: str
    commit: OpenCommit
    parent_root: str | None
    request_id: str
    time: float
    description: str


@dataclass(frozen=True)
class SquashPlan:
    """A squash whose children's new diffs the shell must compute before its facts."""

    repo: str
    commit_id: str
    parent: str | None
    parent_root: str | None
    children: tuple[tuple[str, str | None], ...]
    """(child id, its tree root), by id."""
    request_id: str
    time: float


@dataclass
class Step:
    """The outcome of one request."""

    facts: list[Any] = field(default_factory=list)
    finish: FinishPlan | None = None
    """When set, the request's RequestDone comes from :func:`complete_finish`."""
    squash: SquashPlan | None = None
    """When set, the request's facts come from :func:`complete_squash`."""


def _done(req: Request | FinishPlan | SquashPlan, commit_id: str | None = None) -> RequestDone:
    """The success answer to a request, or to the request behind a plan the shell completed."""
    return accepted(req, commit_id)


def handle(repos: dict[str, RepoState], req: Request) -> Step:
    """Apply one request to the states (mutated in place); never raises for bad requests."""
    state = repos.get(req.repo)
    if state is not None and req.request_id in state.recent:
        return Step()  # a writer's retry of a request already answered
    try:
        step = _dispatch(repos, state, req)
    except PachstreamError as err:
        step = Step(facts=[refused(req, err)])
    after = repos.get(req.repo)
    if after is not None:
        after.remember(req.request_id)
    return step


def _need_repo(state: RepoState | None, req: Request) -> RepoState:
    if state is None:
        raise RepoNotFound(
            f"repo '{req.repo}' does not exist; create it with 'pachstream create repo {req.repo}'",
            repo=req.repo,
        )
    return state


def _need_branch(repo: RepoState, branch: str) -> None:
    if branch not in repo.heads:
        raise BranchNotFound(
            f"branch '{branch}' does not exist in repo '{repo.name}'; create it with "
            f"'pachstream create branch {repo.name}@{branch}'",
            repo=repo.name,
            branch=branch,
        )


def _guard_output(state: RepoState | None, req: Request) -> None:
    """Refuse a write to a pipeline's output repo from anyone but that pipeline."""
    if state is None or state.owner is None or isinstance(req, CreateRepo):
        return
    if getattr(req, "pipeline", None) == state.owner:
        return
    if isinstance(req, DeleteRepo):
        fix = (
            f"delete the pipeline instead ('pachstream delete pipeline {state.owner}'): "
            "its output repo goes with it"
        )
    else:
        fix = (
            f"only its jobs write there; write to an input repo of '{state.owner}' "
            f"(see 'pachstream inspect pipeline {state.owner}') and let the pipeline run"
        )
    raise OutputRepo(
        f"repo '{state.name}' is the output of pipeline '{state.owner}'; {fix}",
        repo=state.name,
        pipeline=state.owner,
    )


def _dispatch(repos: dict[str, RepoState], state: RepoState | None, req: Request) -> Step:
    validate_repo_name(req.repo)
    _guard_output(state, req)
    match req:
        case CreateRepo():
            return _create_repo(repos, state, req)
        case DeleteRepo():
            _need_repo(state, req)
            del repos[req.repo]
            ev = RepoDeleted(
                event_id=derive_id(req.request_id, RepoDeleted.TYPE),
                request_id=req.request_id,
                repo=req.repo,
                time=req.time,
            )
            return Step(facts=[ev, _done(req)])
        case CreateBranch():
            return _create_branch(_need_repo(state, req), req)
        case DeleteBranch():
            repo = _need_repo(state, req)
            validate_branch_name(req.branch)
            _need_branch(repo, req.branch)
            dropped = _drop_open(repo, req)
            del repo.heads[req.branch]
            deleted = BranchDeleted(
                event_id=derive_id(req.request_id, BranchDeleted.TYPE),
                request_id=req.request_id,
                repo=req.repo,
                branch=req.branch,
                time=req.time,
            )
            return Step(facts=[*dropped, deleted, _done(req)])
        case StartCommit():
            repo = _need_repo(state, req)
            validate_branch_name(req.branch)
            if req.require_branch:
                _need_branch(repo, req.branch)
            facts, commit = _open(
                repo, req.branch, req.request_id, req.time, req.description, req.commitset
            )
            return Step(facts=[*facts, _done(req, commit.commit_id)])
        case FinishCommit():
            repo = _need_repo(state, req)
            validate_branch_name(req.branch)
            open_commit = repo.open.get(req.branch)
            if open_commit is None:
                raise NoOpenCommit(
                    f"branch '{req.branch}' of repo '{req.repo}' has no open commit to finish; "
                    f"start one with 'pachstream start commit {req.repo}@{req.branch}'",
                    repo=req.repo,
                    branch=req.branch,
                )
            desc = req.description if req.description is not None else open_commit.description
            plan = _plan(repo, req.branch, open_commit, req.request_id, req.time, desc)
            return Step(finish=plan)
        case ModifyFiles():
            return _modify(_need_repo(state, req), req)
        case DeleteCommit():
            return _delete_commit(_need_repo(state, req), req)
        case SquashCommit():
            return Step(squash=_squash_plan(_need_repo(state, req), req))
    raise InvalidInput(f"request type {type(req).__name__} is not handled")  # pragma: no cover


def _create_repo(repos: dict[str, RepoState], state: RepoState | None, req: CreateRepo) -> Step:
    if state is not None and not req.update:
        raise RepoExists(
            f"repo '{req.repo}' already exists; choose another name or pass --update",
            repo=req.repo,
        )
    if state is None:
        state = repos[req.repo] = RepoState(
            name=req.repo, description=req.description, created=req.time, owner=req.pipeline
        )
    else:
        state.description = req.description
    ev = RepoCreated(
        event_id=derive_id(req.request_id, RepoCreated.TYPE),
        request_id=req.request_id,
        repo=req.repo,
        time=state.created,
        description=state.description,
        pipeline=state.owner,
    )
    return Step(facts=[ev, _done(req)])


def _create_branch(repo: RepoState, req: CreateBranch) -> Step:
    validate_branch_name(req.branch)
    if req.head is not None:
        info = repo.commits.get(req.head)
        if info is None:
            raise CommitNotFound(
                f"commit '{req.head}' does not exist in repo '{req.repo}'",
                repo=req.repo,
                commit_id=req.head,
            )
        if not info.finished:
            raise Conflict(
                f"commit '{req.head}' of repo '{req.repo}' is still open; finish it first",
                repo=req.repo,
                commit_id=req.head,
            )
    if req.branch in repo.open:
        raise CommitAlreadyOpen(
            f"branch '{req.branch}' of repo '{req.repo}' has open commit "
            f"{repo.open[req.branch].commit_id}; finish it before moving the branch",
            repo=req.repo,
            branch=req.branch,
            commit_id=repo.open[req.branch].commit_id,
        )
    repo.heads[req.branch] = req.head
    ev = BranchSet(
        event_id=derive_id(req.request_id, BranchSet.TYPE),
        request_id=req.request_id,
        repo=req.repo,
        branch=req.branch,
        head=req.head,
        time=req.time,
    )
    return Step(facts=[ev, _done(req, req.head)])


def _open(
    repo: RepoState,
    branch: str,
    request_id: str,
    time: float,
    description: str,
    commitset: str | None = None,
) -> tuple[list[Any], OpenCommit]:
    """Open a commit on ``branch`` (creating the branch if needed)."""
    if branch in repo.open:
        open_id = repo.open[branch].commit_id
        raise CommitAlreadyOpen(
            f"branch '{branch}' of repo '{repo.name}' already has open commit {open_id}; "
            f"finish it with 'pachstream finish commit {repo.name}@{branch}'",
            repo=repo.name,
            branch=branch,
            commit_id=open_id,
        )
    facts: list[Any] = []
    parent = repo.heads.get(branch)
    commit = OpenCommit(
        commit_id=derive_id(repo.name, request_id),
        parent=parent,
        started=time,
        description=description,
        request_id=request_id,
        commitset=commitset,
    )
    repo.open[branch] = commit
    repo.heads[branch] = commit.commit_id
    repo.commits[commit.commit_id] = CommitInfo(
        branch=branch, parent=parent, root=None, finished=False
    )
    repo.dirty_commits.add(commit.commit_id)
    facts.append(
        CommitStarted(
            event_id=derive_id(request_id, CommitStarted.TYPE),
            request_id=request_id,
            repo=repo.name,
            branch=branch,
            commit_id=commit.commit_id,
            parent=parent,
            time=time,
            description=description,
            commitset=commit.commitset or commit.commit_id,
        )
    )
    return facts, commit


def _plan(
    repo: RepoState, branch: str, commit: OpenCommit, request_id: str, time: float, desc: str
) -> FinishPlan:
    parent_root = _root_of(repo, commit.parent)
    return FinishPlan(repo.name, branch, commit, parent_root, request_id, time, desc)


def _modify(repo: RepoState, req: ModifyFiles) -> Step:
    validate_branch_name(req.branch)
    if canonical_files([op.path for op in req.ops]):
        for op in req.ops:
            if op.file is None and op.op != "delete":
                raise InvalidInput(f"{op.op} of '{op.path}' carries no content", path=op.path)
    else:
        _check_ops(req)
    if req.require_branch:
        _need_branch(repo, req.branch)
    commit = repo.open.get(req.branch)
    if commit is not None:
        commit.add(req.ops)
        return Step(facts=[_done(req, commit.commit_id)])
    facts, commit = _open(
        repo, req.branch, req.request_id, req.time, req.description, req.commitset
    )
    commit.add(req.ops)
    plan = _plan(repo, req.branch, commit, req.request_id, req.time, req.description)
    return Step(facts=facts, finish=plan)


def _check_ops(req: ModifyFiles) -> None:
    """Each op's path and content, one by one (the batch holds a path the fast check did not
    accept: it is refused here with the reason, or is the root or a long path).
    """
    for op in req.ops:
        # Refused, not rewritten: staged request records are re-folded verbatim after a
        # restart, so the path in the log must already be the one the tree records.
        canonical = normalize_path(op.path) if op.op == "delete" else validate_file_path(op.path)
        if canonical != op.path:
            raise InvalidPath(
                f"path {op.path!r} is not canonical; write it as {canonical!r}", path=op.path
            )
        if op.op != "delete" and op.file is None:
            raise InvalidInput(f"{op.op} of '{op.path}' carries no content", path=op.path)


def complete_finish(
    repos: dict[str, RepoState],
    plan: FinishPlan,
    root: str | None,
    file_count: int,
    size_bytes: int,
    changes: list[str],
    inline: list[DiffEntry] | None,
    diff_ref: str,
) -> list[Any]:
    """Record a built tree: the commit is finished, the facts are emitted. Pure.

    ``changes`` are the diff's change kinds (for the counts); ``inline`` the diff entries when
    the diff is small enough to travel in the event.
    """
    repo = repos[plan.repo]
    repo.open.pop(plan.branch, None)
    cid = plan.commit.commit_id
    repo.commits[cid] = CommitInfo(
        branch=plan.branch, parent=plan.commit.parent, root=root, finished=True
    )
    repo.dirty_commits.add(cid)
    counts = {"added": 0, "modified": 0, "deleted": 0}
    for change in changes:
        counts[change] += 1
    finished = CommitFinished(
        event_id=derive_id(plan.request_id, CommitFinished.TYPE),
        request_id=plan.request_id,
        repo=plan.repo,
        branch=plan.branch,
        commit_id=cid,
        parent=plan.commit.parent,
        started=plan.commit.started,
        finished=plan.time,
        description=plan.description,
        root=root or "",
        file_count=file_count,
        size_bytes=size_bytes,
        diff_ref=diff_ref,
        diff=tuple(inline) if inline is not None else None,
        commitset=plan.commit.commitset or cid,
        **counts,
    )
    return [finished, _done(plan, cid)]


# ----------------------------------------------------------------------------- history


def _need_commit(repo: RepoState, commit_id: str) -> CommitInfo:
    info = repo.commits.get(commit_id)
    if info is None:
        raise CommitNotFound(
            f"commit '{commit_id}' does not exist in repo '{repo.name}'; see "
            f"'pachstream list commit {repo.name}'",
            repo=repo.name,
            commit_id=commit_id,
        )
    return info


def _root_of(repo: RepoState, commit_id: str | None) -> str | None:
    """The tree root of a commit the request reached through a parent link (None: no commit).

    The parent is in memory: an open commit's parent is live, and the shell loaded the parents
    of the commits a request names. A miss is refused, never read as an empty tree (which would
    build or move a branch onto a tree without the parent's files).
    """
    if commit_id is None:
        return None
    info = repo.commits.get(commit_id)
    if info is None:
        raise PachstreamError(
            f"commit '{commit_id}' of repo '{repo.name}' is not in the commit processor's "
            "memory (a bug: it loads every commit a request reaches); the request is refused",
            repo=repo.name,
            commit_id=commit_id,
        )
    return info.root


def children_of(repo: RepoState, commit_id: str) -> list[str]:
    """The commits whose parent is ``commit_id``, by id (those in memory: the shell loaded the
    children of every commit the batch names). Pure.
    """
    return sorted(cid for cid, c in repo.commits.items() if c.parent == commit_id)


def staged_garbage(before: Iterable[OpenCommit], after: RepoState | None) -> list[str]:
    """The staged batches of the commits open ``before`` a request that are not open in the
    repo ``after`` it is complete (a finish's plan completed; None: the repo was deleted):
    finished, or dropped with their branch, commit or repo. Their records are read again only
    by a replay of the finish, so they are garbage once the batch that ended them is
    checkpointed. Pure.
    """
    still = {c.commit_id for c in after.open.values()} if after is not None else set()
    return [key for c in before if c.commit_id not in still for key in c.staged_keys()]


def live_commits(repo: RepoState) -> set[str]:
    """The commits a repo keeps in memory between batches: its branch heads, its open commits
    and their parents (a finish builds on the parent's tree). A request reaches any other
    commit only by naming it (:func:`commit_named`). Pure.
    """
    live = {head for head in repo.heads.values() if head is not None}
    for commit in repo.open.values():
        live.add(commit.commit_id)
        if commit.parent is not None:
            live.add(commit.parent)
    return live


def evict_commits(repo: RepoState) -> int:
    """Drop from memory the commits that are neither live nor waiting for their checkpoint
    (their rows hold them); how many went. Pure.
    """
    keep = live_commits(repo) | repo.dirty_commits
    gone = [cid for cid in repo.commits if cid not in keep]
    for cid in gone:
        del repo.commits[cid]
    return len(gone)


def commit_named(req: Any) -> str | None:
    """The commit a request names by id, which may be out of memory: a branch's new head, a
    commit to delete or squash. The shell loads it, its parent and its children (their rows)
    before the batch is handled. Pure.
    """
    if isinstance(req, CreateBranch):
        return req.head
    if isinstance(req, (DeleteCommit, SquashCommit)):
        return req.commit_id
    return None


def take_commits(repo: RepoState, loaded: dict[str, CommitInfo]) -> None:
    """Put commits the shell loaded from their rows in memory. The rows are as the last
    checkpoint left them, so memory wins: a commit there is newer (changed in this batch, or
    live) and stays; one removed in this batch stays gone. Pure.
    """
    for cid, info in loaded.items():
        if cid not in repo.removed_commits:
            repo.commits.setdefault(cid, info)


def _forget(repo: RepoState, commit_id: str) -> None:
    del repo.commits[commit_id]
    repo.dirty_commits.discard(commit_id)
    repo.removed_commits.add(commit_id)


def _drop_open(repo: RepoState, req: DeleteBranch) -> list[Fact]:
    """The open commit of a branch being deleted: refused, or dropped with ``force``.

    Without this, the commit stayed open with no branch to finish it through, forever.
    """
    open_commit = repo.open.get(req.branch)
    if open_commit is None:
        return []
    commit_id = open_commit.commit_id
    if not req.force:
        raise Conflict(
            f"branch '{req.branch}' of repo '{req.repo}' has open commit {commit_id}; finish it "
            f"('pachstream finish commit {req.repo}@{req.branch}') and delete the branch then, "
            f"or drop the commit's writes with the branch ('pachstream delete branch "
            f"{req.repo}@{req.branch} --force')",
            repo=req.repo,
            branch=req.branch,
            commit_id=commit_id,
        )
    info = repo.commits[commit_id]
    repo.open.pop(req.branch)
    _forget(repo, commit_id)
    # No head moves: the branch goes in the same step, so nothing downstream reruns.
    return [
        CommitDeleted(
            event_id=derive_id(req.request_id, CommitDeleted.TYPE),
            request_id=req.request_id,
            repo=req.repo,
            commit_id=commit_id,
            parent=info.parent,
            was_open=True,
            moved=(),
            commitset=derive_id("commitset", req.request_id),
            time=req.time,
        )
    ]


def _delete_commit(repo: RepoState, req: DeleteCommit) -> Step:
    info = _need_commit(repo, req.commit_id)
    children = children_of(repo, req.commit_id)
    if children:
        raise Conflict(
            f"commit '{req.commit_id}' of repo '{req.repo}' has child commit(s) "
            f"{', '.join(children)}; only a commit without children is deleted. Squash it to "
            f"keep the children's data: 'pachstream squash commit {req.repo}@{req.commit_id}'",
            repo=req.repo,
            commit_id=req.commit_id,
        )
    parent_root = _root_of(repo, info.parent)  # before any change: it may refuse
    was_open = not info.finished
    if was_open:
        repo.open.pop(info.branch, None)
    moved = []
    for branch in sorted(b for b, head in repo.heads.items() if head == req.commit_id):
        repo.heads[branch] = info.parent
        moved.append(HeadMove(branch=branch, head=info.parent, root=parent_root))
    _forget(repo, req.commit_id)
    ev = CommitDeleted(
        event_id=derive_id(req.request_id, CommitDeleted.TYPE),
        request_id=req.request_id,
        repo=req.repo,
        commit_id=req.commit_id,
        parent=info.parent,
        was_open=was_open,
        moved=tuple(moved),
        commitset=derive_id("commitset", req.request_id),
        time=req.time,
    )
    return Step(facts=[ev, _done(req, info.parent)])


def _squash_plan(repo: RepoState, req: SquashCommit) -> SquashPlan:
    info = _need_commit(repo, req.commit_id)
    where = f"commit '{req.commit_id}' of repo '{req.repo}'"
    if not info.finished:
        raise Conflict(
            f"{where} is still open; finish it "
            f"('pachstream finish commit {req.repo}@{info.branch}') "
            f"or drop it ('pachstream delete commit {req.repo}@{req.commit_id}')",
            repo=req.repo,
            commit_id=req.commit_id,
        )
    children = children_of(repo, req.commit_id)
    if not children:
        raise Conflict(
            f"{where} has no children to keep its data, so squashing it would lose it; delete "
            f"it instead: 'pachstream delete commit {req.repo}@{req.commit_id}'",
            repo=req.repo,
            commit_id=req.commit_id,
        )
    branches = sorted(b for b, head in repo.heads.items() if head == req.commit_id)
    if branches:
        raise Conflict(
            f"{where} is the head of branch(es) {', '.join(branches)}; move them first "
            f"('pachstream create branch {req.repo}@{branches[0]} --head COMMIT')",
            repo=req.repo,
            commit_id=req.commit_id,
        )
    unfinished = [c for c in children if not repo.commits[c].finished]
    if unfinished:
        raise Conflict(
            f"{where} has open child commit {unfinished[0]}; finish it first",
            repo=req.repo,
            commit_id=req.commit_id,
        )
    parent_root = _root_of(repo, info.parent)
    return SquashPlan(
        repo=req.repo,
        commit_id=req.commit_id,
        parent=info.parent,
        parent_root=parent_root,
        children=tuple((c, repo.commits[c].root) for c in children),
        request_id=req.request_id,
        time=req.time,
    )


def complete_squash(
    repos: dict[str, RepoState], plan: SquashPlan, children: tuple[Reparented, ...]
) -> list[Any]:
    """Record a squash whose children's new diffs are built: re-parent them, drop the commit,
    and emit the facts. Pure.
    """
    repo = repos[plan.repo]
    for child in children:
        repo.commits[child.commit_id].parent = plan.parent
        repo.dirty_commits.add(child.commit_id)
    _forget(repo, plan.commit_id)
    squashed = CommitSquashed(
        event_id=derive_id(plan.request_id, CommitSquashed.TYPE),
        request_id=plan.request_id,
        repo=plan.repo,
        commit_id=plan.commit_id,
        parent=plan.parent,
        children=children,
        time=plan.time,
    )
    return [squashed, _done(plan, plan.commit_id)]
