"""Apache Kafka for tests: a real broker, its jars from Maven Central, run as a child JVM.

- :func:`fetch_jars` resolves ``org.apache.kafka:kafka_2.13`` and what it depends on with
  Maven into a cache folder (``~/.cache/pachstream/kafka-<version>/``), once per machine; a
  cache that is complete is used without running Maven at all.
- :class:`ApacheKafka` runs one combined broker+controller in KRaft mode on free loopback
  ports, its log under a folder of ours: ``StorageTool format``, then ``kafka.Kafka``. It is
  ready when an aiokafka admin client gets metadata; it stops by PID (SIGTERM, then SIGKILL).
- :class:`ApacheKafkaServers` gives a :class:`~pachstream.settings.Settings` like
  :class:`~pachstream.testing.embedded.EmbeddedServers` does: Kafka from Java, PostgreSQL and
  S3 from the embedded servers (those of a given ``Settings``, or its own).

Where Java 17+ or Maven is missing, or Maven cannot fetch the jars, :class:`KafkaUnavailable`
says which in one line; the test fixtures turn it into a skip, never a failure.

``python -m pachstream.testing.kafka fetch`` fills the cache (``make kafka``);
``python -m pachstream.testing.kafka serve`` runs a broker until Ctrl-C and prints its address.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import dataclasses
import fcntl
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

from pachstream.errors import KafkaUnavailable, StackError, Unavailable
from pachstream.settings import KafkaSettings, ObjectStoreSettings, PostgresSettings, Settings
from pachstream.stack.servers import (
    Server,
    ensure_buckets,
    free_port,
    port_answers,
    start_postgres,
    start_seaweedfs,
    stop_process,
    stop_servers,
    tail,
)

__all__ = [
    "KAFKA_VERSION",
    "ApacheKafka",
    "ApacheKafkaServers",
    "KafkaUnavailable",
    "default_cache",
    "fetch_jars",
]

KAFKA_VERSION = "4.4.0"
"""Version of ``org.apache.kafka:kafka_2.13`` the tests run."""

LOG4J_VERSION = "2.25.5"
"""The log4j that Kafka's own jars pull in; its SLF4J binding gives the broker a log file."""

HEAP = "-Xmx384m"
"""The broker's heap: enough for the test load, small beside the other servers on 2 cores."""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

_CLASSPATH_FILE = "classpath.txt"
"""Written last by a fetch: its presence marks a complete cache."""


def default_cache(version: str = KAFKA_VERSION) -> Path:
    """Where the jars of ``version`` are kept between runs (shared by every clone)."""
    return Path.home() / ".cache" / "pachstream" / f"kafka-{version}"


def _pom(version: str) -> str:
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pachstream.testing</groupId>
  <artifactId>kafka-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""


def _cached(cache: Path) -> list[Path] | None:
    listing = cache / _CLASSPATH_FILE
    if not listing.exists():
        return None
    jars = [cache / line for line in listing.read_text().splitlines() if line]
    return jars if jars and all(j.exists() for j in jars) else None


