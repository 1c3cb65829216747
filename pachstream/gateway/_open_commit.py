"""The commit the gateway holds open on a branch: a pure state machine its shell drives.

Writes to an idle branch are committed at once, one commit per request batch. Writes that
arrive under load (several together, or one less than the quiet spell after the last) go
into one commit the gateway opens and finishes later, by the repo's ingest policy
(:class:`~._core.CommitTiming`). A read of the branch first finishes it, so a client reads
what it wrote.

States (:class:`CommitState`) and their transitions (:data:`TRANSITIONS`)::

    IDLE ──Write under load──▶ OPENING ──Started / AlreadyOpen (ours)──▶ OPEN
      ▲                          │ └──AlreadyOpen (someone else's)──▶ FOREIGN ──Settle──▶ IDLE
      │                          └──StartFailed──▶ IDLE
      │   OPEN / STALLED ──Written (due) / Tick (due) / Settle──▶ FINISHING
      └──Finished / Gone── FINISHING ──FinishFailed──▶ STALLED (the timer retries later)

The shell holds the branch's lock from a decision to the outcome of its action, so OPENING
and FINISHING only ever see the outcome events. :func:`decide` is pure (the clock is a
field of the events); every state change it makes is checked against :data:`TRANSITIONS`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import TypeAlias

from pachstream.gateway._core import CommitTiming

GATEWAY_DESCRIPTION = "s3 gateway: uploads"
"""Description of the commits the gateway opens (and finishes again after a restart)."""

RETRY_S = 5.0
"""After a failed finish (broker or database down): how long until the timer tries again."""


class CommitState(enum.Enum):
    """Where a branch's open commit is in its life."""

    IDLE = "idle"
    """No commit held: a write is a commit of its own."""
    OPENING = "opening"
    """A commit is being started for writes that arrived under load."""
    OPEN = "open"
    """The gateway's own commit takes the writes; the gateway finishes it."""
    FOREIGN = "foreign"
    """Someone else's open commit takes the writes; they finish it, never the gateway."""
    FINISHING = "finishing"
    """The gateway's commit is being finished."""
    STALLED = "stalled"
    """Finishing failed: the commit still takes writes and the timer tries again later."""


TRANSITIONS: dict[CommitState, frozenset[CommitState]] = {
    CommitState.IDLE: frozenset({CommitState.IDLE, CommitState.OPENING}),
    CommitState.OPENING: frozenset({CommitState.OPEN, CommitState.FOREIGN, CommitState.IDLE}),
    CommitState.OPEN: frozenset({CommitState.OPEN, CommitState.FINISHING}),
    CommitState.FOREIGN: frozenset({CommitState.FOREIGN, CommitState.IDLE}),
    CommitState.FINISHING: frozenset({CommitState.IDLE, CommitState.STALLED}),
    CommitState.STALLED: frozenset({CommitState.STALLED, CommitState.FINISHING}),
}
"""The states each state may move to (itself included: a write that changes no state)."""


def is_transition_valid(old: CommitState, new: CommitState) -> bool:
    """Whether a branch's open commit may go from ``old`` to ``new``."""
    return new in TRANSITIONS[old]


@dataclass(frozen=True, slots=True)
class BranchCommit:
    """What the gateway knows of its open commit on one branch."""

    state: CommitState = CommitState.IDLE
    commit: str | None = None
    """The open commit the gateway finishes (its own), in OPEN, FINISHING and STALLED."""
    opened: float = 0.0
    """Monotonic time the commit was opened (or found open)."""
    files: int = 0
    """File ops written into it."""
    last_write: float = float("-inf")
    """Monotonic time of the branch's last write through the gateway."""
    retry_at: float = 0.0
    """In STALLED: the monotonic time from which the timer tries to finish again."""


# ---------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Write:
    """``writes`` requests' ops are about to be sent to the branch together."""

    writes: int
    now: float


@dataclass(frozen=True, slots=True)
class Written:
    """The branch took ``ops`` file ops (one request)."""

    ops: int
    now: float


@dataclass(frozen=True, slots=True)
class Tick:
    """The timer's look at the branch; ``busy``: writes are queued or being sent."""

    now: float
    busy: bool = False


@dataclass(frozen=True, slots=True)
class Settle:
    """A read (or a stop) wants every write committed."""


@dataclass(frozen=True, slots=True)
class Started:
    """The commit the gateway asked for was opened."""

    commit: str
    now: float


@dataclass(frozen=True, slots=True)
class AlreadyOpen:
    """A commit was open on the branch already (the start was refused)."""

    commit: str
    description: str
    now: float


@dataclass(frozen=True, slots=True)
class StartFailed:
    """Opening the commit failed (the error goes to the writers)."""


@dataclass(frozen=True, slots=True)
class Finished:
    """The commit was finished (by the gateway, or already by someone else)."""


@dataclass(frozen=True, slots=True)
class Gone:
    """The repo or branch is gone, and the commit with it."""


