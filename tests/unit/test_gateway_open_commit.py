"""The gateway's open-commit state machine: every transition, table-driven, no servers."""

from __future__ import annotations

import itertools

import pytest

from pachstream.gateway._core import CommitTiming
from pachstream.gateway._open_commit import (
    GATEWAY_DESCRIPTION,
    RETRY_S,
    TRANSITIONS,
    Action,
    AlreadyOpen,
    BranchCommit,
    CommitState,
    Event,
    Finished,
    FinishFailed,
    Gone,
    Settle,
    Started,
    StartFailed,
    Tick,
    Write,
    Written,
    decide,
    is_transition_valid,
)

S = CommitState
T = CommitTiming(files=10, seconds=5.0, quiet=0.5)
NOW = 100.0

IDLE = BranchCommit()
RECENT = BranchCommit(last_write=NOW - 0.1)  # idle, written less than the quiet spell ago
OPEN = BranchCommit(S.OPEN, commit="c1", opened=NOW - 1, files=3, last_write=NOW - 0.1)
OPEN_FULL = BranchCommit(S.OPEN, commit="c1", opened=NOW - 1, files=9, last_write=NOW - 0.1)
OPEN_OLD = BranchCommit(S.OPEN, commit="c1", opened=NOW - 6, files=3, last_write=NOW - 0.1)
OPEN_QUIET = BranchCommit(S.OPEN, commit="c1", opened=NOW - 1, files=3, last_write=NOW - 0.6)
FOREIGN = BranchCommit(S.FOREIGN, opened=NOW - 9, files=30, last_write=NOW - 9)
OPENING = BranchCommit(S.OPENING, last_write=NOW - 0.1)
FINISHING = BranchCommit(S.FINISHING, commit="c1", opened=NOW - 9, files=3, last_write=NOW - 9)
STALLED = BranchCommit(
    S.STALLED, commit="c1", opened=NOW - 9, files=3, last_write=NOW - 9, retry_at=NOW + 1
)
STALLED_RETRY = BranchCommit(
    S.STALLED, commit="c1", opened=NOW - 9, files=3, last_write=NOW - 9, retry_at=NOW - 1
)

CASES: list[tuple[str, BranchCommit, Event, BranchCommit, Action]] = [
    # IDLE
    ("lone write to an idle branch: a commit of its own", IDLE, Write(1, NOW), IDLE, Action.NONE),
    (
        "writes arriving together open a commit",
        IDLE,
        Write(2, NOW),
        BranchCommit(S.OPENING),
        Action.START,
    ),
    (
        "a write soon after the last opens a commit",
        RECENT,
        Write(1, NOW),
        BranchCommit(S.OPENING, last_write=NOW - 0.1),
        Action.START,
    ),
    (
        "written while idle: only the time",
        IDLE,
        Written(4, NOW),
        BranchCommit(last_write=NOW),
        Action.NONE,
    ),
    ("timer on an idle branch", IDLE, Tick(NOW), IDLE, Action.NONE),
    ("settle an idle branch", IDLE, Settle(), IDLE, Action.NONE),
    # OPENING
    (
        "started",
        OPENING,
        Started("c9", NOW),
        BranchCommit(S.OPEN, commit="c9", opened=NOW, last_write=NOW - 0.1),
        Action.NONE,
    ),
    (
        "found our own commit from before a restart",
        OPENING,
        AlreadyOpen("c8", GATEWAY_DESCRIPTION, NOW),
        BranchCommit(S.OPEN, commit="c8", opened=NOW, last_write=NOW - 0.1),
        Action.NONE,
    ),
    (
        "found a user's commit",
        OPENING,
        AlreadyOpen("u1", "my import", NOW),
        BranchCommit(S.FOREIGN, opened=NOW, last_write=NOW - 0.1),
        Action.NONE,
    ),
    ("start failed", OPENING, StartFailed(), BranchCommit(last_write=NOW - 0.1), Action.NONE),
    # OPEN
    ("write into the open commit", OPEN, Write(3, NOW), OPEN, Action.NONE),
    (
        "written, not due",
        OPEN,
        Written(2, NOW),
        BranchCommit(S.OPEN, commit="c1", opened=NOW - 1, files=5, last_write=NOW),
        Action.NONE,
    ),
    (
        "written, full: finish",
        OPEN_FULL,
        Written(1, NOW),
        BranchCommit(S.FINISHING, commit="c1", opened=NOW - 1, files=10, last_write=NOW),
        Action.FINISH,
    ),
    (
        "written, old: finish",
        OPEN_OLD,
        Written(1, NOW),
        BranchCommit(S.FINISHING, commit="c1", opened=NOW - 6, files=4, last_write=NOW),
        Action.FINISH,
    ),
    ("timer, writes still coming", OPEN, Tick(NOW), OPEN, Action.NONE),
    (
        "timer after a quiet spell: finish",
        OPEN_QUIET,
        Tick(NOW),
        BranchCommit(S.FINISHING, commit="c1", opened=NOW - 1, files=3, last_write=NOW - 0.6),
        Action.FINISH,
    ),
    ("timer while writes are queued", OPEN_QUIET, Tick(NOW, busy=True), OPEN_QUIET, Action.NONE),
    (
        "settle finishes the open commit",
        OPEN,
        Settle(),
        BranchCommit(S.FINISHING, commit="c1", opened=NOW - 1, files=3, last_write=NOW - 0.1),
        Action.FINISH,
    ),
    # FOREIGN
    ("write into someone's commit", FOREIGN, Write(5, NOW), FOREIGN, Action.NONE),
    (
        "written into someone's commit: counted, never finished",
        FOREIGN,
        Written(100, NOW),
        BranchCommit(S.FOREIGN, opened=NOW - 9, files=130, last_write=NOW),
        Action.NONE,
    ),
    ("timer leaves someone's commit alone", FOREIGN, Tick(NOW), FOREIGN, Action.NONE),
    (
        "settle forgets someone's commit (the next write looks again)",
        FOREIGN,
        Settle(),
        BranchCommit(opened=NOW - 9, last_write=NOW - 9),
        Action.NONE,
    ),
    # FINISHING
    (
        "finished",
        FINISHING,
        Finished(),
        BranchCommit(opened=NOW - 9, last_write=NOW - 9),
        Action.NONE,
    ),
    (
        "repo or branch gone",
        FINISHING,
        Gone(),
        BranchCommit(opened=NOW - 9, last_write=NOW - 9),
        Action.NONE,
    ),
    (
        "finish failed: stalled, retried later",
        FINISHING,
        FinishFailed(NOW),
        BranchCommit(
            S.STALLED,
            commit="c1",
            opened=NOW - 9,
            files=3,
            last_write=NOW - 9,
            retry_at=NOW + RETRY_S,
        ),
        Action.NONE,
    ),  # fmt: skip
    # STALLED
    ("write into a stalled commit", STALLED, Write(1, NOW), STALLED, Action.NONE),
    (
        "written into a stalled commit that is due: finish now (its writers wait)",
        STALLED,
        Written(1, NOW),
        BranchCommit(
            S.FINISHING, commit="c1", opened=NOW - 9, files=4, last_write=NOW, retry_at=NOW + 1
        ),
        Action.FINISH,
    ),
    ("timer before the retry time", STALLED, Tick(NOW), STALLED, Action.NONE),
    (
        "timer at the retry time: finish again",
        STALLED_RETRY,
        Tick(NOW),
        BranchCommit(
            S.FINISHING,
            commit="c1",
            opened=NOW - 9,
            files=3,
            last_write=NOW - 9,
            retry_at=NOW - 1,
        ),
        Action.FINISH,
    ),  # fmt: skip
    ("timer at the retry time, busy", STALLED_RETRY, Tick(NOW, True), STALLED_RETRY, Action.NONE),
    (
        "settle finishes a stalled commit",
        STALLED,
        Settle(),
        BranchCommit(
            S.FINISHING, commit="c1", opened=NOW - 9, files=3, last_write=NOW - 9, retry_at=NOW + 1
        ),
        Action.FINISH,
    ),
]


