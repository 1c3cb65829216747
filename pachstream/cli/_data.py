"""Repo, branch, commit and file commands, in pachctl's grammar.

Every read command takes ``--json`` (one JSON document on stdout, for scripts); tables are
for people. Errors print one line and exit 1 (see ``_app.main``).
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from pachstream.cli._app import (
    create_app,
    delete_app,
    diff_app,
    finish_app,
    get_app,
    glob_app,
    inspect_app,
    list_app,
    put_app,
    start_app,
    wait_app,
)

# The client is imported when a command runs, not when it is registered: `pachstream --help`
# must not load the drivers (tests/unit/test_cli_imports.py).
if TYPE_CHECKING:
    from pachstream.client import Client

from pachstream.cli._output import (
    JSON,
    _branch_of,
    _call,
    _commit_of,
    _print_json,
    _size,
    _when,
    out,
)
from pachstream.errors import FileNotFound, InvalidRef
from pachstream.refs import parse_file_ref

# ----------------------------------------------------------------------------- repos


@create_app.command("repo")
def create_repo(
    name: str,
    description: str = typer.Option("", "--description", "-d", help="Free text."),
    update: bool = typer.Option(False, "--update", help="Change the description if it exists."),
) -> None:
    """Create a versioned repo."""
    _call(lambda c: c.create_repo(name, description, update=update))


@list_app.command("repo")
def list_repo(as_json: bool = JSON) -> None:
    """List repos with size (head of master), created time and branch count."""
    repos = _call(lambda c: c.list_repo())
    if as_json:
        return _print_json([r.to_json() for r in repos])
    table = Table("NAME", "CREATED", "SIZE (MASTER)", "BRANCHES", "DESCRIPTION", box=None)
    for r in repos:
        table.add_row(
            r.name, _when(r.created), _size(r.size_bytes), str(r.branch_count), r.description
        )
    out.print(table)


@inspect_app.command("repo")
def inspect_repo(name: str, as_json: bool = JSON) -> None:
    """Show one repo."""
    r = _call(lambda c: c.inspect_repo(name))
    if as_json:
        return _print_json(r.to_json())
    out.print(
        f"Name: {r.name}\nDescription: {r.description}\nCreated: {_when(r.created)}\n"
        f"Size of HEAD on master: {_size(r.size_bytes)}\nBranches: {r.branch_count}"
    )


@delete_app.command("repo")
def delete_repo(
    name: str,
    force: bool = typer.Option(
        False, "--force", help="Stop the pipelines that read it (or delete its pipeline)."
    ),
) -> None:
    """Delete a repo with all its branches and commits (refused while pipelines read it)."""
    for line in _call(lambda c: c.delete_repo(name, force=force)):
        typer.echo(line)


# ----------------------------------------------------------------------------- branches


@create_app.command("branch")
def create_branch(
    branch_ref: str = typer.Argument(..., metavar="REPO@BRANCH"),
    head: str | None = typer.Option(None, "--head", help="Commit or ref the branch points at."),
) -> None:
    """Create a branch, or move it to --head."""
    _call(lambda c: c.create_branch(branch_ref, head))


@list_app.command("branch")
def list_branch(repo: str, as_json: bool = JSON) -> None:
    """List a repo's branches."""
    branches = _call(lambda c: c.list_branch(repo))
    if as_json:
        return _print_json([b.to_json() for b in branches])
    table = Table("BRANCH", "HEAD", box=None)
    for b in branches:
        table.add_row(b.name, b.head or "-")
    out.print(table)


@inspect_app.command("branch")
def inspect_branch(
    branch_ref: str = typer.Argument(..., metavar="REPO@BRANCH"), as_json: bool = JSON
) -> None:
    """Show one branch and its head."""
    b = _call(lambda c: c.inspect_branch(branch_ref))
    if as_json:
        return _print_json(b.to_json())
    out.print(f"Repo: {b.repo}\nBranch: {b.name}\nHead: {b.head or '-'}")


@delete_app.command("branch")
def delete_branch(
    branch_ref: str = typer.Argument(..., metavar="REPO@BRANCH"),
    force: bool = typer.Option(
        False, "--force", help="Drop the branch's open commit, with its writes, too."
    ),
) -> None:
    """Delete a branch (its commits stay reachable by id)."""
    _call(lambda c: c.delete_branch(branch_ref, force=force))


# ----------------------------------------------------------------------------- commits


@start_app.command("commit")
def start_commit(
    branch_ref: str = typer.Argument(..., metavar="REPO@BRANCH"),
    message: str = typer.Option("", "--message", "-m", help="Commit message."),
) -> None:
    """Open a commit on a branch; prints its id."""
    typer.echo(_call(lambda c: c.start_commit(branch_ref, message)))


