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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from pachstream.errors import StackError
from pachstream.security import redact
from pachstream.service import own_command
from pachstream.settings import (
    STACK_FILE,
    KafkaSettings,
    ObjectStoreSettings,
    PostgresSettings,
    Settings,
    parse_host_port,
)
from pachstream.stack._release import SETTINGS_ON_STDIN, release_line
from pachstream.stack._secrets import write_private
from pachstream.stack.servers import (
    Server,
    Starting,
    Stopping,
    bindable,
    ensure_buckets,
    filer_socket,
    lock_held_by_zombie,
    pid_alive,
    port_answers,
    port_or_free,
    promise,
    remove_leftover,
    set_parent_death_signal,
    spawn_postgres,
    start_postgres,
    start_seaweedfs,
    start_tansu,
    stop_process,
    stop_together,
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
SERVER_ORDER = ("seaweedfs", "tansu", "postgres")
"""The embedded servers in the order ``status`` lists them; stopped in reverse."""

BROKER_FILE = "broker-storage"
"""The storage of the embedded broker that last kept this home's log (``s3`` or ``memory``),
written each time one has started."""


def broker_refusal(home: Path, last: str | None, storage: str) -> str | None:
    """Why an embedded broker on ``storage`` must not start for ``home`` (whose last broker
    kept its log on ``last``; None: no broker of ours has yet), or None. Pure.

    Postgres and the object store keep the processors' offsets into the broker's log; a log
    that is not the one they read (a memory broker starts empty; an s3 one reads the log
    its bucket kept, not what a memory broker held) makes them wait for offsets that new
    records reach only later: every write into a partition hung (found so: ``up`` after
    ``down`` on memory storage, then a put file into a repo written before).
    """
    if last is None or (last == storage == "s3"):
        return None
    if last == "memory":
        return (
            f"PACHSTREAM_HOME {home} holds the state of a stack whose broker kept its log in "
            "memory: that log is gone, and a new broker would not have it (writes would hang). "
            "Use a fresh PACHSTREAM_HOME; for a stack to stop and start again, "
            "PACHSTREAM_KAFKA_STORAGE=s3 (the default)"
        )
    return (
        f"PACHSTREAM_HOME {home} holds the state of a stack whose broker kept its log in S3 "
        "storage; a broker on memory storage would not have it (writes would hang). Use "
        "PACHSTREAM_KAFKA_STORAGE=s3 with this home, or a fresh PACHSTREAM_HOME"
    )


def read_state(home: Path) -> dict[str, Any] | None:
    """The recorded stack, or None."""
    try:
        data: dict[str, Any] = orjson.loads((home / STACK_FILE).read_bytes())
        return data
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None


PORTS_FILE = "ports.json"
"""The loopback ports of a home's last run (:func:`kept_ports`), kept when ``stack.json`` goes:
no secrets, only numbers."""


def forget_state(home: Path) -> None:
    """Remove ``stack.json``, keeping its ports in :data:`PORTS_FILE` for the next ``up``."""
    ports = kept_ports(read_state(home))
    if ports:
        write_private(home / PORTS_FILE, orjson.dumps(ports))
    (home / STACK_FILE).unlink(missing_ok=True)


def last_ports(home: Path) -> dict[str, int]:
    """The ports to ask for again: those of ``stack.json`` (a crashed run) or of
    :data:`PORTS_FILE` (a run that stopped); unreadable files give none, never an error.
    """
    ports = kept_ports(read_state(home))
    if ports:
        return ports
    try:
        data = orjson.loads((home / PORTS_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        k: v
        for k, v in data.items()
        if isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 < v < 65536
    }


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


def kept_ports(state: dict[str, Any] | None) -> dict[str, int]:
    """The loopback ports a previous run of a home used, by component (``metrics:NAME`` for
    a processor's metrics port), from its ``stack.json``. Pure.

    ``up`` after a crash or a kill -9 of the supervisor asks for them again: clients that
    know the stack's addresses (a kcat on the broker, aws-cli on the gateway, the SDK's
    connections) reconnect where they were instead of waiting out a timeout (a supervisor
    kill took 25 s to recover in the chaos campaign, most of it an SDK request's 20 s wait
    on the old broker address). Servers the user runs (``external``) are not ours to place.
    """
    if not state:
        return {}
    addresses = state.get("addresses") or {}
    external = state.get("external") or {}
    found: dict[str, str] = {
        "s3gateway": f"//{addresses.get('s3_gateway') or ''}",
        "console": addresses.get("console") or "",
    }
    if not external.get("s3", True):
        found["seaweedfs"] = addresses.get("s3_endpoint") or ""
    if not external.get("kafka", True):
        found["tansu"] = f"//{addresses.get('kafka_bootstrap') or ''}"
    if not external.get("postgres", True):
        found["postgres"] = addresses.get("postgres_dsn") or ""
    for name, url in (state.get("metrics") or {}).items():
        found[f"metrics:{name}"] = url or ""
    ports: dict[str, int] = {}
    for name, url in found.items():
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            continue
        if port and parts.hostname in ("127.0.0.1", "localhost"):
            ports[name] = port
    return ports


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
    components = state.get("components", [])
    leftover = []
    for comp in components:
        cpid = comp.get("pid")
        if pid_alive(cpid) and _ours(cpid, comp, home):
            say(
                f"stopping leftover {comp['name']} (pid {cpid}) "
                "of a stack that did not stop cleanly"
            )
            with contextlib.suppress(ProcessLookupError):
                os.kill(cpid, signal.SIGKILL)
            leftover.append(cpid)
    # All killed first, then waited for: one wait, not one per process.
    for cpid in leftover:
        stop_process(cpid, signal.SIGKILL, 5)
    for comp in components:
        cpid = comp.get("pid")
        if not pid_alive(cpid):
            for leftover in comp.get("leftovers", []):
                remove_leftover(Path(leftover))
    forget_state(home)


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
    """Bytes of its log already read for :func:`hurry_signal` (servers only)."""
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
SEAWEEDFS_STOPPING = "Gracefully stopping gRPC server"
"""What SeaweedFS's filer logs when the process got SIGTERM or SIGINT."""


def asked_to_stop_smartly(log_text: str) -> bool:
    """Whether a part of Postgres's log says it got SIGTERM (a "smart" shutdown). Pure.

    Smart means waiting for every session to end, and the processors' pools never end theirs:
    Postgres would refuse every new connection forever (found by ``pachstream chaos``). The
    supervisor, which sent no such signal, turns it into a fast shutdown (SIGINT: sessions
    are cut), and Postgres exits and is restarted like any server that died.
    """
    return SMART_SHUTDOWN in log_text


def hurry_signal(name: str, log_text: str) -> signal.Signals | None:
    """The signal that ends at once a server whose new log lines (``log_text``) say it was
    asked to stop by someone else than the supervisor, or None. Pure.

    - Postgres on SIGTERM: SIGINT (see :func:`asked_to_stop_smartly`).
    - SeaweedFS on SIGTERM: SIGKILL. Its filer waits a fixed 15 s for the metadata
      subscription of its own S3 server, which ends only after the filer: 15 s of S3 answering
      errors before it exits and can be restarted (21 s recoveries in ``pachstream chaos``).
      What it acknowledged is on disk (it survives SIGKILL faults), so nothing is lost; this
      is what :func:`~pachstream.stack.servers.stop_together` does for ``down`` too.
    """
    if name == "postgres" and asked_to_stop_smartly(log_text):
        return signal.SIGINT
    if name == "seaweedfs" and SEAWEEDFS_STOPPING in log_text:
        return signal.SIGKILL
    return None


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
    _envs: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each processor's environment, completed by :meth:`_release`."""
    _kept: dict[str, int] = field(default_factory=dict)
    """Ports of the previous run of this home (:func:`kept_ports`), asked for again."""
    _released: set[str] = field(default_factory=set)
    """Processors sent their addresses: their restarts find them in their environment."""

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
        self._kept = last_ports(self.home)
        clear_stale(self.home, self.say)
        try:
            # The gateway and the console bind the ports picked here, so stack.json can name
            # them up front.
            addresses = dataclasses.replace(
                self.settings,
                gateway_address=self.settings.gateway_address or self._loopback("s3gateway"),
                console_address=self.settings.console_address or self._loopback("console"),
            )
            # Processors start first and import their code while the servers start (after a
            # supervisor's kill -9, `up` took ~5 s more for seven processors' imports at
            # once); each waits for the servers' addresses on its stdin (see ._release).
            for name in processors_for(self.settings):
                self._procs.append(self._start_processor(name, addresses, logs))
            full = self._start_servers(addresses, logs)
            self._state(full, ready=False)
            for child in self._procs:
                self._release(child, full)
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

    def _loopback(self, name: str) -> str:
        """``127.0.0.1:PORT`` for ``name``: its port of the previous run when free."""
        return _promised_loopback(self._kept.get(name))

    def _start_servers(self, s: Settings, logs: Path) -> Settings:
        s3 = s.s3
        home = self.home
        postgres = None
        marker = home / BROKER_FILE
        if s.kafka is None:  # before any server starts: a refusal leaves nothing running
            last = marker.read_text().strip() if marker.exists() else None
            refusal = broker_refusal(home, last, s.kafka_storage)
            if refusal is not None:
                raise StackError(refusal)
        # Postgres needs neither S3 nor the broker: it starts (a crash recovery after a kill)
        # while SeaweedFS does, and is waited for last. Unless the postmaster `up` just killed
        # is not reaped yet (init does it, within ~1.5 s here): its pid still answers, and
        # Postgres refuses to start on a lock file naming it; then it starts after the others.
        if s.postgres is None and not lock_held_by_zombie(home / "postgres"):
            postgres = self._spawn_postgres(logs)
        if s3 is None:
            try:
                weed = start_seaweedfs(
                    home / "seaweedfs",
                    logs,
                    port_or_free(self._kept.get("seaweedfs")),
                    die_with_parent=True,
                )
            except StackError:
                if "seaweedfs" not in self._kept:
                    raise
                # Its old S3 port was taken between the check and the bind: any port.
                weed = start_seaweedfs(home / "seaweedfs", logs, die_with_parent=True)
            restart = functools.partial(
                start_seaweedfs, home / "seaweedfs", logs, weed.port, die_with_parent=True
            )
            self._servers.append(self._child(weed, restart))
            s3 = ObjectStoreSettings(
                endpoint=weed.address, filer_socket=str(filer_socket(home / "seaweedfs"))
            )
        buckets = [s3.bucket] + (["tansu"] if s.kafka is None and s.kafka_storage == "s3" else [])
        ensure_buckets(s3.endpoint, buckets, s3.access_key, s3.secret_key)
        kafka = s.kafka
        if kafka is None:
            broker = start_tansu(
                logs,
                s.kafka_storage,
                s3.endpoint,
                port_or_free(self._kept.get("tansu")),
                die_with_parent=True,
            )
            # Once it runs, not before: a start that failed earlier kept nothing in it.
            marker.write_text(s.kafka_storage + "\n")
            again: Callable[[], Server] = self._memory_log_gone
            if s.kafka_storage == "s3":
                again = functools.partial(
                    start_tansu, logs, "s3", s3.endpoint, broker.port, die_with_parent=True
                )
            self._servers.append(self._child(broker, again))
            kafka = KafkaSettings(bootstrap=broker.address)
        pg = s.postgres
        if s.postgres is None:
            postgres = postgres or self._spawn_postgres(logs)
            pg = PostgresSettings(dsn=postgres.wait().address)
        # Listed (status, stack.json) in one order whichever started first, and stopped in
        # reverse: Postgres, the broker, then S3, which holds the broker's log.
        self._servers.sort(key=lambda c: SERVER_ORDER.index(c.name))
        return dataclasses.replace(s, kafka=kafka, postgres=pg, s3=s3)

    def _memory_log_gone(self) -> Server:
        """The restart of a broker that kept its log in memory: none. A new one would be
        empty, and the processors would wait for offsets of the log that is gone (see
        :func:`broker_refusal`): the stack stops, saying why.
        """
        self.request_stop()
        raise StackError(
            "it kept its log in memory, which is gone; the stack stops (writes would hang). "
            "Start a fresh PACHSTREAM_HOME; for a broker that can restart, "
            "PACHSTREAM_KAFKA_STORAGE=s3 (the default)"
        )

    def _spawn_postgres(self, logs: Path) -> Starting:
        data = self.home / "postgres"
        postgres = spawn_postgres(
            data, logs, port_or_free(self._kept.get("postgres")), die_with_parent=True
        )
        restart = functools.partial(
            start_postgres, data, logs, postgres.server.port, die_with_parent=True
        )
        self._servers.append(self._child(postgres.server, restart))
        return postgres

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
        """Start processor ``name`` waiting for its servers' addresses (:meth:`_release`);
        ``full``: the settings known before the servers start (gateway and console addresses).
        """
        log = logs / f"{name}.log"
        # The servers' addresses come later, by _release; the home names the stack's
        # processes for `up` (clear_stale) and `pachstream chaos` from the start.
        env = {**os.environ, "PACHSTREAM_HOME": str(self.home)}
        env.pop("PACHSTREAM_METRICS_ADDRESS", None)  # one port each, never a shared one
        if name == "console" and full.console_address:
            self._metrics[name] = f"http://{full.console_address}/metrics"  # its own server
        else:
            # Fixed for the child's life, restarts included, so stack.json stays right.
            address = self._loopback(f"metrics:{name}")
            env["PACHSTREAM_METRICS_ADDRESS"] = address
            self._metrics[name] = f"http://{address}/metrics"

        def start() -> subprocess.Popen[bytes]:
            # Waits for its addresses until released; a restart gets them in its environment.
            waits = name not in self._released
            if not waits:
                self._metrics_port_kept(name, env)
            with log.open("ab") as out:
                return subprocess.Popen(
                    own_command("pachstream", "run", name),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.PIPE if waits else subprocess.DEVNULL,
                    env={**env, SETTINGS_ON_STDIN: "1"} if waits else env,
                    preexec_fn=set_parent_death_signal,
                )

        self._envs[name] = env

        if name == "s3gateway" and full.gateway_address:
            # Healthy once its port answers, as for the servers.
            port = _port_of(full.gateway_address)
            return _Child(name, start, start(), f"http://{full.gateway_address}", str(log), port)
        if name == "console" and full.console_address:
            port = _port_of(full.console_address)
            return _Child(name, start, start(), f"http://{full.console_address}", str(log), port)
        return _Child(name, start, start(), "", str(log))

    def _metrics_port_kept(self, name: str, env: dict[str, str]) -> None:
        """Before a processor's restart: a new metrics port when another process took its
        own meanwhile (it would exit at once, at every restart: metrics must never stop a
        processor); the next stack.json names it.
        """
        address = env.get("PACHSTREAM_METRICS_ADDRESS")
        if address is None or bindable(_port_of(address)):
            return
        again = _promised_loopback(None)
        self.say(f"{name}'s metrics port {address} was taken by another process; now {again}")
        env["PACHSTREAM_METRICS_ADDRESS"] = again
        self._metrics[name] = f"http://{again}/metrics"

    def _release(self, child: _Child, full: Settings) -> None:
        """Send a processor started by :meth:`_start_processor` its servers' addresses; its
        restarts get them in their environment.
        """
        self._envs[child.name].update(full.child_env())
        self._released.add(child.name)
        stdin = child.process.stdin
        if stdin is None:
            return
        # A processor that died meanwhile (a broken pipe) is restarted by _watch.
        with contextlib.suppress(OSError):
            stdin.write(release_line(full.child_env()))
            stdin.flush()
        with contextlib.suppress(OSError):
            stdin.close()

    def _watch(self, full: Settings) -> None:
        changed = False
        for child in self._servers + self._procs:
            if child.process.poll() is None:
                if child in self._servers and child.log:
                    self._hurry(child)
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

    def _hurry(self, child: _Child) -> None:
        """End at once a server that someone else asked to stop (see :func:`hurry_signal`)."""
        try:
            with open(child.log, "rb") as f:
                f.seek(child.log_seen)
                part = f.read()
        except OSError:
            return
        child.log_seen += len(part)
        sig = hurry_signal(child.name, part.decode(errors="replace"))
        if sig is not None and not self._stop:
            self.say(
                f"{child.name} was asked to stop (SIGTERM); sending {sig.name} to restart it "
                "at once"
            )
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.process.pid, sig)

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
                    "s3_filer_socket": full.s3.filer_socket,
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
        # The processors are independent consumers: all are asked at once, with one grace
        # period for them all (a grace each made two processors that hold on to their
        # clients, the gateway and the console under `pachstream chaos` load, cost 5 s + 5 s).
        # The servers go once the processors are gone, together too: each acknowledges only
        # what it stored (Postgres a committed transaction, Tansu a batch written to S3), so
        # no order among them keeps anything an ordered stop would lose (one by one, they
        # took 2.1 s of every supervisor SIGTERM in the chaos runs; together ~1 s).
        for group in (self._procs, self._servers):
            took = stop_together(
                [Stopping(c.name, c.process, self.grace, c.leftovers) for c in group]
            )
            for name, seconds in took.items():
                self.say(f"stopped {name} in {seconds:.1f} s")
        state = read_state(self.home)
        if state is not None and state.get("supervisor_pid") == os.getpid():
            forget_state(self.home)
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
            own_command("pachstream", "up", "--grace", str(grace)),
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
        forget_state(home)
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
    forget_state(home)
    say(f"stack in {home} stopped")
    return len(running)


def _promised_loopback(port: int | None) -> str:
    """``127.0.0.1:PORT``: ``port`` when it is free, else any free port; promised, so no
    other server of this stack is given it.
    """
    return f"127.0.0.1:{promise(port_or_free(port))}"


def _port_of(address: str) -> int:
    """The port of an address this supervisor wrote (``host:port``)."""
    return parse_host_port(address, "address", "127.0.0.1:8080")[1]
