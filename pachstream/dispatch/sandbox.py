"""A warm bubblewrap sandbox: user code sees a real ``/pfs`` and cannot write outside it.

One sandbox per worker stays up across datums (a fresh ``bwrap`` costs ~7 ms; a warm one
costs only the user's own command). Inside, a read-only system (``/usr``), a scratch ``/tmp``,
``/pfs/<input>`` read-only for each input name of the pipeline, ``/pfs/out`` writable; the
root and ``/pfs`` itself are read-only, and there is no network. ``/ctl``, the control folder
of this worker, is writable too: it carries each run's script, stdin and logs.

The worker stages a datum's inputs into :meth:`Sandbox.input_dir` (the bind mounts follow the
folder's contents), then calls :meth:`Sandbox.run`: the command is written as a script into a
control folder, its id is sent to a small shell loop inside the sandbox, which runs it with
the datum's stdin and environment and answers with the id once the exit code is written. A
command that outlives its timeout takes the sandbox down with it; the next run starts a new
one.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pachstream.errors import Unavailable

TAIL_BYTES = 4096
"""Bytes of stdout and stderr kept in a result."""

_LOOP = (
    'while read -r id; do '
    '( . "/ctl/$id/cmd.sh" ) < "/ctl/$id/stdin" > "/ctl/$id/stdout" 2> "/ctl/$id/stderr"; '
    'echo $? > "/ctl/$id/exit"; echo "$id"; '
    "done"
)


@dataclass(frozen=True, slots=True)
class RunResult:
    """How one command ended."""

    exit_code: int | None
    """Exit status; None when it timed out."""
    stdout_tail: str
    """The end of its standard output."""
    stderr_tail: str
    """The end of its standard error."""
    timed_out: bool
    """Whether it was killed at the timeout."""
    duration_s: float
    """Wall time."""


def bwrap_path() -> str:
    """The bubblewrap binary, or Unavailable with the fix."""
    found = shutil.which("bwrap")
    if not found:
        raise Unavailable("bubblewrap ('bwrap') is not installed; run 'apt-get install bubblewrap' (make does it)")
    return found


def command_script(cmd: Sequence[str], env: Mapping[str, str], working_dir: str | None) -> str:
    """The shell script that runs one command with its environment. Pure."""
    lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items()) if k.isidentifier()]
    lines.append(f"cd {shlex.quote(working_dir or '/pfs')}")
    lines.append("exec " + " ".join(shlex.quote(c) for c in cmd))
    return "\n".join(lines) + "\n"


class Sandbox:
    """A long-lived bubblewrap process for one worker of one pipeline."""

    def __init__(self, root: Path, input_names: Sequence[str]) -> None:
        self.root = root
        self.input_names = list(input_names)
        self._proc: asyncio.subprocess.Process | None = None
        for d in [self.out_dir, self._ctl, *(self.input_dir(n) for n in self.input_names)]:
            d.mkdir(parents=True, exist_ok=True)

    def input_dir(self, name: str) -> Path:
        """Where to stage input ``name``: it appears read-only at ``/pfs/<name>``."""
        return self.root / "inputs" / name

    @property
    def out_dir(self) -> Path:
        """What the command wrote under ``/pfs/out``."""
        return self.root / "out"

    @property
    def _ctl(self) -> Path:
        return self.root / "ctl"

    def _args(self) -> list[str]:
        args = [
            bwrap_path(),
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/bin", "/bin",
            "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/sbin", "/sbin",
            "--proc", "/proc",
            "--dev", "/dev",
            "--tmpfs", "/tmp",
            "--dir", "/pfs",
            "--bind", str(self._ctl), "/ctl",
            "--bind", str(self.out_dir), "/pfs/out",
        ]  # fmt: skip
        for name in self.input_names:
            args += ["--ro-bind", str(self.input_dir(name)), f"/pfs/{name}"]
        # Last: everything not bound writable above becomes read-only.
        args += ["--remount-ro", "/", "--unshare-all", "--die-with-parent", "--new-session", "sh", "-c", _LOOP]
        return args

    async def start(self) -> None:
        """Start the sandbox (idempotent while it runs)."""
        if self._proc is not None and self._proc.returncode is None:
            return
        self._proc = await asyncio.create_subprocess_exec(
            *self._args(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )

    async def run(
        self,
        cmd: Sequence[str],
        *,
        stdin: str = "",
        env: Mapping[str, str] | None = None,
        working_dir: str | None = None,
        timeout_s: float | None = None,
    ) -> RunResult:
        """Run one command in the sandbox and wait for it (or for its timeout)."""
        await self.start()
        assert self._proc is not None and self._proc.stdin and self._proc.stdout
        run_id = uuid.uuid4().hex
        ctl = self._ctl / run_id
        ctl.mkdir()
        (ctl / "cmd.sh").write_text(command_script(cmd, env or {}, working_dir))
        (ctl / "stdin").write_text(stdin)
        started = time.monotonic()
        self._proc.stdin.write(f"{run_id}\n".encode())
        await self._proc.stdin.drain()
        try:
            while True:
                line = await asyncio.wait_for(self._proc.stdout.readline(), timeout_s)
                if not line:
                    raise Unavailable(f"the sandbox in {self.root} exited unexpectedly")
                if line.strip().decode() == run_id:
                    break
        except TimeoutError:
            await self.stop()
            return self._result(ctl, None, started)
        return self._result(ctl, int((ctl / "exit").read_text().strip()), started)

    @staticmethod
    def _result(ctl: Path, code: int | None, started: float) -> RunResult:
        result = RunResult(code, _tail(ctl / "stdout"), _tail(ctl / "stderr"), code is None, time.monotonic() - started)
        shutil.rmtree(ctl, ignore_errors=True)  # a worker runs millions of datums: keep no trail
        return result

    async def stop(self) -> None:
        """Kill the sandbox and everything in it. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await proc.wait()


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - TAIL_BYTES))
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
