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

_ENDED = "pachstream: the sandbox ended while the command ran (did it kill its parent?)\n"

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
    """Exit status; None when it timed out or took the sandbox down with it."""
    stdout_tail: str
    """The end of its standard output."""
    stderr_tail: str
    """The end of its standard error."""
    timed_out: bool
    """Whether it was killed at the timeout."""
    duration_s: float
    """Wall time."""


_SYSTEM = {
    "usr": "usr",
    "bin": "usr/bin",
    "lib": "usr/lib",
    "lib64": "usr/lib64",
    "sbin": "usr/sbin",
}
"""Top-level folders of the sandbox that are the host's, read-only (see ``Sandbox._args``)."""


def bwrap_path() -> str:
    """The bubblewrap binary, or Unavailable with the fix."""
    found = shutil.which("bwrap")
    if not found:
        raise Unavailable(
            "bubblewrap ('bwrap') is not installed; run 'apt-get install bubblewrap' (make does it)"
        )
    return found


DEFAULT_WORKING_DIR = "/"
"""Where commands start when the spec sets no ``working_dir``: Pachyderm keeps the image's
working directory, which is ``/`` unless the image says otherwise."""


def command_script(cmd: Sequence[str], env: Mapping[str, str], working_dir: str | None) -> str:
    """The shell script that runs one command with its environment. Pure.

    Variables go through ``env(1)``, not ``export``: Pachyderm passes every input's variables,
    also for names that are not shell identifiers (an input named ``my-input``), and only
    ``env`` can set those. What cannot be passed at all (a name with ``=``, a command whose
    name has ``=``, which ``env`` would read as a variable) fails the run with the reason.
    """
    directory = working_dir or DEFAULT_WORKING_DIR
    refusal = _refusal(cmd, env)
    if refusal:
        return f"echo {shlex.quote('pachstream: ' + refusal)} >&2\nexit 126\n"
    missing = (
        f"pachstream: working_dir {directory!r} does not exist in the sandbox; set "
        "transform.working_dir to an existing directory, such as /pfs/out or /tmp"
    )
    assignments = [shlex.quote(f"{k}={v}") for k, v in sorted(env.items())]
    return (
        f"cd {shlex.quote(directory)} 2>/dev/null || {{ echo {shlex.quote(missing)} >&2; exit 126; }}\n"
        + " ".join(["exec env --", *assignments, *(shlex.quote(c) for c in cmd)])
        + "\n"
    )


def _refusal(cmd: Sequence[str], env: Mapping[str, str]) -> str:
    for name in env:
        if not name or "=" in name or "\0" in name or "\0" in env[name]:
            return f"environment variable {name!r} cannot be set (empty, '=' or NUL); rename it"
    if "=" in cmd[0] or any("\0" in c for c in cmd):
        return f"command {cmd[0]!r} cannot be run: its name has '=' or an argument has NUL"
    return ""


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

    def host_path(self, inside: str) -> Path | None:
        """Where an absolute path as the command sees it lives on the host, or None.

        Symlinks written to ``/pfs/out`` name paths inside the sandbox; this maps the ones
        the worker can read: ``/pfs/out``, ``/pfs/<input>`` and the read-only system.
        ``/tmp`` and ``/proc`` exist only inside, so their paths map to None.
        """
        parts = [p for p in inside.split("/") if p]
        if parts[:2] == ["pfs", "out"]:
            return self.out_dir.joinpath(*parts[2:])
        if len(parts) >= 2 and parts[0] == "pfs" and parts[1] in self.input_names:
            return self.input_dir(parts[1]).joinpath(*parts[2:])
        if parts and parts[0] in _SYSTEM:
            return Path("/", _SYSTEM[parts[0]], *parts[1:])
        return None

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
        args += [
            "--remount-ro",
            "/",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "sh",
            "-c",
            _LOOP,
        ]
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
                    # The command took the sandbox down (``kill -9 -1``...): this run fails,
                    # the next run starts a new sandbox; the worker itself goes on.
                    await self.stop()
                    return self._result(ctl, None, started, timed_out=False, note=_ENDED)
                if line.strip().decode() == run_id:
                    break
        except TimeoutError:
            await self.stop()
            return self._result(ctl, None, started, timed_out=True)
        return self._result(ctl, int((ctl / "exit").read_text().strip()), started)

    @staticmethod
    def _result(
        ctl: Path, code: int | None, started: float, *, timed_out: bool = False, note: str = ""
    ) -> RunResult:
        result = RunResult(
            code,
            _tail(ctl / "stdout"),
            _tail(ctl / "stderr") + note,
            timed_out,
            time.monotonic() - started,
        )
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
