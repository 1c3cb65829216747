"""One campaign: a stack of its own, the load, faults until the duration is over, quiescence,
then every invariant checked against what the load was told succeeded.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pachstream.chaos import _collect as collect
from pachstream.chaos._facts import Fault
from pachstream.chaos._invariants import (
    Invariant,
    check_acknowledged,
    check_dead_letters,
    check_jobs,
    check_lineage,
    check_open_commits,
    check_outputs,
    downstream_of,
)
from pachstream.chaos._load import Load, Recorder, settings_source
from pachstream.chaos._plan import (
    fault_classes,
    first_job,
    first_write,
    percentile,
    plan_faults,
)
from pachstream.chaos._procs import CampaignStack, send
from pachstream.client import Client
from pachstream.errors import PachstreamError

Say = Callable[[str], None]
T = TypeVar("T")

INPUTS = ("left", "right")
"""The join's two sides: SDK commits into ``left``, ingest records into ``right``."""
OTHERS = ("notes", "uploads")
"""Repos no pipeline reads: SDK puts, and the S3 gateway's bucket ``master.uploads``."""
PIPELINES = {"joined": INPUTS, "summary": ("joined",)}
"""Each pipeline and the repos it reads."""
SPECS = """
pipeline: {name: joined}
description: the two sides of each group, joined on the group's folder
input:
  join:
    - pfs: {repo: left, glob: "/(*)", join_on: "$1"}
    - pfs: {repo: right, glob: "/(*)", join_on: "$1"}
transform:
  cmd:
    - sh
    - -c
    - |
      k=$(basename "$left")
      for f in $(cd /pfs && find left/$k right/$k -type f | sort); do cat "/pfs/$f"; done \\
        | md5sum | cut -c1-32 > "/pfs/out/$k"
      (cd /pfs && find left/$k right/$k -type f | sort) >> "/pfs/out/$k"
---
pipeline: {name: summary}
description: one digest of everything joined
input: {pfs: {repo: joined, glob: "/"}}
transform:
  cmd:
    - sh
    - -c
    - 'for f in $(find /pfs/joined -type f | sort); do cat "$f"; done | md5sum > /pfs/out/total'
"""
"""A 2-stage pipeline with a join, deterministic, so a from-scratch run must match."""
COMMIT_EVERY_S = 5.0
"""Seconds between two commits into each input (SDK into ``left``; the ingest policy for
``right``): every commit makes a job per pipeline."""
INGEST_POLICY = f"1000/{COMMIT_EVERY_S:.0f}s"
"""Ingest records per commit."""
QUIET_POLLS = int(COMMIT_EVERY_S) + 3
"""Polls, a second apart, that must see nothing change before the stack counts as quiet."""
CHECKS = (
    "acknowledged writes readable at their commit",
    "one successful job per input commit and pipeline",
    "no commit left open without a writer",
    "no dead letter from a healthy producer",
    "lineage tables equal a full replay",
    "outputs equal a from-scratch run",
)
"""The invariants, in the order they are checked."""
RECOVERY_TARGET_S = 15.0
"""The issue's target for the p95 of recovery times on the embedded stack."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignConfig:
    """What to run."""

    duration_s: float
    """Seconds of load with faults."""
    seed: int
    """Seeds the fault plan and the content of every write."""
    home: Path
    """A folder of the campaign's own for its stack (created; left for the logs)."""
    exclude: tuple[str, ...] = ()
    """Fault classes never injected: ``TARGET`` or ``TARGET:SIGNAL`` (see
    :func:`~pachstream.chaos._plan.fault_classes`)."""
    gap_s: tuple[float, float] = (1.0, 5.0)
    """Seconds between a recovery and the next fault: drawn in this range."""
    recovery_timeout_s: float = 90.0
    """A fault not recovered from within this counts as not recovered."""


