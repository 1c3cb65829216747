"""Events of the commits topic pair: requests in, facts out.

Two topics, both keyed by repo name so that everything of one repo (and so of each of its
branches) is totally ordered:

- ``<ns>.requests``: what writers ask for (SDK, CLI, ingest, S3 gateway). A request is an
  intent; the commit processor may refuse it.
- ``<ns>.events``: what the commit processor decided. Every request gets exactly one
  :class:`RequestDone`; state changes are the other facts.

Ids are content-derived (STYLE.md §4): a request id is chosen by its writer (a uuid, or a hash
of the writer's own idempotency key); a commit id and an event id are hashes of the request id,
so replaying the log gives the same ids. Times are the writer's clock carried in the request,
never the processor's, so a replay gives the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from pachstream.codec import register
from pachstream.errors import PachstreamError
from pachstream.model import DiffEntry, FileOp, derive_id

# ----------------------------------------------------------------------------- requests


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateRepo:
    """Ask for a new repo."""

    TYPE: ClassVar[str] = "repo.create"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key."""
    repo: str
    """Repo name."""
    time: float
    """Writer's clock, epoch seconds."""
    description: str = ""
    """Free text shown by ``inspect repo``."""
    update: bool = False
    """When true and the repo exists, only its description changes."""
    pipeline: str | None = None
    """The pipeline whose output repo this is: then only that pipeline's jobs write it."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteRepo:
    """Ask to delete a repo with its branches and commits."""

    TYPE: ClassVar[str] = "repo.delete"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key."""
    repo: str
    """Repo name."""
    time: float
    """Writer's clock, epoch seconds."""
    pipeline: str | None = None
    """The pipeline asking (the dispatcher deleting a pipeline's output repo)."""
    force: bool = False
    """Delete even when pipelines read the repo (they are stopped, and said so)."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateBranch:
    """Ask for a branch, or move an existing one, to a finished commit (or to nothing)."""

    TYPE: ClassVar[str] = "branch.create"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key."""
    repo: str
    """Repo name."""
    branch: str
    """Branch name."""
    time: float
    """Writer's clock, epoch seconds."""
    head: str | None = None
    """Commit id the branch points at; None for an empty branch."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteBranch:
    """Ask to delete a branch (its commits stay reachable by id)."""

    TYPE: ClassVar[str] = "branch.delete"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key."""
    repo: str
    """Repo name."""
    branch: str
    """Branch name."""
    time: float
    """Writer's clock, epoch seconds."""
    force: bool = False
    """Drop the branch's open commit, with its writes, instead of refusing."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class StartCommit:
    """Ask to open a commit on a branch (created if absent)."""

    TYPE: ClassVar[str] = "commit.start"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key; the commit id derives from it."""
    repo: str
    """Repo name."""
    branch: str
    """Branch name."""
    time: float
    """Writer's clock, epoch seconds."""
    description: str = ""
    """Commit message."""
    commitset: str | None = None
    """The commit set the commit belongs to: a pipeline's output commit carries its job's
    set; None (every writer but the dispatcher) starts a set of its own, named by the
    commit's id."""
    pipeline: str | None = None
    """The pipeline writing (the dispatcher, for a job's output): the only writer an output
    repo accepts. None for every other writer."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class FinishCommit:
    """Ask to finish the branch's open commit."""

    TYPE: ClassVar[str] = "commit.finish"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key."""
    repo: str
    """Repo name."""
    branch: str
    """Branch name."""
    time: float
    """Writer's clock, epoch seconds."""
    description: str | None = None
    """Replaces the commit message when given."""
    pipeline: str | None = None
    """The pipeline asking (the dispatcher, for an output repo); None for every other writer."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ModifyFiles:
    """Write or delete files: into the branch's open commit, or as a commit of its own.

    A batch of file operations travels as one record so that a writer of many small files pays
    one broker round trip per batch, not per file. The content itself is already stored
    (packs or blobs) when the request is produced.
    """

    TYPE: ClassVar[str] = "file.modify"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key; an auto-commit's id derives from it."""
    repo: str
    """Repo name."""
    branch: str
    """Branch name."""
    time: float
    """Writer's clock, epoch seconds."""
    ops: tuple[FileOp, ...]
    """Applied in order."""
    description: str = ""
    """Message of the auto-commit, when the branch has no open commit."""
    commitset: str | None = None
    """The commit set the commit belongs to: a pipeline's output commit carries its job's
    set; None (every writer but the dispatcher) starts a set of its own, named by the
    commit's id."""
    pipeline: str | None = None
    """The pipeline writing (the dispatcher, for a job's output): the only writer an output
    repo accepts. None for every other writer."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteCommit:
    """Ask to delete a commit that has no children: its branches go back to its parent.

    Pachyderm's ``delete commit``. An open commit is dropped with its writes; a finished one
    takes its changes with it. A commit with children is refused (``squash`` keeps their data).
    """

    TYPE: ClassVar[str] = "commit.delete"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key."""
    repo: str
    """Repo name."""
    commit_id: str
    """The commit."""
    time: float
    """Writer's clock, epoch seconds."""
    pipeline: str | None = None
    """The pipeline asking; None for every other writer (output repos refuse them)."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SquashCommit:
    """Ask to take a finished commit out of history: its children now follow its parent.

    Pachyderm's ``squash commit``. No file content changes: each child's tree is already whole;
    only the children's parent and diffs (against the new parent) change.
    """

    TYPE: ClassVar[str] = "commit.squash"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key."""
    repo: str
    """Repo name."""
    commit_id: str
    """The commit."""
    time: float
    """Writer's clock, epoch seconds."""
    pipeline: str | None = None
    """The pipeline asking; None for every other writer (output repos refuse them)."""


