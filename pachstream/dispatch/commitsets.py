"""Commit sets: which input commits a job reads so that a DAG never mixes old and new. Pure.

Every commit belongs to a commit set, named by the id of its origin commit: a commit written
by a user (or the ingest topic, or the S3 gateway) starts a set of its own; a job's output
commit joins the set of the job. One origin commit therefore gives one set across the DAG,
as Pachyderm 2's global ids do.

A pipeline runs one job per set that reaches it, in the order the sets reached it. The job
reads, for each input:

- the input's commit of that set, when the set has one there;
- otherwise, when the set *will* have one there (the input is the output of a pipeline that
  the set reaches: Pachyderm's "downstream of the origin"), nothing yet: the job waits;
- otherwise the input's branch head (the input is independent of the origin).

So in a diamond ``images → edges``, ``montage(images, edges)``, a commit to ``images`` makes
``montage`` wait for ``edges``' commit of the same set, and runs once. When an upstream job of
the set fails (no output commit), the jobs that waited for it fail too, naming it; they never
read a mix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

Head = tuple[str, str | None]
"""A finished commit: (commit id, root key of its tree)."""


@dataclass
class CommitSet:
    """What the dispatcher knows of one commit set."""

    commits: dict[str, Head] = field(default_factory=dict)
    """Source (``repo@branch``) → the set's finished commit there."""
    failed: dict[str, str] = field(default_factory=dict)
    """Source → why the set will have no commit there (its job failed)."""
    seq: dict[str, int] = field(default_factory=dict)
    """Source → the position of the set's commit in its branch (1, 2...): which is newer."""
    aliases: set[str] = field(default_factory=set)
    """Sources whose commit the set only read (made before it): they reach nothing."""

    def add(self, source: str, head: Head, seq: int, *, alias: bool = False) -> None:
        """The set's commit at ``source``: its own, or (``alias``) one a job of the set read,
        as Pachyderm's sets hold: every later job of the set reads the same commit there.
        """
        self.commits[source] = head
        self.seq[source] = seq
        if alias:
            self.aliases.add(source)
        else:
            self.aliases.discard(source)

    def to_json(self) -> dict[str, Any]:
        """The persisted form."""
        return {
            "commits": {k: [*v, self.seq.get(k, 0)] for k, v in self.commits.items()},
            "failed": self.failed,
            "aliases": sorted(self.aliases),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CommitSet:
        """Inverse of :meth:`to_json`."""
        commits = raw["commits"]
        return cls(
            {k: (v[0], v[1]) for k, v in commits.items()},
            dict(raw["failed"]),
            {k: v[2] for k, v in commits.items() if len(v) > 2},
            set(raw.get("aliases", ())),
        )


@dataclass(frozen=True)
class Ready:
    """Every input is decided: source → the commit to read (None: the branch is empty)."""

    picks: dict[str, Head | None]
    seqs: dict[str, int] = field(default_factory=dict, compare=False)
    """Source → the position of the picked commit in its branch (0: none)."""

    def older_than(self, read: Mapping[str, int]) -> str | None:
        """A source whose pick is older than what the pipeline's last job read, if any: such
        a job would move the output back behind newer work.
        """
        return next((s for s, n in self.seqs.items() if n < read.get(s, 0)), None)


@dataclass(frozen=True)
class Wait:
    """An input's commit of the set is still to come."""

    source: str
    """The input that the set will reach."""


@dataclass(frozen=True)
class UpstreamFailed:
    """An input's commit of the set will never come: the job that would write it failed."""

    source: str
    """The input."""
    reason: str
    """Why (names the failed job)."""


Decision: TypeAlias = Ready | Wait | UpstreamFailed


def reaches(
    source: str,
    commitset: CommitSet,
    producers: Mapping[str, Sequence[str]],
    _visiting: frozenset[str] = frozenset(),
) -> bool:
    """Whether the set has, or will have, a commit (or a failure) at ``source``.

    ``producers`` maps the output source of each pipeline (``name@master``) to its input
    sources: a pipeline's output is reached when one of its inputs is.
    """
    if source in commitset.failed:
        return True
    if source in commitset.commits and source not in commitset.aliases:
        return True
    if source in _visiting:
        return False  # a cycle of pipelines: nothing new comes round it
    inputs = producers.get(source, ())
    return any(reaches(s, commitset, producers, _visiting | {source}) for s in inputs)


def decide(
    sources: Sequence[str],
    commitset: CommitSet,
    heads: Mapping[str, Head | None],
    producers: Mapping[str, Sequence[str]],
    head_sets: Mapping[str, CommitSet] | None = None,
    head_seqs: Mapping[str, int] | None = None,
) -> Decision:
    """Which commits a job of ``commitset`` reads on ``sources``, or why it cannot run yet.

    ``head_sets``: source → the (still open) set of its head commit. An input read at its
    head must not be newer than what another input was made from: when the head's set
    still has to reach another input (``images`` moved on, ``edges`` has not caught up),
    the job waits for it, so a new pipeline's first job never mixes either.
    """
    picks: dict[str, Head | None] = {}
    seqs: dict[str, int] = {}
    for source in sources:
        if source in commitset.failed:
            return UpstreamFailed(source, commitset.failed[source])
        if source in commitset.commits:
            picks[source] = commitset.commits[source]
            seqs[source] = commitset.seq.get(source, 0)
        elif reaches(source, commitset, producers):
            return Wait(source)
        elif heads.get(source) is None and source in producers:
            return Wait(source)  # a pipeline's output before its first commit: it will come
        else:
            picks[source] = heads.get(source)
            seqs[source] = (head_seqs or {}).get(source, 0)
    for source in sources:
        newer = (head_sets or {}).get(source)
        if newer is None or source in commitset.commits:
            continue
        for other in sources:
            behind = other not in newer.commits and other not in newer.failed
            if other != source and behind and reaches(other, newer, producers):
                return Wait(other)
            # A head made from a newer commit of another input than the one picked: read
            # that one (never a mix, never older than what the head was made from).
            if other != source and newer.seq.get(other, 0) > seqs.get(other, 0):
                picks[other] = newer.commits[other]
                seqs[other] = newer.seq[other]
    return Ready(picks, seqs)


def in_use(pending: Mapping[str, Sequence[str]], running: Mapping[str, str | None]) -> set[str]:
    """The sets a pipeline still waits on or runs: the only ones worth remembering."""
    used = {s for sets in pending.values() for s in sets}
    used.update(s for s in running.values() if s is not None)
    return used
