"""The commands a pachctl user types next: version, completion, copy/subscribe/find commit,
draw and edit pipeline; and the URL and recursive halves of ``put file``/``get file`` and the
follow mode of ``logs``, which those commands hand over to.

Streams (``subscribe commit``, ``logs -f``) print one line (``--json``: one JSON document per
line) as each item lands, and stop on Ctrl-C with exit code 130.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import typer
from typer._completion_classes import completion_init as _completion_init

from pachstream.cli._app import app, copy_app, draw_app, edit_app, find_app, subscribe_app
from pachstream.cli._output import JSON, _call, _commit_of, _print_json, _size, _when, out
from pachstream.errors import InvalidInput, InvalidSpec, PachstreamError

if TYPE_CHECKING:
    from pachstream.client import Client, CommitInfo

T = TypeVar("T")
SHELLS = ("bash", "zsh", "fish")
"""Shells ``completion`` writes a script for."""

# The app is built with add_completion=False (no --install-completion option), which also
# leaves Typer's shell classes unregistered; the scripts of `completion` need them to answer.
_completion_init()


def _stream(
    items: Callable[[Client], AsyncIterator[T]],
    show: Callable[[T], None],
    *,
    limit: int | None = None,
    timeout_s: float | None = None,
) -> None:
    """Print each item of a client stream as it comes; stop after ``limit`` items or
    ``timeout_s`` seconds (exit 0), or on Ctrl-C (exit 130).
    """
    from pachstream.client import Client

    async def main() -> None:
        async with await Client.connect() as client:
            count = 0
            try:
                async with asyncio.timeout(timeout_s):
                    async for item in items(client):
                        show(item)
                        count += 1
                        if limit is not None and count >= limit:
                            return
            except TimeoutError:
                return

    if limit is not None and limit <= 0:
        return
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _json_line(value: Any) -> None:
    typer.echo(orjson.dumps(value).decode())


# ----------------------------------------------------------------------------- version, completion


@app.command("version")
def version(
    as_json: bool = JSON,
    client_only: bool = typer.Option(
        False, "--client-only", hidden=True, help="Accepted for pachctl scripts; no server half."
    ),
) -> None:
    """Print the version of pachstream (the CLI, SDK and processors are one package)."""
    import platform
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        ours = package_version("pachstream")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree, not installed
        ours = "unknown"
    if as_json:
        return _print_json({"pachstream": ours, "python": platform.python_version()})
    typer.echo(f"COMPONENT   VERSION\npachstream  {ours}")


@app.command("completion")
def completion(
    shell: str = typer.Argument(..., metavar="bash|zsh|fish", help="The shell to complete in."),
) -> None:
    """Print a shell completion script: source <(pachstream completion bash)."""
    if shell not in SHELLS:
        raise InvalidInput(f"no completion for shell '{shell}'; choose one of {', '.join(SHELLS)}")
    from typer._completion_shared import get_completion_script

    # The script runs `pachstream` with this variable set; Typer answers it before any
    # command runs (see typer.core._typer_main_shell_completion).
    script = get_completion_script(
        prog_name="pachstream", complete_var="_PACHSTREAM_COMPLETE", shell=shell
    )
    sys.stdout.write(script if script.endswith("\n") else script + "\n")


# ----------------------------------------------------------------------------- files


def put_url(target: str, url: str, *, recursive: bool, append: bool, endpoint: str | None) -> None:
    """``put file REPO@BRANCH:/PATH -f URL`` (http, https, s3); prints the commit id."""
    from pachstream.cli._output import _branch_of

    branch_ref, path = _branch_of(target)
    raw = target.partition(":")[2]
    # A trailing '/' (or no path) means "into this directory, under the URL's name".
    where = path + "/" if raw in ("", "/") or raw.endswith("/") else path
    typer.echo(
        _call(
            lambda c: c.put_url(
                branch_ref, where, url, recursive=recursive, append=append, endpoint=endpoint
            )
        )
    )


def get_recursive(source: str, output: Path | None) -> None:
    """``get file -r REPO@REF:/DIR -o FOLDER``: the directory's files below FOLDER."""
    if output is None:
        raise InvalidInput(
            f"get file -r writes many files; give a folder with -o, e.g. "
            f"pachstream get file -r {source} -o ./out"
        )
    commit_ref, path = _commit_of(source)
    written = _call(lambda c: c.download(commit_ref, path, output))
    typer.echo(f"{len(written)} files written under {output}", err=True)


