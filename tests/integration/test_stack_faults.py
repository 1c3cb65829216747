"""The stack after faults: a supervisor killed with SIGKILL, a reused pid in postmaster.pid,
and the files SeaweedFS leaves outside the stack's folder (issue 18, known holes)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from stack_cli import cli, down, put_text, seeded, stack_env, stack_pids, stack_state, up

from pachstream.stack.servers import pid_alive

pytestmark = pytest.mark.slow


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if pid_alive(p)]


def test_a_killed_supervisor_takes_its_stack_with_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # Started again on the same home: the broker's log must outlive it (memory storage's
    # does not, and `up` refuses such a home).
    env = stack_env(home, PACHSTREAM_KAFKA_STORAGE="s3")
    up(env)
    state = stack_state(home)
    pids = [c["pid"] for c in state["components"]]
    sockets = [Path(p) for c in state["components"] for p in c["leftovers"]]
    assert sockets, "SeaweedFS's sockets outside the home are recorded"
    try:
        os.kill(state["supervisor_pid"], signal.SIGKILL)
        # Each child gets SIGTERM from the kernel when its parent dies (PR_SET_PDEATHSIG);
        # postgres waits for its clients, the processors, which got the same signal.
        left = _wait_gone(pids, 60)
        assert not left, f"children outlived their supervisor: {left}"
        again = cli(env, "up", "--detach")
        assert again.returncode == 0, again.stdout + again.stderr
        # The next `up` removed what the dead stack's SeaweedFS left in /tmp, but for what it
        # uses again (its socket folder, when the home's path is long: one path per home).
        again_used = {Path(p) for c in stack_state(home)["components"] for p in c["leftovers"]}
        assert not [s for s in sockets if s.exists() and s not in again_used]
    finally:
        down(env)
    assert not [p for p in pids if pid_alive(p)]


def test_down_removes_every_file_the_stack_made_outside_its_home(tmp_path: Path) -> None:
    home = tmp_path / ("home-with-a-long-name-" * 3)  # too long a path for a unix socket
    env = stack_env(home)
    up(env)
    state = stack_state(home)
    sockets = [Path(p) for c in state["components"] for p in c["leftovers"]]
    assert any(s.exists() for s in sockets)  # they exist while it runs: no option moves them
    # Its socket folder is in /tmp (the home's path is too long for a socket).
    run = Path(state["addresses"]["s3_filer_socket"]).parent
    assert not run.is_relative_to(home)
    assert run in sockets and run.is_dir()
    down(env)
    assert not [s for s in sockets if s.exists()]


def test_a_home_whose_broker_log_was_in_memory_is_not_started_again(tmp_path: Path) -> None:
    # Started again, a memory broker is empty while Postgres keeps the offsets read from
    # the log that is gone: a put file into a repo written before hung (the partition's
    # next offset was one the new log reaches only after as many records again).
    home = tmp_path / "home"
    env = stack_env(home)
    up(env)
    try:
        seeded(env)
    finally:
        down(env)
    again = cli(env, "up", "--detach")
    try:
        assert again.returncode != 0
        assert "kept its log in memory: that log is gone" in again.stderr, again.stderr
        assert "Use a fresh PACHSTREAM_HOME" in again.stderr
        assert "no stack running" in cli(env, "status").stderr  # a refusal leaves nothing
    finally:
        cli(env, "down")


def test_a_memory_broker_that_died_stops_its_stack(tmp_path: Path) -> None:
    # Restarted, it would be empty: every later write into a partition written before hung.
    home = tmp_path / "home"
    env = stack_env(home)
    up(env)
    try:
        pids = stack_pids(home)
        os.kill(pids["tansu"], signal.SIGKILL)
        left = _wait_gone(list(pids.values()), 60)
        assert not left, f"the stack went on without its broker's log: {left}"
        log = (home / "logs" / "supervisor.log").read_text()
        assert "tansu did not restart: it kept its log in memory, which is gone" in log, log
    finally:
        cli(env, "down")


def test_a_reused_pid_in_postmaster_pid_does_not_block_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # Started again on the same home: the broker's log must outlive it (memory storage's
    # does not, and `up` refuses such a home).
    env = stack_env(home, PACHSTREAM_KAFKA_STORAGE="s3")
    up(env)
    try:
        seeded(env)
    finally:
        down(env)
    # After a crash, postgres's lock file may name a pid that the system has since given to
    # an unrelated process: postgres alone would refuse to start ("lock file already exists").
    stranger = subprocess.Popen(["sleep", "120"])
    try:
        lock = home / "postgres" / "postmaster.pid"
        lock.write_text(f"{stranger.pid}\n{home / 'postgres'}\n0\n1\n\n127.0.0.1\n0 0\nready\n")
        up(env)
        got = cli(env, "get", "file", "kept@master:/a.txt")
        assert got.returncode == 0 and got.stdout == "before", got.stderr
        assert stranger.poll() is None  # the stranger was left alone
    finally:
        cli(env, "down")
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
    env = stack_env(home)
    up(env)
    try:
        assert cli(env, "create", "repo", "before").returncode == 0
        postgres = next(c for c in stack_state(home)["components"] if c["name"] == "postgres")
        os.kill(postgres["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 90
        while True:
            listed = cli(env, "list", "repo")
            if listed.returncode == 0 and "before" in listed.stdout:
                break
            assert time.monotonic() < deadline, listed.stdout + listed.stderr
            time.sleep(1)
        assert not pid_alive(postgres["pid"])  # stopped fast, and a new one serves
        log = (home / "logs" / "supervisor.log").read_text()
        assert "postgres was asked to stop (SIGTERM)" in log
    finally:
        down(env)


def test_seaweedfs_sent_sigterm_is_restarted_without_its_15_s_grace(tmp_path: Path) -> None:
    # SeaweedFS's filer waits a fixed 15 s after SIGTERM (its own S3 server's metadata
    # subscription never ends first), answering every S3 request with an error meanwhile:
    # 21 s recoveries in `pachstream chaos`. The supervisor kills it and starts it again.
    home = tmp_path / "home"
    env = stack_env(home)
    up(env)
    try:
        seeded(env)
        weed = next(c for c in stack_state(home)["components"] if c["name"] == "seaweedfs")
        os.kill(weed["pid"], signal.SIGTERM)
        assert not _wait_gone([weed["pid"]], 60)
        deadline = time.monotonic() + 90
        while True:  # a new SeaweedFS serves what the old one acknowledged
            got = cli(env, "get", "file", "kept@master:/a.txt")
            if got.returncode == 0:
                break
            assert time.monotonic() < deadline, got.stdout + got.stderr
            time.sleep(0.5)
        assert got.stdout == "before"
        log = (home / "logs" / "supervisor.log").read_text()
        assert "seaweedfs was asked to stop (SIGTERM); sending SIGKILL" in log
        assert "seaweedfs exited with code -9" in log  # killed, not stopped by its own grace
        assert "graceful stop timed out" not in (home / "logs" / "seaweedfs.log").read_text()
        put_text(env, "kept@master:/b.txt", "after")
    finally:
        down(env)


def _started(pid: int) -> int:
    """When the process started (clock ticks since boot: /proc/PID/stat field 22)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def test_up_at_once_after_a_supervisor_kill_starts_processors_with_the_servers(
    tmp_path: Path,
) -> None:
    # What `pachstream chaos` does after killing a supervisor: `up` while the dead stack's
    # children are still stopping (their SIGTERM from the kernel) and its postmaster may not
    # be reaped yet (Postgres refuses a lock file whose pid answers).
    home = tmp_path / "home"
    env = stack_env(home, PACHSTREAM_KAFKA_STORAGE="s3")  # a log that outlives the broker
    up(env)
    try:
        assert cli(env, "create", "repo", "kept").returncode == 0
        before = stack_state(home)
        os.kill(before["supervisor_pid"], signal.SIGKILL)
        up(env)
        after = stack_state(home)
        # The same addresses as before: clients that knew them reconnect where they were.
        assert after["addresses"] == before["addresses"]
        assert after["metrics"] == before["metrics"]
        pids = {c["name"]: c["pid"] for c in after["components"]}
        # The processors imported their code while the servers started: spawned before
        # SeaweedFS (and before Postgres), not after every server answered.
        servers = {name: _started(pids.pop(name)) for name in ("seaweedfs", "postgres", "tansu")}
        late = {n: p for n, p in pids.items() if _started(p) > servers["seaweedfs"]}
        assert not late, f"processors started after SeaweedFS: {late} ({servers})"
        listed = cli(env, "list", "repo")
        assert listed.returncode == 0 and "kept" in listed.stdout, listed.stderr
        assert cli(env, "create", "repo", "after").returncode == 0
    finally:
        down(env)


