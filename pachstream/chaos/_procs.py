"""The campaign's stack: started with ``pachstream up --detach`` in a folder of its own, its
processes found by kind, signalled, started again when the supervisor died, and stopped.

Processes are found from ``stack.json`` (servers, processors, the supervisor) and, for the
worker processes the pool starts, from ``/proc``: every ``pachstream run worker`` whose
environment names this stack's home. The pool's layout may change; its workers' command line
and environment are what the pool is asked to keep.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pachstream.errors import StackError
from pachstream.stack import detach, down, read_state, running
from pachstream.stack.servers import pid_alive

Say = Callable[[str], None]

GRACE_S = 5.0
"""Seconds each process of the campaign's stack gets to stop (``up --grace``)."""


def _cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _in_home(pid: int, home: Path) -> bool:
    """Whether a process belongs to the stack of ``home``: its environment or command line
    names the folder (processors and workers: PACHSTREAM_HOME; servers: their data folder).
    """
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        env = []
    if f"PACHSTREAM_HOME={home}".encode() in env:
        return True
    return any(str(home).encode() in arg for arg in _cmdline(pid))


def _ancestors() -> set[int]:
    """This process and its parents: never killed, whatever their environment says."""
    out, pid = set(), os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def worker_pids(home: Path) -> list[int]:
    """Live ``pachstream run worker`` processes of the stack of ``home``."""
    out = []
    for pid in _pids():
        args = _cmdline(pid)
        try:
            at = args.index(b"run")
        except ValueError:
            continue
        if (
            at >= 1
            and args[at - 1] == b"pachstream"
            and args[at + 1 : at + 2] == [b"worker"]
            and pid_alive(pid)
            and _in_home(pid, home)
        ):
            out.append(pid)
    return sorted(out)


class CampaignStack:
    """A stack in ``home`` for one campaign. Every process it leaves is its own."""

    def __init__(self, home: Path, env: dict[str, str], say: Say) -> None:
        self.home = home
        self.env = env
        """Extra variables of the stack (the ingest policy)."""
        self.say = say
        self.starts = 0

    def up(self) -> dict[str, Any]:
        """Start the stack (blocking) and return its status."""
        began = time.monotonic()
        st = detach(self.home, GRACE_S, self.say, timeout=180.0, env=self.env)
        self.starts += 1
        self.say(f"stack up in {time.monotonic() - began:.1f} s (start {self.starts})")
        return st

    def pid_of(self, target: str, pick: Callable[[list[int]], int]) -> int | None:
        """The pid of one live process of kind ``target``; ``pick`` chooses among workers."""
        if target == "worker":
            pids = worker_pids(self.home)
            return pick(pids) if pids else None
        state = read_state(self.home) or {}
        if target == "supervisor":
            pid = state.get("supervisor_pid")
            return pid if pid_alive(pid) else None
        for comp in state.get("components", []):
            if comp.get("name") == target and pid_alive(comp.get("pid")):
                return int(comp["pid"])
        return None

    def targets_present(self) -> set[str]:
        """The kinds this stack has a process of (an external server has none)."""
        state = read_state(self.home) or {}
        kinds = {c["name"] for c in state.get("components", []) if c.get("pid")}
        return kinds | {"supervisor", "worker"}

    def supervisor_down(self) -> bool:
        """Whether the stack's supervisor is gone (nothing restarts its children then)."""
        return running(self.home) is None

    def restart(self, timeout_s: float = 60.0) -> float:
        """Start the stack again after its supervisor died. A supervisor stopping on SIGTERM
        is waited for (it stops its children); what a SIGKILL'd one left, ``up`` kills.
        Returns when (epoch seconds) the old supervisor was gone: writes and jobs that ended
        before, during a graceful stop, do not show a recovery.
        """
        deadline = time.monotonic() + timeout_s
        state = read_state(self.home) or {}
        sup = state.get("supervisor_pid")
        while pid_alive(sup) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(sup):
            raise StackError(f"the supervisor (pid {sup}) did not stop within {timeout_s:.0f}s")
        gone = time.time()
        self.up()
        return gone

    def down(self) -> None:
        """Stop the stack, then every process of this home still alive (workers the pool left
        behind, say): SIGKILL, by pid.
        """
        down(self.home, GRACE_S, self.say)
        mine = _ancestors()
        for pid in _pids():
            if pid not in mine and pid_alive(pid) and _in_home(pid, self.home):
                self.say(f"killing leftover pid {pid}: {b' '.join(_cmdline(pid)).decode()[:120]}")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def send(pid: int, sig: str) -> None:
    """Send ``SIGKILL`` or ``SIGTERM`` to ``pid`` (gone already: nothing)."""
    try:
        os.kill(pid, signal.Signals[sig])
    except ProcessLookupError:
        pass
