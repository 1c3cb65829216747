"""The Typer apps that every command module registers on, and the entry point."""

from __future__ import annotations

import importlib
import sys

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from pachstream.errors import PachstreamError

app = typer.Typer(
    name="pachstream",
    help="Version-controlled, incremental data pipelines on Kafka.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help, as pachctl's: Rich's help renderer costs 0.1 s of imports per call.
    rich_markup_mode=None,
)
# pachctl's verb-noun grammar: `pachstream create repo`, `pachstream list file`...
create_app = typer.Typer(help="Create a repo, branch or pipeline.", no_args_is_help=True)
update_app = typer.Typer(help="Update a pipeline.", no_args_is_help=True)
list_app = typer.Typer(
    help="List repos, branches, commits, files, pipelines, jobs or datums.", no_args_is_help=True
)
inspect_app = typer.Typer(
    help="Show one repo, branch, commit, file, pipeline, job or datum.", no_args_is_help=True
)
delete_app = typer.Typer(help="Delete a repo, branch, file or pipeline.", no_args_is_help=True)
start_app = typer.Typer(help="Start a commit or a pipeline.", no_args_is_help=True)
stop_app = typer.Typer(help="Stop a pipeline.", no_args_is_help=True)
rerun_app = typer.Typer(
    help="Run a job's failed datums, or one datum, again.", no_args_is_help=True
)
finish_app = typer.Typer(help="Finish a commit.", no_args_is_help=True)
wait_app = typer.Typer(
    help="Wait for a commit, a commit's downstream jobs, or a job.", no_args_is_help=True
)
put_app = typer.Typer(help="Put files.", no_args_is_help=True)
get_app = typer.Typer(help="Get a file.", no_args_is_help=True)
glob_app = typer.Typer(help="Glob files.", no_args_is_help=True)
diff_app = typer.Typer(help="Diff two commits.", no_args_is_help=True)
run_app = typer.Typer(help="Run one pachstream process in the foreground.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures and ratios.", no_args_is_help=True)
lineage_app = typer.Typer(
    help="Where a file came from, what it fed, and a commit's provenance.", no_args_is_help=True
)
copy_app = typer.Typer(help="Copy files (no bytes are copied).", no_args_is_help=True)
subscribe_app = typer.Typer(help="Print commits as they land.", no_args_is_help=True)
find_app = typer.Typer(help="Find the commits that changed a file.", no_args_is_help=True)
edit_app = typer.Typer(help="Edit a pipeline's spec in $EDITOR.", no_args_is_help=True)
draw_app = typer.Typer(help="Draw the pipeline DAG.", no_args_is_help=True)

for _name, _sub in [
    ("create", create_app),
    ("update", update_app),
    ("list", list_app),
    ("inspect", inspect_app),
    ("delete", delete_app),
    ("start", start_app),
    ("stop", stop_app),
    ("rerun", rerun_app),
    ("finish", finish_app),
    ("wait", wait_app),
    ("put", put_app),
    ("get", get_app),
    ("glob", glob_app),
    ("diff", diff_app),
    ("run", run_app),
    ("bench", bench_app),
    ("lineage", lineage_app),
    ("copy", copy_app),
    ("subscribe", subscribe_app),
    ("find", find_app),
    ("edit", edit_app),
    ("draw", draw_app),
]:
    app.add_typer(_sub, name=_name)

# Modules that register commands; imported for their side effect on the apps above.
_COMMAND_MODULES = [
    "_stack", "_data", "_commitsets", "_pipelines", "_lineage", "_run", "_bench", "_parity",
    "_backup",
]


def _load_commands() -> None:
    for name in _COMMAND_MODULES:
        try:
            importlib.import_module(f"pachstream.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"pachstream.cli.{name}":
                raise


def usage_line(exc: ClickException) -> str:
    """A usage error as one line naming the help to read. Pure."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "pachstream"
    return f"error: {message.rstrip('.')}; see '{command} --help'"


def main() -> None:
    """Entry point of the ``pachstream`` script: one clear line and exit 1 on any known error.

    Usage errors too: Click's default is a usage block and exit code 2.
    """
    _load_commands()
    try:
        code = app(standalone_mode=False, prog_name="pachstream")
    except PachstreamError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    except NoArgsIsHelpError as exc:
        # `pachstream`, `pachstream list`: the help is the answer (pachctl's too).
        typer.echo(exc.format_message())
        sys.exit(0)
    except ClickException as exc:
        typer.echo(usage_line(exc), err=True)
        sys.exit(1)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    # Without standalone mode, Click returns typer.Exit's code instead of exiting.
    if isinstance(code, int) and code:
        sys.exit(code)
