"""Recovery of a running stack without restarting processes (issue 18: chaos recovery under
15 s): a processor whose PostgreSQL connection is cut starts again inside its own process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from pachstream.stack.servers import pid_alive

pytestmark = pytest.mark.slow

PROCESSORS = ("commits", "lineage", "dispatch", "workers", "ingest", "s3gateway")
"""Processors that hold PostgreSQL connections and must outlive its restart."""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHSTREAM_")}
    env["PACHSTREAM_HOME"] = str(home)
    env["PACHSTREAM_KAFKA_STORAGE"] = "memory"
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pachstream", *args],
        env=env, text=True, capture_output=True, timeout=240,
    )  # fmt: skip


def _pids(home: Path) -> dict[str, int]:
    state = orjson.loads((home / "stack.json").read_bytes())
    return {c["name"]: c["pid"] for c in state["components"]}


def test_processors_outlive_a_postgres_kill_and_serve_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    up = _cli(env, "up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        assert _cli(env, "create", "repo", "before").returncode == 0
        pids = _pids(home)
        os.kill(pids["postgres"], signal.SIGKILL)
        killed = time.monotonic()
        deadline = killed + 90
        n = 0
        while True:  # a write crosses the broker, the commit processor and the materializer
            n += 1
            made = _cli(env, "create", "repo", f"after{n}")
            if made.returncode == 0:
                break
            assert time.monotonic() < deadline, made.stdout + made.stderr
            time.sleep(0.5)
        print(f"a write succeeded {time.monotonic() - killed:.1f} s after the kill")
        listed = _cli(env, "list", "repo")
        assert "before" in listed.stdout and f"after{n}" in listed.stdout, listed.stdout
        now = _pids(home)
        assert now["postgres"] != pids["postgres"]
        # Same processes: each started its service again in place (its state and offsets
        # from Postgres, as a new process would) instead of exiting for the supervisor.
        for name in PROCESSORS:
            assert now[name] == pids[name] and pid_alive(pids[name]), name
        sup = (home / "logs" / "supervisor.log").read_text()
        assert not any(f"{name} exited" in sup for name in PROCESSORS), sup
        # The pool asks Postgres for the pipelines every moment: its loop met the outage.
        log = (home / "logs" / "workers.log").read_text()
        assert "starting it again in this process" in log, log[-3000:]
    finally:
        down = _cli(env, "down")
        assert down.returncode == 0, down.stderr
