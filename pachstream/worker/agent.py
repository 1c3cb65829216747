"""The worker protocol: an *agent* beside the user's code runs commands a *sidecar* hands it.

The two share a control folder, ``/ctl`` for the agent (a bind mount locally, an emptyDir in a
pod). The agent is :data:`AGENT`, a script for the static busybox the sandbox brings
(:data:`SHELL_INSIDE`): it needs nothing from the image, so an image without a shell or
without Python works. The sidecar is the worker process (Kafka, S3, Postgres): it stages a
datum's inputs under ``/pfs``, writes a run's files under ``/ctl/<id>/``, hands the id over,
and reads the result. Locally the sandbox (:class:`pachstream.worker.sandbox.Sandbox`) starts
the agent itself; on Kubernetes the pod's user container runs it
(:mod:`pachstream.worker._kube_objects`). The protocol is the same text over the same files.

**Files of one run**: ``/ctl/runs/<id>/cmd.sh`` (sourced by a fork of the agent), and
``stdin`` there when there is any, written by the sidecar; ``stdout`` and ``stderr`` in
``/ctl/<id>/``, written by the agent. ``/ctl/runs`` is read-only where the agent and user
code run (a read-only bind in a sandbox, a read-only mount of the same emptyDir in a pod): user
code can write to ``/ctl`` and to the FIFOs, so it could otherwise queue a script of its own
under an id of its own, which the agent would run beside the next datum's staging, writing
into that datum's ``/pfs/out``. The agent runs only what the sidecar wrote there. The outcome
travels on the FIFO, never in a file: user code can write there.

**Lines**: the sidecar writes ``<id> <key> [<timeout seconds>]`` lines into the FIFO
``/ctl/in``; the agent answers on the FIFO ``/ctl/out`` with ``ready`` when it (re)starts,
``run <id>`` when it takes a run and ``done <id> <key> <exit status> <1 if timed out, else
0>`` once it ended (``done <id> <key>`` alone for an id it cannot run). The key is a fresh
random word per run that only the FIFO carried: user code can write to ``/ctl/out`` but
cannot know it, so it cannot end its run early in the sidecar's eyes (and have the next datum
staged while it still runs), nor forge its status, which travels on the same line. A
``ready`` after ``run <id>`` and before ``done`` means the agent died and came back: that run
is lost (the sidecar fails the attempt, and pings the agent before the next one). Both sides
hold both FIFOs open read-write, so neither ever blocks opening them, whichever starts first,
nor sees the other's end close: ids written before the agent is up wait in the FIFO for it,
and a sidecar that restarts finds the same agent, which never exits on its own (a container
that exits is restarted with a growing back-off).

**Each run is swept**: at its timeout the agent kills it; when it ends, the agent kills every
other process it can see (``kill -9 -1``, only where it is the first process of its own PID
namespace, as in a sandbox or a container). Nothing of one datum lives on into the next: no
background process of user code can rewrite another datum's files or results.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SHELL_INSIDE = "/.pachstream/busybox"
"""Where the static busybox that runs the agent appears inside a sandbox or a pod."""

CTL_IN = "in"
"""The FIFO of ids, sidecar → agent."""
CTL_OUT = "out"
"""The FIFO of answers, agent → sidecar."""
CTL_RUNS = "runs"
"""The folder of run scripts, read-only where the agent runs (see the module docstring)."""

AGENT = (
    """\
for f in /ctl/in /ctl/out; do [ -p $f ] || mkfifo $f 2>/dev/null || [ -p $f ] || exit 1; done
exec 3<>/ctl/in 4<>/ctl/out
S=; [ $$ -le 2 ] || S='"""
    + SHELL_INSIDE
    + """ setsid'
echo ready >&4
l=
while read -r id key t <&3; do
  case $id in ''|*/*|.*) continue ;; esac
  [ "$id" = "$l" ] && continue
  l=$id r=/ctl/runs/$id d=/ctl/$id
  [ -f "$r/cmd.sh" ] && [ -d "$d" ] || { echo "done $id $key" >&4; continue; }
  echo "run $id" >&4
  i=/dev/null; [ -f "$r/stdin" ] && i=$r/stdin
  . "$r/cmd.sh" <"$i" >"$d/stdout" 2>"$d/stderr" &
  p=$! w=
  case $t in *[!0-9.]*) t= ;; esac
  f=$d/.t$key
  [ -n "$t" ] && { (sleep "$t"; : >"$f"; kill -9 -$p || kill -9 $p) 2>/dev/null & w=$!; }
  wait $p; c=$? o=0
  [ -n "$w" ] && { kill -9 $w 2>/dev/null; [ -f "$f" ] && o=1; rm -f "$f"; }
  [ -z "$S" ] && kill -9 -1 2>/dev/null && { n=0
    while kill -0 -1 2>/dev/null && [ $n -lt 200 ]; do n=$((n+1)); sleep 0.01 & wait $!; done; }
  echo "done $id $key $c $o" >&4
done
"""
)
"""The agent: ``SHELL_INSIDE sh -c AGENT``, with ``/ctl`` shared with the sidecar.

Ids are plain names (no ``/``, no leading ``.``): a line cannot point the agent outside
``/ctl``. An id without ``runs/<id>/cmd.sh`` and its output folder ``<id>`` (a stale one,
left in the FIFO by an agent that died, or one user code made up) is answered at once; the
id just run is never run again (user code knows its own id and can write to ``/ctl/in``: a
replay would run beside the next datum). The sweep (``kill -9 -1``)
runs only when the agent is process 1 or 2 of its PID namespace (a container's first
process, or bwrap's child): run by hand on a host, the agent must never kill the user's
other processes, and there each run gets a session of its own instead (``$S``, which
``cmd.sh`` puts before the command), killed whole at its timeout.

A run is the agent's own fork sourcing ``cmd.sh``, which ends by exec'ing the command (through
``env``): no shell of its own is started per datum (each exec costs about as much as the
user's whole ``cp``). At the timeout the run's process is killed (its session where it has
one); whatever it started dies in the sweep as the agent sees it end, and the agent answers
once it is gone (a SIGKILL is delivered, not waited for: on a loaded machine the next run saw
processes of the last; each wait reaps what the agent inherited; 2 s at most). The timer
timed the run out when it left its flag, named after the key: user code cannot make it before
it exists."""

