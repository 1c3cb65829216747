"""The supervisor's pure decisions about its servers and processors (issue 18, recovery):
which signal hurries a server someone else asked to stop, the line that releases a processor
started with its servers, and a Postgres lock held by an unreaped postmaster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pachstream.errors import StackError
from pachstream.stack._release import SETTINGS_ON_STDIN, parse_release, release_line
from pachstream.stack._supervisor import hurry_signal
from pachstream.stack.servers import lock_held_by_zombie

WEED_TERM = "I1130 22:34:48.135133 filer.go:496 Gracefully stopping gRPC server\n"
PG_TERM = "2026-11-30 22:35:17.652 UTC [884] LOG:  received smart shutdown request\n"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("seaweedfs", WEED_TERM, signal.SIGKILL),
        ("postgres", PG_TERM, signal.SIGINT),
        ("seaweedfs", "I1130 volume.go:626 Start Seaweed volume server\n", None),
        ("postgres", WEED_TERM, None),  # each server's own words only
        ("tansu", WEED_TERM + PG_TERM, None),
    ],
)
def test_hurry_signal(name: str, text: str, expected: signal.Signals | None) -> None:
    assert hurry_signal(name, text) == expected


def test_release_line_round_trips_and_is_one_line() -> None:
    env = {"PACHSTREAM_POSTGRES_DSN": "postgresql://postgres:s3cret@127.0.0.1:1/postgres"}
    line = release_line(env)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_release(line) == env


def test_a_closed_pipe_is_no_release() -> None:
    assert parse_release(b"") is None


@pytest.mark.parametrize("line", [b"not json\n", b'["a"]\n', b'{"a": 1}\n'])
def test_a_bad_release_line_names_the_line_and_the_fix(line: bytes) -> None:
    with pytest.raises(StackError, match=SETTINGS_ON_STDIN):
        parse_release(line)


RELEASED = (
    "import os, sys\n"
    "from pachstream.stack import await_release\n"
    "ok = await_release()\n"
    "print(ok, os.environ.get('PACHSTREAM_NAMESPACE'), os.environ.get('"
    + SETTINGS_ON_STDIN
    + "'), sys.stdin.read() == '')\n"
)


def _waiting(stdin: bytes) -> str:
    env = {**os.environ, SETTINGS_ON_STDIN: "1"}
    done = subprocess.run(
        [sys.executable, "-c", RELEASED], input=stdin, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().strip()


def test_a_waiting_processor_takes_its_settings_from_stdin_and_hides_the_pipe() -> None:
    # The variable is gone (the pool's workers must not wait) and stdin is /dev/null again.
    assert _waiting(release_line({"PACHSTREAM_NAMESPACE": "rel"})) == "True rel None True"


def test_a_waiting_processor_whose_supervisor_closed_the_pipe_is_told_to_stop() -> None:
    assert _waiting(b"").startswith("False")


def test_a_lock_of_an_unreaped_postmaster_is_seen(tmp_path: Path) -> None:
    child = subprocess.Popen(["true"])  # not waited for: a zombie once it exits
    try:
        (tmp_path / "postmaster.pid").write_text(f"{child.pid}\n{tmp_path}\n")
        deadline = time.monotonic() + 30
        while not lock_held_by_zombie(tmp_path):
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.05)
    finally:
        child.wait()
    assert not lock_held_by_zombie(tmp_path)  # reaped: the pid answers no more
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n")
    assert not lock_held_by_zombie(tmp_path)  # alive: another case (_clear_foreign_lock)
    (tmp_path / "postmaster.pid").unlink()
    assert not lock_held_by_zombie(tmp_path)
