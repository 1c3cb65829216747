"""What the dispatcher keeps: pipelines, their running job, branch heads, commit sets.

Plain data and its persisted JSON forms. The decisions that change it are in
:mod:`._handle`; the tables that hold it are in :mod:`._store`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from pachstream.dispatch._core import Result, source
from pachstream.dispatch.commitsets import CommitSet
from pachstream.dispatch.plan import IndexEntry
from pachstream.dispatch.spec import PipelineSpec
from pachstream.recent import RecentIds

RECENT_REQUESTS = 200
"""Request ids remembered per pipeline to drop writers' retries."""


class JobPhase(enum.Enum):
    """A job's lifecycle. Only RUNNING and FINISHING are ever stored: an ended job leaves its
    pipeline, and its end is the ``job.finished`` fact that names the phase it ended in.
    """

    RUNNING = "running"
    """Its tasks are out; waiting for every datum's result."""
    FINISHING = "finishing"
    """Every result is in and its output commit was requested; waiting for that commit."""
    SUCCESS = "success"
    """The output commit finished."""
    FAILURE = "failure"
    """A datum failed, its datums could not be made, its outputs conflict, its upstream
    failed, or its output commit was refused: no output commit."""
    KILLED = "killed"
    """Stopped by 'stop job', or its pipeline was deleted."""

    def can_become(self, new: JobPhase) -> bool:
        """Whether the lifecycle allows going from this phase to ``new``."""
        return new in _NEXT[self]


_NEXT: dict[JobPhase, frozenset[JobPhase]] = {
    JobPhase.RUNNING: frozenset({JobPhase.FINISHING, JobPhase.FAILURE, JobPhase.KILLED}),
    # A stop job is refused once finishing (the commit is on its way); a pipeline delete is not.
    JobPhase.FINISHING: frozenset({JobPhase.SUCCESS, JobPhase.FAILURE, JobPhase.KILLED}),
    JobPhase.SUCCESS: frozenset(),
    JobPhase.FAILURE: frozenset(),
    JobPhase.KILLED: frozenset(),
}


@dataclass
class Job:
    """The running job of a pipeline."""

    job_id: str
    version: int
    inputs: list[dict[str, Any]]
    """name, repo, branch, commit, root of every input."""
    output_commit: str
    started: float
    expect: set[str]
    """Datums dispatched to workers."""
    skipped: int
    vanished: list[str]
    rerun_of: str | None = None
    phase: JobPhase = JobPhase.RUNNING
    commitset: str | None = None
    """The commit set the job runs for; its output commit joins it."""
    results: dict[str, Result] = field(default_factory=dict)
    _missing: int = field(default=0, init=False, repr=False, compare=False)
    """Expected datums without a result, as counted in ``_counted``."""
    _counted: dict[str, Result] | None = field(default=None, init=False, repr=False, compare=False)
    """The results ``_missing`` was counted in (None: not yet; another: loaded anew)."""

    def add_result(self, datum_id: str, result: Result) -> bool:
        """Record the first result of expected datum ``datum_id``; whether every expected
        datum now has one.

        Counted down, not checked: ``expect.issubset(results)`` on each result copied the
        results into a set first (``issubset`` of a dict does), n²/2 steps for a job of n
        datums (measured: 120 µs a result at 6,000 datums, 500 µs at 20,000).
        """
        assert datum_id in self.expect and datum_id not in self.results, datum_id
        if self._counted is not self.results:  # the first result, or results loaded anew
            self._missing = sum(1 for d in self.expect if d not in self.results)
            self._counted = self.results
        self.results[datum_id] = result
        self._missing -= 1
        return self._missing == 0

    def move(self, new: JobPhase) -> None:
        """Go to phase ``new``; a move the lifecycle forbids is a defect of the core."""
        assert self.phase.can_become(new), f"job {self.job_id}: {self.phase.value} → {new.value}"
        self.phase = new

    def header(self) -> dict[str, Any]:
        """Persisted form (results are rows of their own)."""
        return {
            "job_id": self.job_id,
            "version": self.version,
            "inputs": self.inputs,
            "output_commit": self.output_commit,
            "started": self.started,
            "expect": sorted(self.expect),
            "skipped": self.skipped,
            "vanished": self.vanished,
            "rerun_of": self.rerun_of,
            "phase": self.phase.value,
            "commitset": self.commitset,
        }

    @classmethod
    def from_header(cls, raw: dict[str, Any]) -> Job:
        """Inverse of :meth:`header`."""
        fields = {"commitset": None, **raw, "expect": set(raw["expect"])}
        fields["phase"] = JobPhase(raw.get("phase", "running"))
        return cls(**fields)


