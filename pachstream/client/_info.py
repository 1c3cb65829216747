"""What the SDK returns: frozen records with ``to_json`` for ``--json`` output."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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
