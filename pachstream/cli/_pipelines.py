"""Pipeline, job and datum commands, in pachctl's grammar.

Every read takes ``--json``. ``wait job`` exits 1 with the job's reason when it did not succeed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table

from pachstream.cli._app import (
    app,
    create_app,
    delete_app,
    inspect_app,
    list_app,
    rerun_app,
    start_app,
    stop_app,
    update_app,
    wait_app,
)
from pachstream.cli._data import JSON, _call, _print_json, _when, out
from pachstream.client import JobInfo
from pachstream.errors import InvalidInput, PachstreamError

SPEC_FILE = typer.Option(..., "--file", "-f", help="Spec file (JSON or YAML, several documents allowed); '-' for stdin.")


class JobFailed(PachstreamError):
    """A job ended in failure (or was killed)."""


def _read_spec(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"spec file '{path}' does not exist; give the path of a JSON or YAML file", path=path)
    return p.read_text(encoding="utf-8")


def _duration(j: JobInfo) -> str:
    return f"{j.finished - j.started:.1f}s" if j.finished else "-"


# ----------------------------------------------------------------------------- pipelines


@create_app.command("pipeline")
def create_pipeline(file: str = SPEC_FILE) -> None:
    """Create the pipelines of a spec file (Pachyderm's format)."""
    text = _read_spec(file)
    for name in _call(lambda c: c.create_pipeline(text)):
        typer.echo(name)


@update_app.command("pipeline")
def update_pipeline(
    file: str = SPEC_FILE,
    reprocess: bool = typer.Option(False, "--reprocess", help="Run every datum again (new salt)."),
) -> None:
    """Replace pipelines' specs; earlier results stay valid unless --reprocess."""
    text = _read_spec(file)
    for name in _call(lambda c: c.create_pipeline(text, update=True, reprocess=reprocess)):
        typer.echo(name)


@delete_app.command("pipeline")
def delete_pipeline(name: str) -> None:
    """Delete a pipeline and its output repo."""
    _call(lambda c: c.delete_pipeline(name))


@stop_app.command("pipeline")
def stop_pipeline(name: str) -> None:
    """Stop a pipeline: no new jobs until it is started."""
    _call(lambda c: c.stop_pipeline(name))


@start_app.command("pipeline")
def start_pipeline(name: str) -> None:
    """Start a stopped pipeline."""
    _call(lambda c: c.start_pipeline(name))


@list_app.command("pipeline")
def list_pipeline(as_json: bool = JSON) -> None:
    """List pipelines with their state, input and last job."""
    pipelines = _call(lambda c: c.list_pipeline())
    if as_json:
        return _print_json([p.to_json() for p in pipelines])
    table = Table("NAME", "VERSION", "STATE", "INPUT", "CREATED", "LAST JOB", box=None)
    for p in pipelines:
        last = f"{p.last_job} ({p.last_job_state})" if p.last_job else "-"
        table.add_row(p.name, str(p.version), p.state, p.input, _when(p.created), last)
    out.print(table)


@inspect_app.command("pipeline")
def inspect_pipeline(name: str, as_json: bool = JSON) -> None:
    """Show one pipeline and its spec."""
    p = _call(lambda c: c.inspect_pipeline(name))
    if as_json:
        return _print_json(p.to_json())
    out.print(
        f"Name: {p.name}\nVersion: {p.version}\nState: {p.state}\nDescription: {p.description}\n"
        f"Input: {p.input}\nCreated: {_when(p.created)}\n"
        f"Last job: {p.last_job or '-'} ({p.last_job_state or '-'})\nSpec:"
    )
    sys.stdout.write(yaml.safe_dump(p.spec, sort_keys=False))


# ----------------------------------------------------------------------------- jobs


def _job_table(jobs: list[JobInfo]) -> Table:
    table = Table("ID", "PIPELINE", "STATE", "STARTED", "DURATION", "DATUMS", "RUN", "SKIPPED", "FAILED", box=None)
    for j in jobs:
        table.add_row(
            j.id, j.pipeline, j.state, _when(j.started), _duration(j), str(j.datums), str(j.processed),
            str(j.skipped), str(j.failed),
        )  # fmt: skip
    return table


def _show_job(j: JobInfo) -> None:
    out.print(_job_table([j]))
    for i in j.inputs:
        out.print(f"input {i['name']}: {i['repo']}@{i['commit'] or '(empty)'} ({i['branch']})")
    if j.state == "success":
        out.print(f"output commit: {j.pipeline}@{j.output_commit}")
    if j.reason:
        out.print(f"reason: {j.reason}", markup=False)


@list_app.command("job")
def list_job(
    pipeline: str | None = typer.Option(None, "--pipeline", "-p", help="Only this pipeline's jobs."),
    as_json: bool = JSON,
) -> None:
    """List jobs, newest first."""
    jobs = _call(lambda c: c.list_job(pipeline))
    if as_json:
        return _print_json([j.to_json() for j in jobs])
    out.print(_job_table(jobs))


@inspect_app.command("job")
def inspect_job(job: str, as_json: bool = JSON) -> None:
    """Show one job: state, datum counts, inputs, output commit, reason."""
    j = _call(lambda c: c.inspect_job(job))
    if as_json:
        return _print_json(j.to_json())
    _show_job(j)


@wait_app.command("job")
def wait_job(
    job: str,
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds to wait at most."),
    as_json: bool = JSON,
) -> None:
    """Block until a job ends; exit 1 unless it succeeded."""
    j = _call(lambda c: c.wait_job(job, timeout))
    if as_json:
        _print_json(j.to_json())
    else:
        _show_job(j)
    if j.state != "success":
        raise JobFailed(f"job {j.id} of pipeline '{j.pipeline}' ended in {j.state}: {j.reason}", job_id=j.id)


@rerun_app.command("job")
def rerun_job(
    job: str,
    failed: bool = typer.Option(True, "--failed/--all", help="Run only the failed datums (default) or all."),
) -> None:
    """Run a job's input commits again; print the new job's id."""
    typer.echo(_call(lambda c: c.rerun_job(job, failed_only=failed)))


@rerun_app.command("datum")
def rerun_datum(job: str, datum: str) -> None:
    """Run one datum of a job again (the others keep their results); print the new job's id."""
    typer.echo(_call(lambda c: c.rerun_datum(job, datum)))


# ----------------------------------------------------------------------------- datums and logs


@list_app.command("datum")
def list_datum(job: str, as_json: bool = JSON) -> None:
    """List the datums a job ran."""
    datums = _call(lambda c: c.list_datum(job))
    if as_json:
        return _print_json([d.to_json() for d in datums])
    table = Table("ID", "STATE", "TRIES", "EXIT", "TIME", "INPUTS", box=None)
    for d in datums:
        inputs = ", ".join(f"{i['name']}:{i['path']}" for i in d.inputs)
        exit_code = "timeout" if d.timed_out else str(d.exit_code)
        table.add_row(d.id, d.state, str(d.tries), exit_code, f"{d.duration_s:.2f}s", inputs)
    out.print(table)


@inspect_app.command("datum")
def inspect_datum(job: str, datum: str, as_json: bool = JSON) -> None:
    """Show one datum of a job: inputs, outputs, exit code, stderr tail."""
    d = _call(lambda c: c.inspect_datum(job, datum))
    if as_json:
        return _print_json(d.to_json())
    out.print(f"Datum: {d.id}\nJob: {d.job_id}\nState: {d.state}\nTries: {d.tries}\nExit: {d.exit_code}")
    for i in d.inputs:
        out.print(f"input {i['name']}: {i['repo']}@{i['commit']}:{i['path']} ({len(i['files'])} files)")
    for path, _, size in d.outputs:
        out.print(f"output {path} ({size} B)")
    if d.stderr_tail:
        out.print("stderr:", d.stderr_tail, markup=False)


@app.command("logs")
def logs(
    pipeline: str | None = typer.Option(None, "--pipeline", "-p", help="The pipeline's newest job."),
    job: str | None = typer.Option(None, "--job", help="This job."),
    datum: str | None = typer.Option(None, "--datum", help="Only this datum."),
    as_json: bool = JSON,
) -> None:
    """Datum logs (the end of stdout and stderr) of a job."""
    entries: list[dict[str, Any]] = _call(lambda c: c.logs(pipeline=pipeline, job_id=job, datum_id=datum))
    if as_json:
        return _print_json(entries)
    for e in entries:
        out.print(f"[bold]== datum {e['datum_id']} ({e['state']}, {e['attempts']} tries)[/]")
        sys.stdout.write(e["stdout"])
        sys.stdout.write(e["stderr"])
        sys.stdout.flush()
