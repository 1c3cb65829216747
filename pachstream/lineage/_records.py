"""The rows of the lineage tables as frozen records: what :mod:`pachstream.lineage.queries`
returns (the SDK returns the same records; ``pachstream.client`` re-exports them).

Pure: rows in, records out. A row is any mapping with the table's columns (asyncpg's
``Record`` is one), so the converters are tested without a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import orjson


class _Json:
    def to_json(self) -> dict[str, Any]:
        """Plain values for JSON output."""
        return asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclass(frozen=True, slots=True)
class RepoInfo(_Json):
    """A repo as ``list repo`` shows it."""

    name: str
    """Repo name."""
    description: str
    """Free text."""
    created: float
    """Epoch seconds."""
    size_bytes: int
    """Bytes in the head of ``master`` (Pachyderm's convention), 0 when it has none."""
    branch_count: int
    """Branches."""


@dataclass(frozen=True, slots=True)
class BranchInfo(_Json):
    """A branch and its head."""

    repo: str
    """Repo name."""
    name: str
    """Branch name."""
    head: str | None
    """Head commit id."""


@dataclass(frozen=True, slots=True)
class CommitInfo(_Json):
    """A commit."""

    repo: str
    """Repo name."""
    id: str
    """Commit id (32 hex)."""
    branch: str
    """Branch it was made on."""
    parent: str | None
    """Parent commit id."""
    description: str
    """Commit message."""
    started: float
    """Epoch seconds."""
    finished: float | None
    """Epoch seconds; None while open."""
    file_count: int | None
    """Files in its tree (None while open)."""
    size_bytes: int | None
    """Sum of sizes (None while open)."""
    added: int | None
    """Paths added against the parent."""
    modified: int | None
    """Paths changed against the parent."""
    deleted: int | None
    """Paths removed against the parent."""
    root: str | None
    """Object key of its tree root."""


@dataclass(frozen=True, slots=True)
class JobInfo(_Json):
    """A job: one run of a pipeline over one set of input commits."""

    id: str
    """32 hex."""
    pipeline: str
    """Pipeline name."""
    version: int
    """Spec version it ran."""
    state: str
    """running, success, failure or killed."""
    inputs: list[dict[str, Any]]
    """name, repo, branch, commit of each input."""
    output_commit: str
    """The output commit's id (it exists only when the job succeeded)."""
    datums: int
    """Datums of the job."""
    to_run: int
    """Datums sent to workers."""
    processed: int
    """Datums run successfully."""
    skipped: int
    """Datums whose earlier outputs were kept."""
    failed: int
    """Datums that failed every try."""
    recovered: int
    """Failed datums that err_cmd recovered."""
    started: float
    """Epoch seconds."""
    finished: float | None
    """Epoch seconds, when ended."""
    reason: str
    """Why it failed."""
    rerun_of: str | None
    """The job it reran."""
    commitset: str | None = None
    """The commit set it ran for (``inspect commitset``); None for jobs before commit sets."""


@dataclass(frozen=True, slots=True)
class DatumInfo(_Json):
    """One datum a worker ran in a job."""

    job_id: str
    """The job."""
    id: str
    """The datum (same paths of same inputs → same id, across jobs)."""
    state: str
    """success, failed or recovered."""
    tries: int
    """Attempts."""
    exit_code: int | None
    """Exit status of the last attempt (None: timed out)."""
    timed_out: bool
    """Whether the last attempt hit datum_timeout."""
    stderr_tail: str
    """End of the last attempt's stderr."""
    duration_s: float
    """Seconds, every attempt included."""
    worker: str
    """Which worker ran it."""
    inputs: list[dict[str, Any]]
    """name, repo, commit, path, files ([path, hash]) per input."""
    outputs: list[list[Any]]
    """[path, hash, size] of each output file."""


@dataclass(frozen=True, slots=True)
class FileChange:
    """One commit that changed a file (``find commit``)."""

    commit: CommitInfo
    """The commit."""
    path: str
    """The path it changed (the file itself, or one below the directory asked about)."""
    change: str
    """``added``, ``modified`` or ``deleted``."""
    size_bytes: int | None
    """The new size (None when deleted)."""
    hash: str | None
    """The new content hash (None when deleted)."""

    def to_json(self) -> dict[str, Any]:
        """Plain values for JSON output."""
        return {**asdict(self), "commit": self.commit.to_json()}


@dataclass(frozen=True, slots=True)
class RequestAnswer:
    """The answer to one request (a row of ``requests``)."""

    request_id: str
    """The request's id."""
    ok: bool
    """Whether it was applied."""
    commit_id: str | None
    """The commit it made or wrote into, when it names one."""
    error_code: str | None
    """A refusal's :mod:`pachstream.errors` code."""
    error_message: str | None
    """A refusal's message."""
    error_fields: dict[str, Any]
    """A refusal's fields (empty when applied)."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file as of a commit: its content and the commit that last changed it."""

    commit_id: str
    """The nearest commit on the ancestry that changed the path."""
    hash: str
    """Content hash."""
    size: int
    """Bytes."""


@dataclass(frozen=True, slots=True)
class DirEntry:
    """One entry directly under a directory as of a commit."""

    name: str
    """The entry's name (no slash)."""
    is_dir: bool
    """Whether files lie below it."""
    size: int
    """A file's bytes, or the bytes of every file below a directory."""
    hash: str | None
    """A file's content hash; None for a directory."""


@dataclass(frozen=True, slots=True)
class PipelineVersion:
    """A pipeline that is not deleted, at its current spec version."""

    name: str
    """Pipeline name (and output repo)."""
    version: int
    """The current spec version."""
    state: str
    """running or stopped."""
    created: float
    """When this version was created."""
    first_created: float
    """When the pipeline's first version was created."""
    spec: dict[str, Any]
    """The spec as given (not parsed: a spec a later version refuses is still listed)."""
    last_job: str | None = None
    """Id of the newest started job (only when asked for)."""
    last_job_state: str | None = None
    """Its state."""


@dataclass(frozen=True, slots=True)
class DatumLog:
    """The log columns of one datum's row."""

    datum_id: str
    """The datum."""
    state: str
    """success, failed or recovered."""
    tries: int
    """Attempts."""
    stdout_tail: str
    """End of the last attempt's stdout."""
    stderr_tail: str
    """End of the last attempt's stderr."""
    log_ref: str
    """Object key of the full logs ('' when the tails are all)."""


def commit_info(r: Mapping[str, Any]) -> CommitInfo:
    """A ``commits`` row as a record."""
    return CommitInfo(
        repo=r["repo"],
        id=r["id"],
        branch=r["branch"],
        parent=r["parent"],
        description=r["description"],
        started=r["started"],
        finished=r["finished"],
        file_count=r["file_count"],
        size_bytes=r["size_bytes"],
        added=r["added"],
        modified=r["modified"],
        deleted=r["deleted"],
        root=r["root"],
    )


def job_info(r: Mapping[str, Any]) -> JobInfo:
    """A ``jobs`` (``started_jobs``) row as a record."""
    return JobInfo(
        id=r["id"],
        pipeline=r["pipeline"],
        version=r["version"],
        state=r["state"],
        inputs=orjson.loads(r["inputs"]),
        output_commit=r["output_commit"],
        datums=r["datums"],
        to_run=r["to_run"],
        processed=r["processed"],
        skipped=r["skipped"],
        failed=r["failed"],
        recovered=r["recovered"],
        started=r["started"],
        finished=r["finished"],
        reason=r["reason"],
        rerun_of=r["rerun_of"],
        commitset=r["commitset"],
    )


def datum_info(r: Mapping[str, Any]) -> DatumInfo:
    """A ``datums`` row as a record."""
    return DatumInfo(
        job_id=r["job_id"],
        id=r["datum_id"],
        state=r["state"],
        tries=r["tries"],
        exit_code=r["exit_code"],
        timed_out=r["timed_out"],
        stderr_tail=r["stderr_tail"],
        duration_s=r["duration_s"],
        worker=r["worker"],
        inputs=orjson.loads(r["inputs"]),
        outputs=orjson.loads(r["outputs"]),
    )
