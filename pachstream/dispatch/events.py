"""Pipeline events: the requests users send, the dispatcher's facts, tasks and datum results.

Requests (on ``<ns>.requests``, keyed by pipeline name) are answered by the dispatcher with one
:class:`~pachstream.commits.events.RequestDone` each, like the commit processor answers its own.
Tasks travel on one topic per pipeline version (``<ns>.tasks.<pipeline>.<version>``), one
partition per worker. Workers answer each task with a :class:`DatumFinished` on the events
topic; the dispatcher folds them into jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias

from pachstream.codec import register
from pachstream.model import FileEntry

# ----------------------------------------------------------------------------- requests


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class CreatePipeline:
    """Create a pipeline, or update it (``update``), from its spec as the user wrote it."""

    TYPE: ClassVar[str] = "pipeline.create"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key."""
    pipeline: str
    """Pipeline name (also its output repo)."""
    time: float
    """Writer's clock, epoch seconds."""
    spec: dict[str, Any]
    """The spec document (Pachyderm's format)."""
    update: bool = False
    """Replace an existing pipeline's spec (keeping its salt unless ``reprocess``)."""
    reprocess: bool = False
    """With ``update``: draw a new salt, so every datum runs again."""
    after: tuple[tuple[int, int], ...] = ()
    """The events topic's positions (partition, next offset) that the writer's view of repos
    reflected: the dispatcher decides only once it has read that far, so a repo the writer
    saw created is one the dispatcher knows (read your writes across two topics)."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class DeletePipeline:
    """Delete a pipeline and its output repo."""

    TYPE: ClassVar[str] = "pipeline.delete"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key."""
    pipeline: str
    """Pipeline name."""
    time: float
    """Writer's clock, epoch seconds."""
    force: bool = False
    """Delete even when other pipelines read its output: they are stopped."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class SetPipelineState:
    """Stop a pipeline (no new jobs) or start it again."""

    TYPE: ClassVar[str] = "pipeline.set_state"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key."""
    pipeline: str
    """Pipeline name."""
    time: float
    """Writer's clock, epoch seconds."""
    stopped: bool
    """True to stop, False to start."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class RerunJob:
    """Run a finished job's datums again: all, only the failed ones, or one datum."""

    TYPE: ClassVar[str] = "job.rerun"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key; the new job's id derives from it."""
    pipeline: str
    """The job's pipeline."""
    time: float
    """Writer's clock, epoch seconds."""
    job_id: str
    """The job to run again."""
    failed_only: bool = True
    """Keep the datums that succeeded in that job; run the rest."""
    datum_id: str | None = None
    """Run only this datum again (the other datums keep their results)."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class StopJob:
    """Kill a running job: it ends ``killed``, writes no output, and later commits run."""

    TYPE: ClassVar[str] = "job.stop"
    SCHEMA_VERSION: ClassVar[int] = 1
    request_id: str
    """Writer-chosen idempotency key."""
    pipeline: str
    """The job's pipeline."""
    time: float
    """Writer's clock, epoch seconds."""
    job_id: str
    """The job to stop."""


PipelineRequest: TypeAlias = CreatePipeline | DeletePipeline | SetPipelineState | RerunJob | StopJob
PIPELINE_REQUESTS = (CreatePipeline, DeletePipeline, SetPipelineState, RerunJob, StopJob)

