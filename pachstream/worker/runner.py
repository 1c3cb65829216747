"""Running one datum in a worker's sandbox: stage, run (with retries), collect.

- **Stage**: each datum input's files are written under ``/pfs/<name>/<original path>`` (a
  matched directory brings its whole subtree), as Pachyderm lays them out.
- **Environment**: what Pachyderm sets: ``<name>`` (the input's matched path under /pfs),
  ``<name>_COMMIT``, ``PACH_JOB_ID``, ``PACH_DATUM_ID``, ``PACH_OUTPUT_COMMIT_ID``,
  ``PACH_DATUM_<name>_JOIN_ON`` and ``PACH_DATUM_<name>_GROUP_BY``, plus the spec's ``env``.
- **Run**: up to ``datum_tries`` attempts; ``/pfs/out`` is emptied before each.
- **Collect**: every file under ``/pfs/out`` is stored (packed, deduplicated) and returned
  as the datum's outputs.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import shutil
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pachstream.content import ContentWriter
from pachstream.dispatch.datums import Datum
from pachstream.dispatch.spec import Transform
from pachstream.errors import InvalidOutput
from pachstream.model import FileEntry
from pachstream.paths import MAX_PATH_BYTES
from pachstream.worker.sandbox import AgentBox, RunResult, write_new

FetchContent = Callable[[str, str], Awaitable[bytes]]
"""(input name, path) → the file's bytes."""


@dataclass(frozen=True, slots=True)
class DatumResult:
    """How a datum ended."""

    state: Literal["success", "failed"]
    """Whether its outputs count."""
    tries: int
    """Attempts made."""
    last: RunResult
    """The last attempt."""
    outputs: Mapping[str, FileEntry]
    """Files written under /pfs/out (path with a leading '/'), when it succeeded."""


def datum_env(
    datum: Datum, commits: Mapping[str, str], job_id: str, output_commit: str
) -> dict[str, str]:
    """Pachyderm's environment for a datum (``commits``: input name → input commit id). Pure."""
    env = {"PACH_JOB_ID": job_id, "PACH_DATUM_ID": datum.id, "PACH_OUTPUT_COMMIT_ID": output_commit}
    for i in datum.inputs:
        env[i.name] = f"/pfs/{i.name}{i.path}" if i.path != "/" else f"/pfs/{i.name}"
        env[f"{i.name}_COMMIT"] = commits.get(i.name, "")
        if i.join_on:
            env[f"PACH_DATUM_{i.name}_JOIN_ON"] = i.join_on
        if i.group_by:
            env[f"PACH_DATUM_{i.name}_GROUP_BY"] = i.group_by
    return env


def _empty(folder: Path) -> None:
    # Empty, never replace: the sandbox's bind mount follows this very directory. scandir:
    # the entries' types come with the listing (this runs twice per datum).
    with os.scandir(folder) as entries:
        for child in entries:
            if child.is_dir(follow_symlinks=False):
                shutil.rmtree(child.path)
            else:
                os.unlink(child.path)


async def stage(datum: Datum, sandbox: AgentBox, fetch: FetchContent) -> None:
    """Write the datum's input files into the sandbox's input folders (fetched concurrently)."""
    for name in sandbox.input_names:
        _empty(sandbox.input_dir(name))
    wanted = [(i.name, path) for i in datum.inputs for path, _ in i.files]
    if len(wanted) == 1:  # the usual datum (glob /*): no task of its own
        contents = [await fetch(*wanted[0])]
    else:
        contents = await asyncio.gather(*(fetch(name, path) for name, path in wanted))
    # Strings and os calls, each input's folder found once and each folder below made once:
    # with the inputs in memory, pathlib cost more than the files' creation (a ``/`` datum
    # of 200,000 files: ~6 s of its staging's ~7).
    roots: dict[str, str] = {}
    made: set[str] = set()
    for (name, path), data in zip(wanted, contents, strict=True):
        root = roots.get(name) or roots.setdefault(name, str(sandbox.input_dir(name)))
        target = f"{root}/{path.lstrip('/')}"
        folder = target.rpartition("/")[0]
        if folder != root and folder not in made:  # a top-level file's is the input's own
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        write_new(target, data)


MAX_LINK_HOPS = 40
"""Symlinks followed in a row before an output is called a loop (Linux's own limit)."""


def read_outputs(
    out_dir: Path, host_path: Callable[[str], Path | None] | None = None
) -> dict[str, bytes]:
    """Everything the command wrote under /pfs/out: path (with a leading '/') → bytes.

    A symlink is uploaded as its target's content, as Pachyderm does: a link to a file gives
    that file's bytes, a link to a directory gives every file below it under the link's path.
    Targets are paths inside the sandbox; ``host_path`` maps them to the worker's view
    (:meth:`Sandbox.host_path`). A dangling link, a loop, or a target the worker cannot see
    (``/tmp``, ``/proc``) raises :class:`InvalidOutput` naming the link and its target.
    """
    out: dict[str, bytes] = {}
    _collect(out_dir, "/pfs/out", "", out, host_path or (lambda _: None), 0)
    for name in out:
        # Nested folders make a path longer than any one name may be: checked here, as
        # every written path is, or the datum's result would be refused after the upload.
        raw = name.encode("utf-8", "surrogateescape")
        if len(raw) > MAX_PATH_BYTES:
            raise InvalidOutput(
                f"output path {raw[:64].decode('utf-8', 'replace')!r}… is {len(raw)} bytes "
                f"long; at most {MAX_PATH_BYTES} bytes; write shorter paths under /pfs/out",
                path=raw[:64].decode("utf-8", "replace"),
            )
    return dict(sorted(out.items()))


