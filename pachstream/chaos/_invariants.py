"""The invariants a campaign checks, each a pure function of facts collected after
quiescence. Each returns an :class:`Invariant`: held or not, how much it looked at, and the
problems found (each names the object, what was expected and what was found).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pachstream.chaos._facts import CommitFact, DeadLetter, JobFact, OpenCommitFact, ReadBack

SHOWN = 5
"""Problems kept per invariant: enough to start from, short enough for a table."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Invariant:
    """The outcome of one invariant."""

    name: str
    """What it promises, in a few words."""
    checked: int
    """How many things it looked at (writes, commits, tables...)."""
    problems: tuple[str, ...] = ()
    """The first :data:`SHOWN` problems."""
    count: int = 0
    """How many problems in all."""

    @property
    def held(self) -> bool:
        """Whether no problem was found."""
        return self.count == 0


def _invariant(name: str, checked: int, problems: Sequence[str]) -> Invariant:
    return Invariant(
        name=name, checked=checked, problems=tuple(problems[:SHOWN]), count=len(problems)
    )


def check_acknowledged(reads: Iterable[ReadBack]) -> Invariant:
    """Every acknowledged write is readable, byte for byte, at the commit it landed in."""
    problems: list[str] = []
    n = 0
    for r in reads:
        n += 1
        a = r.ack
        where = f"{a.kind} {a.repo}:{a.path}"
        if r.error:
            problems.append(f"{where} (commit {a.commit_id or '?'}): read failed: {r.error}")
        elif r.commit_id is None:
            problems.append(f"{where}: acknowledged, but no commit of {a.repo} holds it")
        elif a.commit_id is not None and r.commit_id != a.commit_id:
            problems.append(f"{where}: acknowledged in {a.commit_id}, read at {r.commit_id}")
        elif r.sha256 is None:
            problems.append(f"{where}: missing at commit {r.commit_id}")
        elif r.sha256 != a.sha256:
            problems.append(
                f"{where} at {r.commit_id}: content sha256 {r.sha256[:12]}, "
                f"acknowledged {a.sha256[:12]}"
            )
    return _invariant("acknowledged writes readable at their commit", n, problems)


def downstream_of(inputs: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Repo → every pipeline downstream of it (transitively), by name; ``inputs`` maps each
    pipeline to the repos it reads.
    """
    readers: dict[str, set[str]] = defaultdict(set)
    for pipeline, repos in inputs.items():
        for repo in repos:
            readers[repo].add(pipeline)
    out: dict[str, list[str]] = {}
    for repo in {r for repos in inputs.values() for r in repos}:
        seen: set[str] = set()
        todo = [repo]
        while todo:
            for p in readers.get(todo.pop(), ()):
                if p not in seen:
                    seen.add(p)
                    todo.append(p)  # the pipeline's output repo has its name
        out[repo] = sorted(seen)
    return out


def check_jobs(
    commits: Iterable[CommitFact], jobs: Iterable[JobFact], downstream: Mapping[str, Sequence[str]]
) -> Invariant:
    """Every finished input commit has exactly one job per downstream pipeline, and it
    succeeded (a commit set's job is counted by the set's id: the origin commit's).
    """
    by_set: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for j in jobs:
        if j.commitset is not None:
            by_set[(j.commitset, j.pipeline)][j.state] += 1
    problems: list[str] = []
    n = 0
    for c in commits:
        if c.finished is None:
            continue  # an open commit has no job yet: the open-commit invariant reports it
        for pipeline in downstream.get(c.repo, ()):
            n += 1
            states = by_set.get((c.id, pipeline), Counter())
            if states["success"] != 1 or sum(states.values()) != 1:
                seen = ", ".join(f"{k} {v}" for k, v in sorted(states.items())) or "no job"
                problems.append(
                    f"commit {c.repo}@{c.id}: pipeline {pipeline} has {seen}; expected "
                    "exactly one job, successful"
                )
    return _invariant("one successful job per input commit and pipeline", n, problems)


def check_outputs(
    live: Mapping[str, Mapping[str, str]], scratch: Mapping[str, Mapping[str, str]]
) -> Invariant:
    """Each pipeline's output (path → content hash) equals a from-scratch run's."""
    problems: list[str] = []
    for pipeline in sorted(set(live) | set(scratch)):
        got, want = live.get(pipeline, {}), scratch.get(pipeline, {})
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        differ = sorted(p for p in set(got) & set(want) if got[p] != want[p])
        for label, paths in (("missing", missing), ("extra", extra), ("different", differ)):
            if paths:
                problems.append(
                    f"pipeline {pipeline}: {len(paths)} {label} path(s) against the "
                    f"from-scratch run, e.g. {paths[0]}"
                )
    checked = sum(len(t) for t in scratch.values())
    return _invariant("outputs equal a from-scratch run", checked, problems)


Fingerprint = Mapping[str, tuple[int, str]]
"""Table → (rows, hash of the rows)."""


def check_lineage(live: Fingerprint, replayed: Fingerprint) -> Invariant:
    """The lineage tables equal a full replay of the events topic into an empty schema."""
    problems: list[str] = []
    for table in sorted(set(live) | set(replayed)):
        got, want = live.get(table), replayed.get(table)
        if got is None or want is None:
            problems.append(f"table {table}: only in the {'replay' if got is None else 'live'}")
        elif got != want:
            more = got[0] - want[0]
            how = (
                f"{abs(more)} row(s) {'more' if more > 0 else 'fewer'} than the replay"
                if more
                else "same row count, different rows"
            )
            problems.append(f"table {table}: {how} ({got[0]} live, {want[0]} replayed)")
    return _invariant("lineage tables equal a full replay", len(replayed), problems)


def check_open_commits(open_commits: Iterable[OpenCommitFact]) -> Invariant:
    """No commit is left open once every writer has stopped."""
    problems = [
        f"commit {c.repo}@{c.id} on branch {c.branch} is open"
        + (f" ({c.description!r})" if c.description else "")
        + " with no writer left"
        for c in open_commits
    ]
    return _invariant("no commit left open without a writer", len(problems), problems)


def check_dead_letters(letters: Iterable[DeadLetter]) -> Invariant:
    """No dead letter, since every producer of the campaign is healthy."""
    problems = [
        f"{d.component} dead-lettered {d.topic} offset {d.offset}: {d.reason}" for d in letters
    ]
    return _invariant("no dead letter from a healthy producer", len(problems), problems)
