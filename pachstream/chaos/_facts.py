"""What a chaos campaign records: frozen facts that the load, the injector and the collector
write and the invariant checks read.

Times are epoch seconds (``time.time()``), the clock the processors stamp jobs with, so a
fault, an acknowledgement and a job can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WriteKind = Literal["sdk-put", "sdk-commit", "ingest", "gateway-put", "gateway-multipart"]
"""The entry point an acknowledged write went through."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    """One write the system said it took: the promise the first invariant checks."""

    kind: WriteKind
    """The entry point."""
    repo: str
    """Repo written."""
    path: str
    """File path (unique per write: never overwritten or deleted by the load)."""
    sha256: str
    """Hex sha256 of the content sent."""
    size: int
    """Bytes sent."""
    commit_id: str | None
    """The commit the acknowledgement named (SDK); None when the entry point names none
    (ingest records, gateway PUTs): the commit that added the path is looked up."""
    sent: float
    """When the write was sent."""
    acked: float
    """When it was acknowledged."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadBack:
    """What reading one acknowledged write back found."""

    ack: Ack
    """The write."""
    commit_id: str | None
    """The commit read: the acknowledged one, or the one found to add the path (None: none)."""
    sha256: str | None
    """Hex sha256 of the bytes read; None when nothing was read."""
    error: str = ""
    """Why the read failed, when it did."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitFact:
    """A commit of an input repo, as the lineage tables hold it after quiescence."""

    repo: str
    """Repo."""
    id: str
    """Commit id (also the id of the commit set it starts)."""
    finished: float | None
    """When it finished; None while open."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFact:
    """A job, as the lineage tables hold it."""

    id: str
    """Job id."""
    pipeline: str
    """Pipeline."""
    commitset: str | None
    """The commit set it ran for."""
    state: str
    """running, success, failure or killed."""
    started: float
    """When it started."""
    finished: float | None
    """When it ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenCommitFact:
    """A commit still open after quiescence."""

    repo: str
    """Repo."""
    id: str
    """Commit id."""
    branch: str
    """Branch."""
    description: str
    """Its description (the S3 gateway marks the commits it holds open)."""
    started: float
    """When it was opened."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """A record of the namespace's dead-letter topic."""

    component: str
    """The processor that gave up on the record."""
    topic: str
    """Where the original record was."""
    offset: int
    """Its offset."""
    reason: str
    """Why."""


Signal = Literal["SIGKILL", "SIGTERM"]
"""The two ways a process is stopped."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One signal sent to one process of the stack."""

    at: float
    """When it was sent."""
    target: str
    """The process kind (:data:`~pachstream.chaos._plan.TARGETS`)."""
    signal: Signal
    """The signal."""
    pid: int
    """The process signalled."""
    recovery_s: float | None = None
    """Seconds until the next write succeeded and the next job ran; None: not within the
    recovery timeout."""
    write_s: float | None = None
    """Seconds until the first write sent after it was acknowledged (None: not seen)."""
    job_s: float | None = None
    """Seconds until the first job started after it ended (None: not seen)."""
    restart_s: float | None = None
    """The supervisor's: seconds until ``up`` had the stack healthy again."""
