"""What the SDK returns: frozen records with ``to_json`` for ``--json`` output."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


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
class FileInfo(_Json):
    """A file or a directory in a commit."""

    repo: str
    """Repo name."""
    commit: str
    """Commit id."""
    path: str
    """Canonical path (directories without trailing slash)."""
    type: Literal["file", "dir"]
    """File or directory."""
    size_bytes: int
    """File size, or the sum of the sizes below a directory."""
    hash: str | None
    """Content hash of a file; None for a directory."""


@dataclass(frozen=True, slots=True)
class DiffInfo(_Json):
    """One path that differs between two commits."""

    path: str
    """Canonical path."""
    change: Literal["added", "modified", "deleted"]
    """What happened."""
    size_bytes: int | None
    """New size (None when deleted)."""
    old_size_bytes: int | None
    """Old size (None when added)."""
    hash: str | None
    """New content hash."""


@dataclass(frozen=True, slots=True)
class PipelineInfo(_Json):
    """A pipeline at its current spec version."""

    name: str
    """Pipeline name (and output repo)."""
    version: int
    """Spec version (1, then +1 per update)."""
    state: str
    """running, stopped or deleted."""
    created: float
    """When this version was created."""
    description: str
    """The spec's description."""
    input: str
    """The input, in one line (e.g. ``cross(images:/*, labels:/)``)."""
    last_job: str | None
    """Id of the newest job."""
    last_job_state: str | None
    """Its state."""
    spec: dict[str, Any]
    """The spec as given."""
    notes: list[str] = field(default_factory=list)
    """What the spec asks for that runs differently here (``transform.image`` today)."""


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
class CommitSetInfo(_Json):
    """A commit set: an origin commit and every commit and job it caused downstream."""

    id: str
    """The origin commit's id (or, for a set a new pipeline spec or a rerun started, the
    id the dispatcher gave it); ``repo@ID`` names the set's commit in any repo it reached."""
    started: float
    """When its first commit (or job) started."""
    commits: list[CommitInfo]
    """Its commits, origin first."""
    jobs: list[JobInfo]
    """The jobs that ran for it, one per pipeline it reached."""
    finished: bool
    """Whether every commit is finished and every job ended."""
