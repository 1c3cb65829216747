"""``pachstream up / down / status``: one supervisor process owns the whole stack.

The supervisor starts the servers the environment does not name, then pachstream's
processors as child processes, writes ``stack.json`` (addresses and PIDs) atomically, and
restarts a processor or server that dies. SIGTERM or SIGINT stops everything in reverse order
(processors, PostgreSQL, the broker, S3), each gracefully and then by SIGKILL after the grace
period, and removes ``stack.json``. Every other command finds the servers through that file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pachstream.errors import StackError
from pachstream.security import redact
from pachstream.settings import (
    STACK_FILE,
    KafkaSettings,
    ObjectStoreSettings,
    PostgresSettings,
    Settings,
)
from pachstream.stack._secrets import write_private
from pachstream.stack.servers import (
    Server,
    ensure_buckets,
    free_port,
    pid_alive,
    port_answers,
    set_parent_death_signal,
    start_postgres,
    start_seaweedfs,
    start_tansu,
    stop_process,
    stop_server,
    tail,
)

PROCESSORS = ("commits", "lineage", "dispatch", "workers", "ingest", "s3gateway", "console")
"""pachstream's own processes, started after the servers: ``pachstream run NAME``."""


def processors_for(settings: Settings) -> tuple[str, ...]:
    """Return the processors to start for ``settings``.

    :data:`PROCESSORS`, plus the OpenLineage exporter when ``PACHSTREAM_OPENLINEAGE`` is set
    (without it the exporter has nowhere to send events).
    """
    return (*PROCESSORS, "openlineage") if settings.openlineage else PROCESSORS


Say = Callable[[str], None]


def read_state(home: Path) -> dict[str, Any] | None:
    """The recorded stack, or None."""
    try:
        data: dict[str, Any] = orjson.loads((home / STACK_FILE).read_bytes())
        return data
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None


def write_state(home: Path, state: dict[str, Any]) -> None:
    """Replace ``stack.json`` atomically (readers never see half a file), mode 0600 from
    its creation: it holds the S3 keys and the Postgres password.
    """
    write_private(home / STACK_FILE, orjson.dumps(state, option=orjson.OPT_INDENT_2))


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: it died while being read
        return ""


def _ours(pid: int, comp: dict[str, Any], home: Path) -> bool:
    """Whether a live pid is still the component we recorded (a pid may have been reused)."""
    cmd = _cmdline(pid)
    if str(home) in cmd:  # seaweedfs -dir=HOME/..., postgres -D HOME/...
        return True
    if comp.get("name") == "tansu":
        return "tansu" in cmd and f":{comp.get('port')}" in cmd
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        # Gone since it was seen alive (a child dying with its killed supervisor), or not ours.
        return False
    return f"PACHSTREAM_HOME={home}".encode() in env


def running(home: Path) -> int | None:
    """The pid of the supervisor running a stack in ``home``, or None."""
    state = read_state(home)
    pid = state.get("supervisor_pid") if state is not None else None
    if isinstance(pid, int) and pid_alive(pid) and "pachstream" in _cmdline(pid):
        return pid
    return None


def clear_stale(home: Path, say: Say) -> None:
    """Refuse when a supervisor runs here; else kill what a kill -9'd stack left behind."""
    state = read_state(home)
    if state is None:
        return
    pid = running(home)
    if pid is not None:
        raise StackError(
            f"a stack is already running in {home} (pid {pid}); run 'pachstream down' first"
        )
    for comp in state.get("components", []):
        cpid = comp.get("pid")
        if pid_alive(cpid) and _ours(cpid, comp, home):
            say(
                f"stopping leftover {comp['name']} (pid {cpid}) "
                "of a stack that did not stop cleanly"
            )
            stop_process(cpid, signal.SIGKILL, 5)
        if not pid_alive(cpid):
            for leftover in comp.get("leftovers", []):
                Path(leftover).unlink(missing_ok=True)
    (home / STACK_FILE).unlink(missing_ok=True)


@dataclass
class _Child:
    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes]
    address: str = ""
    log: str = ""
    port: int | None = None
    restarts: int = 0
    next_try: float = 0.0
    leftovers: tuple[Path, ...] = ()
    """An embedded server's files outside the home, removed when it stops (Server.leftovers)."""
    log_seen: int = 0
    """Bytes of its log already read for :func:`asked_to_stop_smartly` (Postgres only)."""
    started: float = field(default_factory=time.monotonic)
    """When its current process was started (monotonic)."""


HEALTHY_AFTER_S = 30.0
"""A child that ran this long before it died counts as healthy: its backoff starts over."""
RESTART_CAP_S = 30.0
"""The longest wait between two restarts of a child that keeps dying at once."""


