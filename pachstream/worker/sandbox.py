"""Where a datum's command runs: an agent (:mod:`.agent`) in a warm sandbox, or in a pod.

:class:`AgentBox` is the sidecar's view of one agent: the folders it shares with it (inputs,
output, control) and :meth:`AgentBox.run`, which hands a command over by the protocol of
:mod:`pachstream.worker.agent`. Two kinds:

- :class:`Sandbox`, the local runtime: one long-lived bubblewrap process per worker runs the
  agent (a fresh ``bwrap`` costs ~7 ms; a warm one costs only the user's own command). Inside,
  a read-only system (``/usr``, or an image's root), a scratch ``/tmp``, ``/pfs/<input>``
  read-only for each input name of the pipeline, ``/pfs/out`` writable; the root and ``/pfs``
  itself are read-only, there is no network and no environment but the one each command is
  given (never the worker's, which holds the servers' credentials). ``/ctl``, the control
  folder, is writable: it carries each run's script, stdin and logs.
- :class:`PodAgent`, the Kubernetes runtime: the agent is the pod's user container
  (:mod:`pachstream.worker._kube_objects`), which the sidecar neither starts nor stops; the
  folders are emptyDirs both containers mount.

**With an image** (``image_root``, an unpacked root from :class:`pachstream.images.ImageStore`),
the image's root replaces the host's system: every top-level entry of the image is bound
read-only (a symlink stays a symlink) onto the sandbox's own root, with ``/proc``, ``/dev``,
``/tmp``, ``/pfs`` and ``/ctl`` mounted over it as without an image. Each entry rather than the
whole root at ``/``, because a read-only root cannot take mount points the image lacks (an
image need not have ``/tmp`` or ``/pfs``). The agent is a static busybox bound at
:data:`SHELL_INSIDE` in every sandbox (the image may have no shell).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import shlex
import shutil
import signal
import stat
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pachstream.errors import Unavailable
from pachstream.images import DEFAULT_PATH, resolve_in_root
from pachstream.worker.agent import AGENT, CTL_RUNS, PING, SHELL_INSIDE, AgentLink

log = logging.getLogger("pachstream.worker")

_ENDED = "pachstream: the agent ended while the command ran (did it kill its parent?)\n"
_LATE = "pachstream: the agent did not answer within the timeout and a grace period\n"

TAIL_BYTES = 4096
"""Bytes of stdout and stderr kept in a result."""

LATE_S = 10.0
"""How long past a run's timeout the sidecar waits for the agent, which kills the run at the
timeout itself, before it calls the agent lost."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """How one command ended."""

    exit_code: int | None
    """Exit status; None when it timed out or the agent was lost during it."""
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
        "a static busybox is needed to run the agent of every sandbox (an image may have no shell) "
        "and "
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


def command_script(
    cmd: Sequence[str],
    env: Mapping[str, str],
    working_dir: str | None,
    *,
    inherit_env: bool = False,
) -> str:
    """The script the agent sources to run one command (in a fork of itself, whose ``$S``
    says whether the command needs a session of its own: see :data:`.agent.AGENT`). Pure.

    The agent is a busybox that prefers its own applets to the image's programs, so the
    command is looked up in PATH by the script itself and run by its path: ``cat`` is the
    image's (or the host's) ``cat``, never busybox's. Variables go through ``env(1)``, not
    ``export``: Pachyderm passes every input's variables, also for names that are not shell
    identifiers (an input named ``my-input``), and only ``env`` can set those. What cannot be
    passed at all (a name with ``=``, a command whose name has ``=``, which ``env`` would read
    as a variable) fails the run with the reason.

    In a sandbox (``inherit_env`` false) the command gets exactly ``env`` (``env -i``), with
    Docker's default PATH when ``env`` has none, and starts in ``working_dir`` or ``/``. In a
    pod (``inherit_env`` true) it gets the agent's environment, which the container runtime
    built from the image's ``Env``, under ``env``; without a ``working_dir`` it starts where
    the agent runs, the image's ``WORKDIR``.
    """
    refusal = _refusal(cmd, env)
    if refusal:
        return f"echo {shlex.quote('pachstream: ' + refusal)} >&2\nexit 126\n"
    lines = []
    directory = working_dir or (None if inherit_env else DEFAULT_WORKING_DIR)
    if directory is not None:
        missing = (
            f"pachstream: working_dir {directory!r} does not exist; set transform.working_dir "
            "(or the image's WORKDIR) to an existing directory, such as /pfs/out or /tmp"
        )
        lines.append(
            f"cd {shlex.quote(directory)} 2>/dev/null"
            f" || {{ echo {shlex.quote(missing)} >&2; exit 126; }}"
        )
    if not inherit_env and "PATH" not in env:
        env = {**env, "PATH": DEFAULT_PATH}
    program = shlex.quote(cmd[0])
    if "/" in cmd[0]:
        target = program
    else:
        path = env.get("PATH")
        head = f"pachstream: command {cmd[0]!r} is not found in PATH ("
        foot = "); fix transform.cmd or the image"
        if path is not None:
            dirs = " ".join(shlex.quote(d or ".") for d in path.split(":"))
            lines.append(
                f'p=; for d in {dirs}; do [ -f "$d"/{program} ] && [ -x "$d"/{program} ]'
                f' && {{ p="$d"/{program}; break; }}; done'
            )
            said = shlex.quote(f"{head}PATH={path}{foot}")
        else:
            # The agent's own PATH, split on ':' (an empty entry is '.').
            lines.append(
                f"p=; o=$IFS; IFS=:; for d in ${{PATH:-{DEFAULT_PATH}}}; do IFS=$o;"
                f' [ -n "$d" ] || d=.; [ -f "$d"/{program} ] && [ -x "$d"/{program} ]'
                f' && {{ p="$d"/{program}; break; }}; done; IFS=$o'
            )
            said = shlex.quote(f"{head}PATH=") + '"$PATH"' + shlex.quote(foot)
        lines.append(f'[ -n "$p" ] || {{ echo {said} >&2; exit 127; }}')
        target = '"$p"'
    assignments = [shlex.quote(f"{k}={v}") for k, v in sorted(env.items())]
    command = [target, *(shlex.quote(c) for c in cmd[1:])]
    if all(_SHELL_NAME.fullmatch(name) and name not in _ASH_SPECIAL for name in env):
        # The usual case: the fork's shell exports the variables itself, which saves an
        # ``env`` exec per datum (~0.4 ms of CPU, an eighth of a small datum's). In a sandbox
        # the agent's shell exports only PATH (bwrap's --clearenv) and what it sets itself
        # (``cd`` exports PWD and OLDPWD again): unset, so the command gets exactly ``env``.
        if not inherit_env:
            lines.append(f"unset {' '.join(_ASH_EXPORTS)}")
        if assignments:
            lines.append(" ".join(["export", *assignments]))
        lines.append(" ".join(["exec $S", *command]))
    else:
        clear = "-i " if not inherit_env else ""
        lines.append(" ".join([f"exec $S {SHELL_INSIDE} env {clear}--", *assignments, *command]))
    return "\n".join(lines) + "\n"


_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A name ``export`` can set (others, such as an input named ``my-input``, go through ``env``)."""

