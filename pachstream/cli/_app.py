"""The Typer apps that every command module registers on, and the entry point."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import typer
import typer.core
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from pachstream.errors import PachstreamError
from pachstream.security import redact


def _coerce_missing_values_without_pydantic() -> None:
    """Make Typer skip its value coercion when an optional parameter was not given.

    Typer builds a Pydantic adapter to coerce every parameter's value, even a value that is
    missing (None) and is answered None without it; every command's own ``--help`` option is
    one, so each command paid 0.06-0.07 s importing Pydantic (and its plugin loader's
    importlib.metadata) before running. Given values are still coerced by Typer. A Typer
    without this class keeps its own behaviour: slower, still right (the import test of
    ``list repo`` then fails and says so).
    """
    parameter = getattr(typer.core, "_TyperParameter", None)
    process_value = getattr(parameter, "process_value", None)
    if parameter is None or process_value is None:
        return

    def process_missing_value(self: Any, ctx: Any, value: Any) -> Any:
        if value is None and not self.required and not (self.multiple or self.nargs == -1):
            # What Typer returns for it, without building the adapter: None, then the callback.
            return value if self.callback is None else self.callback(ctx, self, value)
        return process_value(self, ctx, value)

    parameter.process_value = process_missing_value


_coerce_missing_values_without_pydantic()

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
delete_app = typer.Typer(
    help="Delete a repo, branch, commit, file or pipeline.", no_args_is_help=True
)
start_app = typer.Typer(help="Start a commit or a pipeline.", no_args_is_help=True)
stop_app = typer.Typer(help="Stop a pipeline or a job.", no_args_is_help=True)
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
squash_app = typer.Typer(
    help="Take a commit out of history; its children keep its data.", no_args_is_help=True
)
deploy_app = typer.Typer(
    help="Run pachstream on Kubernetes: render its objects.", no_args_is_help=True
)
image_app = typer.Typer(
    help="Load container images into the local image store (list and delete them with "
    "'list image' and 'delete image').",
    no_args_is_help=True,
)

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
    ("squash", squash_app),
    ("image", image_app),
    ("deploy", deploy_app),
]:
    app.add_typer(_sub, name=_name)

# The command modules that register on each group, and on `app` under each top-level command's
# name. `main` imports only the modules of the name in argv[1]: `list repo` then skips the stack,
# benchmark, lineage and parity modules. A module named here that does not exist (yet) is
# skipped. tests/unit/test_cli_imports.py fails when a module registers a command under a name,
# or from a module, that this table does not give.
_MODULES_FOR: dict[str, tuple[str, ...]] = {
    "create": ("_data", "_pipelines"),
    "update": ("_pipelines",),
    "list": ("_data", "_pipelines", "_commitsets", "_images"),
    "inspect": ("_data", "_pipelines", "_commitsets"),
    "delete": ("_data", "_pipelines", "_commits", "_images"),
    "start": ("_data", "_pipelines"),
    "stop": ("_pipelines", "_commits"),
    "rerun": ("_pipelines",),
    "finish": ("_data",),
    "wait": ("_data", "_pipelines", "_commitsets"),
    "put": ("_data",),
    "get": ("_data",),
    "glob": ("_data",),
    "diff": ("_data",),
    "run": ("_run",),
    "bench": ("_bench",),
    "lineage": ("_lineage",),
    "copy": ("_parity",),
    "subscribe": ("_parity",),
    "find": ("_parity",),
    "edit": ("_parity",),
    "draw": ("_parity",),
    "squash": ("_commits",),
    "image": ("_images",),
    "deploy": ("_deploy",),
    # Top-level commands, and groups a module adds itself: the top-level help needs these.
    "up": ("_stack",),
    "down": ("_stack",),
    "status": ("_stack",),
    "version": ("_parity",),
    "completion": ("_parity",),
    "logs": ("_pipelines",),
    "extract": ("_backup",),
    "restore": ("_backup",),
    "chaos": ("_chaos",),
}
_COMMAND_MODULES = [
    "_stack",
    "_data",
    "_commitsets",
    "_pipelines",
    "_lineage",
    "_run",
    "_bench",
    "_parity",
    "_backup",
    "_commits",
    "_images",
    "_deploy",
    "_chaos",
]
"""Every module of the table, in the order they are imported: a group's help lists its
commands in the order they were registered."""
_GROUPS = frozenset(info.name for info in app.registered_groups)
"""The groups defined above: their names are listed in the top-level help without imports."""
_COMPLETE_VAR = "_PACHSTREAM_COMPLETE"
"""Set when a shell's completion script runs us: the words to complete are not in argv."""


def _modules_for(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """Return the command modules that ``pachstream *argv`` needs registered. Pure.

    A group, or a top-level command, needs its own modules; the top-level help needs those of
    the top-level commands (group names are known here); an unknown name, which Typer answers
    with the closest known one ("did you mean 'list'?"), and shell completion, whose words
    come in the environment, need them all.
    """
    if env.get(_COMPLETE_VAR):
        return _COMMAND_MODULES
    if not argv or argv[0].startswith("-"):
        needed = {m for name, ms in _MODULES_FOR.items() if name not in _GROUPS for m in ms}
    else:
        needed = set(_MODULES_FOR.get(argv[0], _COMMAND_MODULES))
    return [m for m in _COMMAND_MODULES if m in needed]


def _load_commands(modules: Iterable[str] = _COMMAND_MODULES) -> None:
    """Import ``modules`` (default: all) for the commands they register."""
    for name in modules:
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
    _load_commands(_modules_for(sys.argv[1:], os.environ))
    try:
        code = app(standalone_mode=False, prog_name="pachstream")
    except PachstreamError as exc:
        # A message may quote a setting (a DSN, say): never its secret.
        typer.echo(f"error: {redact(exc.message)}", err=True)
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