def _collect(
    folder: Path,
    inside: str,
    prefix: str,
    out: dict[str, bytes],
    host_path: Callable[[str], Path | None],
    depth: int,
) -> None:
    """Add the files below ``folder`` (seen as ``inside`` in the sandbox) under ``prefix``."""
    with os.scandir(folder) as listing:
        # The entries' types come with the listing: no stat per file for the usual output.
        entries = sorted(listing, key=lambda e: e.name)
    for entry in entries:
        child = folder / entry.name
        name, seen = f"{prefix}/{entry.name}", f"{inside}/{entry.name}"
        if entry.is_symlink():
            target, target_inside = _follow(child, seen, name, host_path)
            if target.is_dir():
                if depth >= MAX_LINK_HOPS:
                    raise InvalidOutput(
                        f"output {name!r}: directory links nest more than {MAX_LINK_HOPS} deep "
                        "(a link to its own parent?); link files, or copy the directory",
                        path=name,
                    )
                _collect(target, target_inside, name, out, host_path, depth + 1)
            else:
                out[name] = target.read_bytes()
        elif entry.is_dir(follow_symlinks=False):
            _collect(child, seen, name, out, host_path, depth)
        elif entry.is_file(follow_symlinks=False):
            out[name] = child.read_bytes()


def _follow(
    link: Path, inside: str, name: str, host_path: Callable[[str], Path | None]
) -> tuple[Path, str]:
    """The host path and sandbox path a symlink finally names."""
    current_host, current = link, inside
    for _ in range(MAX_LINK_HOPS):
        target = os.readlink(current_host)
        current = posixpath.normpath(posixpath.join(posixpath.dirname(current), target))
        mapped = host_path(current)
        if mapped is None:
            raise InvalidOutput(
                f"output {name!r} is a symlink to {current!r}, which the worker cannot read "
                "(only /pfs and the system folders are shared); write the file under /pfs/out "
                "instead, or link to an input under /pfs",
                path=name,
            )
        if not mapped.is_symlink():
            if not mapped.exists():
                raise InvalidOutput(
                    f"output {name!r} is a symlink to {current!r}, which does not exist; "
                    "write the file, or remove the link",
                    path=name,
                )
            return mapped, current
        current_host = mapped
    raise InvalidOutput(
        f"output {name!r}: more than {MAX_LINK_HOPS} symlinks in a row (a loop?); "
        "link to the file itself",
        path=name,
    )


async def run_datum(
    datum: Datum,
    transform: Transform,
    sandbox: AgentBox,
    fetch: FetchContent,
    writer: ContentWriter,
    *,
    env: Mapping[str, str],
    tries: int,
    timeout_s: float | None = None,
) -> DatumResult:
    """Stage, run up to ``tries`` times, store the outputs of the first success."""
    ran = await attempt_datum(
        datum, transform, sandbox, fetch, env=env, tries=tries, timeout_s=timeout_s
    )
    entries = await writer.store_many(ran.files.values())
    return DatumResult(ran.state, ran.tries, ran.last, dict(zip(ran.files, entries, strict=True)))


@dataclass(frozen=True, slots=True)
class Attempted:
    """A datum run whose outputs are still bytes (a worker stores a batch's outputs at once)."""

    state: Literal["success", "failed"]
    """Whether its outputs count."""
    tries: int
    """Attempts made."""
    last: RunResult
    """The last attempt."""
    files: dict[str, bytes]
    """Its /pfs/out (success only)."""


async def attempt_datum(
    datum: Datum,
    transform: Transform,
    sandbox: AgentBox,
    fetch: FetchContent,
    *,
    env: Mapping[str, str],
    tries: int,
    timeout_s: float | None = None,
) -> Attempted:
    """Stage, run up to ``tries`` times; the outputs of the first success, as bytes."""
    await stage(datum, sandbox, fetch)
    full_env = {**dict(transform.env), **env}
    last: RunResult | None = None
    for attempt in range(1, tries + 1):
        _empty(sandbox.out_dir)
        last = await sandbox.run(
            transform.cmd,
            stdin="\n".join(transform.stdin) + ("\n" if transform.stdin else ""),
            env=full_env,
            working_dir=transform.working_dir,
            timeout_s=timeout_s,
        )
        if last.exit_code == 0:
            try:
                files = read_outputs(sandbox.out_dir, sandbox.host_path)
            except InvalidOutput as err:
                # The code ran; what it left cannot be uploaded: the datum fails, saying why.
                last = replace(last, stderr_tail=f"{last.stderr_tail}{err.message}\n")
                continue
            return Attempted("success", attempt, last, files)
    assert last is not None
    return Attempted("failed", tries, last, {})
