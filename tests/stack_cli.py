"""``pachstream`` run as a user runs it, in a child process, on a stack in a folder of the
test's own: the helpers of the tests that start whole stacks with ``pachstream up``.

Imported as ``from stack_cli import ...`` (pytest puts ``tests/`` on the path, as for
``kube_plane``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from pachstream.settings import STACK_FILE, Settings


def stack_env(home: Path, servers: Settings | None = None, **variables: str) -> dict[str, str]:
    """The environment of a stack in ``home``, then ``variables``.

    None of this process's ``PACHSTREAM_*`` variables pass: the session's servers must not
    leak into a stack meant to start its own. With ``servers``, the stack uses those instead
    (``up`` starts only pachstream's processes); without, ``up`` starts embedded servers,
    the broker keeping its log in memory (faster, and nothing to remove afterwards).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHSTREAM_")}
    if servers is None:
        env["PACHSTREAM_KAFKA_STORAGE"] = "memory"
    else:
        env.update(servers.child_env())
    return {**env, "PACHSTREAM_HOME": str(home), **variables}


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``pachstream ARGS`` in a child process with ``env``; its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "pachstream", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=timeout,
        input=stdin,
    )


def up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``pachstream up --detach``, which must succeed."""
    started = cli(env, "up", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    return started


def down(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``pachstream down``, which must succeed."""
    stopped = cli(env, "down")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    return stopped


def stack_state(home: Path) -> dict[str, Any]:
    """What ``up`` recorded in ``home``'s stack.json."""
    state: dict[str, Any] = orjson.loads((home / STACK_FILE).read_bytes())
    return state


def stack_pids(home: Path) -> dict[str, int]:
    """Each component's pid, by name, as stack.json records it."""
    return {c["name"]: c["pid"] for c in stack_state(home)["components"]}


def put_text(env: dict[str, str], file_ref: str, text: str) -> None:
    """``pachstream put file FILE_REF`` of ``text``, which must succeed."""
    put = cli(env, "put", "file", file_ref, "-f", "-", stdin=text)
    assert put.returncode == 0, put.stdout + put.stderr


def seeded(env: dict[str, str]) -> None:
    """Repo ``kept`` with ``/a.txt`` = ``before``: what a fault test reads back afterwards."""
    made = cli(env, "create", "repo", "kept")
    assert made.returncode == 0, made.stdout + made.stderr
    put_text(env, "kept@master:/a.txt", "before")