@finish_app.command("commit")
def finish_commit(
    branch_ref: str = typer.Argument(..., metavar="REPO@BRANCH"),
    message: str | None = typer.Option(None, "--message", "-m", help="Replace the message."),
) -> None:
    """Finish the branch's open commit; prints its id once it is readable."""
    typer.echo(_call(lambda c: c.finish_commit(branch_ref, message)))


def _commit_table(commits: list[Any]) -> Table:
    # Full ids (they are what users copy); the rest folds to fit a terminal.
    title = f"{commits[0].repo}" if commits and len({c.repo for c in commits}) == 1 else None
    table = Table(title=title, box=None)
    table.add_column("BRANCH", no_wrap=True)
    table.add_column("COMMIT", no_wrap=True)
    table.add_column("PARENT", no_wrap=True)
    table.add_column("FINISHED", no_wrap=True)
    table.add_column("SIZE", no_wrap=True)
    table.add_column("+/~/-", no_wrap=True)
    table.add_column("DESCRIPTION", overflow="fold")
    for c in commits:
        changes = "-" if c.finished is None else f"{c.added}/{c.modified}/{c.deleted}"
        finished = _when(c.finished) if c.finished else "[yellow]open[/]"
        table.add_row(
            c.branch,
            c.id,
            (c.parent or "-")[:8],
            finished,
            _size(c.size_bytes),
            changes,
            c.description,
        )
    return table


@list_app.command("commit")
def list_commit(
    ref: str = typer.Argument(..., metavar="REPO[@BRANCH]"),
    number: int | None = typer.Option(None, "--number", "-n", help="At most this many."),
    as_json: bool = JSON,
) -> None:
    """List a repo's commits, or a branch's history, newest first."""
    commits = _call(lambda c: c.list_commit(ref, limit=number))
    if as_json:
        return _print_json([c.to_json() for c in commits])
    out.print(_commit_table(commits))


@inspect_app.command("commit")
def inspect_commit(
    ref: str = typer.Argument(..., metavar="REPO@REF"), as_json: bool = JSON
) -> None:
    """Show one commit (refs: branch, id, branch^, branch~N)."""
    info = _call(lambda c: c.inspect_commit(ref))
    if as_json:
        return _print_json(info.to_json())
    out.print(_commit_table([info]))


@wait_app.command("commit")
def wait_commit(
    ref: str = typer.Argument(..., metavar="REPO@REF"),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds to wait at most."),
    as_json: bool = JSON,
) -> None:
    """Block until the commit (e.g. a branch head) is finished."""
    info = _call(lambda c: c.wait_commit(ref, timeout))
    if as_json:
        return _print_json(info.to_json())
    typer.echo(info.id)


# ----------------------------------------------------------------------------- files


@put_app.command("file")
def put_file(
    target: str = typer.Argument(..., metavar="REPO@BRANCH:/PATH"),
    file: str = typer.Option(
        ..., "--file", "-f", help="Local file or directory, http(s):// or s3:// URL; '-' for stdin."
    ),
    recursive: bool = typer.Option(
        False, "--recursive", "-r", help="Put a directory's files (or an s3:// prefix's objects)."
    ),
    append: bool = typer.Option(False, "--append", "-a", help="Append instead of overwrite."),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="S3 endpoint for s3:// URLs (default: the stack's S3)."
    ),
) -> None:
    """Put a file (or a directory with -r); prints the commit id once it is readable."""
    if file.startswith(("http://", "https://", "s3://")):
        from pachstream.cli._parity import put_url

        return put_url(target, file, recursive=recursive, append=append, endpoint=endpoint)
    branch_ref, path = _branch_of(target)
    if file == "-":
        data = sys.stdin.buffer.read()
        typer.echo(_call(lambda c: c.put_file(branch_ref, path, data, append=append)))
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    local = _local_source(file)
    if path == "/" and local.is_file():
        path = "/" + local.name  # pachctl: `put file repo@master -f x` puts /x
    total = (
        sum(p.stat().st_size for p in local.rglob("*") if p.is_file())
        if local.is_dir()
        else (local.stat().st_size if local.exists() else 0)
    )
    with Progress(
        TextColumn("[bold]put"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=total < 8 * 1024 * 1024,
    ) as bar:
        task = bar.add_task("put", total=total)
        cid = _call(
            lambda c: c.put_local(
                branch_ref,
                path,
                local,
                recursive=recursive,
                append=append,
                progress=lambda files, size: bar.update(task, completed=size),
            )
        )
    typer.echo(cid)


def _local_source(file: str) -> Path:
    """The local file ``-f`` names; a missing one is refused before connecting, naming the
    closest names in its folder.
    """
    local = Path(file)
    if local.exists():
        return local
    folder = local.parent
    try:
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    except OSError:
        names = []
    near = difflib.get_close_matches(local.name, names, n=3)
    hint = " or ".join(f"'{folder / n}'" for n in near)
    raise FileNotFound(
        f"local file '{file}' does not exist; "
        + (f"did you mean {hint}? " if hint else "")
        + "-f takes a local file or directory, an http(s):// or s3:// URL, or '-' for stdin",
        local=file,
    )


@get_app.command("file")
def get_file(
    source: str = typer.Argument(..., metavar="REPO@REF:/PATH"),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write here instead of stdout."
    ),
    recursive: bool = typer.Option(
        False, "--recursive", "-r", help="A directory's files, below the folder -o."
    ),
) -> None:
    """Print a file's content, or write it to -o (a directory's files with -r)."""
    if recursive:
        from pachstream.cli._parity import get_recursive

        return get_recursive(source, output)
    commit_ref, path = _commit_of(source)

    async def fetch(c: Client) -> None:
        sink = output.open("wb") if output else sys.stdout.buffer
        try:
            async for piece in c.iter_file(commit_ref, path):
                sink.write(piece)
        finally:
            if output:
                sink.close()
            else:
                sink.flush()

    _call(fetch)