@dataclass(frozen=True, slots=True)
class FinishFailed:
    """Finishing failed (broker or database down, say)."""

    now: float


Event: TypeAlias = (
    Write | Written | Tick | Settle | Started | AlreadyOpen | StartFailed | Finished | Gone
    | FinishFailed
)  # fmt: skip
"""Everything that happens to a branch's open commit."""


class Action(enum.Enum):
    """The one I/O step a decision hands to the shell."""

    NONE = "none"
    START = "start"
    """Start a commit on the branch (described :data:`GATEWAY_DESCRIPTION`), then report
    :class:`Started`, :class:`AlreadyOpen` or :class:`StartFailed`."""
    FINISH = "finish"
    """Finish the branch's open commit, then report :class:`Finished`, :class:`Gone` or
    :class:`FinishFailed`."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The new state, and the step the shell performs next."""

    state: BranchCommit
    action: Action = Action.NONE


def _move(old: BranchCommit, state: CommitState, **changes: object) -> BranchCommit:
    if not is_transition_valid(old.state, state):
        raise RuntimeError(f"open commit: {old.state.name} → {state.name} is not a transition")
    return replace(old, state=state, **changes)  # type: ignore[arg-type]


def _due(s: BranchCommit, timing: CommitTiming, now: float, idle_s: float) -> bool:
    return timing.due(s.files, now - s.opened, idle_s)


def _finish(s: BranchCommit) -> Decision:
    return Decision(_move(s, CommitState.FINISHING), Action.FINISH)


def decide(s: BranchCommit, event: Event, timing: CommitTiming) -> Decision:
    """The state after ``event`` and the step it asks for.

    An event the state cannot take (a bug in the shell driving the machine) raises
    RuntimeError, as does a state change that :data:`TRANSITIONS` does not list.

    Args:
        s: The branch's open commit now.
        event: What happened.
        timing: When an open commit finishes (the repo's ingest policy).

    """
    match s.state, event:
        case CommitState.IDLE, Write(writes, now):
            # Several writes together, or a client writing key after key: share a commit.
            if writes > 1 or now - s.last_write < timing.quiet:
                return Decision(_move(s, CommitState.OPENING), Action.START)
            return Decision(s)
        case CommitState.OPEN | CommitState.STALLED | CommitState.FOREIGN, Write():
            return Decision(s)
        case CommitState.IDLE, Written(_, now):
            return Decision(replace(s, last_write=now))
        case CommitState.FOREIGN, Written(ops, now):
            return Decision(replace(s, files=s.files + ops, last_write=now))
        case CommitState.OPEN | CommitState.STALLED, Written(ops, now):
            s = replace(s, files=s.files + ops, last_write=now)
            # Full or old: finished right after the write (a stalled one too: its writers wait).
            return _finish(s) if _due(s, timing, now, 0.0) else Decision(s)
        case CommitState.OPEN, Tick(now, busy):
            if not busy and _due(s, timing, now, now - s.last_write):
                return _finish(s)
            return Decision(s)
        case CommitState.STALLED, Tick(now, busy):
            if not busy and now >= s.retry_at and _due(s, timing, now, now - s.last_write):
                return _finish(s)
            return Decision(s)
        case CommitState.IDLE | CommitState.FOREIGN, Tick():
            return Decision(s)
        case CommitState.IDLE, Settle():
            return Decision(s)
        case CommitState.FOREIGN, Settle():
            return Decision(_move(s, CommitState.IDLE, files=0))  # the next write looks again
        case CommitState.OPEN | CommitState.STALLED, Settle():
            return _finish(s)
        case CommitState.OPENING, Started(commit, now):
            return Decision(_move(s, CommitState.OPEN, commit=commit, opened=now, files=0))
        case CommitState.OPENING, AlreadyOpen(commit, description, now):
            if description == GATEWAY_DESCRIPTION:  # ours, left open before a restart
                return Decision(_move(s, CommitState.OPEN, commit=commit, opened=now, files=0))
            # A user's commit: it takes the writes, the user finishes it.
            return Decision(_move(s, CommitState.FOREIGN, commit=None, opened=now, files=0))
        case CommitState.OPENING, StartFailed():
            return Decision(_move(s, CommitState.IDLE))
        case CommitState.FINISHING, Finished() | Gone():
            return Decision(_move(s, CommitState.IDLE, commit=None, files=0))
        case CommitState.FINISHING, FinishFailed(now):
            return Decision(_move(s, CommitState.STALLED, retry_at=now + RETRY_S))
    raise RuntimeError(f"open commit in state {s.state.name} cannot take {event!r}")


__all__ = [
    "GATEWAY_DESCRIPTION",
    "RETRY_S",
    "TRANSITIONS",
    "Action",
    "AlreadyOpen",
    "BranchCommit",
    "CommitState",
    "Decision",
    "Event",
    "FinishFailed",
    "Finished",
    "Gone",
    "Settle",
    "StartFailed",
    "Started",
    "Tick",
    "Write",
    "Written",
    "decide",
    "is_transition_valid",
]