@dataclass
class Pipeline:
    """What the dispatcher keeps of one pipeline."""

    name: str
    version: int
    salt: str
    raw: dict[str, Any]
    spec: PipelineSpec
    stopped: bool = False
    recent: RecentIds = field(default_factory=lambda: RecentIds(RECENT_REQUESTS))
    pending: list[str] = field(default_factory=list)
    """Commit sets that reached the pipeline and wait for their job, oldest first."""
    done: RecentIds = field(default_factory=lambda: RecentIds(RECENT_REQUESTS))
    """Commit sets whose job ran: a set gets one job per pipeline."""
    last_job: str | None = None
    """The job that ended last: the only one a rerun may redo (never an older one)."""
    read: dict[str, int] = field(default_factory=dict)
    """Source → position in its branch of the newest commit a job of this pipeline read."""
    job: Job | None = None
    index: dict[str, IndexEntry] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    """Output path → datum, for the index."""
    index_roots: dict[str, str] | None = None
    """``repo@branch`` → root key of the input commits the index reflects: those of the last
    job whose output commit landed, under this spec version (None: unknown, e.g. a new
    version, whose datums may differ). A job on a later commit plans from the change alone
    (:func:`._core.since_index`)."""

    def state_json(self) -> dict[str, Any]:
        """Persisted form (the index is rows of its own)."""
        return {
            "name": self.name,
            "version": self.version,
            "salt": self.salt,
            "raw": self.raw,
            "stopped": self.stopped,
            "recent": list(self.recent),
            "pending": self.pending,
            "done": list(self.done),
            "last_job": self.last_job,
            "read": self.read,
            "index_roots": self.index_roots,
            "job": self.job.header() if self.job else None,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any], spec: PipelineSpec) -> Pipeline:
        """Inverse of :meth:`state_json`, with the spec parsed from ``raw["raw"]``."""
        p = cls(
            name=raw["name"],
            version=raw["version"],
            salt=raw["salt"],
            raw=raw["raw"],
            spec=spec,
            stopped=raw["stopped"],
            pending=list(raw.get("pending", [])),
            last_job=raw.get("last_job"),
            read=dict(raw.get("read", {})),
            index_roots=raw.get("index_roots"),
            job=Job.from_header(raw["job"]) if raw["job"] else None,
        )
        p.recent.extend(raw["recent"])
        p.done.extend(raw.get("done", []))
        return p

    def reads(self, repo: str, branch: str) -> bool:
        """Whether a commit on ``repo@branch`` feeds this pipeline."""
        return (repo, branch) in self.spec.repos()

    def sources(self) -> list[str]:
        """``repo@branch`` of each input, each once."""
        return list(dict.fromkeys(source(r, b) for r, b in self.spec.repos()))

    def queue(self, commitset: str) -> bool:
        """Add a set that reached the pipeline (once); whether it was new."""
        if commitset in self.pending or commitset in self.done:
            return False
        if self.job is not None and self.job.commitset == commitset:
            return False
        self.pending.append(commitset)
        return True


