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

**With an image** (``image_root``, an unpacked root from :class:`pachstream.images.ImageStore`),
the image's root replaces the host's system: every top-level entry of the image is bound
read-only (a symlink stays a symlink) onto the sandbox's own root, with ``/proc``, ``/dev``,
``/tmp``, ``/pfs`` and ``/ctl`` mounted over it as without an image. Each entry rather than the
whole root at ``/``, because a read-only root cannot take mount points the image lacks (an
image need not have ``/tmp`` or ``/pfs``). The control loop runs in a static busybox bound at
:data:`SHELL_INSIDE` (the image may have no shell), and the command gets exactly the
environment it is given, none of the worker's.
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
from typing import Literal

from pachstream.errors import Unavailable
from pachstream.images import DEFAULT_PATH, resolve_in_root

_ENDED = "pachstream: the sandbox ended while the command ran (did it kill its parent?)\n"

TAIL_BYTES = 4096
"""Bytes of stdout and stderr kept in a result."""

_LOOP = (
    "while read -r id; do "
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


SHELL_INSIDE = "/.pachstream/busybox"
"""Where the static busybox that runs the control loop appears inside an image sandbox."""

STATIC_SHELLS = ("/usr/bin/busybox", "/bin/busybox")
"""Where a static busybox is looked for (Debian's ``busybox-static``)."""

_IMAGE_MOUNTS = frozenset({"proc", "dev", "tmp", "pfs", "ctl", SHELL_INSIDE.split("/")[1]})
"""Top-level names of an image sandbox that are the sandbox's, not the image's."""


def static_shell() -> Path:
    """A statically linked busybox of the host, or Unavailable with the fix."""
    for candidate in STATIC_SHELLS:
        if is_static_elf(Path(candidate)):
            return Path(candidate)
    raise Unavailable(
        "a static busybox is needed to run commands in an image (which may have no shell) and "
        f"none is at {' or '.join(STATIC_SHELLS)}; run 'apt-get install busybox-static' "
        "(make system-deps does it)"
    )


def is_static_elf(path: Path) -> bool:
    """Whether ``path`` is an ELF executable without a program interpreter (static)."""
    try:
        with path.open("rb") as f:
            header = f.read(64)
            if len(header) < 52 or header[:4] != b"\x7fELF" or header[4] not in (1, 2):
                return False
            order: Literal["little", "big"] = "little" if header[5] == 1 else "big"
            wide = header[4] == 2
            phoff = int.from_bytes(header[0x20:0x28] if wide else header[0x1C:0x20], order)
            size = int.from_bytes(header[0x36:0x38] if wide else header[0x2A:0x2C], order)
            count = int.from_bytes(header[0x38:0x3A] if wide else header[0x2C:0x2E], order)
            f.seek(phoff)
            table = f.read(size * count)
    except OSError:
        return False
    pt_interp = 3
    return len(table) == size * count and all(
        int.from_bytes(table[i * size : i * size + 4], order) != pt_interp for i in range(count)
    )


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
        f"cd {shlex.quote(directory)} 2>/dev/null"
        f" || {{ echo {shlex.quote(missing)} >&2; exit 126; }}\n"
        + " ".join(["exec env --", *assignments, *(shlex.quote(c) for c in cmd)])
        + "\n"
    )


def image_command_script(
    cmd: Sequence[str], env: Mapping[str, str], working_dir: str | None
) -> str:
    """The script that runs one command in an image sandbox, with exactly ``env``. Pure.

    As :func:`command_script`, but the control shell is a busybox that prefers its own
    applets to the image's programs: the command is looked up in ``env``'s PATH (Docker's
    default without one) by the script itself, and run by its path, so ``cat`` is the
    image's ``cat``, never busybox's. The environment is cleared first (``env -i``): the
    caller gives the whole of it (:attr:`pachstream.images.RunPlan.env` and the datum's
    variables).
    """
    directory = working_dir or DEFAULT_WORKING_DIR
    refusal = _refusal(cmd, env)
    if refusal:
        return f"echo {shlex.quote('pachstream: ' + refusal)} >&2\nexit 126\n"
    missing = (
        f"pachstream: working_dir {directory!r} does not exist in the image; set "
        "transform.working_dir (or the image's WORKDIR) to an existing directory"
    )
    lines = [
        f"cd {shlex.quote(directory)} 2>/dev/null"
        f" || {{ echo {shlex.quote(missing)} >&2; exit 126; }}"
    ]
    program = shlex.quote(cmd[0])
    if "/" in cmd[0]:
        target = program
    else:
        path = env.get("PATH", DEFAULT_PATH)
        dirs = " ".join(shlex.quote(d or ".") for d in path.split(":"))
        not_found = (
            f"pachstream: command {cmd[0]!r} is not in the image (PATH={path}); fix "
            "transform.cmd or the image"
        )
        lines += [
            f'p=; for d in {dirs}; do [ -f "$d"/{program} ] && [ -x "$d"/{program} ]'
            f' && {{ p="$d"/{program}; break; }}; done',
            f'[ -n "$p" ] || {{ echo {shlex.quote(not_found)} >&2; exit 127; }}',
        ]
        target = '"$p"'
    assignments = [shlex.quote(f"{k}={v}") for k, v in sorted(env.items())]
    lines.append(
        " ".join(
            [f"exec {SHELL_INSIDE} env -i --", *assignments, target]
            + [shlex.quote(c) for c in cmd[1:]]
        )
    )
    return "\n".join(lines) + "\n"