def fetch_jars(
    cache: Path | None = None, *, version: str = KAFKA_VERSION, timeout_s: float = 900
) -> list[Path]:
    """Return the broker's classpath, fetched by Maven into ``cache`` unless it is there.

    Raises:
        KafkaUnavailable: Maven is not installed or could not resolve the jars.

    """
    cache = cache or default_cache(version)
    jars = _cached(cache)
    if jars is not None:
        return jars
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaUnavailable(
            f"Maven (mvn) is not on PATH and {cache} holds no Kafka {version} jars; "
            "install Maven (Debian: apt-get install maven) and run 'make kafka'"
        )
    cache.mkdir(parents=True, exist_ok=True)
    # Two runs fetching at once (make kafka and a test session) must not mix their files.
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jars = _cached(cache)
        if jars is not None:
            return jars
        (cache / "pom.xml").write_text(_pom(version))
        staging = cache / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        args = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(cache / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise KafkaUnavailable(
                f"Maven did not fetch Kafka {version} within {timeout_s:.0f}s; "
                "check access to Maven Central and run 'make kafka'"
            ) from exc
        if done.returncode != 0:
            said = _ANSI.sub("", done.stdout + done.stderr).strip().splitlines()
            error = next((line for line in said if "[ERROR]" in line), said[-1] if said else "")
            error = error.replace("[ERROR]", "").strip()
            raise KafkaUnavailable(
                f"Maven could not fetch org.apache.kafka:kafka_2.13:{version} "
                f"(exit {done.returncode}: {error[:300]}); check access to Maven Central "
                "and run 'make kafka'"
            )
        libs = cache / "libs"
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        names = sorted(f"libs/{p.name}" for p in libs.glob("*.jar"))
        (cache / _CLASSPATH_FILE).write_text("\n".join(names) + "\n")
    jars = _cached(cache)
    if jars is None:
        raise KafkaUnavailable(f"Maven ran but left no jars in {cache / 'libs'}; run 'make kafka'")
    return jars


def java_bin() -> str:
    """Return the ``java`` of PATH, if it is Java 17 or newer (Kafka 4 needs 17).

    Raises:
        KafkaUnavailable: No java, or an older one.

    """
    java = shutil.which("java")
    if java is None:
        raise KafkaUnavailable(
            "Java (java) is not on PATH; install a Java 17+ runtime "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    try:
        said = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KafkaUnavailable(f"'{java} -version' did not run: {exc}") from exc
    found = re.search(r'version "(\d+)(?:\.(\d+))?', said)
    major = int(found.group(1)) if found else 0
    if major == 1 and found and found.group(2):
        major = int(found.group(2))  # "1.8.0_x" is Java 8
    if major < 17:
        first = said.strip().splitlines()[0] if said.strip() else "no version"
        raise KafkaUnavailable(f"Kafka {KAFKA_VERSION} needs Java 17 or newer; {java} is {first}")
    return java


def _cluster_id() -> str:
    # What `kafka-storage random-uuid` prints: 16 random bytes, base64url without padding.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _server_properties(folder: Path, port: int, controller_port: int) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(folder / "data"),
        # pachstream creates every topic it uses with its own partition count
        # (pachstream.kafka.ensure_topics); a production cluster may forbid auto-creation,
        # so the tests do too.
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # message.max.bytes stays at Kafka's default (1 MiB), as on a user's cluster: the
        # topics pachstream creates allow its larger records themselves.
        # Thousands of small test partitions: small sparse index files, few threads.
        "log.index.size.max.bytes": str(1024 * 1024),
        "num.network.threads": "2",
        "num.io.threads": "4",
        "background.threads": "2",
        "num.recovery.threads.per.data.dir": "1",
        "log.cleaner.threads": "1",
        "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
    }
    return "".join(f"{k}={v}\n" for k, v in settings.items())


def _log4j_properties(log: Path) -> str:
    return (
        "appender.file.type=File\n"
        "appender.file.name=file\n"
        f"appender.file.fileName={log}\n"
        "appender.file.layout.type=PatternLayout\n"
        "appender.file.layout.pattern=[%d] %p %m (%c)%n\n"
        "rootLogger.level=INFO\n"
        "rootLogger.appenderRef.file.ref=file\n"
        # Every topic creation logs its whole config at INFO: keep the file readable.
        "logger.config.name=org.apache.kafka.common.config\n"
        "logger.config.level=WARN\n"
    )


async def _metadata(bootstrap: str) -> None:
    # Through the transport, the only module that talks to Kafka: listing topics is a
    # metadata round trip.
    from pachstream.kafka import ensure_topics

    await ensure_topics(KafkaSettings(bootstrap=bootstrap), {})


class ApacheKafka:
    """One KRaft broker+controller on loopback: ``with ApacheKafka(folder) as k: k.bootstrap``."""

    def __init__(
        self, folder: Path, jars: list[Path] | None = None, *, cache: Path | None = None
    ) -> None:
        self.folder = folder
        self._jars = jars
        self._cache = cache
        self.server: Server | None = None
        self.started_in_s: float | None = None
        """Seconds from format to the first metadata answer (for the test report)."""
        self._launch: tuple[list[str], Path, Path, int]
        """The JVM command, config, log and port of the last start (restart reuses them)."""

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT`` of the PLAINTEXT listener."""
        if self.server is None:
            raise RuntimeError("Apache Kafka is not started")
        return self.server.address

    def start(self, timeout_s: float = 180) -> Server:
        """Format the log folder and start the broker; return once it answers metadata.

        Raises:
            KafkaUnavailable: Java or the jars are missing (see :func:`fetch_jars`).
            StackError: The broker did not start; the message holds its log's tail.

        """
        if self.server is not None:
            raise RuntimeError("Apache Kafka already started")
        java = java_bin()
        jars = self._jars or fetch_jars(self._cache)
        began = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        port, controller = free_port(), free_port()
        config = self.folder / "server.properties"
        config.write_text(_server_properties(self.folder, port, controller))
        log = self.folder / "kafka.log"
        log4j = self.folder / "log4j2.properties"
        log4j.write_text(_log4j_properties(log))
        jvm = [
            java,
            HEAP,
            "-Xms64m",
            "-Xss512k",
            # One GC thread and the quick JIT: a test broker starts faster and leaves the
            # two cores to the processors under test.
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            ":".join(str(j) for j in jars),
        ]
        fmt = subprocess.run(
            # One argument with "=": an id may begin with "-", which the tool's parser then
            # took for an option ("--cluster-id/-t: expected one argument", 1 start in 64).
            [
                *jvm,
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={_cluster_id()}",
                "-c",
                str(config),
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if fmt.returncode != 0:
            raise StackError(
                f"kafka-storage format failed (exit {fmt.returncode}) for {config}:\n"
                + "\n".join((fmt.stdout + fmt.stderr).strip().splitlines()[-15:])
            )
        self._launch = (jvm, config, log, port)
        self._run(began + timeout_s)
        self.started_in_s = time.monotonic() - began
        assert self.server is not None  # _run set it, or raised
        return self.server

    def _run(self, deadline: float) -> None:
        jvm, config, log, port = self._launch
        out = self.folder / "kafka.out"
        with out.open("ab") as sink:
            proc = subprocess.Popen(
                [*jvm, "kafka.Kafka", str(config)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.server = Server("kafka", proc, f"127.0.0.1:{port}", log, port)
        try:
            self._wait_ready(proc, port, deadline)
        except BaseException:
            self.stop()
            raise

    def restart(
        self, sig: int = signal.SIGTERM, grace_s: float = 20, timeout_s: float = 180
    ) -> float:
        """Stop the broker and start it again on the same ports and log folder; seconds down.

        ``sig``: SIGTERM for a controlled shutdown, SIGKILL for a crash. No format: the log
        folder keeps every record.
        """
        if self.server is None:
            raise RuntimeError("Apache Kafka is not started")
        began = time.monotonic()
        proc = self.server.process
        if sig == signal.SIGKILL:
            proc.kill()
            proc.wait()
        else:
            stop_process(proc, sig, grace_s)
        self.server = None
        self._run(time.monotonic() + timeout_s)
        return time.monotonic() - began

    def _wait_ready(self, proc: subprocess.Popen[bytes], port: int, deadline: float) -> None:
        def failure(why: str) -> StackError:
            assert self.server is not None
            return StackError(
                f"Apache Kafka {why}; see {self.server.log}:\n{tail(self.server.log)}\n"
                f"{tail(self.folder / 'kafka.out', 5)}"
            )

        while not port_answers(port):
            if proc.poll() is not None:
                raise failure(f"exited with code {proc.returncode} while starting")
            if time.monotonic() > deadline:
                raise failure("did not open its port in time")
            time.sleep(0.2)
        # The listener opens before the broker has caught up with the controller: ask for
        # metadata, as every client will. A thread of its own runs the check's event loop, so
        # this works whether or not the caller is inside one.
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kafka-ready") as pool:
            while True:
                try:
                    pool.submit(asyncio.run, _metadata(self.bootstrap)).result()
                    return
                except Unavailable as exc:
                    if proc.poll() is not None:
                        raise failure(f"exited with code {proc.returncode} while starting") from exc
                    if time.monotonic() > deadline:
                        raise failure(f"gave no metadata in time ({exc})") from exc

    def stop(self, grace_s: float = 20) -> None:
        """SIGTERM the JVM (a controlled shutdown), SIGKILL it after ``grace_s``; idempotent."""
        if self.server is not None:
            stop_process(self.server.process, signal.SIGTERM, grace_s)
            self.server = None

    def __enter__(self) -> ApacheKafka:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ApacheKafkaServers:
    """Apache Kafka with PostgreSQL and S3: ``with ApacheKafkaServers() as s: s.settings``.

    Given ``base``, its PostgreSQL and S3 are used (tests share the embedded ones, each test
    in a namespace of its own); without, SeaweedFS and PostgreSQL are started here too.
    """

    def __init__(
        self,
        *,
        base: Settings | None = None,
        folder: Path | None = None,
        cache: Path | None = None,
    ) -> None:
        self.base = base
        self._own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="pachstream-kafka-"))
        self.kafka = ApacheKafka(self.folder / "kafka", cache=cache)
        self.servers: list[Server] = []
        self.settings: Settings

    def start(self) -> Settings:
        """Start the servers; return their settings (also kept as ``settings``).

        Raises:
            KafkaUnavailable: Java or the jars are missing; nothing was started.
            StackError: A server did not start; the ones started are stopped again.

        """
        try:
            # Java and the jars first: where they are missing, nothing else is started.
            java_bin()
            self.kafka._jars = fetch_jars(self.kafka._cache)
            base = self.base or self._embedded()
            self.kafka.start()
        except BaseException:
            self.stop()
            raise
        kafka = KafkaSettings(bootstrap=self.kafka.bootstrap)
        self.settings = dataclasses.replace(base, kafka=kafka)
        return self.settings

    def __enter__(self) -> ApacheKafkaServers:
        self.start()
        return self

    def _embedded(self) -> Settings:
        logs = self.folder / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        weed = start_seaweedfs(self.folder / "seaweedfs", logs)
        self.servers.append(weed)
        ensure_buckets(weed.address, ["pachstream"])
        pg = start_postgres(self.folder / "postgres", logs)
        self.servers.append(pg)
        return Settings(
            home=self.folder,
            namespace="ps",
            kafka=None,
            postgres=PostgresSettings(dsn=pg.address),
            s3=ObjectStoreSettings(endpoint=weed.address),
        )

    def stop(self) -> None:
        """Stop Kafka, then the servers started here, newest first; idempotent."""
        self.kafka.stop()
        stop_servers(self.servers, 20)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    """``fetch``: fill the jar cache. ``serve``: run a broker until Ctrl-C."""
    command = argv[0] if argv else "fetch"
    try:
        if command == "fetch":
            jars = fetch_jars()
            print(f"Apache Kafka {KAFKA_VERSION}: {len(jars)} jars in {default_cache()}")
            return 0
        if command == "serve":

            def interrupt(signum: int, frame: object) -> None:
                raise KeyboardInterrupt  # SIGTERM stops the broker as Ctrl-C does

            signal.signal(signal.SIGTERM, interrupt)
            with ApacheKafka(Path(tempfile.mkdtemp(prefix="pachstream-kafka-"))) as kafka:
                where = f"{kafka.bootstrap} (log: {kafka.folder})"
                print(f"Apache Kafka {KAFKA_VERSION} at {where}", flush=True)
                try:
                    signal.pause()
                except KeyboardInterrupt:
                    pass
            return 0
    except KafkaUnavailable as exc:
        print(f"Apache Kafka unavailable: {exc}", file=sys.stderr)
        return 1
    print(f"unknown command {command!r}; use 'fetch' or 'serve'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
