"""``extract`` and ``restore``: a namespace to an archive and back (see
:mod:`pachstream.client._backup` for the format and what is kept).

As with pachctl, ``extract`` writes a tar to stdout and ``restore`` reads one from stdin
unless given a path; a path ending in ``.tar``, ``.tar.gz`` or ``.tgz`` is a tar file,
anything else a folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import typer

from pachstream.cli._app import app
from pachstream.cli._output import JSON, _call, _print_json, _size
from pachstream.errors import InvalidInput


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@app.command("extract")
def extract(
    repos: list[str] | None = typer.Argument(None, metavar="[REPO]...", help="Default: all."),
    output: str = typer.Option(
        "-", "--output", "-o", help="Folder, .tar, .tar.gz or .tgz file; '-' (default): stdout."
    ),
) -> None:
    """Write repos (branches, commits, content) and pipeline specs to an archive."""
    if output == "-" and sys.stdout.isatty():
        raise InvalidInput("extract writes a tar; redirect stdout or give -o backup.tar")
    target: Path | IO[bytes] = sys.stdout.buffer if output == "-" else Path(output)
    s = _call(lambda c: c.extract(target, repos or None))
    if output == "-":
        sys.stdout.buffer.flush()
    where = "stdout" if output == "-" else output
    typer.echo(
        f"extracted {_plural(s.repos, 'repo')}, {_plural(s.commits, 'commit')}, "
        f"{_plural(s.chunks, 'chunk')} ({_size(s.bytes)}) and {_plural(s.pipelines, 'pipeline')} "
        f"to {where}",
        err=True,
    )
    if s.open_skipped:
        typer.echo(
            f"warning: open commits left out (finish them and extract again): "
            f"{', '.join(s.open_skipped)}",
            err=True,
        )


@app.command("restore")
def restore(
    source: str = typer.Argument(
        "-", metavar="[ARCHIVE]", help="An extract's folder or tar file; '-' (default): stdin."
    ),
    as_json: bool = JSON,
) -> None:
    """Replay an extract into this namespace: same files, messages and branch heads; new ids."""
    if source == "-" and sys.stdin.isatty():
        raise InvalidInput("restore reads a tar; redirect stdin or give the archive's path")
    archive: Path | IO[bytes] = sys.stdin.buffer if source == "-" else Path(source)
    s = _call(lambda c: c.restore(archive))
    if as_json:
        return _print_json(
            {
                "repos": s.repos,
                "commits": s.commits,
                "pipelines": s.pipelines,
                "commit_ids": s.commit_ids,
            }
        )
    typer.echo(
        f"restored {_plural(s.repos, 'repo')}, {_plural(s.commits, 'commit')} and "
        f"{_plural(s.pipelines, 'pipeline')} (commit ids are new: --json maps them)",
        err=True,
    )