Request: TypeAlias = (
    CreateRepo
    | DeleteRepo
    | CreateBranch
    | DeleteBranch
    | StartCommit
    | FinishCommit
    | ModifyFiles
    | DeleteCommit
    | SquashCommit
)

# ----------------------------------------------------------------------------- facts


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class RepoCreated:
    """A repo exists (or its description changed)."""

    TYPE: ClassVar[str] = "repo.created"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the request id."""
    request_id: str
    """The request this answers."""
    repo: str
    """Repo name."""
    time: float
    """When the repo was created (the first request's clock)."""
    description: str = ""
    """Free text."""
    pipeline: str | None = None
    """The pipeline whose output repo this is (None: a repo users write)."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class RepoDeleted:
    """A repo and everything in it is gone."""

    TYPE: ClassVar[str] = "repo.deleted"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the request id."""
    request_id: str
    """The request this answers."""
    repo: str
    """Repo name."""
    time: float
    """Writer's clock."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class BranchSet:
    """A branch exists and points at ``head`` (None: no commit yet)."""

    TYPE: ClassVar[str] = "branch.set"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the request id."""
    request_id: str
    """The request this answers."""
    repo: str
    """Repo name."""
    branch: str
    """Branch name."""
    head: str | None
    """Commit id."""
    time: float
    """Writer's clock."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class BranchDeleted:
    """A branch is gone."""

    TYPE: ClassVar[str] = "branch.deleted"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the request id."""
    request_id: str
    """The request this answers."""
    repo: str
    """Repo name."""
    branch: str
    """Branch name."""
    time: float
    """Writer's clock."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CommitStarted:
    """A commit is open on a branch; the branch head is now this commit."""

    TYPE: ClassVar[str] = "commit.started"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the request id."""
    request_id: str
    """The request that opened it."""
    repo: str
    """Repo name."""
    branch: str
    """Branch name."""
    commit_id: str
    """32 hex, derived from the repo and request id."""
    parent: str | None
    """Previous head of the branch."""
    time: float
    """Writer's clock."""
    description: str = ""
    """Commit message."""
    commitset: str | None = None
    """Its commit set: the origin commit's id, shared by every commit it caused downstream
    (None in events written before commit sets: the commit's own id)."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CommitFinished:
    """A commit is finished: its tree is written and immutable."""

    TYPE: ClassVar[str] = "commit.finished"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the request id."""
    request_id: str
    """The request that finished it."""
    repo: str
    """Repo name."""
    branch: str
    """Branch name."""
    commit_id: str
    """The commit."""
    parent: str | None
    """Parent commit id."""
    started: float
    """Writer's clock at start."""
    finished: float
    """Writer's clock at finish."""
    description: str
    """Commit message."""
    root: str
    """Object key of the tree's manifest root."""
    file_count: int
    """Files in the tree."""
    size_bytes: int
    """Sum of file sizes in the tree."""
    added: int
    """Paths added against the parent."""
    modified: int
    """Paths whose content changed."""
    deleted: int
    """Paths removed."""
    diff_ref: str
    """Object key of the full diff (a JSON list of DiffEntry)."""
    diff: tuple[DiffEntry, ...] | None = None
    """The diff inline when it is small (see ``INLINE_DIFF_LIMIT``); else read ``diff_ref``."""
    commitset: str | None = None
    """Its commit set: the origin commit's id, shared by every commit it caused downstream
    (None in events written before commit sets: the commit's own id)."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class RequestDone:
    """The one answer to a request: applied (with the commit it touched) or refused."""

    TYPE: ClassVar[str] = "request.done"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the request id."""
    request_id: str
    """The request this answers."""
    repo: str
    """Repo name."""
    ok: bool
    """Whether it was applied."""
    commit_id: str | None = None
    """The commit the request wrote to or finished, if any."""
    error_code: str | None = None
    """Class name in :mod:`pachstream.errors` when refused."""
    error_message: str | None = None
    """One line naming the object, the bad value and the fix."""
    error_fields: dict[str, Any] | None = None
    """The error's fields."""


def accepted(req: Any, commit_id: str | None = None, repo: str | None = None) -> RequestDone:
    """The answer to a request that is applied (``repo``: the key, when not ``req.repo``)."""
    return RequestDone(
        event_id=derive_id(req.request_id, RequestDone.TYPE),
        request_id=req.request_id,
        repo=repo if repo is not None else req.repo,
        ok=True,
        commit_id=commit_id,
    )


def refused(req: Any, err: PachstreamError, repo: str | None = None) -> RequestDone:
    """The answer to a request that is not applied (``repo``: the key, when not ``req.repo``)."""
    fields = {
        k: v for k, v in err.fields.items() if isinstance(v, (str, int, float, bool, type(None)))
    }
    return RequestDone(
        event_id=derive_id(req.request_id, RequestDone.TYPE),
        request_id=req.request_id,
        repo=repo if repo is not None else req.repo,
        ok=False,
        error_code=err.code,
        error_message=err.message,
        error_fields=fields,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadMove:
    """A branch whose head a history change moved."""

    branch: str
    """Branch name."""
    head: str | None
    """Its head now (None: no commit)."""
    root: str | None
    """That head's tree root (None: empty)."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CommitDeleted:
    """A commit is gone; the branches that pointed at it now point at its parent."""

    TYPE: ClassVar[str] = "commit.deleted"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the request id."""
    request_id: str
    """The request this answers."""
    repo: str
    """Repo name."""
    commit_id: str
    """The deleted commit."""
    parent: str | None
    """Its parent."""
    was_open: bool
    """True when it was still open (no pipeline ever saw it)."""
    moved: tuple[HeadMove, ...]
    """Branches moved back to the parent."""
    commitset: str
    """The commit set this change starts downstream (pipelines run on the moved heads)."""
    time: float
    """Writer's clock."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reparented:
    """A child of a squashed commit: its new parent and its diff against it."""

    commit_id: str
    """The child."""
    parent: str | None
    """Its new parent (the squashed commit's parent)."""
    added: int
    """Paths added against the new parent."""
    modified: int
    """Paths changed."""
    deleted: int
    """Paths removed."""
    diff_ref: str
    """Object key of the full new diff."""
    diff: tuple[DiffEntry, ...] | None = None
    """The new diff inline when small; else read ``diff_ref``."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CommitSquashed:
    """A commit is out of history; its children follow its parent, with new diffs."""

    TYPE: ClassVar[str] = "commit.squashed"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the request id."""
    request_id: str
    """The request this answers."""
    repo: str
    """Repo name."""
    commit_id: str
    """The squashed commit."""
    parent: str | None
    """Its parent, now its children's."""
    children: tuple[Reparented, ...]
    """Its children, re-parented."""
    time: float
    """Writer's clock."""


Fact: TypeAlias = (
    RepoCreated
    | RepoDeleted
    | BranchSet
    | BranchDeleted
    | CommitStarted
    | CommitFinished
    | RequestDone
    | CommitDeleted
    | CommitSquashed
)

INLINE_DIFF_LIMIT = 1000
"""A commit whose diff has more entries carries only ``diff_ref``: events stay small."""