@copy_app.command("file")
def copy_file(
    source: str = typer.Argument(..., metavar="SRC_REPO@REF:/PATH"),
    target: str = typer.Argument(..., metavar="DST_REPO@BRANCH:/PATH"),
    append: bool = typer.Option(False, "--append", "-a", help="Append to the target files."),
    recursive: bool = typer.Option(
        False,
        "--recursive",
        "-r",
        help="Accepted for pachctl 1.x scripts: a directory is "
        "always copied with everything under it.",
    ),
) -> None:
    """Copy a file or a directory to a branch; no bytes move. Prints the commit id."""
    from pachstream.cli._output import _branch_of

    src_ref, src_path = _commit_of(source)
    dst_ref, dst_path = _branch_of(target)
    raw = target.partition(":")[2]
    if raw.endswith("/") and dst_path != "/":
        dst_path += "/"
    typer.echo(_call(lambda c: c.copy_file(src_ref, src_path, dst_ref, dst_path, append=append)))


# ----------------------------------------------------------------------------- commits


def _commit_line(c: CommitInfo) -> str:
    changes = f"+{c.added}/~{c.modified}/-{c.deleted}"
    return (
        f"{c.repo}@{c.id}  {c.branch}  {_when(c.finished)}  {_size(c.size_bytes)}  "
        f"{changes}  {c.description}"
    ).rstrip()


