"""Recovery of a running stack without restarting processes (issue 18: chaos recovery under
15 s): a processor whose PostgreSQL connection is cut starts again inside its own process.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from stack_cli import cli, down, stack_env, stack_pids, up

from pachstream.stack.servers import pid_alive

pytestmark = pytest.mark.slow

PROCESSORS = ("commits", "lineage", "dispatch", "workers", "ingest", "s3gateway")
"""Processors that hold PostgreSQL connections and must outlive its restart."""


def test_processors_outlive_a_postgres_kill_and_serve_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = stack_env(home)
    up(env)
    try:
        assert cli(env, "create", "repo", "before").returncode == 0
        pids = stack_pids(home)
        os.kill(pids["postgres"], signal.SIGKILL)
        killed = time.monotonic()
        deadline = killed + 90
        n = 0
        while True:  # a write crosses the broker, the commit processor and the materializer
            n += 1
            made = cli(env, "create", "repo", f"after{n}")
            if made.returncode == 0:
                break
            assert time.monotonic() < deadline, made.stdout + made.stderr
            time.sleep(0.5)
        print(f"a write succeeded {time.monotonic() - killed:.1f} s after the kill")
        listed = cli(env, "list", "repo")
        assert "before" in listed.stdout and f"after{n}" in listed.stdout, listed.stdout
        now = stack_pids(home)
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
        down(env)
