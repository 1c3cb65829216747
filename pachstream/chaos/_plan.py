"""Which process to kill, how and when, and when the stack counts as recovered. Pure.

The plan comes from a seeded :class:`random.Random`: the same seed gives the same faults in
the same order with the same gaps, so a campaign that broke an invariant can be run again.
Targets are dealt in rounds, each round every target once in a shuffled order: a short
campaign still spreads its faults over different processes, a long one hits each many times.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pachstream.chaos._facts import Ack, JobFact, Signal
from pachstream.errors import InvalidInput

TARGETS = (
    "commits",
    "lineage",
    "dispatch",
    "workers",
    "worker",
    "ingest",
    "s3gateway",
    "supervisor",
    "tansu",
    "postgres",
    "seaweedfs",
)
"""Every process kind of an embedded stack: the processors (``pachstream run NAME``), one
worker process of the pool (``pachstream run worker``), the supervisor, the broker, PostgreSQL
and the object store."""

SIGNALS: tuple[Signal, ...] = ("SIGKILL", "SIGTERM")


@dataclass(frozen=True, slots=True, kw_only=True)
class Shot:
    """One planned fault."""

    gap_s: float
    """Seconds to wait, after the previous fault recovered, before this one."""
    target: str
    """The process kind."""
    signal: Signal
    """How."""


FaultClasses = Mapping[str, tuple[Signal, ...]]
"""Target → the signals it may get."""


def fault_classes(exclude: Iterable[str] = ()) -> dict[str, tuple[Signal, ...]]:
    """Every target with both signals, less ``exclude``: ``TARGET`` (never signalled) or
    ``TARGET:SIGNAL`` (never with that signal). InvalidInput naming an unknown target or
    signal, or when nothing is left. Pure.
    """
    classes: dict[str, tuple[Signal, ...]] = {t: SIGNALS for t in TARGETS}
    for item in exclude:
        target, _, sig = item.partition(":")
        if target not in TARGETS:
            raise InvalidInput(
                f"--exclude {item!r}: unknown process {target!r}; use one of "
                f"{', '.join(TARGETS)}, optionally with :SIGKILL or :SIGTERM",
                target=target,
            )
        if sig and sig not in SIGNALS:
            raise InvalidInput(
                f"--exclude {item!r}: unknown signal {sig!r}; use SIGKILL or SIGTERM",
                signal=sig,
            )
        kept = tuple(s for s in classes.get(target, ()) if sig and s != sig)
        if kept:
            classes[target] = kept
        else:
            classes.pop(target, None)
    if not classes:
        raise InvalidInput("every chaos fault is excluded; leave at least one")
    return classes


def plan_faults(
    seed: int,
    count: int,
    classes: FaultClasses,
    gap_s: tuple[float, float] = (1.0, 5.0),
) -> list[Shot]:
    """``count`` faults drawn from ``seed``: targets in shuffled rounds, a random signal of
    the target's classes and a random gap each. Pure: the same arguments, the same plan.
    """
    rng = random.Random(seed)
    shots: list[Shot] = []
    deck: list[str] = []
    while len(shots) < count:
        if not deck:
            deck = sorted(classes)
            rng.shuffle(deck)
        target = deck.pop()
        shots.append(
            Shot(
                gap_s=round(rng.uniform(*gap_s), 2),
                target=target,
                signal=rng.choice(classes[target]),
            )
        )
    return shots


def first_write(
    fault_at: float,
    acks: Iterable[Ack],
    write_kinds: frozenset[str] = frozenset({"sdk-put", "sdk-commit"}),
) -> float | None:
    """When the first write of ``write_kinds`` sent after ``fault_at`` was acknowledged."""
    return min(
        (a.acked for a in acks if a.kind in write_kinds and a.sent >= fault_at), default=None
    )


def first_job(fault_at: float, jobs: Iterable[JobFact]) -> float | None:
    """When the first job started after ``fault_at`` ended successfully."""
    return min(
        (
            j.finished
            for j in jobs
            if j.state == "success" and j.started >= fault_at and j.finished is not None
        ),
        default=None,
    )


def recovered_at(
    fault_at: float,
    acks: Iterable[Ack],
    jobs: Iterable[JobFact],
    *,
    write_kinds: frozenset[str] = frozenset({"sdk-put", "sdk-commit"}),
) -> float | None:
    """When the stack recovered from a fault at ``fault_at``: once a write of
    ``write_kinds`` sent after the fault was acknowledged (:func:`first_write`) and a job
    started after the fault ended successfully (:func:`first_job`), the later of the two;
    None before both.

    SDK writes are the default witness: they cross the broker, the commit processor, the
    materializer and Postgres, where an ingest record's acknowledgement is the broker's alone.
    """
    write = first_write(fault_at, acks, write_kinds)
    job = first_job(fault_at, jobs)
    if write is None or job is None:
        return None
    return max(write, job)


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank ``pct`` percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
