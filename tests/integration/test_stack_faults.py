"""The stack after faults: a supervisor killed with SIGKILL, a reused pid in postmaster.pid,
and the files SeaweedFS leaves outside the stack's folder (issue 18, known holes)."""

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


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHSTREAM_")}
    env["PACHSTREAM_HOME"] = str(home)
    env["PACHSTREAM_KAFKA_STORAGE"] = "memory"
    return env


def _cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pachstream", *args],
        env=env, text=True, capture_output=True, timeout=240, input=stdin,
    )  # fmt: skip


def _state(home: Path) -> dict:
    return orjson.loads((home / "stack.json").read_bytes())


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if pid_alive(p)]


def test_a_killed_supervisor_takes_its_stack_with_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    up = _cli(env, "up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    state = _state(home)
    pids = [c["pid"] for c in state["components"]]
    sockets = [Path(p) for c in state["components"] for p in c["leftovers"]]
    assert sockets, "SeaweedFS's sockets outside the home are recorded"
    try:
        os.kill(state["supervisor_pid"], signal.SIGKILL)
        # Each child gets SIGTERM from the kernel when its parent dies (PR_SET_PDEATHSIG);
        # postgres waits for its clients, the processors, which got the same signal.
        left = _wait_gone(pids, 60)
        assert not left, f"children outlived their supervisor: {left}"
        again = _cli(env, "up", "--detach")
        assert again.returncode == 0, again.stdout + again.stderr
        # The next `up` removed what the dead stack's SeaweedFS left in /tmp.
        assert not [s for s in sockets if s.exists()]
    finally:
        down = _cli(env, "down")
        assert down.returncode == 0, down.stderr
    assert not [p for p in pids if pid_alive(p)]


def test_down_removes_every_file_the_stack_made_outside_its_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    up = _cli(env, "up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    sockets = [Path(p) for c in _state(home)["components"] for p in c["leftovers"]]
    assert any(s.exists() for s in sockets)  # they exist while it runs: no option moves them
    down = _cli(env, "down")
    assert down.returncode == 0, down.stderr
    assert not [s for s in sockets if s.exists()]


def test_a_reused_pid_in_postmaster_pid_does_not_block_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    assert _cli(env, "up", "--detach").returncode == 0
    try:
        assert _cli(env, "create", "repo", "kept").returncode == 0
        put = _cli(env, "put", "file", "kept@master:/a.txt", "-f", "-", stdin="before")
        assert put.returncode == 0, put.stderr
    finally:
        assert _cli(env, "down").returncode == 0
    # After a crash, postgres's lock file may name a pid that the system has since given to
    # an unrelated process: postgres alone would refuse to start ("lock file already exists").
    stranger = subprocess.Popen(["sleep", "120"])
    try:
        lock = home / "postgres" / "postmaster.pid"
        lock.write_text(f"{stranger.pid}\n{home / 'postgres'}\n0\n1\n\n127.0.0.1\n0 0\nready\n")
        up = _cli(env, "up", "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        got = _cli(env, "get", "file", "kept@master:/a.txt")
        assert got.returncode == 0 and got.stdout == "before", got.stderr
        assert stranger.poll() is None  # the stranger was left alone
    finally:
        _cli(env, "down")
        stranger.kill()
        stranger.wait()


def test_seaweedfs_starts_again_on_other_ports_when_one_was_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port picked free and taken before SeaweedFS binds it (seen once in CI) is not fatal."""
    import socket

    from pachstream.stack import servers

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    real = servers.free_port
    picks = iter([taken.getsockname()[1]])  # the first pick is a port someone holds
    monkeypatch.setattr(servers, "free_port", lambda: next(picks, None) or real())
    try:
        weed = servers.start_seaweedfs(tmp_path / "data", tmp_path / "logs")
    finally:
        taken.close()
    try:
        assert b"bind: address already in use" in (tmp_path / "logs" / "seaweedfs.log").read_bytes()
        assert weed.process.poll() is None
    finally:
        servers.stop_servers([weed], 5)


def test_postgres_sent_sigterm_comes_back_instead_of_refusing_everyone(tmp_path: Path) -> None:
    # SIGTERM is Postgres's smart shutdown: it waits for every session to end, which the
    # processors' pools never do, and refuses new connections meanwhile ("the database system
    # is shutting down") for ever. Found by `pachstream chaos`.
    home = tmp_path / "home"
    env = _env(home)
    up = _cli(env, "up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        assert _cli(env, "create", "repo", "before").returncode == 0
        postgres = next(c for c in _state(home)["components"] if c["name"] == "postgres")
        os.kill(postgres["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 90
        while True:
            listed = _cli(env, "list", "repo")
            if listed.returncode == 0 and "before" in listed.stdout:
                break
            assert time.monotonic() < deadline, listed.stdout + listed.stderr
            time.sleep(1)
        assert not pid_alive(postgres["pid"])  # stopped fast, and a new one serves
        log = (home / "logs" / "supervisor.log").read_text()
        assert "postgres was asked to stop (SIGTERM)" in log
    finally:
        down = _cli(env, "down")
        assert down.returncode == 0, down.stderr