@dataclass
class DispatchState:
    """Everything the dispatcher decides from."""

    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    repos: set[str] = field(default_factory=set)
    heads: dict[str, list[Any]] = field(default_factory=dict)
    """'repo@branch' → [commit id, root key, commit set, position in the branch] of the
    last finished commit."""
    sets: dict[str, CommitSet] = field(default_factory=dict)
    """Commit sets some pipeline still waits on or runs, by id."""
    retired: dict[str, int] = field(default_factory=dict)
    """Deleted pipeline → its last version: a pipeline created again under the name
    continues the count, so its tasks, workers and rows are never the old version's."""
    kubernetes_workers: bool = False
    """Whether the workers are Kubernetes pods (``PACHSTREAM_WORKERS=kubernetes``), which apply
    resources and node selectors; local workers cannot, so a spec asking for them is refused.
    Configuration, not state: set by the shell, never persisted."""
    now: float = 0.0
    """The newest time the current batch has brought (requests, finished commits, datum
    results); jobs started at the batch's end take it. Not persisted: each batch starts at 0."""
    changed: set[tuple[str, str]] = field(default_factory=set)
    """(kind, name) of the entries (:data:`ENTRY_KINDS`) changed since the last checkpoint.
    Each repo, head and retired version is a row of its own, written when it changes: as
    three values they were rewritten whole at every change anywhere (one new head among
    1,000 repos: 172 KB and 4.9 ms of checkpoint, 37.6 ms among 10,000). Changed only
    through the methods below, which mark what they change."""
    legacy_meta: bool = False
    """Restored from a state that kept repos, heads and retired versions as whole values in
    ``dispatch_meta``: its next checkpoint writes them as entries and drops those values."""

    def add_repo(self, name: str) -> None:
        """A repo exists."""
        self.repos.add(name)
        self.changed.add(("repo", name))

    def drop_repo(self, name: str) -> None:
        """A repo is gone."""
        self.repos.discard(name)
        self.changed.add(("repo", name))

    def set_head(self, key: str, head: list[Any]) -> None:
        """``repo@branch`` has a new head (see :attr:`heads`)."""
        self.heads[key] = head
        self.changed.add(("head", key))

    def drop_head(self, key: str) -> None:
        """``repo@branch`` has no head any more."""
        self.heads.pop(key, None)
        self.changed.add(("head", key))

    def retire(self, name: str, version: int) -> None:
        """A pipeline was deleted at ``version``."""
        self.retired[name] = version
        self.changed.add(("retired", name))

    def unretire(self, name: str) -> None:
        """A pipeline of a retired name exists again."""
        if self.retired.pop(name, None) is not None:
            self.changed.add(("retired", name))

    def entry(self, kind: str, name: str) -> Any:
        """The persisted value of one entry; None when there is none (its row goes)."""
        if kind == "repo":
            return True if name in self.repos else None
        if kind == "head":
            return self.heads.get(name)
        return self.retired.get(name)

    def load_entry(self, kind: str, name: str, value: Any) -> None:
        """Take one entry back (:meth:`entry`); unknown kinds are left alone."""
        if kind == "repo":
            self.repos.add(name)
        elif kind == "head":
            self.heads[name] = value
        elif kind == "retired":
            self.retired[name] = value

    def meta_json(self) -> dict[str, Any]:
        """The persisted form of what is not entries nor pipelines (key → value): the
        commit sets in flight, which are few (those a pipeline waits on or runs).
        """
        return {"sets": {k: v.to_json() for k, v in self.sets.items()}}

    def load_meta(self, key: str, value: Any) -> None:
        """Take one key of :meth:`meta_json` back, or of its older form, which also held
        the repos, heads and retired versions whole (then :attr:`legacy_meta` is set and
        every entry counts as changed). Unknown keys are left alone.
        """
        if key == "sets":
            self.sets = {k: CommitSet.from_json(v) for k, v in value.items()}
            return
        if key not in LEGACY_META:
            return
        if key == "repos":
            self.repos.update(value)
            self.changed.update(("repo", r) for r in value)
        elif key == "heads":
            self.heads.update(value)
            self.changed.update(("head", h) for h in value)
        else:
            self.retired.update(value)
            self.changed.update(("retired", r) for r in value)
        self.legacy_meta = True


ENTRY_KINDS = ("repo", "head", "retired")
"""What :class:`DispatchState` keeps as a row per name (``dispatch_entries``)."""

LEGACY_META = ("repos", "heads", "retired")
"""``dispatch_meta`` keys of the older form, whose values are now entries."""