@subscribe_app.command("commit")
def subscribe_commit(
    branch_ref: str = typer.Argument(..., metavar="REPO@BRANCH"),
    from_commit: str | None = typer.Option(None, "--from", help="Only commits after this one."),
    new: bool = typer.Option(False, "--new", help="Only commits that finish from now on."),
    max_commits: int | None = typer.Option(None, "--max", help="Stop after this many."),
    timeout: float | None = typer.Option(None, "--timeout", help="Stop after this many seconds."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document per line."),
) -> None:
    """Print the branch's finished commits, oldest first, then each new one as it lands."""
    if from_commit is not None and new:
        raise InvalidInput("--from and --new contradict each other; give one")

    def show(c: CommitInfo) -> None:
        if as_json:
            _json_line(c.to_json())
        else:
            typer.echo(_commit_line(c))

    _stream(
        lambda c: c.subscribe_commit(branch_ref, from_commit=from_commit, new=new),
        show,
        limit=max_commits,
        timeout_s=timeout,
    )


@find_app.command("commit")
def find_commit(
    ref: str = typer.Argument(..., metavar="REPO@REF[:/PATH]"),
    path: str | None = typer.Option(None, "--path", help="The file (or directory)."),
    limit: int | None = typer.Option(None, "--limit", "-n", help="At most this many."),
    as_json: bool = JSON,
) -> None:
    """List the commits in REF's history that changed a file, newest first."""
    from rich.table import Table

    commit_ref, in_ref = _commit_of(ref) if ":" in ref else (ref, None)
    target = path or in_ref
    if target is None:
        raise InvalidInput(
            f"find commit needs a file: {ref}:/path or --path /path, e.g. "
            f"pachstream find commit {ref} --path /data.csv"
        )
    found = _call(lambda c: c.find_commit(commit_ref, target, limit=limit))
    if as_json:
        return _print_json([f.to_json() for f in found])
    table = Table(box=None)
    for column in ("COMMIT", "BRANCH", "FINISHED", "CHANGE", "PATH", "SIZE", "DESCRIPTION"):
        table.add_column(column, no_wrap=column != "DESCRIPTION", overflow="fold")
    for f in found:
        c = f.commit
        table.add_row(
            c.id, c.branch, _when(c.finished), f.change, f.path, _size(f.size_bytes), c.description
        )
    out.print(table)


# ----------------------------------------------------------------------------- pipelines


@draw_app.command("pipeline")
def draw_pipeline(as_json: bool = JSON) -> None:
    """Draw the DAG: each source repo, the pipelines it feeds, and theirs."""
    dag = _call(lambda c: c.pipeline_dag())
    if as_json:
        return _print_json(dag.to_json())
    for line in dag.draw():
        typer.echo(line)


@edit_app.command("pipeline")
def edit_pipeline(
    name: str,
    editor: str = typer.Option("vi", "--editor", envvar="EDITOR", help="Default: $EDITOR or vi."),
    output: str = typer.Option("yaml", "--output", "-o", help="yaml or json."),
    as_json: bool = typer.Option(False, "--json", help="Edit it as JSON (same as -o json)."),
    reprocess: bool = typer.Option(False, "--reprocess", help="Run every datum again."),
) -> None:
    """Open the pipeline's spec in an editor; update the pipeline if it changed."""
    import shlex
    import subprocess
    import tempfile

    fmt = "json" if as_json else output
    if fmt not in ("yaml", "json"):
        raise InvalidInput(f"-o {output!r}: edit the spec as 'yaml' or 'json'")
    spec = _call(lambda c: c.inspect_pipeline(name)).spec
    if fmt == "yaml":
        import yaml

        # No folding of long commands: the user edits them as written.
        text = yaml.safe_dump(spec, sort_keys=False, width=1_000_000, allow_unicode=True)
    else:
        text = orjson.dumps(spec, option=orjson.OPT_INDENT_2).decode() + "\n"
    with tempfile.NamedTemporaryFile(
        "w", suffix=f".{fmt}", prefix=f"pipeline-{name}-", delete=False, encoding="utf-8"
    ) as fh:
        fh.write(text)
    edited = Path(fh.name)
    try:
        code = subprocess.run([*shlex.split(editor), str(edited)], check=False).returncode
    except FileNotFoundError as exc:
        edited.unlink()
        raise InvalidInput(
            f"editor '{editor}' was not found; set $EDITOR or pass --editor", editor=editor
        ) from exc
    if code != 0:
        raise InvalidInput(
            f"editor '{editor}' exited with {code}; pipeline '{name}' is unchanged (your edit "
            f"is in {edited})",
            editor=editor,
        )
    new_text = edited.read_text(encoding="utf-8")
    if new_text == text:
        edited.unlink()
        typer.echo(f"pipeline '{name}' unchanged", err=True)
        return
    try:
        _check_same_pipeline(name, new_text)
        names = _call(lambda c: c.create_pipeline(new_text, update=True, reprocess=reprocess))
    except PachstreamError as exc:
        # Keep the edit: the user fixes the file and runs `update pipeline -f` on it.
        raise type(exc)(
            f"{exc.message} (your edit is in {edited}; fix it and run "
            f"'pachstream update pipeline -f {edited}')",
            **exc.fields,
        ) from exc
    edited.unlink()
    for n in names:
        typer.echo(n)


def _check_same_pipeline(name: str, text: str) -> None:
    from pachstream.dispatch.spec import load_documents

    docs = load_documents(text)
    names = [d.get("pipeline", {}).get("name") if isinstance(d, dict) else None for d in docs]
    if names != [name]:
        raise InvalidSpec(
            f"the edited spec must describe pipeline '{name}' only, not {names}; create "
            "another pipeline with 'pachstream create pipeline'",
            pipeline=name,
        )


# ----------------------------------------------------------------------------- logs -f


def print_log_entry(e: dict[str, Any], as_json: bool) -> None:
    """One datum's log entry as ``logs`` prints it (``--json``: one line of JSON)."""
    if as_json:
        return _json_line(e)
    header = f"== job {e['job_id']} datum {e['datum_id']} ({e['state']}, {e['attempts']} tries)"
    out.print(header, style="bold", markup=False, highlight=False)
    for text in (e["stdout"], e["stderr"], e.get("err_cmd") or ""):
        if text:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def follow_logs(pipeline: str | None, job: str | None, datum: str | None, as_json: bool) -> None:
    """``logs -f``: each datum's logs as it finishes; a job's until it ends, a pipeline's
    (every new job's too) until Ctrl-C.
    """
    _stream(
        lambda c: c.follow_logs(pipeline=pipeline, job_id=job, datum_id=datum),
        lambda e: print_log_entry(e, as_json),
    )