_ASH_SPECIAL = frozenset(
    "IFS PS1 PS2 PS4 OPTIND OPTARG LINENO RANDOM SECONDS HISTFILE HISTSIZE ENV MAIL MAILPATH "
    "MAILCHECK PPID FUNCNAME HOSTNAME EPOCHSECONDS EPOCHREALTIME p d o S".split()
)
"""Names busybox ash gives a meaning or a value of its own (a random number, the line, how to
split words), and the script's own (``p``, ``d``, ``o``; the agent's ``S``), which the exec
line reads: set through ``env``, never by the shell that runs the script."""

_ASH_EXPORTS = ("PWD", "OLDPWD", "SHLVL")
"""What busybox ash exports of its own accord (``env -i`` dropped them)."""


def _refusal(cmd: Sequence[str], env: Mapping[str, str]) -> str:
    for name in env:
        if not name or "=" in name or "\0" in name or "\0" in env[name]:
            return f"environment variable {name!r} cannot be set (empty, '=' or NUL); rename it"
    if "=" in cmd[0] or any("\0" in c for c in cmd):
        return f"command {cmd[0]!r} cannot be run: its name has '=' or an argument has NUL"
    return ""


class AgentBox:
    """The sidecar's side of one agent: shared folders, and commands run by the protocol.

    Subclasses say how the agent comes to be (:meth:`_launch`), whether it can be seen to end
    (:meth:`_ended`) and what a lost agent costs (:meth:`_discard`).

    Args:
        root: The worker's folder for inputs, output and control files.
        input_names: The inputs that appear under ``/pfs``.
    """

    inherit_env = False
    """Whether commands keep the agent's environment (see :func:`command_script`)."""

    def __init__(self, root: Path, input_names: Sequence[str]) -> None:
        self.root = root
        self.input_names = list(input_names)
        self._link: AgentLink | None = None
        # Resolved once: a link made by _in_memory (before this) keeps its target for the
        # box's life, and these are read several times per datum.
        self._inputs = _behind(root / "inputs")
        self._out = _behind(root / "out")
        self._make_folders()

    def _make_folders(self) -> None:
        for d in [self.out_dir, self._ctl, *(self.input_dir(n) for n in self.input_names)]:
            d.mkdir(parents=True, exist_ok=True)

    def input_dir(self, name: str) -> Path:
        """Where to stage input ``name``: it appears read-only at ``/pfs/<name>``."""
        return self._inputs / name

    @property
    def out_dir(self) -> Path:
        """What the command wrote under ``/pfs/out``."""
        return self._out

    @property
    def _ctl(self) -> Path:
        return self.root / "ctl"

    def host_path(self, inside: str) -> Path | None:
        """Where an absolute path as the command sees it lives for the sidecar, or None.

        Symlinks written to ``/pfs/out`` name paths inside the sandbox; this maps the ones
        the sidecar can read: ``/pfs/out`` and ``/pfs/<input>`` (and, in a :class:`Sandbox`,
        the read-only system). ``/tmp`` and ``/proc`` exist only inside, so map to None.
        """
        parts = [p for p in inside.split("/") if p]
        if parts[:2] == ["pfs", "out"]:
            return self.out_dir.joinpath(*parts[2:])
        if len(parts) >= 2 and parts[0] == "pfs" and parts[1] in self.input_names:
            return self.input_dir(parts[1]).joinpath(*parts[2:])
        return self._system_path(parts)

    def _system_path(self, parts: list[str]) -> Path | None:
        return None

    async def _launch(self) -> None:
        """Bring the agent up (a sandbox starts it; a pod's is started by the kubelet)."""

    def _ended(self) -> asyncio.Future[object] | None:
        """Completes when the agent is seen to end (None: it cannot be seen)."""
        return None

    async def _discard(self) -> None:
        """After a lost or late run: the next run starts with an agent known to be idle."""
        if self._link is not None:
            self._link.close()
            self._link = None

    async def start(self) -> bool:
        """Bring the agent up and wait until it is idle (idempotent while it is).

        False when it ended before answering (the sandbox could not start).
        """
        if self._link is not None:
            return True
        await self._launch()
        link = AgentLink(self._ctl)
        await link.open()
        self._link = link
        # The first run tells that the agent is up and idle: a run of a previous sidecar (a
        # pod's, whose agent outlived it) has ended, so nothing of it can touch what is
        # staged next.
        ping = self._write_run(PING, "")
        link.send(ping.name)
        answer = await link.wait(ping.name, None, self._ended())
        _remove_run(ping)
        if answer.outcome != "done":
            await self._discard()
            return False
        self._sweep()
        return True

    def _sweep(self) -> None:
        # Runs of a previous sidecar left their folders: the agent is idle now, drop them.
        scripts = self._ctl / CTL_RUNS
        for folder in (self._ctl, scripts):
            for child in folder.iterdir():
                if child != scripts and child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)

    def _write_run(self, script: str, stdin: str) -> Path:
        """Write a run's script (and stdin) under ``runs/<id>``, read-only where the agent
        runs, and make its output folder ``<id>``, which is returned. A fresh name per run,
        which user code cannot guess before it exists.
        """
        name = uuid.uuid4().hex
        ctl = str(self._ctl)
        # Plain strings and os calls: this runs per datum (pathlib's objects cost more than
        # the syscalls here).
        scripts = f"{ctl}/{CTL_RUNS}/{name}"
        os.mkdir(scripts)
        write_new(f"{scripts}/cmd.sh", script.encode())
        if stdin:  # none: the agent gives the command /dev/null
            write_new(f"{scripts}/stdin", stdin.encode())
        os.mkdir(f"{ctl}/{name}")
        return self._ctl / name

    async def run(
        self,
        cmd: Sequence[str],
        *,
        stdin: str = "",
        env: Mapping[str, str] | None = None,
        working_dir: str | None = None,
        timeout_s: float | None = None,
    ) -> RunResult:
        """Run one command by the agent and wait for it (the agent enforces the timeout)."""
        started = time.monotonic()
        if not await self.start():
            return RunResult(None, "", self._start_failure(), False, 0.0)
        assert self._link is not None
        script = command_script(cmd, env or {}, working_dir, inherit_env=self.inherit_env)
        run = self._write_run(script, stdin)
        self._link.send(run.name, timeout_s)
        late = None if timeout_s is None else timeout_s + LATE_S
        answer = await self._link.wait(run.name, late, self._ended())
        if answer.outcome == "done":
            return self._result(run, answer.exit_code, started, timed_out=answer.timed_out)
        # Lost (the command took the agent down: ``kill -9 -1``...) or late: this run fails;
        # the next one finds the agent idle again (a new sandbox, or a pod's agent pinged).
        await self._discard()
        note = _ENDED if answer.outcome == "lost" else _LATE
        return self._result(run, None, started, timed_out=answer.outcome == "late", note=note)

    def _start_failure(self) -> str:
        return "pachstream: the agent ended before it answered\n"

    @staticmethod
    def _result(
        run: Path, code: int | None, started: float, *, timed_out: bool = False, note: str = ""
    ) -> RunResult:
        out, err = "", ""
        emptied = False
        try:
            # Never through a link: user code can replace its run's folder or files with
            # symlinks to the worker's own files.
            folder = os.open(run, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            pass
        else:
            try:
                out, err = _tail_at(folder, "stdout"), _tail_at(folder, "stderr")
                # What the agent made, dropped through the same fd (a worker runs millions
                # of datums: keep no trail); anything else there is _remove_run's.
                emptied = _unlink_at(folder, _AGENT_FILES)
            finally:
                os.close(folder)
        result = RunResult(code, out, err + note, timed_out, time.monotonic() - started)
        _remove_run(run, emptied)
        return result

    async def stop(self, *, release: bool = True) -> None:
        """Let go of the agent (a sandbox's is killed with everything in it). Idempotent.

        ``release``: also free what the control folder holds (False when another box of the
        same root takes over).
        """
        await self._discard()


class Sandbox(AgentBox):
    """The local runtime: a long-lived bubblewrap process runs the agent for one worker.

    Args:
        root: The worker's folder for inputs, output and control files.
        input_names: The inputs that appear under ``/pfs``.
        image_root: An unpacked image root to run in instead of the host's system; None
            keeps the host's ``/usr`` (see the module docstring).
        user: ``(uid, gid)`` the commands run as in an image sandbox
            (:attr:`pachstream.images.RunPlan.uid`); None: the worker's own.
        shell: The static busybox of the agent; default: :func:`static_shell`.
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
        _in_memory(root)  # before the base resolves the folders' links
        super().__init__(root, input_names)
        self._memory_made = True
        """Whether the memory folders are there (made, and not freed by a stop since)."""
        self.image_root = image_root
        self.user = user
        self._shell = shell
        self._proc: asyncio.subprocess.Process | None = None
        self._exit: asyncio.Future[int] | None = None

    def _system_path(self, parts: list[str]) -> Path | None:
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
    def _agent_log(self) -> Path:
        # Beside the control folder, not in it: user code cannot rewrite what it says.
        return self.root / "agent.log"

    def _common_args(self) -> list[str]:
        args = [
            "--proc", "/proc",
            "--dev", "/dev",
            "--tmpfs", "/tmp",
            "--dir", "/pfs",
            "--ro-bind", str(self._shell or static_shell()), SHELL_INSIDE,
            "--bind", str(self._ctl), "/ctl",
            # Only the sidecar writes scripts (see pachstream.worker.agent).
            "--ro-bind", str(self._ctl / CTL_RUNS), f"/ctl/{CTL_RUNS}",
            "--bind", str(self.out_dir), "/pfs/out",
        ]  # fmt: skip
        for name in self.input_names:
            args += ["--ro-bind", str(self.input_dir(name)), f"/pfs/{name}"]
        # Everything not bound writable above becomes read-only; the worker's environment
        # (the servers' credentials) stays out.
        args += ["--remount-ro", "/", "--unshare-all", "--die-with-parent", "--new-session"]
        args += ["--clearenv", "--setenv", "PATH", DEFAULT_PATH]
        if self.image_root is not None and self.user is not None:
            args += ["--uid", str(self.user[0]), "--gid", str(self.user[1])]
        return [*args, SHELL_INSIDE, "sh", "-c", AGENT]

    def _args(self) -> list[str]:
        args = [bwrap_path()]
        if self.image_root is None:
            args += [
                "--ro-bind", "/usr", "/usr",
                "--symlink", "usr/bin", "/bin",
                "--symlink", "usr/lib", "/lib",
                "--symlink", "usr/lib64", "/lib64",
                "--symlink", "usr/sbin", "/sbin",
            ]  # fmt: skip
        else:
            for entry in sorted(self.image_root.iterdir()):
                if entry.name in _IMAGE_MOUNTS:
                    continue
                if entry.is_symlink():
                    args += ["--symlink", os.readlink(entry), f"/{entry.name}"]
                elif entry.is_dir() or entry.is_file():
                    args += ["--ro-bind", str(entry), f"/{entry.name}"]
        return args + self._common_args()

    async def _launch(self) -> None:
        if not self._memory_made:  # its memory was freed at a stop
            _in_memory(self.root)
            self._memory_made = True
        self._make_folders()
        (self._ctl / CTL_RUNS).mkdir(parents=True, exist_ok=True)  # bound read-only
        # Fresh FIFOs: ids a dead agent left unread must not reach the new one.
        for name in ("in", "out"):
            (self._ctl / name).unlink(missing_ok=True)
        with self._agent_log.open("wb") as agent_log:
            self._proc = await asyncio.create_subprocess_exec(
                *self._args(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=agent_log,
                start_new_session=True,
                # Not even bwrap gets the worker's environment: its own process is /proc/1
                # inside, and /proc/1/environ is readable there.
                env={"PATH": DEFAULT_PATH},
            )
        self._exit = asyncio.ensure_future(self._proc.wait())

    def _ended(self) -> asyncio.Future[object] | None:
        return self._exit  # type: ignore[return-value]  # only its completion matters

    async def stop(self, *, release: bool = True) -> None:
        """Kill the sandbox, and free its folders' memory unless ``release`` is False (the
        links stay: a sandbox started there again makes the folders again).
        """
        await super().stop()
        if release:
            free_memory(self.root)
            self._memory_made = False

    def _start_failure(self) -> str:
        said = _tail(self._agent_log).strip()
        return f"pachstream: the sandbox did not start: {said or 'no reason given'}\n"

    async def _discard(self) -> None:
        await super()._discard()
        proc, self._proc = self._proc, None
        self._exit = None
        if proc is None or proc.returncode is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await proc.wait()


class PodAgent(AgentBox):
    """The Kubernetes runtime: the agent is the pod's user container, sharing ``root``'s
    folders as emptyDirs (:mod:`pachstream.worker._kube_objects`).

    The sidecar cannot see it end, nor kill it: the agent kills a run at its timeout itself,
    and a restarted agent says ``ready``, which fails the run it lost. Its environment is the
    image's, as the container runtime set it (``inherit_env``).
    """

    inherit_env = True

    async def start(self) -> bool:
        """Wait for the agent (the kubelet may still be pulling the user's image)."""
        if self._link is None:
            log.info("worker: waiting for the agent of the user container at %s", self._ctl)
        return await super().start()


MEMORY_DIR = Path("/dev/shm")
"""Where the working folders of local sandboxes live when it is a memory file system; links
``<root>/ctl``, ``<root>/inputs`` and ``<root>/out`` point there.

Each datum makes and removes files in all three: a run's control files (~2 ms of journal per
run on this project's ext4 disks, ~0.3 ms in memory), every input file staged (a ``/`` datum
of 200,000 files spent 95 % of its staging in creating them: 3,300-6,000 files/s on disk
here, 82,000 in memory) and every output. Memory bounded a datum before: the worker holds
its inputs whole while it stages them and its outputs whole when it reads them; the folders
now hold a second copy meanwhile. A datum larger than the memory folder has room for fails,
saying so (no space left). A folder already on disk under one of those names is kept
(someone put files there)."""

MEMORY_FOLDERS = {"ctl": "", "inputs": ".inputs", "out": ".out"}
"""The folders of a sandbox's root put in memory, and the suffix of each one's folder there
(the control folder's has none: its links were made before the others moved)."""

MEMORY_MIN_BYTES = 1 << 30
"""The least room a memory folder must have for a datum's inputs and outputs to go there:
Docker gives a container's ``/dev/shm`` 64 MiB, where any sizeable datum would fail for
want of room; below this only the control folder (a few small files a run) goes there."""


def memory_folders(room: int) -> dict[str, str]:
    """Which of :data:`MEMORY_FOLDERS` go in memory when the memory folder holds ``room``
    bytes. Pure.
    """
    if room >= MEMORY_MIN_BYTES:
        return MEMORY_FOLDERS
    return {"ctl": MEMORY_FOLDERS["ctl"]}


def _in_memory(root: Path) -> None:
    """Make each of :data:`MEMORY_FOLDERS` of ``root`` a link to a folder of its own under
    :data:`MEMORY_DIR` (again, if its memory was freed), unless it is a folder already or
    no private folder can be made there.
    """
    mine = MEMORY_DIR / f"pachstream-{os.getuid()}"
    if not MEMORY_DIR.is_dir():
        return
    with contextlib.suppress(FileExistsError):
        try:
            os.mkdir(mine, 0o700)
        except OSError as err:
            if isinstance(err, FileExistsError):
                raise
            return
    if not _private(mine):
        return
    where = str(root.resolve())
    folders, owner = _memory_of(mine, hashlib.sha256(where.encode()).hexdigest()[:32])
    _free_orphans(mine)
    root.mkdir(parents=True, exist_ok=True)
    # Written before the folders: whatever is made there is found again from its root.
    owner.write_text(where)
    room = os.statvfs(mine)
    for name in memory_folders(room.f_blocks * room.f_frsize):
        link = root / name
        if link.is_symlink():
            target = Path(os.readlink(link))
            if target.parent == mine:
                target.mkdir(mode=0o700, exist_ok=True)  # gone with a reboot or a stop
            continue
        if link.exists():
            continue
        target = folders[name]
        target.mkdir(mode=0o700, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # a concurrent start made it
            link.symlink_to(target, target_is_directory=True)


OWNER_SUFFIX = ".root"
"""Beside a root's memory folders, a file naming the root (``<digest>.root``)."""


def _memory_of(mine: Path, digest: str) -> tuple[dict[str, Path], Path]:
    """A root's memory folders under ``mine`` (name → folder) and its owner file, the root
    named by ``digest``: the one spelling of ``<digest><suffix>`` and ``<digest>.root``.
    """
    folders = {name: mine / f"{digest}{suffix}" for name, suffix in MEMORY_FOLDERS.items()}
    return folders, mine / f"{digest}{OWNER_SUFFIX}"


ORPHAN_AFTER_S = 60.0
"""Age of an owner file under which its folders are never freed as orphans: a sandbox being
started has made them and not yet linked them."""


def _free_orphans(mine: Path) -> None:
    """Free the memory folders whose root is gone, or no longer links to them.

    A stop frees a sandbox's folders, and the pool frees a killed worker's; a stack killed
    whole (kill -9, a machine's test run) stops nothing, its home is then deleted, and its
    folders would stay in memory until a reboot (the suite left a set per run, staged inputs
    included).
    """
    now = time.time()
    for owner in mine.glob(f"*{OWNER_SUFFIX}"):
        try:
            if now - owner.stat().st_mtime < ORPHAN_AFTER_S:
                continue
            root = Path(owner.read_text())
        except OSError:
            continue  # gone meanwhile (another process freed it)
        folders, _ = _memory_of(mine, owner.name.removesuffix(OWNER_SUFFIX))
        if _linked(root, folders):
            continue  # its root is there: a sandbox stopped or running, not gone
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)
        owner.unlink(missing_ok=True)


def _linked(root: Path, folders: dict[str, Path]) -> bool:
    """Whether any of ``root``'s folders links to its memory folder (``folders``: name →
    folder; each is checked: a root made before the control folder moved to memory keeps
    that one on disk, its inputs and outputs in memory).
    """
    for name, folder in folders.items():
        try:
            if Path(os.readlink(root / name)) == folder:
                return True
        except OSError:
            continue  # not a link (a folder on disk), or the root is gone
    return False


def _behind(folder: Path) -> Path:
    """The folder a link of :func:`_in_memory` points to, or the folder itself: paths under
    it are the sandbox's own, and the command's links are followed from there (through the
    link, ``/pfs/out/d -> ..`` would lead to the link, which names a host path).
    """
    try:
        target = Path(os.readlink(folder))
    except OSError:  # not a link (a folder on disk), or not made yet
        return folder
    return target if target.is_absolute() else folder.parent / target


def free_memory(root: Path) -> None:
    """Free the memory folders that ``root``'s links point to, if any (the links stay: a
    sandbox started there again makes the folders again). For a sandbox stopped, or a
    worker gone.
    """
    owners = set()
    for name, suffix in MEMORY_FOLDERS.items():
        link = root / name
        if link.is_symlink():
            target = Path(os.readlink(link))
            if target.parent.parent == MEMORY_DIR:
                shutil.rmtree(target, ignore_errors=True)
                owners.add(_memory_of(target.parent, target.name.removesuffix(suffix))[1])
    # Its owner goes with any of its folders (a root whose control folder stayed on disk has
    # one too); a start writes it again (_in_memory).
    for owner in owners:
        owner.unlink(missing_ok=True)


def _private(folder: Path) -> bool:
    # Anyone can make names in /dev/shm: use only a real folder that is ours alone.
    try:
        held = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(held.st_mode) and held.st_uid == os.getuid() and not held.st_mode & 0o077


_SCRIPT_FILES = ("cmd.sh", "stdin")
"""What the sidecar writes in a run's script folder (``runs/<id>``)."""
_AGENT_FILES = ("stdout", "stderr")
"""What the agent writes in a run's output folder (``<id>``)."""


def write_new(path: str, data: bytes) -> None:
    """Write a file that must not exist yet (never through a link planted meanwhile).

    Plain os calls on a string path: this runs per datum, and per staged input file, where
    ``Path.write_bytes`` also asks for the file's size and whether it is a terminal.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        left = memoryview(data)
        while left:
            left = left[os.write(fd, left) :]
    finally:
        os.close(fd)


def _unlink_at(folder: int, names: Sequence[str]) -> bool:
    """Unlink the files ``names`` of an open folder (absent ones are fine); False when one
    could not be (user code put a folder under its name).
    """
    for name in names:
        try:
            os.unlink(name, dir_fd=folder)
        except FileNotFoundError:
            pass
        except OSError:
            return False
    return True


def _remove_run(run: Path, emptied: bool = False) -> None:
    """Remove a run's output folder and its script folder (``runs/<id>``); ``emptied``: the
    agent's files are already gone from the output folder (:meth:`AgentBox._result`).
    """
    _remove_folder(run.parent / CTL_RUNS / run.name, _SCRIPT_FILES)
    if emptied:
        with contextlib.suppress(OSError):
            os.rmdir(run)
            return  # the usual case: two syscalls
    _remove_folder(run, _AGENT_FILES)


def _remove_folder(run: Path, names: Sequence[str]) -> None:
    """Remove one folder of a run: the files ``names`` that belong there and itself (a few
    syscalls: a worker does this per datum), or, when user code left more there or swapped
    it, the whole tree, safely.
    """
    try:
        folder = os.open(run, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        folder = None
    if folder is not None:
        try:
            _unlink_at(folder, names)  # a folder under a file's name: the tree goes below
        finally:
            os.close(folder)
        with contextlib.suppress(OSError):
            os.rmdir(run)
            return
    if run.is_symlink():
        run.unlink(missing_ok=True)
    else:
        shutil.rmtree(run, ignore_errors=True)


def _tail_at(folder: int, name: str) -> str:
    """The end of file ``name`` of an open folder ("" when absent or not a plain file)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except OSError:
        return ""
    try:
        held = os.fstat(fd)
        if not stat.S_ISREG(held.st_mode) or held.st_size == 0:
            return ""
        # One read of a plain file returns all it asks for that is there.
        return os.pread(fd, TAIL_BYTES, max(0, held.st_size - TAIL_BYTES)).decode(errors="replace")
    finally:
        os.close(fd)


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - TAIL_BYTES))
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
