"""What goes into the dispatcher's core and what comes out of it.

Into :func:`._handle.handle`: a :data:`Fact` (a request or event read with its record time,
or the start and end of a batch). Out of it: :data:`Step` values, in order, which the shell
performs. Three steps need an answer, sent back into the same flow: :class:`LoadTrees` is
answered with :class:`TreesLoaded`, :class:`LoadDiff` with :class:`DiffLoaded`,
:class:`LoadJob` with :class:`JobLoaded`.

The persist steps only mark what the batch's checkpoint writes (in one Postgres
transaction with the consumed offsets); ``SavePipeline`` and ``SaveMeta`` write the state as
it is at the checkpoint, the others write the rows they carry. Repos, heads and retired
versions need no step: the state marks them as they change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from pachstream.dispatch._core import Result
from pachstream.dispatch.events import DatumTask
from pachstream.dispatch.plan import IndexEntry
from pachstream.model import FileEntry

# ----------------------------------------------------------------------------- facts in


@dataclass(frozen=True, slots=True)
class BatchStarted:
    """A batch of records begins: the batch's time starts again at 0."""


@dataclass(frozen=True, slots=True)
class Requested:
    """A pipeline request read from the requests topic."""

    request: Any
    """One of ``dispatch.events.PIPELINE_REQUESTS``."""
    time: float
    """The record's timestamp, in seconds (0 when it has none)."""
    events_read: dict[int, int] = field(default_factory=dict)
    """Partition → next offset: how far the dispatcher has read the events topic."""


@dataclass(frozen=True, slots=True)
class Observed:
    """An event read from the events topic (any type; the core ignores the ones it skips)."""

    event: Any
    time: float
    """The record's timestamp, in seconds (0 when it has none)."""


@dataclass(frozen=True, slots=True)
class BatchEnded:
    """Every record of the batch is handled: start the jobs that can start."""


Fact: TypeAlias = BatchStarted | Requested | Observed | BatchEnded

# ----------------------------------------------------------------------------- steps out


@dataclass(frozen=True, slots=True)
class Emit:
    """Produce ``event`` onto the events topic (a fact) or the requests topic (a request to
    the commit processor), keyed by ``key``.
    """

    topic: Literal["events", "requests"]
    key: str
    event: Any


@dataclass(frozen=True, slots=True)
class EnsureTaskTopic:
    """Create the task topic of a pipeline version (before anything is produced)."""

    pipeline: str
    version: int
    partitions: int


@dataclass(frozen=True, slots=True)
class SendTask:
    """Produce a datum task onto its pipeline version's task topic, at ``partition``."""

    pipeline: str
    version: int
    partition: int
    task: DatumTask


@dataclass(frozen=True, slots=True)
class LoadTrees:
    """Load the trees of a job's inputs; answered with :class:`TreesLoaded`."""

    roots: tuple[tuple[str, str | None], ...]
    """(``repo@branch``, root key of its commit; None: no commit, an empty tree)."""


@dataclass(frozen=True, slots=True)
class LoadDiff:
    """Load what changed between two trees of one branch; answered with :class:`DiffLoaded`.
    Opens only the nodes the two trees do not share (shards, in a version-2 tree): O(change),
    not O(tree).
    """

    source: str
    """``repo@branch``."""
    old_root: str
    """Root key of the commit the pipeline's index reflects."""
    new_root: str
    """Root key of the job's commit."""


@dataclass(frozen=True, slots=True)
class LoadJob:
    """Read a stored job; answered with :class:`JobLoaded`."""

    job_id: str
    results: bool
    """Whether its datum results are wanted too."""


@dataclass(frozen=True, slots=True)
class SaveJob:
    """Insert a job's row (once: a replay inserts nothing)."""

    job_id: str
    pipeline: str
    header: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SaveResults:
    """Insert datum results of a job (first result wins)."""

    pipeline: str
    job_id: str
    results: tuple[tuple[str, Result], ...]
    """(datum id, result)."""


@dataclass(frozen=True, slots=True)
class SaveIndex:
    """Move a pipeline's datum index rows (None: the datum leaves the index)."""

    pipeline: str
    changed: dict[str, IndexEntry | None]


@dataclass(frozen=True, slots=True)
class SavePipeline:
    """Write the pipeline's state as it is at the checkpoint."""

    pipeline: str


@dataclass(frozen=True, slots=True)
class DropPipeline:
    """Delete the pipeline's rows at the checkpoint, unless it exists again by then."""

    pipeline: str


@dataclass(frozen=True, slots=True)
class SaveMeta:
    """Write the commit sets in flight as they are at the checkpoint.

    Repos, heads and retired versions are written as they change, with no step
    (:attr:`._state.DispatchState.changed`).
    """


Persist: TypeAlias = SaveJob | SaveResults | SaveIndex | SavePipeline | DropPipeline | SaveMeta
Step: TypeAlias = Emit | EnsureTaskTopic | SendTask | LoadTrees | LoadDiff | LoadJob | Persist

# ----------------------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True)
class TreesLoaded:
    """The answer to :class:`LoadTrees`."""

    entries: dict[str, dict[str, FileEntry]]
    """``repo@branch`` → path → entry."""


@dataclass(frozen=True, slots=True)
class DiffLoaded:
    """The answer to :class:`LoadDiff`."""

    changed: dict[str, FileEntry | None]
    """Path → its entry in the new tree; None: deleted there."""


@dataclass(frozen=True, slots=True)
class JobLoaded:
    """The answer to :class:`LoadJob`."""

    pipeline: str | None
    """The job's pipeline; None when no such job is stored."""
    header: dict[str, Any] | None = None
    results: dict[str, Result] = field(default_factory=dict)


Answer: TypeAlias = TreesLoaded | DiffLoaded | JobLoaded
