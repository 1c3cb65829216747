"""``list commitset``, ``inspect commitset`` and ``wait commitset``: a commit and everything
it caused downstream, as Pachyderm 2's global ids show it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from pachstream.cli._app import inspect_app, list_app, wait_app
from pachstream.cli._output import JSON, _call, _print_json, _when, out
from pachstream.errors import JobsFailed

if TYPE_CHECKING:
    from pachstream.client import Client, CommitSetInfo, JobInfo


def _jobs_table(jobs: list[JobInfo]) -> Table:
    table = Table(
        "JOB", "PIPELINE", "STATE", "PROCESSED", "SKIPPED", "FAILED", "OUTPUT COMMIT", box=None
    )
    for j in jobs:
        table.add_row(
            j.id, j.pipeline, j.state, str(j.processed), str(j.skipped), str(j.failed),
            j.output_commit if j.state == "success" else "-",
        )  # fmt: skip
    return table


@list_app.command("commitset")
def list_commitset(
    limit: int = typer.Option(50, "--limit", help="Show at most this many, newest first."),
    as_json: bool = JSON,
) -> None:
    """List commit sets, newest first: each origin commit with what it caused."""
    sets = _call(lambda c: c.list_commitset(limit))
    if as_json:
        return _print_json([s.to_json() for s in sets])
    table = Table("ID", "STARTED", "COMMITS", "JOBS", "STATE", box=None)
    for s in sets:
        state = "finished" if s.finished else "running"
        failed = sum(j.state != "success" for j in s.jobs if s.finished)
        table.add_row(
            s.id, _when(s.started), str(len(s.commits)), str(len(s.jobs)),
            f"{state}, {failed} failed" if failed else state,
        )  # fmt: skip
    out.print(table)


def _show(s: CommitSetInfo) -> None:
    out.print(f"Commit set: {s.id}\nStarted: {_when(s.started)}\nFinished: {s.finished}")
    table = Table("REPO", "BRANCH", "COMMIT", "FINISHED", box=None)
    for c in s.commits:
        table.add_row(c.repo, c.branch, c.id, _when(c.finished))
    out.print(table)
    if s.jobs:
        out.print(_jobs_table(s.jobs))


@inspect_app.command("commitset")
def inspect_commitset(
    commitset: str = typer.Argument(..., metavar="ID"), as_json: bool = JSON
) -> None:
    """Show one commit set: its commits in every repo and the jobs that ran for it."""
    s = _call(lambda c: c.inspect_commitset(commitset))
    if as_json:
        return _print_json(s.to_json())
    _show(s)


@wait_app.command("commitset")
def wait_commitset(
    target: str = typer.Argument(..., metavar="ID|REPO@REF"),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds to wait at most."),
    as_json: bool = JSON,
) -> None:
    """Block until every pipeline a commit set reaches has finished its job; list the jobs.

    The set is named by its id, or by a commit in it (``images@master`` waits for the set of
    the branch's head). Exits 1 when a job did not succeed.
    """

    async def wait(c: Client) -> list[Any]:
        if "@" in target:
            info = await c.wait_commit(target, timeout)
            return await c.flush(info.repo, info.id, timeout)
        return await c.wait_commitset_id(target, timeout)

    jobs = _call(wait)
    if as_json:
        _print_json([j.to_json() for j in jobs])
    else:
        out.print(_jobs_table(jobs))
    bad = [j for j in jobs if j.state != "success"]
    if bad:
        shown = "; ".join(f"job {j.id} of '{j.pipeline}' {j.state}: {j.reason}" for j in bad[:3])
        raise JobsFailed(
            f"{len(bad)} job(s) of the commit set did not succeed: {shown}; see "
            "'pachstream inspect job ID'"
        )