@dataclass
class Report:
    """What a campaign found."""

    config: CampaignConfig
    faults: list[Fault] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    """Planned faults whose target had no live process at that moment."""
    invariants: list[Invariant] = field(default_factory=list)
    acked: Counter[str] = field(default_factory=Counter)
    """Acknowledged writes by kind."""
    failed: Counter[str] = field(default_factory=Counter)
    """Writes not acknowledged, by loop."""
    jobs: int = 0
    began: float = 0.0
    load_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return bool(self.invariants) and all(i.held for i in self.invariants)

    @property
    def recovery_p95(self) -> float | None:
        """p95 of recovery times; an unrecovered fault counts as infinitely long."""
        times = [f.recovery_s if f.recovery_s is not None else float("inf") for f in self.faults]
        return percentile(times, 95)


async def run_campaign(cfg: CampaignConfig, say: Say) -> Report:
    """Run one campaign and return its report (the stack is stopped in every case)."""
    cfg.home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PACHSTREAM_HOME": str(cfg.home),
        "PACHSTREAM_INGEST_POLICY": INGEST_POLICY,
    }
    stack = CampaignStack(cfg.home, {"PACHSTREAM_INGEST_POLICY": INGEST_POLICY}, say)
    report = Report(config=cfg)
    say(f"chaos: seed {cfg.seed}, {cfg.duration_s:.0f} s, stack in {cfg.home}")
    await asyncio.to_thread(stack.up)
    try:
        await _campaign(cfg, stack, settings_source(env), report, say)
    finally:
        await asyncio.to_thread(stack.down)
    return report


async def _campaign(
    cfg: CampaignConfig, stack: CampaignStack, src: Any, report: Report, say: Say
) -> None:
    async with await Client.connect(src(), timeout_s=60) as c:
        for repo in (*INPUTS, *OTHERS):
            await c.create_repo(repo)
        await c.create_pipeline(SPECS)
    rec = Recorder()
    stop = asyncio.Event()
    load = asyncio.create_task(
        Load(src, cfg.seed, rec, COMMIT_EVERY_S).run(stop), name="chaos-load"
    )
    report.began = time.time()
    try:
        await _warm_up(rec, load, say)
        await _inject(cfg, stack, rec, report, say)
    finally:
        stop.set()
        await load
    report.load_s = time.time() - report.began
    report.acked = Counter(a.kind for a in rec.acks)
    report.failed = Counter(rec.failures)
    for kind, err in sorted(rec.last_error.items()):
        say(f"  {rec.failures[kind]} {kind} writes not acknowledged; last: {err[:160]}")
    try:
        if not await _quiesce(src, say):
            report.notes.append("the stack did not become quiet within the timeout")
    except (PachstreamError, OSError, TimeoutError) as exc:
        report.notes.append(f"the stack did not become quiet: {exc}")
    report.invariants = await _check(src, rec, report, say)


