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

from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeAlias

from pachstream.codec import (
    WireError,
    build_plain,
    from_plain,
    register,
    register_upcaster,
    register_wire,
)
from pachstream.errors import PachstreamError
from pachstream.model import (
    Chunk,
    DiffEntry,
    FileEntry,
    FileOp,
    derive_id,
    file_op,
    whole_chunk_entry,
)

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
    """Ask to open a commit on a branch (created if absent, unless ``require_branch``)."""

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
    require_branch: bool = False
    """Refuse (``BranchNotFound``) rather than create a branch that does not exist: the S3
    gateway's writes to a bucket, which a deleted branch must not come back as."""


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

    Version 2 of the record carries the ops as arrays, each pack key once (see
    :func:`modify_to_wire`): ~95 bytes per small file instead of ~320, and decoded ~7 times
    faster. Version 1 records still decode (:func:`_modify_v1_to_v2`).
    """

    TYPE: ClassVar[str] = "file.modify"
    SCHEMA_VERSION: ClassVar[int] = 2
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
    require_branch: bool = False
    """Refuse (``BranchNotFound``) rather than create a branch that does not exist (see
    :attr:`StartCommit.require_branch`)."""


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
    """Object key of the full diff (a JSON list of DiffEntry) when it is not inline; "" when
    it is (facts written before 2026-12-01 name an object in both cases)."""
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
    """Object key of the full new diff when it is not inline; "" when it is."""
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


# ----------------------------------------------------------------------------- file.modify v2
#
# Version 1 spelled every op as nested objects ({"op", "path", "file": {"hash", "size",
# "chunks": [{"hash", "size", "pack", "offset"}]}}), repeating the chunk's hash and its 71-byte
# pack key in each of a record's up to 2,000 ops, and decoding it built the three dataclasses
# of each op through the generic codec: ~65 % of the commit processor's time per file
# (profile in briefs/profiles/ingest.md). Version 2's record:
#
#   {"type": "file.modify", "schema_version": 2, ...the other fields as in version 1,
#    "packs": [pack key, ...], "ops": [row, ...]}
#
# with one row per op:
#   ["delete", path]
#   [op, path, hash, size, pack, offset]  one chunk that is the whole file (chunk hash = hash,
#                                         chunk size = size); pack: index into "packs", or
#                                         null for a blob
#   [op, path, hash, size, [[chunk hash, chunk size, pack, offset], ...]]  any other content
#
# where op is "put" or "append".

_WRITE_OPS = frozenset(("put", "append"))


def modify_to_wire(req: ModifyFiles) -> dict[str, Any]:
    """The fields of a version-2 ``file.modify`` record."""
    packs, rows = _rows(req.ops)
    head = {
        "request_id": req.request_id,
        "repo": req.repo,
        "branch": req.branch,
        "time": req.time,
        "description": req.description,
        "commitset": req.commitset,
        "pipeline": req.pipeline,
    }
    if req.require_branch:  # only when set: every other writer's record stays as it was
        head["require_branch"] = True
    return {**head, "packs": packs, "ops": rows}


def _rows(ops: tuple[FileOp, ...]) -> tuple[list[str], list[list[Any]]]:
    """Ops as version 2's rows, and the pack keys the rows index."""
    packs: dict[str, int] = {}
    rows: list[list[Any]] = []
    for op in ops:
        entry = op.file
        if op.op == "delete":
            rows.append(["delete", op.path])  # a delete's content (none is sent) is ignored
            continue
        if entry is None:
            # Refused by the processor with its own clear error: keep it visible as such.
            rows.append([op.op, op.path, None])
            continue
        chunks = entry.chunks
        if len(chunks) == 1:
            c = chunks[0]
            if c.hash == entry.hash and c.size == entry.size:
                pack = None if c.pack is None else packs.setdefault(c.pack, len(packs))
                rows.append([op.op, op.path, entry.hash, entry.size, pack, c.offset])
                continue
        listed = [
            [
                c.hash,
                c.size,
                None if c.pack is None else packs.setdefault(c.pack, len(packs)),
                c.offset,
            ]
            for c in chunks
        ]
        rows.append([op.op, op.path, entry.hash, entry.size, listed])
    return list(packs), rows