def _refusal(cmd: Sequence[str], env: Mapping[str, str]) -> str:
    for name in env:
        if not name or "=" in name or "\0" in name or "\0" in env[name]:
            return f"environment variable {name!r} cannot be set (empty, '=' or NUL); rename it"
    if "=" in cmd[0] or any("\0" in c for c in cmd):
        return f"command {cmd[0]!r} cannot be run: its name has '=' or an argument has NUL"
    return ""


class Sandbox:
    """A long-lived bubblewrap process for one worker of one pipeline.

    Args:
        root: The worker's folder for inputs, output and control files.
        input_names: The inputs that appear under ``/pfs``.
        image_root: An unpacked image root to run in instead of the host's system; None
            keeps the host's ``/usr`` (see the module docstring).
        user: ``(uid, gid)`` the commands run as in an image sandbox
            (:attr:`pachstream.images.RunPlan.uid`); None: the worker's own.
        shell: The static busybox of an image sandbox; default: :func:`static_shell`.
    """

    def __init__(
        self,
        root: Path,
        input_names: Sequence[str],
        *,
        image_root: Path | None = None,
        user: tuple[int, int] | None = None,
        shell: Path | None = None,
    ) -> None:
        self.root = root
        self.input_names = list(input_names)
        self.image_root = image_root
        self.user = user
        self._shell = shell
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
        if self.image_root is not None:
            if not parts or parts[0] in _IMAGE_MOUNTS:
                return None
            # The image's own symlinks resolve inside the image, never on the host.
            found = resolve_in_root(self.image_root, parts)
            where = found.relative_to(self.image_root).parts
            return None if not where or where[0] in _IMAGE_MOUNTS else found
        if parts and parts[0] in _SYSTEM:
            return Path("/", _SYSTEM[parts[0]], *parts[1:])
        return None

    @property
    def _ctl(self) -> Path:
        return self.root / "ctl"

    def _args(self) -> list[str]:
        if self.image_root is not None:
            return self._image_args(self.image_root)
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

    def _image_args(self, image_root: Path) -> list[str]:
        shell = self._shell or static_shell()
        args = [bwrap_path()]
        for entry in sorted(image_root.iterdir()):
            if entry.name in _IMAGE_MOUNTS:
                continue
            if entry.is_symlink():
                args += ["--symlink", os.readlink(entry), f"/{entry.name}"]
            elif entry.is_dir() or entry.is_file():
                args += ["--ro-bind", str(entry), f"/{entry.name}"]
        args += [
            "--proc", "/proc",
            "--dev", "/dev",
            "--tmpfs", "/tmp",
            "--dir", "/pfs",
            "--ro-bind", str(shell), SHELL_INSIDE,
            "--bind", str(self._ctl), "/ctl",
            "--bind", str(self.out_dir), "/pfs/out",
        ]  # fmt: skip
        for name in self.input_names:
            args += ["--ro-bind", str(self.input_dir(name)), f"/pfs/{name}"]
        args += ["--remount-ro", "/", "--unshare-all", "--die-with-parent", "--new-session"]
        args += ["--clearenv", "--setenv", "PATH", DEFAULT_PATH]
        if self.user is not None:
            args += ["--uid", str(self.user[0]), "--gid", str(self.user[1])]
        return [*args, SHELL_INSIDE, "sh", "-c", _LOOP]

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
        script = image_command_script if self.image_root is not None else command_script
        (ctl / "cmd.sh").write_text(script(cmd, env or {}, working_dir))
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