@pytest.mark.parametrize(
    ("why", "state", "event", "want", "action"), CASES, ids=[c[0] for c in CASES]
)
def test_decide(
    why: str, state: BranchCommit, event: Event, want: BranchCommit, action: Action
) -> None:
    decision = decide(state, event, T)
    assert decision.state == want
    assert decision.action is action
    assert is_transition_valid(state.state, decision.state.state)


def test_every_transition_is_exercised() -> None:
    seen = {(s.state, w.state) for _, s, _, w, _ in CASES}
    listed = {(old, new) for old, news in TRANSITIONS.items() for new in news}
    assert seen == listed


INVALID: list[tuple[BranchCommit, Event]] = [
    (IDLE, Started("c", NOW)),
    (IDLE, AlreadyOpen("c", "", NOW)),
    (IDLE, StartFailed()),
    (IDLE, Finished()),
    (IDLE, Gone()),
    (IDLE, FinishFailed(NOW)),
    (OPENING, Write(1, NOW)),
    (OPENING, Written(1, NOW)),
    (OPENING, Tick(NOW)),
    (OPENING, Settle()),
    (OPENING, Finished()),
    (OPEN, Started("c", NOW)),
    (OPEN, Finished()),
    (OPEN, FinishFailed(NOW)),
    (FOREIGN, Finished()),
    (FOREIGN, StartFailed()),
    (FINISHING, Write(1, NOW)),
    (FINISHING, Written(1, NOW)),
    (FINISHING, Tick(NOW)),
    (FINISHING, Settle()),
    (FINISHING, Started("c", NOW)),
    (STALLED, Finished()),
    (STALLED, Gone()),
    (STALLED, Started("c", NOW)),
]


@pytest.mark.parametrize(("state", "event"), INVALID)
def test_an_event_the_state_cannot_take_is_a_bug(state: BranchCommit, event: Event) -> None:
    with pytest.raises(RuntimeError, match="cannot take"):
        decide(state, event, T)


def test_transition_check() -> None:
    for old, new in itertools.product(S, S):
        assert is_transition_valid(old, new) == (new in TRANSITIONS[old])
    assert not is_transition_valid(S.IDLE, S.FINISHING)
    assert not is_transition_valid(S.FOREIGN, S.FINISHING)  # never finish someone's commit
    assert set(TRANSITIONS) == set(S)


def test_a_burst_then_quiet_makes_one_commit() -> None:
    """Drive the machine as the shell does: 25 writes in a burst, then the timer."""
    s, commits, t = IDLE, 0, NOW
    for i in range(25):
        d = decide(s, Write(2 if i == 0 else 1, t), T)
        s = d.state
        if d.action is Action.START:
            s = decide(s, Started(f"c{commits}", t), T).state
        d = decide(s, Written(1, t), T)
        s = d.state
        if d.action is Action.FINISH:
            s = decide(s, Finished(), T).state
            commits += 1
        t += 0.01
    d = decide(s, Tick(t + 1.0), T)
    assert d.action is Action.FINISH
    s = decide(d.state, Finished(), T).state
    assert s.state is S.IDLE
    assert commits == 2  # two full commits of 10 during the burst, the rest finished after