async def _warm_up(
    rec: Recorder, load: asyncio.Task[None], say: Say, timeout_s: float = 90
) -> None:
    """Until the load writes and a job has succeeded: a fault before would measure nothing."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not load.done():
        if rec.acks and any(j.state == "success" for j in rec.jobs.values()):
            say(f"load running: {len(rec.acks)} writes acknowledged, first job done")
            return
        await asyncio.sleep(0.5)
    if load.done():
        await load  # raises what stopped it
    say("warning: no job succeeded during the warm-up; injecting faults anyway")


async def _inject(
    cfg: CampaignConfig, stack: CampaignStack, rec: Recorder, report: Report, say: Say
) -> None:
    """Faults from the plan, each after the previous one recovered, until the duration."""
    deadline = report.began + cfg.duration_s
    pick = random.Random(cfg.seed + 1)  # which worker, when there are several
    present = await asyncio.to_thread(stack.targets_present)
    wanted = fault_classes(cfg.exclude)
    classes = {t: sigs for t, sigs in wanted.items() if t in present}
    for t in sorted(set(wanted) - present):
        report.notes.append(f"no process of {t} in this stack (an external server): not hit")
    for t in cfg.exclude:
        report.notes.append(f"excluded fault class: {t}")
    for shot in plan_faults(cfg.seed, 10_000, classes, cfg.gap_s):
        if time.time() + shot.gap_s >= deadline:
            break
        await asyncio.sleep(shot.gap_s)
        pid = await asyncio.to_thread(stack.pid_of, shot.target, pick.choice)
        if pid is None:
            report.skipped[shot.target] += 1
            say(f"  {time.time() - report.began:6.1f} s: no live {shot.target} process: skipped")
            continue
        at = time.time()
        send(pid, shot.signal)
        say(f"  {at - report.began:6.1f} s: {shot.signal} {shot.target} (pid {pid})")
        since = at
        ready: float | None = None
        if shot.target == "supervisor":
            since = await asyncio.to_thread(stack.restart)
            ready = time.time() - at
        recovery, write_s, job_s = await _recovery(
            at, shot.target, rec, cfg.recovery_timeout_s, since=since
        )
        if recovery is None and stack.supervisor_down():
            report.notes.append(f"the supervisor died after {shot.signal} of {shot.target}")
            await asyncio.to_thread(stack.restart)
        report.faults.append(
            Fault(
                at=at,
                target=shot.target,
                signal=shot.signal,
                pid=pid,
                recovery_s=recovery,
                write_s=write_s,
                job_s=job_s,
                restart_s=ready,
            )
        )
        shown = "not recovered" if recovery is None else f"recovered in {recovery:.1f} s"
        shown += f" (first write {_s(write_s)} s, first job {_s(job_s)} s)"
        say(f"  {time.time() - report.began:6.1f} s: {shown}")


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}"


async def _recovery(
    at: float, target: str, rec: Recorder, timeout_s: float, *, since: float | None = None
) -> tuple[float | None, float | None, float | None]:
    """Seconds from ``at`` until the stack recovered (see :func:`recovered_at`), counting
    writes and jobs begun from ``since`` (default ``at``; a stopped supervisor: once it was
    gone); None when it did not within ``timeout_s``. The gateway's also needs a gateway write.
    Then the seconds until the first write and until the first job (None: not seen), which
    show which of the two the recovery waited for.
    """
    deadline = time.monotonic() + timeout_s
    begun = at if since is None else since
    kinds = [frozenset({"sdk-put", "sdk-commit"})]
    if target == "s3gateway":
        kinds.append(frozenset({"gateway-put", "gateway-multipart"}))
    write: float | None = None
    job: float | None = None
    while time.monotonic() < deadline:
        writes = [first_write(begun, rec.acks, k) for k in kinds]
        write = None if None in writes else max(w for w in writes if w is not None)
        job = first_job(begun, rec.jobs.values())
        if write is not None and job is not None:
            return max(write, job) - at, write - at, job - at
        await asyncio.sleep(0.25)
    return None, None if write is None else write - at, None if job is None else job - at


async def _retrying(call: Callable[[], Awaitable[T]], timeout_s: float = 60) -> T:
    """``call()`` until it succeeds: the stack may still be coming back from the last fault."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await call()
        except (PachstreamError, OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


async def _quiesce(src: Any, say: Say, timeout_s: float = 180) -> bool:
    """Until every job downstream of the inputs' heads ended, no commit is open, no job runs,
    and nothing changed for :data:`QUIET_POLLS` s in a row; False when that took longer than
    ``timeout_s``.
    """
    began = time.monotonic()
    deadline = began + timeout_s

    async def poll() -> list[str]:
        """What is not quiet yet when the deadline passed; nothing once quiet."""
        async with await Client.connect(src(), timeout_s=30) as c:
            for repo in INPUTS:
                head = await c.inspect_commit(f"{repo}@master")
                await c.flush(repo, head.id, timeout_s=max(1.0, deadline - time.monotonic()))
            last = None
            steady = 0
            opened: list[Any] = []
            running: list[Any] = []
            while time.monotonic() < deadline:
                opened = await c.list_open_commits()
                jobs = await c.list_job()
                running = [j for j in jobs if j.finished is None]
                offsets = await collect.lineage_offsets(src())
                commits = sum([len(await c.list_commit(r)) for r in (*INPUTS, *OTHERS)])
                now = (sum(offsets.values()), len(jobs), commits)
                steady = steady + 1 if (not opened and not running and now == last) else 0
                # Longer than the ingest policy's interval: the ingest consumer holds a due
                # batch in memory (no open commit shows it) for up to COMMIT_EVERY_S; a batch
                # sent after "quiet" made the live and from-scratch outputs differ (seen once).
                if steady >= QUIET_POLLS:
                    return []
                last = now
                await asyncio.sleep(1)
            return [f"{len(opened)} open commit(s)"] + [
                f"job {j.id} of {j.pipeline} running" for j in running
            ]

    unquiet = await _retrying(poll)
    if not unquiet:
        say(f"quiet after {time.monotonic() - began:.1f} s")
        return True
    # What it waited for, and whether the lineage tables (which the jobs are read from) were
    # behind the events topic: a job shown running may have ended unseen.
    say(not_quiet(unquiet, await collect.lineage_lag(src())))
    return False


def not_quiet(unquiet: list[str], lag: dict[tuple[str, int], tuple[int, int | None]]) -> str:
    """The line that says why a stack was not quiet in time: what it waited for, and the
    events partitions the lineage tables had not applied to their end (:func:`lineage_lag`:
    applied offset, log end or None when no fetch reported it). Pure.
    """
    if not lag:
        tables = "lineage tables caught up with the events topic"
    else:
        tables = "lineage tables behind the events topic; partition: (applied, log end) " + (
            ", ".join(f"{t}[{p}]: {v}" for (t, p), v in sorted(lag.items()))
        )
    return "not quiet in time: " + "; ".join([*unquiet, tables])


async def _checked(name: str, check: Callable[[], Awaitable[Invariant]]) -> Invariant:
    """An invariant whose facts could not be collected does not hold, and says why."""
    try:
        return await check()
    except (PachstreamError, OSError, TimeoutError) as exc:
        return Invariant(name=name, checked=0, problems=(f"could not check: {exc}",), count=1)


async def _check(src: Any, rec: Recorder, report: Report, say: Say) -> list[Invariant]:
    try:
        c = await _retrying(lambda: Client.connect(src(), timeout_s=120, pool_size=8))
    except (PachstreamError, OSError, TimeoutError) as exc:
        return [
            Invariant(name=name, checked=0, problems=(f"could not check: {exc}",), count=1)
            for name in CHECKS
        ]
    settings = src()
    async with c:

        async def acked() -> Invariant:
            return check_acknowledged(await collect.read_backs(c, rec.acks))

        async def jobs() -> Invariant:
            commits = await collect.commit_facts(c, INPUTS)
            job_list = await collect.job_facts(c)
            report.jobs = len(job_list)
            return check_jobs(commits, job_list, downstream_of(PIPELINES))

        async def outputs() -> Invariant:
            live = {p: await collect.tree(c, p) for p in PIPELINES}
            scratch = await collect.scratch_outputs(
                c, settings, SPECS, INPUTS, list(PIPELINES), say
            )
            return check_outputs(live, scratch)

        async def lineage() -> Invariant:
            live, replayed = await collect.lineage_replay(settings, say)
            return check_lineage(live, replayed)

        async def opened() -> Invariant:
            return check_open_commits(await collect.open_commit_facts(c))

        async def dead() -> Invariant:
            return check_dead_letters(await collect.dead_letters(settings))

        checks = [acked, jobs, opened, dead, lineage, outputs]

        async def timed(name: str, check: Callable[[], Awaitable[Invariant]]) -> Invariant:
            began = time.monotonic()
            held = await _checked(name, check)
            say(f"checked: {name} ({time.monotonic() - began:.1f} s)")
            return held

        # Reading every write back and the from-scratch run wait on other processes mostly:
        # side by side, they take the time of the slower. The replay goes alone, after: its
        # materializer, in this process, once sat 60 s without a batch beside the other two
        # (load ~10), and alone took 8 s on the same stack.
        named = dict(zip(CHECKS, checks, strict=True))
        together = [n for n, check in named.items() if check is not lineage]
        results = await asyncio.gather(*(timed(n, named[n]) for n in together))
        held = dict(zip(together, results, strict=True))
        replay = next(n for n, check in named.items() if check is lineage)
        held[replay] = await timed(replay, lineage)
    return [held[n] for n in CHECKS]