def _file_table(files: list[Any]) -> Table:
    table = Table("NAME", "TYPE", "SIZE", box=None)
    for f in files:
        table.add_row(
            f.path + ("/" if f.type == "dir" and f.path != "/" else ""), f.type, _size(f.size_bytes)
        )
    return table


@list_app.command("file")
def list_file(
    source: str = typer.Argument(..., metavar="REPO@REF[:/DIR]"), as_json: bool = JSON
) -> None:
    """List one directory level with sizes."""
    commit_ref, path = _commit_of(source)
    files = _call(lambda c: c.list_file(commit_ref, path))
    if as_json:
        return _print_json([f.to_json() for f in files])
    out.print(_file_table(files))


@glob_app.command("file")
def glob_file(
    source: str = typer.Argument(..., metavar="REPO@REF:PATTERN"), as_json: bool = JSON
) -> None:
    """List files and directories matching a glob pattern (Pachyderm syntax)."""
    ref = parse_file_ref(source) if ":" in source else None
    if ref is None:
        raise InvalidRef(
            f"'{source}' has no pattern; use REPO@REF:PATTERN, e.g. images@master:/*", ref=source
        )
    commit_ref = source.split(":", 1)[0]
    pattern = source.split(":", 1)[1]
    files = _call(lambda c: c.glob_file(commit_ref, pattern))
    if as_json:
        return _print_json([f.to_json() for f in files])
    out.print(_file_table(files))


@diff_app.command("file")
def diff_file(
    new: str = typer.Argument(..., metavar="REPO@REF"),
    old: str | None = typer.Argument(None, metavar="[REPO@OLD_REF]", help="Default: the parent."),
    as_json: bool = JSON,
) -> None:
    """Show added, modified and deleted files between two commits."""
    new_ref = new.split(":", 1)[0]
    old_ref = old.split(":", 1)[0] if old else None
    diff = _call(lambda c: c.diff_file(new_ref, old_ref))
    if as_json:
        return _print_json([d.to_json() for d in diff])
    table = Table("CHANGE", "PATH", "OLD SIZE", "NEW SIZE", box=None)
    colour = {"added": "green", "modified": "yellow", "deleted": "red"}
    for d in diff:
        table.add_row(
            f"[{colour[d.change]}]{d.change}[/]",
            d.path,
            _size(d.old_size_bytes),
            _size(d.size_bytes),
        )
    out.print(table)


@inspect_app.command("file")
def inspect_file(
    source: str = typer.Argument(..., metavar="REPO@REF:/PATH"), as_json: bool = JSON
) -> None:
    """Show one file or directory."""
    commit_ref, path = _commit_of(source)
    f = _call(lambda c: c.inspect_file(commit_ref, path))
    if as_json:
        return _print_json(f.to_json())
    out.print(
        f"Path: {f.path}\nType: {f.type}\nSize: {_size(f.size_bytes)} ({f.size_bytes} bytes)\n"
        f"Hash: {f.hash or '-'}\nCommit: {f.commit}"
    )


@delete_app.command("file")
def delete_file(target: str = typer.Argument(..., metavar="REPO@BRANCH:/PATH")) -> None:
    """Delete a file, or a directory with everything under it."""
    branch_ref, path = _branch_of(target)
    typer.echo(_call(lambda c: c.delete_file(branch_ref, path)))