def _bad_row(i: int, row: Any) -> WireError:
    """Why one row does not fit, found the slow way (only for a record that is refused)."""
    if not isinstance(row, list):
        return WireError(f"ops.{i}", f"expected an array, got {type(row).__name__}")
    if not row or row[0] not in ("put", "append", "delete"):
        return WireError(
            f"ops.{i}.op", f"value {row[0] if row else None!r:.60} is not put, append or delete"
        )
    if not isinstance(row[1] if len(row) > 1 else None, str):
        return WireError(f"ops.{i}.path", "missing, or not a string")
    return WireError(
        f"ops.{i}",
        f"value {row!r:.120} is not [op, path], [op, path, hash, size, pack, offset] or "
        "[op, path, hash, size, chunks] (hash a string; size, offset integers; pack an index "
        "into packs or null)",
    )


def _chunk(raw: Any, packs: list[str], i: int) -> Chunk:
    if not (isinstance(raw, list) and len(raw) == 4):
        raise WireError(f"ops.{i}.chunks", f"value {raw!r:.60} is not [hash, size, pack, offset]")
    h, size, pack, offset = raw
    if not (type(h) is str and type(size) is int and type(offset) is int):
        raise WireError(f"ops.{i}.chunks", f"value {raw!r:.60} is not [hash, size, pack, offset]")
    return Chunk(hash=h, size=size, pack=_pack(pack, packs, i), offset=offset)


def _pack(pack: Any, packs: list[str], i: int) -> str | None:
    if pack is None:
        return None
    if type(pack) is int and 0 <= pack < len(packs):
        return packs[pack]
    raise WireError(f"ops.{i}.pack", f"value {pack!r:.60} is no index into packs ({len(packs)})")


def modify_from_wire(raw: dict[str, Any]) -> ModifyFiles:
    """A version-2 ``file.modify`` record's fields as the request; WireError when they do not
    fit. Every value is checked as strictly as the generic codec checks version 1.
    """
    rows = raw.pop("ops", None)
    packs = raw.pop("packs", [])
    if rows is None:
        raise WireError("", "missing field 'ops'")
    if not isinstance(rows, list):
        raise WireError("ops", f"expected an array, got {type(rows).__name__}")
    if not (isinstance(packs, list) and all(type(p) is str for p in packs)):
        raise WireError("packs", f"value {packs!r:.60} is not a list of strings")
    ops: list[FileOp] = []
    append = ops.append
    n_packs = len(packs)
    for i, row in enumerate(rows):
        # The hot path: one type check per value, the objects built through their slots.
        if type(row) is not list:
            raise _bad_row(i, row)
        n = len(row)
        if n == 6:
            kind, path, h, size, pack, offset = row
            if not (
                kind in _WRITE_OPS
                and type(path) is str
                and type(h) is str
                and type(size) is int
                and type(offset) is int
            ):
                raise _bad_row(i, row)
            if pack is None:
                key = None
            elif type(pack) is int and 0 <= pack < n_packs:
                key = packs[pack]
            else:
                key = _pack(pack, packs, i)  # raises: no index into packs
            e = whole_chunk_entry(h, size, key, offset)
        elif n == 2:
            kind, path = row
            if kind != "delete" or type(path) is not str:
                raise _bad_row(i, row)
            e = None
        elif n == 5:
            kind, path, h, size, chunks = row
            if not (
                kind in _WRITE_OPS
                and type(path) is str
                and type(h) is str
                and type(size) is int
                and isinstance(chunks, list)
            ):
                raise _bad_row(i, row)
            e = FileEntry(hash=h, size=size, chunks=tuple(_chunk(c, packs, i) for c in chunks))
        elif n == 3 and row[0] in _WRITE_OPS and row[2] is None and type(row[1]) is str:
            kind, path, e = row[0], row[1], None  # refused by the processor, by name
        else:
            raise _bad_row(i, row)
        append(file_op(kind, path, e))
    # The few other fields through the generic codec: the same checks and messages as v1.
    head: ModifyFiles = build_plain(ModifyFiles, {**raw, "ops": []}, "file.modify")
    return replace(head, ops=tuple(ops))


@register_upcaster("file.modify", 1)
def _modify_v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """A version-1 record (ops as nested objects) in version 2's form."""
    if "ops" not in raw:
        return raw  # refused as missing by the version-2 decoder
    # The generic codec checks version 1's ops, with its messages ("file.modify.ops.file...").
    packs, rows = _rows(from_plain(tuple[FileOp, ...], raw["ops"], where="file.modify.ops"))
    return {**raw, "packs": packs, "ops": rows}


register_wire(ModifyFiles, modify_to_wire, modify_from_wire)
