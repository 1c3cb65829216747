"""What the SDK returns: frozen records with ``to_json`` for ``--json`` output.

The records of single rows of the lineage tables (repos, branches, commits, jobs, datums) are
:mod:`pachstream.lineage.queries`'s, which returns them; they are re-exported here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pachstream.lineage.queries import BranchInfo, CommitInfo, DatumInfo, JobInfo, RepoInfo


class _Json:
    def to_json(self) -> dict[str, Any]:
        """Plain values for JSON output."""
        return asdict(self)  # type: ignore[call-overload, no-any-return]


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


__all__ = [
    "BranchInfo",
    "CommitInfo",
    "CommitSetInfo",
    "DatumInfo",
    "DiffInfo",
    "FileInfo",
    "JobInfo",
    "PipelineInfo",
    "RepoInfo",
]