# ----------------------------------------------------------------------------- facts


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineCreated:
    """A pipeline exists at a new spec version."""

    TYPE: ClassVar[str] = "pipeline.created"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the request id."""
    request_id: str
    """The request this answers."""
    pipeline: str
    """Pipeline name."""
    version: int
    """1 for a new pipeline, +1 per update."""
    spec: dict[str, Any]
    """The spec as given."""
    salt: str
    """Mixed into every datum hash; a new salt reruns every datum."""
    time: float
    """Writer's clock."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineStateSet:
    """A pipeline was stopped, started or deleted."""

    TYPE: ClassVar[str] = "pipeline.state"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the request id."""
    request_id: str
    """The request this answers."""
    pipeline: str
    """Pipeline name."""
    state: Literal["running", "stopped", "deleted"]
    """The new state."""
    time: float
    """Writer's clock."""
    reason: str = ""
    """Why, when the dispatcher changed it on its own (an input repo or upstream pipeline
    was deleted with --force)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InputCommit:
    """One input of a job: which commit of which branch it read."""

    name: str
    """Input name."""
    repo: str
    """Repo."""
    branch: str
    """Branch."""
    commit_id: str | None
    """The branch's last finished commit when the job started (None: the branch is empty)."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class JobStarted:
    """A job exists: its inputs, its output commit id and its plan."""

    TYPE: ClassVar[str] = "job.started"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the job id."""
    job_id: str
    """32 hex, derived from the pipeline, its version and the input commits (or a rerun request)."""
    pipeline: str
    """Pipeline name."""
    version: int
    """Spec version the job runs."""
    inputs: tuple[InputCommit, ...]
    """Input commits (the output commit's provenance)."""
    output_commit: str
    """Id the output commit will have."""
    time: float
    """When the dispatcher started it (the triggering event's clock)."""
    datums: int
    """Datums of the job."""
    to_run: int
    """Datums dispatched to workers."""
    skipped: int
    """Datums whose earlier results are carried over."""
    rerun_of: str | None = None
    """The job this one reruns, if any."""
    commitset: str | None = None
    """The commit set the job belongs to: its inputs are that set's commits wherever the set
    reaches, its output commit joins the set (None in events before commit sets)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StagedFile:
    """One input file of a datum, with its stored content."""

    path: str
    """Path in the input commit."""
    file: FileEntry
    """Where its content is."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskInput:
    """One input of a datum task."""

    name: str
    """Input name (``/pfs/<name>``)."""
    repo: str
    """Repo."""
    branch: str
    """Branch."""
    commit_id: str | None
    """Input commit."""
    path: str
    """The matched path."""
    files: tuple[StagedFile, ...]
    """Every file staged."""
    join_on: str = ""
    """Join key."""
    group_by: str = ""
    """Group key."""
    empty_files: bool = False
    """Stage the files empty."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class DatumTask:
    """One datum for a worker to run (on the pipeline's task topic)."""

    TYPE: ClassVar[str] = "datum.task"
    SCHEMA_VERSION: ClassVar[int] = 1
    job_id: str
    """The job."""
    pipeline: str
    """Pipeline name."""
    version: int
    """Spec version (the worker runs this version's transform)."""
    datum_id: str
    """The datum."""
    hash: str
    """The datum's hash (inputs' content and the salt)."""
    inputs: tuple[TaskInput, ...]
    """What to stage, ordered by input name."""
    output_commit: str
    """PACH_OUTPUT_COMMIT_ID."""
    cmd: tuple[str, ...]
    """The transform's command."""
    stdin: tuple[str, ...] = ()
    """Its standard input, one line each."""
    env: tuple[tuple[str, str], ...] = ()
    """The spec's environment."""
    working_dir: str | None = None
    """Working directory."""
    err_cmd: tuple[str, ...] = ()
    """Run after the last failed try; exit 0 marks the datum recovered."""
    err_stdin: tuple[str, ...] = ()
    """Standard input of ``err_cmd``."""
    tries: int = 3
    """Attempts before the datum fails."""
    timeout_s: float | None = None
    """Seconds per attempt."""
    image: str | None = None
    """The container image to run ``cmd`` in (its Entrypoint and Cmd when ``cmd`` is empty);
    None: the worker's own system."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpilledTask:
    """Where a datum task too large for one record is stored (see :mod:`.spill`)."""

    key: str
    """Object key, ``tasks/<sha256>``: content-addressed, so a retried send writes the same
    object."""
    sha256: str
    """Hex sha256 of the object (the encoded :class:`DatumTask`); checked on read."""
    size: int
    """Bytes of the object."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class DatumTaskRef:
    """A datum task whose record would be too large (a ``/`` datum over many files): the
    encoded :class:`DatumTask` is in the object store, this record points at it.
    """

    TYPE: ClassVar[str] = "datum.task_ref"
    SCHEMA_VERSION: ClassVar[int] = 1
    job_id: str
    """The job."""
    pipeline: str
    """Pipeline name."""
    datum_id: str
    """The datum."""
    hash: str
    """The datum's hash."""
    task: SpilledTask
    """The stored task."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputFile:
    """One file a datum wrote under /pfs/out."""

    path: str
    """Path in the output commit."""
    file: FileEntry
    """Its stored content."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class DatumFinished:
    """A worker ran a datum (first result per job and datum wins)."""

    TYPE: ClassVar[str] = "datum.finished"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the job and datum ids."""
    job_id: str
    """The job."""
    pipeline: str
    """Pipeline name."""
    datum_id: str
    """The datum."""
    hash: str
    """The datum's hash."""
    state: Literal["success", "failed", "recovered"]
    """``recovered``: the command failed but ``err_cmd`` accepted it (no outputs)."""
    tries: int
    """Attempts made."""
    exit_code: int | None
    """Exit status of the last attempt (None: it timed out)."""
    timed_out: bool
    """Whether the last attempt hit ``datum_timeout``."""
    stderr_tail: str
    """The end of the last attempt's standard error."""
    log_ref: str
    """Object key of longer logs, or "" when the tails here are all there is."""
    started: float
    """Worker clock at start."""
    duration_s: float
    """Seconds for every attempt."""
    worker: str
    """Which worker ran it."""
    inputs: tuple[TaskInput, ...] = ()
    """What it read (for lineage)."""
    outputs: tuple[OutputFile, ...] = ()
    """What it wrote (when it succeeded)."""
    stdout_tail: str = ""
    """The end of the last attempt's standard output."""
    inputs_ref: SpilledTask | None = None
    """Set when the task was spilled: ``inputs`` then lists each input without its files,
    and the full list is the stored task's (read by the lineage consumer)."""


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class JobFinished:
    """A job ended: success with its output commit, failure with the reason, or killed."""

    TYPE: ClassVar[str] = "job.finished"
    SCHEMA_VERSION: ClassVar[int] = 1
    event_id: str
    """Derived from the job id."""
    job_id: str
    """The job."""
    pipeline: str
    """Pipeline name."""
    state: Literal["success", "failure", "killed"]
    """How it ended."""
    output_commit: str | None
    """The finished output commit (success only)."""
    processed: int
    """Datums run successfully."""
    skipped: int
    """Datums carried over."""
    failed: int
    """Datums that failed every try."""
    recovered: int
    """Datums that failed but ``err_cmd`` recovered."""
    time: float
    """When it ended (the last result's clock)."""
    reason: str = ""
    """Why it failed, naming the datums and what to do."""


Fact: TypeAlias = PipelineCreated | PipelineStateSet | JobStarted | DatumFinished | JobFinished
