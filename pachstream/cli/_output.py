"""What every command module shares: the console, ``--json``, running a client call, and
reading the references typed on the command line.

Its own module, below the command modules, so that they import it and never each other (the
import contract forbids cycles between a package's modules).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import typer
from rich.console import Console

from pachstream.errors import InvalidRef
from pachstream.refs import FileRef, looks_like_colon_branch, parse_file_ref
from pachstream.units import human_bytes

# The client is imported when a command runs, not when it is registered: `pachstream --help`
# must not load the drivers (tests/unit/test_cli_imports.py).
if TYPE_CHECKING:
    from pachstream.client import Client

T = TypeVar("T")
# Piped output (scripts, logs, the demo) gets room for full ids; a terminal gets its width.
out = Console(width=None if sys.stdout.isatty() else 160)
JSON = typer.Option(False, "--json", help="Print JSON for scripts.")


def _call(fn: Callable[[Client], Awaitable[T]]) -> T:
    from pachstream.client import Client

    async def main() -> T:
        async with await Client.connect() as client:
            return await fn(client)

    return asyncio.run(main())


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


# One way to show a size, shared with the console's pages (pachstream/units.py).
_size = human_bytes


def _file_ref(text: str) -> FileRef:
    """A file reference typed on the command line, where a path starts with '/'."""
    meant = looks_like_colon_branch(text)
    if meant is not None:
        path = text.split(":", 1)[1]
        raise InvalidRef(
            f"'{text}': did you mean '{meant}'? ('@' names a branch; a path after ':' starts "
            f"with '/', as in '{text.split(':', 1)[0]}:/{path}')",
            ref=text,
        )
    return parse_file_ref(text)


def _branch_of(file_ref: str) -> tuple[str, str]:
    """``repo@branch:/path`` → (``repo@branch``, path), refusing ancestry in a write target."""
    ref = _file_ref(file_ref)
    if ref.commit.ancestry or ref.commit.from_start is not None:
        raise InvalidRef(
            f"'{file_ref}': writes go to a branch, not to '{ref.commit.ref}' with ancestry; "
            f"use {ref.commit.repo}@{ref.commit.ref}:{ref.path}",
            ref=file_ref,
        )
    return f"{ref.commit.repo}@{ref.commit.ref}", ref.path


def _commit_of(file_ref: str) -> tuple[str, str]:
    """``repo@ref:/path`` → (``repo@ref`` with ancestry, path)."""
    ref = _file_ref(file_ref)
    return str(ref.commit), ref.path