def restart_plan(restarts: int, ran_s: float) -> tuple[int, float]:
    """For a child that died after running ``ran_s`` seconds, having been restarted
    ``restarts`` times in a row before: its new restart count and the seconds before it may
    be restarted again after this restart. Pure.

    The count starts over when the child had run for :data:`HEALTHY_AFTER_S`: without that, a
    server killed now and then paid a longer wait each time, up to half a minute (found by
    ``pachstream chaos``), though only a child that dies at once needs the backoff.
    """
    count = 1 if ran_s >= HEALTHY_AFTER_S else restarts + 1
    return count, min(RESTART_CAP_S, 2.0 ** min(count - 1, 5))


def _size(path: str | Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


SMART_SHUTDOWN = "received smart shutdown request"
"""What Postgres logs when sent SIGTERM."""


def asked_to_stop_smartly(log_text: str) -> bool:
    """Whether a part of Postgres's log says it got SIGTERM (a "smart" shutdown). Pure.

    Smart means waiting for every session to end, and the processors' pools never end theirs:
    Postgres would refuse every new connection forever (found by ``pachstream chaos``). The
    supervisor, which sent no such signal, turns it into a fast shutdown (SIGINT: sessions
    are cut), and Postgres exits and is restarted like any server that died.
    """
    return SMART_SHUTDOWN in log_text


@dataclass
class Supervisor:
    """Runs the stack in the foreground until :meth:`request_stop`."""

    settings: Settings
    """From the environment only: what it names is used, what it does not is started."""
    grace: float = 15.0
    """Seconds each process gets to stop before SIGKILL."""
    say: Say = print
    """Where progress lines go."""
    _servers: list[_Child] = field(default_factory=list)
    _procs: list[_Child] = field(default_factory=list)
    _stop: bool = False
    _metrics: dict[str, str] = field(default_factory=dict)
    """Each processor's ``/metrics`` URL (stack.json's ``"metrics"``)."""

    @property
    def home(self) -> Path:
        """The data folder."""
        return self.settings.home

    def request_stop(self, *_: object) -> None:
        """Ask the loop to stop (signal handler)."""
        self._stop = True

    def run(self) -> None:
        """Start, supervise, stop. Raises StackError when a server will not start."""
        self.home.mkdir(parents=True, exist_ok=True)
        logs = self.home / "logs"
        logs.mkdir(exist_ok=True)
        clear_stale(self.home, self.say)
        try:
            full = self._start_servers(logs)
            self._state(full, ready=False)
            for name in processors_for(self.settings):
                self._procs.append(self._start_processor(name, full, logs))
            self._state(full, ready=True)
            for c in self._servers + self._procs:
                # The embedded Postgres's address is a DSN with its password.
                self.say(redact(f"{c.name:10} {c.address or '-':48} pid {c.process.pid}"))
            self.say(f"stack ready in {self.home}")
            while not self._stop:
                self._watch(full)
                time.sleep(0.5)
        finally:
            self._stop_all()

    def _start_servers(self, logs: Path) -> Settings:
        s = self.settings
        s3 = s.s3
        home = self.home
        if s3 is None:
            weed = start_seaweedfs(home / "seaweedfs", logs, die_with_parent=True)
            restart = functools.partial(
                start_seaweedfs, home / "seaweedfs", logs, weed.port, die_with_parent=True
            )
            self._servers.append(self._child(weed, restart))
            s3 = ObjectStoreSettings(endpoint=weed.address)
        buckets = [s3.bucket] + (["tansu"] if s.kafka is None and s.kafka_storage == "s3" else [])
        ensure_buckets(s3.endpoint, buckets, s3.access_key, s3.secret_key)
        kafka = s.kafka
        if kafka is None:
            broker = start_tansu(logs, s.kafka_storage, s3.endpoint, die_with_parent=True)
            restart = functools.partial(
                start_tansu, logs, s.kafka_storage, s3.endpoint, broker.port, die_with_parent=True
            )
            self._servers.append(self._child(broker, restart))
            kafka = KafkaSettings(bootstrap=broker.address)
        pg = s.postgres
        if pg is None:
            postgres = start_postgres(home / "postgres", logs, die_with_parent=True)
            restart = functools.partial(
                start_postgres, home / "postgres", logs, postgres.port, die_with_parent=True
            )
            self._servers.append(self._child(postgres, restart))
            pg = PostgresSettings(dsn=postgres.address)
        # The gateway binds the port the supervisor picks, so stack.json can name it up front.
        gateway = s.gateway_address or f"127.0.0.1:{free_port()}"
        console = s.console_address or f"127.0.0.1:{free_port()}"
        return dataclasses.replace(
            s,
            kafka=kafka,
            postgres=pg,
            s3=s3,
            gateway_address=gateway,
            console_address=console,
        )

    @staticmethod
    def _child(server: Server, restart: Callable[[], Server]) -> _Child:
        def start() -> subprocess.Popen[bytes]:
            again = restart()
            child.leftovers = again.leftovers
            return again.process

        child = _Child(
            server.name,
            start,
            server.process,
            server.address,
            str(server.log),
            server.port,
            leftovers=server.leftovers,
            log_seen=_size(server.log),
        )
        return child

    def _start_processor(self, name: str, full: Settings, logs: Path) -> _Child:
        log = logs / f"{name}.log"
        env = {**os.environ, **full.child_env()}
        env.pop("PACHSTREAM_METRICS_ADDRESS", None)  # one port each, never a shared one
        if name == "console" and full.console_address:
            self._metrics[name] = f"http://{full.console_address}/metrics"  # its own server
        else:
            # Fixed for the child's life, restarts included, so stack.json stays right.
            address = f"127.0.0.1:{free_port()}"
            env["PACHSTREAM_METRICS_ADDRESS"] = address
            self._metrics[name] = f"http://{address}/metrics"

        def start() -> subprocess.Popen[bytes]:
            with log.open("ab") as out:
                return subprocess.Popen(
                    [sys.executable, "-m", "pachstream", "run", name],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    preexec_fn=set_parent_death_signal,
                )

        if name == "s3gateway" and full.gateway_address:
            # Healthy once its port answers, as for the servers.
            port = int(full.gateway_address.rpartition(":")[2])
            return _Child(name, start, start(), f"http://{full.gateway_address}", str(log), port)
        if name == "console" and full.console_address:
            port = int(full.console_address.rpartition(":")[2])
            return _Child(name, start, start(), f"http://{full.console_address}", str(log), port)
        return _Child(name, start, start(), "", str(log))

    def _watch(self, full: Settings) -> None:
        changed = False
        for child in self._servers + self._procs:
            if child.process.poll() is None:
                if child.name == "postgres" and child.log:
                    self._unwedge_postgres(child)
                continue
            now = time.monotonic()
            if now < child.next_try:
                continue
            child.restarts, backoff = restart_plan(child.restarts, now - child.started)
            child.next_try = now + backoff
            self.say(
                f"{child.name} exited with code {child.process.returncode}; restarting "
                f"(restart {child.restarts}); see {child.log}"
            )
            try:
                child.process = child.start()
                child.started = time.monotonic()
                child.log_seen = _size(child.log) if child.log else 0  # earlier lines are read
                changed = True
            except StackError as exc:
                self.say(f"{child.name} did not restart: {exc.message}")
        if changed:
            self._state(full, ready=True)

    def _unwedge_postgres(self, child: _Child) -> None:
        try:
            with open(child.log, "rb") as f:
                f.seek(child.log_seen)
                part = f.read()
        except OSError:
            return
        child.log_seen += len(part)
        if asked_to_stop_smartly(part.decode(errors="replace")) and not self._stop:
            self.say("postgres was asked to stop (SIGTERM); stopping it fast to restart it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.process.pid, signal.SIGINT)

    def _state(self, full: Settings, *, ready: bool) -> None:
        assert full.kafka and full.postgres and full.s3
        write_state(
            self.home,
            {
                "supervisor_pid": os.getpid(),
                "started_at": datetime.datetime.now(datetime.UTC).isoformat(),
                "ready": ready,
                "addresses": {
                    "kafka_bootstrap": full.kafka.bootstrap,
                    "postgres_dsn": full.postgres.dsn,
                    "s3_endpoint": full.s3.endpoint,
                    "s3_bucket": full.s3.bucket,
                    "s3_gateway": full.gateway_address or "",
                    "console": f"http://{full.console_address}" if full.console_address else "",
                    # The embedded store's keys, for aws-cli and friends; a user's own S3
                    # secret is never written to disk.
                    **(
                        {"s3_access_key": full.s3.access_key, "s3_secret_key": full.s3.secret_key}
                        if self.settings.s3 is None
                        else {}
                    ),
                },
                "metrics": dict(self._metrics),
                "external": {
                    "kafka": self.settings.kafka is not None,
                    "postgres": self.settings.postgres is not None,
                    "s3": self.settings.s3 is not None,
                },
                "components": [
                    {
                        "name": c.name,
                        "pid": c.process.pid,
                        "address": c.address,
                        "port": c.port,
                        "log": c.log,
                        "leftovers": [str(f) for f in c.leftovers],
                    }
                    for c in self._servers + self._procs
                ],
            },
        )

    def _stop_all(self) -> None:
        stopped = sum(1 for c in self._servers + self._procs if c.process.poll() is None)
        # The processors are independent consumers: all are asked at once, so `down` waits
        # for the slowest, not for the sum. The servers then stop newest first (each
        # processor needs all three until it is gone; Tansu keeps its log in SeaweedFS).
        for child in self._procs:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in [*reversed(self._procs), *reversed(self._servers)]:
            began = time.monotonic()
            stop_server(child.name, child.process, self.grace, child.leftovers)
            self.say(f"stopped {child.name} in {time.monotonic() - began:.1f} s")
        state = read_state(self.home)
        if state is not None and state.get("supervisor_pid") == os.getpid():
            (self.home / STACK_FILE).unlink(missing_ok=True)
        self.say(f"stack stopped: {stopped} processes")


def status(home: Path) -> dict[str, Any] | None:
    """Each component with pid, address and health; None when no stack is recorded."""
    state = read_state(home)
    if state is None:
        return None
    components = []
    for comp in state.get("components", []):
        alive = pid_alive(comp.get("pid"))
        port = comp.get("port")
        healthy = alive and (port is None or port_answers(port))
        components.append({**comp, "healthy": healthy, "external": False})
    addresses = state.get("addresses", {})
    for name, key in (
        ("kafka", "kafka_bootstrap"),
        ("postgres", "postgres_dsn"),
        ("s3", "s3_endpoint"),
    ):
        if state.get("external", {}).get(name):
            components.append(
                {
                    "name": name,
                    "pid": None,
                    "address": addresses.get(key),
                    "healthy": True,
                    "external": True,
                }
            )
    return {
        "home": str(home),
        "supervisor_pid": state.get("supervisor_pid"),
        "supervisor_alive": pid_alive(state.get("supervisor_pid")),
        "ready": state.get("ready", False),
        "components": components,
        "addresses": addresses,
    }


def detach(
    home: Path, grace: float, say: Say, timeout: float = 180.0, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Start ``pachstream up`` in the background and return its status once all is healthy
    (``env``: extra variables for the stack, e.g. ``PACHSTREAM_KAFKA_STORAGE``).
    """
    home.mkdir(parents=True, exist_ok=True)
    clear_stale(home, say)
    (home / "logs").mkdir(exist_ok=True)
    log = home / "logs" / "supervisor.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pachstream", "up", "--grace", str(grace)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the shell that ran `up --detach`
            env={**os.environ, **(env or {}), "PACHSTREAM_HOME": str(home)},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(
                f"the stack did not start (exit {proc.returncode}); {log}:\n{tail(log)}"
            )
        st = status(home)
        if (
            st
            and st["supervisor_pid"] == proc.pid
            and st["ready"]
            and all(c["healthy"] for c in st["components"])
        ):
            return st
        time.sleep(0.3)
    stop_process(proc, signal.SIGTERM, grace)
    raise StackError(f"the stack was not healthy within {timeout:.0f}s; {log}:\n{tail(log)}")


def down(home: Path, grace: float, say: Say) -> int:
    """Stop the stack of ``home``; returns how many processes were still running."""
    state = read_state(home)
    if state is None:
        say(f"no stack running in {home}")
        return 0
    sup = state.get("supervisor_pid")
    pids = [c["pid"] for c in state.get("components", []) if c.get("pid")]
    running = [p for p in [sup, *pids] if pid_alive(p)]
    if not running:
        (home / STACK_FILE).unlink(missing_ok=True)
        say(f"no stack running in {home} (removed a stale {STACK_FILE})")
        return 0
    if pid_alive(sup):
        os.kill(sup, signal.SIGTERM)
    # The supervisor stops its children one by one, each within the grace period.
    deadline = time.monotonic() + grace * (len(pids) + 1) + 10
    while time.monotonic() < deadline and any(pid_alive(p) for p in [sup, *pids]):
        time.sleep(0.2)
    for p in [sup, *pids]:
        if pid_alive(p):
            say(f"pid {p} did not stop in time: killing it")
            stop_process(p, signal.SIGKILL, 5)
    for comp in state.get("components", []):
        for leftover in comp.get("leftovers", []):
            Path(leftover).unlink(missing_ok=True)
    (home / STACK_FILE).unlink(missing_ok=True)
    say(f"stack in {home} stopped")
    return len(running)
