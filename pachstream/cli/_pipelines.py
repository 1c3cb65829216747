"""Pipeline, job and datum commands, in pachctl's grammar.

Every read command takes ``--json`` (one JSON document on stdout, for scripts); tables are
for people. Errors print one line and exit 1 (see ``_app.main``); so does ``wait job`` when
the job did not succeed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
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
from pachstream.cli._output import JSON, _call, _print_json, _when, out
from pachstream.errors import InvalidInput, InvalidSpec, JobFailed
from pachstream.settings import Settings

# Imported where used, so that registering these commands loads no driver (see _data).
if TYPE_CHECKING:
    from pachstream.client import DatumInfo, JobInfo

SPEC_FILE = typer.Option(
    ..., "--file", "-f", help="Spec file: JSON or YAML, one or several documents; '-' for stdin."
)


def _read_spec(path: str) -> str:
    if path == "-":
        text = sys.stdin.read()
        _check_syntax("<stdin>", text)
        return text
    local = Path(path)
    if not local.is_file():
        raise InvalidInput(
            f"spec file '{path}' does not exist or is not a file; give a JSON or YAML file, "
            "or '-' for stdin",
            path=path,
        )
    text = local.read_text(encoding="utf-8")
    _check_syntax(path, text)
    return text


def _check_syntax(path: str, text: str) -> None:
    """Refuse a spec file that does not parse, naming the file, line and column (the client
    would only name the document).
    """
    import json

    import yaml

    from pachstream.dispatch.spec import load_documents

    try:
        load_documents(text)
    except InvalidSpec as exc:
        cause = exc.__cause__
        where, what = "", exc.message
        if isinstance(cause, yaml.MarkedYAMLError) and cause.problem_mark is not None:
            mark = cause.problem_mark
            where = f", line {mark.line + 1}, column {mark.column + 1}"
            what = f"not valid YAML: {cause.problem}"
            if cause.context and cause.context_mark is not None:
                what += f" ({cause.context} at line {cause.context_mark.line + 1})"
        elif isinstance(cause, json.JSONDecodeError):
            # load_documents decodes the text without its leading whitespace.
            leading = text[: len(text) - len(text.lstrip())]
            line = cause.lineno + leading.count("\n")
            column = cause.colno + (
                len(leading) - leading.rfind("\n") - 1 if cause.lineno == 1 else 0
            )
            where, what = f", line {line}, column {column}", f"not valid JSON: {cause.msg}"
        raise InvalidSpec(
            f"spec file '{path}'{where}: {' '.join(what.split())}", path=path
        ) from exc


def _duration(j: JobInfo) -> str:
    return f"{j.finished - j.started:.1f}s" if j.finished else "-"


def _datums(j: JobInfo) -> str:
    # pachctl's progress: processed + skipped / total.
    return f"{j.processed} + {j.skipped} / {j.datums}"


# ----------------------------------------------------------------------------- pipelines


@create_app.command("pipeline")
def create_pipeline(file: str = SPEC_FILE) -> None:
    """Create the pipelines of a spec file (Pachyderm's format); prints their names."""
    text = _read_spec(file)
    for name in _call(lambda c: c.create_pipeline(text)):
        typer.echo(name)
    _warn_notes(text)


@update_app.command("pipeline")
def update_pipeline(
    file: str = SPEC_FILE,
    reprocess: bool = typer.Option(False, "--reprocess", help="Run every datum again."),
) -> None:
    """Replace pipelines' specs; earlier datum results are kept unless --reprocess."""
    text = _read_spec(file)
    for name in _call(lambda c: c.create_pipeline(text, update=True, reprocess=reprocess)):
        typer.echo(name)
    _warn_notes(text)


def _warn_notes(text: str) -> None:
    """Say once, on stderr, when an accepted spec names an image its jobs will not find.

    The workers of the local runtime use this machine's image store (``pachstream image
    load``) and pull with skopeo when it is installed: a spec naming an image that is in
    neither is accepted (the image may be loaded next), but its jobs fail until it is.
    """
    import shutil

    from pachstream.dispatch.spec import parse_specs
    from pachstream.images import ImageStore

    store = ImageStore(Settings.from_env().images_dir)
    for spec in parse_specs(text):
        image = spec.transform.image
        if image and shutil.which("skopeo") is None and store.find(image) is None:
            typer.echo(
                f"warning: pipeline '{spec.name}': image {image!r} is not in the image store "
                f"({store.path}) and skopeo is not installed to pull it: its jobs fail until "
                "you run 'pachstream image load FILE'",
                err=True,
            )


@delete_app.command("pipeline")
def delete_pipeline(
    name: str,
    force: bool = typer.Option(False, "--force", help="Stop the pipelines that read it."),
) -> None:
    """Delete a pipeline and its output repo (refused while other pipelines read it)."""
    for stopped in _call(lambda c: c.delete_pipeline(name, force=force)):
        typer.echo(f"stopped pipeline {stopped}")


@stop_app.command("pipeline")
def stop_pipeline(name: str) -> None:
    """Stop a pipeline: no new jobs until it is started (a running job finishes)."""
    _call(lambda c: c.stop_pipeline(name))


@start_app.command("pipeline")
def start_pipeline(name: str) -> None:
    """Start a stopped pipeline (a job runs if its inputs moved meanwhile)."""
    _call(lambda c: c.start_pipeline(name))


@list_app.command("pipeline")
def list_pipeline(as_json: bool = JSON) -> None:
    """List pipelines with their version, state, input and last job."""
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
    last = f"{p.last_job} ({p.last_job_state})" if p.last_job else "-"
    out.print(
        f"Name: {p.name}\nVersion: {p.version}\nState: {p.state}\nDescription: {p.description}\n"
        f"Input: {p.input}\nCreated: {_when(p.created)}\nLast job: {last}\n"
        + "".join(f"Note: {note}\n" for note in p.notes)
        + "Spec:",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    import yaml

    sys.stdout.write(yaml.safe_dump(p.spec, sort_keys=False))


# ----------------------------------------------------------------------------- jobs


def _job_table(jobs: list[JobInfo]) -> Table:
    table = Table(box=None)
    for column in ("ID", "PIPELINE", "STATE", "STARTED", "DURATION", "DATUMS", "FAILED"):
        table.add_column(column, no_wrap=True)
    colour = {"success": "green", "failure": "red", "killed": "red", "running": "yellow"}
    for j in jobs:
        state = f"[{colour.get(j.state, 'default')}]{j.state}[/]"
        table.add_row(
            j.id, j.pipeline, state, _when(j.started), _duration(j), _datums(j), str(j.failed)
        )
    return table


def _show_job(j: JobInfo) -> None:
    lines = [
        f"ID: {j.id}",
        f"Pipeline: {j.pipeline} (version {j.version})",
        f"State: {j.state}",
        f"Started: {_when(j.started)}",
        f"Duration: {_duration(j)}",
        f"Datums: {j.datums} total, {j.processed} processed, {j.skipped} skipped, "
        f"{j.failed} failed, {j.recovered} recovered",
    ]
    lines += [
        f"Input {i['name']}: {i['repo']}@{i['commit'] or '(empty)'} ({i['branch']})"
        for i in j.inputs
    ]
    if j.state == "success":
        lines.append(f"Output commit: {j.pipeline}@{j.output_commit}")
    if j.rerun_of:
        lines.append(f"Rerun of: {j.rerun_of}")
    if j.reason:
        lines.append(f"Reason: {j.reason}")
    # Reasons quote user stderr, which may hold rich markup.
    out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


@list_app.command("job")
def list_job(
    pipeline: str | None = typer.Option(None, "--pipeline", "-p", help="Only these jobs."),
    as_json: bool = JSON,
) -> None:
    """List jobs, newest first; DATUMS is processed + skipped / total."""
    jobs = _call(lambda c: c.list_job(pipeline))
    if as_json:
        return _print_json([j.to_json() for j in jobs])
    out.print(_job_table(jobs))


@inspect_app.command("job")
def inspect_job(job: str, as_json: bool = JSON) -> None:
    """Show one job: state, datum counts, inputs, output commit, and why it failed."""
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
    """Block until a job ends and show it; exit 1 unless it succeeded."""
    j = _call(lambda c: c.wait_job(job, timeout))
    if as_json:
        _print_json(j.to_json())
    else:
        _show_job(j)
    if j.state != "success":
        how = "failed" if j.state == "failure" else f"ended {j.state}"
        raise JobFailed(
            f"job {j.id} of pipeline '{j.pipeline}' {how}: {j.reason or 'no reason recorded'}",
            job_id=j.id,
            pipeline=j.pipeline,
        )


@rerun_app.command("job")
def rerun_job(
    job: str,
    failed: bool = typer.Option(True, "--failed/--all", help="Only failed datums, or all."),
) -> None:
    """Run a job's input commits again; prints the new job's id."""
    typer.echo(_call(lambda c: c.rerun_job(job, failed_only=failed)))


@rerun_app.command("datum")
def rerun_datum(job: str, datum: str) -> None:
    """Run one datum of a job again (the others keep their results); prints the new job's id."""
    typer.echo(_call(lambda c: c.rerun_datum(job, datum)))


# ----------------------------------------------------------------------------- datums and logs


def _exit(d: DatumInfo) -> str:
    return "timeout" if d.timed_out else ("-" if d.exit_code is None else str(d.exit_code))


@list_app.command("datum")
def list_datum(job: str, as_json: bool = JSON) -> None:
    """List the datums a job ran (skipped ones are only counted on the job)."""
    datums = _call(lambda c: c.list_datum(job))
    if as_json:
        return _print_json([d.to_json() for d in datums])
    table = Table("ID", "STATE", "TRIES", "EXIT", "TIME", "INPUTS", box=None)
    for d in datums:
        inputs = ", ".join(f"{i['name']}:{i['path']}" for i in d.inputs)
        table.add_row(d.id, d.state, str(d.tries), _exit(d), f"{d.duration_s:.2f}s", inputs)
    out.print(table)


@inspect_app.command("datum")
def inspect_datum(job: str, datum: str, as_json: bool = JSON) -> None:
    """Show one datum of a job: inputs, outputs, exit status, stderr tail."""
    d = _call(lambda c: c.inspect_datum(job, datum))
    if as_json:
        return _print_json(d.to_json())
    lines = [
        f"Datum: {d.id}",
        f"Job: {d.job_id}",
        f"State: {d.state}",
        f"Tries: {d.tries}",
        f"Exit: {_exit(d)}",
        f"Time: {d.duration_s:.2f}s on {d.worker}",
    ]
    lines += [
        f"Input {i['name']}: {i['repo']}@{i['commit']}:{i['path']} ({len(i['files'])} files)"
        for i in d.inputs
    ]
    lines += [f"Output {path} ({size} B)" for path, _, size in d.outputs]
    if d.stderr_tail:
        lines.append("Stderr:\n" + d.stderr_tail.rstrip("\n"))
    out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


@app.command("logs")
def logs(
    pipeline: str | None = typer.Option(None, "--pipeline", "-p", help="That pipeline's last job."),
    job: str | None = typer.Option(None, "--job", "-j", help="This job."),
    datum: str | None = typer.Option(None, "--datum", help="Only this datum."),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Go on printing datums as they finish (Ctrl-C stops)."
    ),
    as_json: bool = JSON,
) -> None:
    """Datum logs of a job: the end of each datum's stdout and stderr."""
    if pipeline is None and job is None:
        raise InvalidInput("logs need a pipeline or a job: -p PIPELINE or --job JOB")
    if follow:
        from pachstream.cli._parity import follow_logs

        return follow_logs(pipeline, job, datum, as_json)
    entries: list[dict[str, Any]] = _call(
        lambda c: c.logs(pipeline=pipeline, job_id=job, datum_id=datum)
    )
    if as_json:
        return _print_json(entries)
    for e in entries:
        header = f"== job {e['job_id']} datum {e['datum_id']} ({e['state']}, {e['tries']} tries)"
        out.print(header, style="bold", markup=False, highlight=False)
        for text in (e["stdout"], e["stderr"], e.get("err_cmd") or ""):
            if text:
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
