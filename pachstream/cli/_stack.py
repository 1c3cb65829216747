"""``pachstream up``, ``down`` and ``status``."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pachstream.cli._app import app
from pachstream.security import check_gateway_bind, redact
from pachstream.settings import Settings, parse_host_port

out = Console()
err = Console(stderr=True)


def _table(st: dict, show_secrets: bool = False) -> Table:  # type: ignore[type-arg]
    table = Table("COMPONENT", "ADDRESS", "PID", "HEALTHY", box=None)
    for c in st["components"]:
        mark = "[green]yes[/]" if c["healthy"] else "[red]no[/]"
        pid = "external" if c.get("external") else str(c.get("pid") or "-")
        address = c.get("address") or "-"  # the embedded Postgres's is a DSN with a password
        table.add_row(c["name"], address if show_secrets else redact(address), pid, mark)
    return table


def _metrics(home: Path) -> dict[str, dict[str, Any]]:
    """Each process's lag and records consumed, scraped from its /metrics (an error each
    for those that do not answer).
    """
    from pachstream.metrics import metrics_addresses, report_all

    addresses = metrics_addresses(home)
    if not addresses:
        return {}
    return {k: dataclasses.asdict(v) for k, v in asyncio.run(report_all(addresses)).items()}


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _metrics_table(report: dict[str, dict[str, Any]]) -> Table:
    table = Table("PROCESS", "LAG", "CONSUMED", "METRICS", box=None)
    for name, r in report.items():
        if r["error"] is not None:
            table.add_row(name, "-", "-", f"[red]{escape(r['error'])}[/]")
        else:
            table.add_row(name, _number(r["lag"]), _number(r["consumed"]), r["url"])
    return table


@app.command("up")
def up(
    detach_: bool = typer.Option(False, "--detach", "-d", help="Run in the background and return."),
    grace: float = typer.Option(15.0, "--grace", help="Seconds each process gets to stop."),
) -> None:
    """Start the embedded stack (the servers the environment does not name) and the processors."""
    from pachstream.stack import Supervisor, detach, running

    settings = Settings.from_env(stack_file=False)  # refuses a bad setting at once
    if settings.gateway_address:  # else the supervisor picks a loopback port
        host, port = parse_host_port(
            settings.gateway_address, "PACHSTREAM_GATEWAY_ADDRESS", "127.0.0.1:1600"
        )
        check_gateway_bind(host, port, keyed=bool(settings.gateway_keys))
    pid = running(settings.home)
    if pid is not None:
        # As `docker compose up -d` does: the stack asked for is there, which is success.
        out.print(f"a stack is already running in {settings.home} (pid {pid}); nothing to do")
        return
    if detach_:
        st = detach(settings.home, grace, lambda s: err.print(s))
        out.print(_table(st))
        out.print(f"stack running in {settings.home}; stop it with 'pachstream down'")
        return
    secrets = settings.secrets()
    sup = Supervisor(settings, grace=grace, say=lambda s: print(redact(s, secrets), flush=True))
    # Only this entry point installs signal handlers (STYLE.md §7).
    signal.signal(signal.SIGTERM, sup.request_stop)
    signal.signal(signal.SIGINT, sup.request_stop)
    sup.run()


@app.command("down")
def down_cmd(
    grace: float = typer.Option(15.0, "--grace", help="Seconds each process gets to stop."),
) -> None:
    """Stop the stack: gracefully, then by force after the grace period."""
    from pachstream.stack import down

    down(Settings.from_env(stack_file=False).home, grace, lambda s: out.print(s))


@app.command("status")
def status_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    show_secrets: bool = typer.Option(
        False,
        "--show-secrets",
        help="Show the Postgres password and the S3 secret key instead of ***.",
    ),
) -> None:
    """Each component's address, pid and health (secrets shown as *** without
    --show-secrets).
    """
    from pachstream.stack import status

    home = Settings.from_env(stack_file=False).home
    st = status(home)
    if st is None or not (st["supervisor_alive"] or any(c["healthy"] for c in st["components"])):
        # typer.echo, not Rich: a Rich console folds the line at the terminal's width.
        typer.echo(
            f"error: no stack running in {home}; start one with 'pachstream up --detach'", err=True
        )
        sys.exit(1)
    st["metrics"] = _metrics(home)
    if as_json:
        text = orjson.dumps(st, option=orjson.OPT_INDENT_2).decode()
        sys.stdout.write((text if show_secrets else redact(text)) + "\n")
        return
    out.print(_table(st, show_secrets))
    if st["metrics"]:
        out.print(_metrics_table(st["metrics"]))
    if not st["supervisor_alive"]:
        err.print("warning: the supervisor is not running; components are not restarted")