PING = ":\n"
"""The script of a run that does nothing: the sidecar's first run tells it the agent is up
and idle (a previous sidecar's run has ended) before anything is staged."""


Outcome = Literal["done", "lost", "late"]
"""How waiting for a run ended: answered; the agent died during it; no answer in time."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What the agent left for one run."""

    outcome: Outcome
    """See :data:`Outcome`."""
    exit_code: int | None
    """The status it wrote; None unless done."""
    timed_out: bool
    """Whether its timeout fired."""


def parse_line(line: str) -> tuple[str, str, str]:
    """An answer line → (word, id, key): ``("ready", "", "")``, ``("run", id, "")``,
    ``("done", id, key)``; anything else → ``("", "", "")`` (user code can write to the FIFO:
    garbage is passed over). Pure.
    """
    parts = line.split()
    if parts == ["ready"]:
        return "ready", "", ""
    if len(parts) == 2 and parts[0] == "run":
        return "run", parts[1], ""
    if parts[:1] == ["done"] and (len(parts) == 3 or _status(parts) is not None):
        return "done", parts[1], parts[2]
    return "", "", ""


def _status(parts: list[str]) -> tuple[int, bool] | None:
    """(exit status, timed out) of a ``done`` line's words, None when it carries none."""
    if len(parts) != 5 or not parts[3].isdigit() or parts[4] not in ("0", "1"):
        return None
    return int(parts[3]), parts[4] == "1"


def _fifo(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISFIFO(mode):
        path.unlink()
        mode = None
    if mode is None:
        with contextlib.suppress(FileExistsError):  # the agent made it meanwhile
            os.mkfifo(path, 0o600)


class AgentLink:
    """The sidecar's end of the protocol, over the FIFOs of a control folder.

    Args:
        ctl: The control folder as the sidecar sees it (``/ctl`` of the agent).
    """

    def __init__(self, ctl: Path) -> None:
        self.ctl = ctl
        self._in: int | None = None
        self._reader: asyncio.StreamReader | None = None
        self._transport: asyncio.ReadTransport | None = None
        self._keys: dict[str, str] = {}

    async def open(self) -> None:
        """Open both FIFOs (making them if absent); never waits for the agent."""
        if self._in is not None:
            return
        self.ctl.mkdir(parents=True, exist_ok=True)
        (self.ctl / CTL_RUNS).mkdir(exist_ok=True)  # the scripts (read-only for the agent)
        for name in (CTL_IN, CTL_OUT):
            _fifo(self.ctl / name)
        # Read-write: an open never blocks, whichever side comes first, and ids sent before
        # the agent is up wait in the FIFO for it (Linux allows O_RDWR on a FIFO).
        self._in = os.open(self.ctl / CTL_IN, os.O_RDWR | os.O_NONBLOCK)
        out = os.open(self.ctl / CTL_OUT, os.O_RDWR | os.O_NONBLOCK)
        reader = asyncio.StreamReader()
        self._transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(out, "rb", buffering=0)
        )
        self._reader = reader

    def send(self, run_id: str, timeout_s: float | None = None) -> None:
        """Hand the agent a run (its files written first), under a fresh key; the agent kills
        it after ``timeout_s``.
        """
        assert self._in is not None, "open() first"
        self._keys[run_id] = key = secrets.token_hex(16)
        limit = "" if timeout_s is None else f" {max(timeout_s, 0.001):.3f}"
        os.write(self._in, f"{run_id} {key}{limit}\n".encode())

    async def wait(
        self,
        run_id: str,
        timeout_s: float | None,
        ended: asyncio.Future[object] | None = None,
    ) -> Answer:
        """Wait for ``done <run_id>``; ``lost`` when the agent restarts during the run or
        ``ended`` (the local agent's process) completes first; ``late`` after ``timeout_s``.

        Lines of other ids (a previous sidecar's runs) are passed over.
        """
        assert self._reader is not None, "open() first"
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        started = False
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            line = asyncio.ensure_future(self._reader.readline())
            waits: set[asyncio.Future[object]] = {line}  # type: ignore[arg-type]
            if ended is not None:
                waits.add(ended)
            done, _ = await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if line not in done:
                line.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await line
                self._keys.pop(run_id, None)
                return Answer("lost" if done else "late", None, False)
            text = line.result().decode(errors="replace")
            word, which, key = parse_line(text)
            if word == "ready" and started:
                return Answer("lost", None, False)
            if which != run_id:
                continue
            if word == "run":
                started = True
            elif word == "done" and key == self._keys.get(run_id):
                del self._keys[run_id]
                # No status: the agent found no run under this id (a stale one).
                code, timed_out = _status(text.split()) or (None, False)
                return Answer("done", None if timed_out else code, timed_out)

    def close(self) -> None:
        """Close the sidecar's ends (the agent, if alive, keeps its own). Idempotent."""
        if self._transport is not None:
            self._transport.close()
        if self._in is not None:
            os.close(self._in)
        self._in, self._reader, self._transport = None, None, None
