"""File-level lineage answers: the rows of the SQL functions as records, and their shapes.

The SQL functions ``lineage_upstream`` and ``lineage_downstream`` (migration 3, runnable by
anyone with psql) return one row per edge: an output file, the datum that wrote it, and one
of that datum's input files. Everything here is pure: rows in, records and trees out; the
queries that fetch the rows are in :mod:`pachstream.lineage.queries`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True, order=True)
class FileVersion:
    """One file as a commit holds it."""

    repo: str
    commit: str | None
    """The commit the file was read from or written to (None: an empty input)."""
    path: str
    hash: str


@dataclass(frozen=True, slots=True)
class LineageEdge:
    """A datum that read ``input`` and wrote ``output``."""

    depth: int
    """1 for the edges that touch the queried file, 2 for the next level, and so on."""
    output: FileVersion
    input: FileVersion
    input_name: str
    """The name of the input in the pipeline's spec."""
    pipeline: str
    version: int | None
    """The spec version the job ran."""
    job_id: str
    datum_id: str


@dataclass(frozen=True, slots=True)
class Lineage:
    """Everything upstream or downstream of one file."""

    direction: Literal["upstream", "downstream"]
    file: FileVersion
    edges: tuple[LineageEdge, ...]
    ends: tuple[FileVersion, ...] = field(default=())
    """Upstream: the source files (read, made by no datum). Downstream: the final outputs
    (read by no datum)."""

    def to_json(self) -> dict[str, Any]:
        """Plain values for JSON output."""
        return asdict(self)

    def files(self) -> set[FileVersion]:
        """Every file on the far side of the queried one (inputs upstream, outputs
        downstream), at any depth.
        """
        if self.direction == "upstream":
            return {e.input for e in self.edges}
        return {e.output for e in self.edges}


def edges_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[LineageEdge, ...]:
    """Rows of ``lineage_upstream``/``lineage_downstream`` as edges (the same columns)."""
    return tuple(
        LineageEdge(
            depth=r["depth"],
            output=FileVersion(r["repo"], r["commit_id"], r["path"], r["hash"]),
            input=FileVersion(r["input_repo"], r["input_commit"], r["input_path"], r["input_hash"]),
            input_name=r["input_name"],
            pipeline=r["pipeline"],
            version=r["version"],
            job_id=r["job_id"],
            datum_id=r["datum_id"],
        )
        for r in rows
    )


def lineage(
    direction: Literal["upstream", "downstream"], file: FileVersion, edges: tuple[LineageEdge, ...]
) -> Lineage:
    """The answer, with its ends: files on the far side that lead nowhere further."""
    if direction == "upstream":
        produced = {_key(e.output) for e in edges}
        ends = {e.input for e in edges if _key(e.input) not in produced}
    else:
        # An output that some datum read again is not an end; content identifies it there.
        read = {_content(e.input) for e in edges}
        ends = {e.output for e in edges if _content(e.output) not in read}
    return Lineage(direction, file, edges, tuple(sorted(ends)))


def _key(f: FileVersion) -> tuple[str, str | None, str, str]:
    return (f.repo, f.commit, f.path, f.hash)


def _content(f: FileVersion) -> tuple[str, str, str]:
    return (f.repo, f.path, f.hash)


@dataclass(frozen=True, slots=True)
class TreeNode:
    """A file and the datums next to it, for rendering (upstream: the datum that made it and
    that datum's inputs; downstream: the datums that read it and their outputs).
    """

    file: FileVersion
    datums: tuple[tuple[LineageEdge, tuple[TreeNode, ...]], ...]
    repeated: bool = False
    """Already shown higher up (a diamond in the DAG): not expanded again."""


def tree(answer: Lineage) -> TreeNode:
    """The edges as a tree rooted at the queried file."""
    up = answer.direction == "upstream"
    by_near: dict[tuple[Any, ...], list[LineageEdge]] = {}
    for e in answer.edges:
        near = _key(e.output) if up else _content(e.input)
        by_near.setdefault(near, []).append(e)
    shown: set[tuple[Any, ...]] = set()

    def node(f: FileVersion) -> TreeNode:
        key = _key(f) if up else _content(f)
        if key in shown:
            return TreeNode(f, (), repeated=bool(by_near.get(key)))
        shown.add(key)
        groups: dict[tuple[str, str], list[LineageEdge]] = {}
        for e in by_near.get(key, ()):
            groups.setdefault((e.job_id, e.datum_id), []).append(e)
        datums = tuple(
            (es[0], tuple(node(e.input if up else e.output) for e in sorted(es, key=_far(up))))
            for _, es in sorted(groups.items())
        )
        return TreeNode(f, datums)

    return node(answer.file)


def _far(up: bool) -> Any:
    return (lambda e: e.input) if up else (lambda e: e.output)


@dataclass(frozen=True, slots=True)
class CommitEdge:
    """An output commit made by a job from one input commit."""

    depth: int
    commit: str
    repo: str
    job_id: str
    input_name: str
    input_repo: str
    input_branch: str
    input_commit: str | None


@dataclass(frozen=True, slots=True)
class CommitLineage:
    """A commit's provenance (the input commits behind it, transitively) and subvenance (the
    output commits made from it, transitively).
    """

    repo: str
    commit: str
    provenance: tuple[CommitEdge, ...]
    subvenance: tuple[CommitEdge, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain values for JSON output."""
        return asdict(self)


def commit_edges(rows: Iterable[Mapping[str, Any]]) -> tuple[CommitEdge, ...]:
    """Rows of ``commit_upstream``/``commit_downstream`` as edges."""
    return tuple(
        CommitEdge(
            depth=r["depth"],
            commit=r["commit_id"],
            repo=r["repo"],
            job_id=r["job_id"],
            input_name=r["input_name"],
            input_repo=r["input_repo"],
            input_branch=r["input_branch"],
            input_commit=r["input_commit"],
        )
        for r in rows
    )
