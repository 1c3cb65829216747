"""``pachstream chaos``: a fault-injection campaign; exit 0 only when every invariant held."""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from pachstream.cli._app import app

if TYPE_CHECKING:  # the campaign loads the client and the drivers: imported when it runs
    from pachstream.chaos import Report

out = Console()
err = Console(stderr=True)


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return "never" if value == float("inf") else f"{value:.1f}"


def render(report: Report) -> list[Table]:
    """The report as tables: faults per process, each fault, the invariants."""
    from pachstream.chaos import RECOVERY_TARGET_S, TARGETS, percentile

    per = Table(title="faults injected per process", box=None)
    for col in ("process", "SIGKILL", "SIGTERM", "skipped", "recovery p50 (s)", "max (s)"):
        per.add_column(col, justify="left" if col == "process" else "right")
    for target in TARGETS:
        hits = [f for f in report.faults if f.target == target]
        if not hits and not report.skipped[target]:
            continue
        times = [f.recovery_s if f.recovery_s is not None else float("inf") for f in hits]
        kinds = Counter(f.signal for f in hits)
        per.add_row(
            target, str(kinds["SIGKILL"]), str(kinds["SIGTERM"]), str(report.skipped[target]),
            _s(percentile(times, 50)), _s(max(times, default=None)),
        )  # fmt: skip

    each = Table(
        title="recovery per fault (next write acknowledged and next job done; write, job: "
        "seconds to each; up: the stack healthy again after its supervisor)",
        box=None,
    )
    cols = ("#", "at (s)", "process", "signal", "pid", "recovery (s)", "write", "job", "up")
    for col in cols:
        each.add_column(col, justify="right" if col != "process" else "left")
    for i, f in enumerate(report.faults, start=1):
        each.add_row(
            str(i), f"{f.at - report.began:.1f}", f.target, f.signal, str(f.pid),
            _s(f.recovery_s) if f.recovery_s is not None else "[red]not recovered[/]",
            _s(f.write_s), _s(f.job_s), _s(f.restart_s),
        )  # fmt: skip

    inv = Table(title="invariants", box=None)
    for col in ("invariant", "checked", "held", "first problems"):
        inv.add_column(col, justify="right" if col == "checked" else "left")
    for held in report.invariants:
        mark = "[green]yes[/]" if held.held else f"[red]NO ({held.count})[/]"
        inv.add_row(held.name, str(held.checked), mark, "\n".join(held.problems) or "-")

    p95 = report.recovery_p95
    met = p95 is not None and p95 < RECOVERY_TARGET_S
    summary = Table(title="summary", box=None, show_header=False)
    summary.add_column()
    summary.add_column()
    cfg = report.config
    summary.add_row("seed", f"{cfg.seed} (replay: pachstream chaos --duration "
                    f"{cfg.duration_s:.0f} --seed {cfg.seed})")  # fmt: skip
    summary.add_row("load", f"{report.load_s:.0f} s, {report.jobs} jobs")
    summary.add_row(
        "acknowledged writes",
        ", ".join(f"{k} {v}" for k, v in sorted(report.acked.items())) or "none",
    )
    summary.add_row(
        "not acknowledged",
        ", ".join(f"{k} {v}" for k, v in sorted(report.failed.items())) or "none",
    )
    summary.add_row(
        "recovery p95",
        f"{_s(p95)} s (target < {RECOVERY_TARGET_S:.0f} s: "
        + ("[green]met[/])" if met else "[red]missed[/])"),
    )
    for note in report.notes:
        summary.add_row("note", note)
    summary.add_row(
        "verdict", "[green]every invariant held[/]" if report.ok else "[red]INVARIANT BROKEN[/]"
    )
    return [per, each, inv, summary]


@app.command("chaos")
def chaos(
    duration: float = typer.Option(
        ..., "--duration", min=10, help="Seconds of load during which faults are injected."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of the fault plan and the writes (default: random, printed)."
    ),
    exclude: list[str] = typer.Option(
        [],
        "--exclude",
        help="A fault class never injected: a process kind (commits, postgres...) or "
        "KIND:SIGNAL (postgres:SIGTERM); repeatable.",
    ),
    home: Path | None = typer.Option(
        None,
        "--home",
        help="Folder for the campaign's stack (default: a temporary one, removed when every "
        "invariant held).",
    ),
) -> None:
    """Kill random processes of a stack under load, then check every invariant (issue 18).

    Starts a stack of its own, drives SDK puts and commits, ingest-topic records, S3 gateway
    PUTs and multipart uploads and a 2-stage pipeline with a join, and sends SIGKILL or
    SIGTERM to a random process at random moments. Exit code 0 only when every invariant held.
    """
    from pachstream.chaos import CampaignConfig, fault_classes, run_campaign

    fault_classes(exclude)  # a bad --exclude is refused before any server starts
    # Under faults every driver logs its broken connections (asyncpg, aiokafka, aiohttp):
    # expected, and the report says what matters; the stack's own logs are in its folder.
    logging.basicConfig(level=logging.CRITICAL)
    seed = seed if seed is not None else random.SystemRandom().randrange(1, 2**31)
    own = home is None
    folder = Path(tempfile.mkdtemp(prefix=f"chaos-{seed}-")) if home is None else home
    cfg = CampaignConfig(
        duration_s=duration, seed=seed, home=folder / "stack", exclude=tuple(exclude)
    )
    err.print(f"chaos: seed {seed} (replay with --seed {seed})")
    report = asyncio.run(run_campaign(cfg, lambda s: err.print(s, highlight=False)))
    for table in render(report):
        out.print(table)
    if not report.ok:
        err.print(f"logs of the stack: {cfg.home / 'logs'}")
        raise typer.Exit(1)
    if own:
        shutil.rmtree(folder, ignore_errors=True)