def test_a_processor_whose_metrics_port_was_taken_restarts_on_another(tmp_path: Path) -> None:
    """Between a processor's death and its restart another process binds its metrics port:
    the restart gets a new one (it would exit at every restart otherwise, metrics stopping a
    processor), and stack.json names the new one."""
    import socket
    import urllib.request

    home = tmp_path / "home"
    env = stack_env(home)
    up(env)
    taker = socket.socket()
    try:
        state = stack_state(home)
        old = state["metrics"]["dispatch"]
        port = int(old.rsplit(":", 1)[1].split("/")[0])
        pid = {c["name"]: c["pid"] for c in state["components"]}["dispatch"]
        os.kill(pid, signal.SIGKILL)
        assert not _wait_gone([pid], 30)
        # Taken while the supervisor waits to restart it (its backoff, ~1 s at the first).
        taker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taker.bind(("127.0.0.1", port))
        taker.listen()
        deadline = time.monotonic() + 60
        new = old
        while time.monotonic() < deadline and new == old:
            time.sleep(0.5)
            new = stack_state(home)["metrics"]["dispatch"]
        assert new != old, "stack.json still names the taken metrics port"
        again = {c["name"]: c["pid"] for c in stack_state(home)["components"]}["dispatch"]
        assert again != pid
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(new, timeout=2) as answer:
                    assert b"pachstream" in answer.read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the restarted dispatcher serves no metrics at {new}")
        assert pid_alive(again), "the dispatcher exited again"
        log = (home / "logs" / "supervisor.log").read_text()
        assert f"metrics port 127.0.0.1:{port} was taken" in log
    finally:
        taker.close()
        down(env)
