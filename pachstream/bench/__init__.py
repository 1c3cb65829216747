"""Benchmarks: figures and ratios printed, never asserted (machines here are shared and noisy).

Each bench runs against the stack of ``PACHSTREAM_HOME`` when one is running (through its
processes, as users would), or else starts a throwaway embedded stack of its own (a whole
stack, processors in their own processes).

Where a figure is a rate, the CPU behind it is printed too (:class:`CpuMeter`): on a shared
machine a rate follows the load, the CPU per file or per datum much less, and the cores kept
busy say whether the box's CPU or a wait bounded the rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from pachstream.bench.hops import hop_medians, topic_records
from pachstream.client import Client, JobInfo
from pachstream.errors import ConfigError
from pachstream.kafka import Topics, raw_produce_rate
from pachstream.settings import Settings


@dataclass(frozen=True)
class Figure:
    """One printed result."""

    name: str
    """What was measured."""
    value: float
    """The number."""
    unit: str
    """Its unit."""
    target: str = ""
    """The goal it is compared with, if any."""


def broker_env(kafka: str | None) -> dict[str, str]:
    """The variables that point a bench's stack at ``kafka`` (an Apache Kafka bootstrap), in
    a namespace of its own so its topics never meet another run's; none for the default.
    """
    if not kafka:
        return {}
    return {"PACHSTREAM_KAFKA_BOOTSTRAP": kafka, "PACHSTREAM_NAMESPACE": f"bench{_tag()}"}


def broker_label(settings: Settings, kafka: str | None) -> str:
    """Which broker a bench ran on, for its title."""
    if kafka:
        return f"Apache Kafka at {kafka}"
    return f"broker at {settings.require()[0].bootstrap}"


@contextlib.asynccontextmanager
async def bench_client(
    say: Callable[[str], None], kafka: str | None = None, *, storage: str = "memory"
) -> AsyncIterator[tuple[Settings, Client]]:
    """Yield a client on the running stack, or on a throwaway embedded one whose broker keeps
    its log in ``storage`` (``memory`` or ``s3``); with ``kafka``, on that broker (Postgres
    and S3 from the environment, or embedded).
    """
    extra = broker_env(kafka)
    settings = Settings.from_env({**os.environ, **extra}, stack_file=not kafka)
    try:
        settings.require()
    except ConfigError:
        # A whole stack, processors in their own processes as in real use; the broker in
        # memory, or the one named.
        from pachstream.stack import detach, down

        home = Path(tempfile.mkdtemp(prefix="pachstream-bench-"))
        where = f"Apache Kafka at {kafka}" if kafka else f"broker on {storage} storage"
        say(f"no running stack: starting a throwaway one in {home} ({where})")
        try:
            started = detach(home, 15, say, env={"PACHSTREAM_KAFKA_STORAGE": storage, **extra})
            await settled(int(started["supervisor_pid"]), say)
            throwaway = Settings.from_env({**extra, "PACHSTREAM_HOME": str(home)})
            client = await Client.connect(throwaway, timeout_s=600)
            try:
                yield throwaway, client
            finally:
                await client.close()
        finally:
            down(home, 15, say)
            shutil.rmtree(home, ignore_errors=True)
        return
    client = await Client.connect(settings, timeout_s=600)
    try:
        yield settings, client
    finally:
        await client.close()


SETTLE_WINDOW_S = 1.0
SETTLE_SLACK = 0.15
"""Cores above the least rate seen that still count as at rest: an idle stack's polling
varies by about this much from one second to the next (0.73-0.92 core here, 2 cores)."""
SETTLE_FLAT = 10
"""Seconds of steady CPU, no warm-up seen, after which a stack counts as at rest."""
SETTLE_MAX_S = 30.0


async def settled(pid: int, say: Callable[[str], None]) -> None:
    """Wait until a just-started stack (``pid``: its supervisor) is at rest: its processes'
    CPU steady (two seconds within :data:`SETTLE_SLACK` of each other and of the least seen),
    after a warm-up seen to end or for :data:`SETTLE_FLAT` seconds.

    A stack reports healthy before its warm-up ends: the worker pool's standbys import the
    worker's code, ~0.45 core each for seconds on this box. A bench started at once measured
    beside them (lineage-write: 0.8 core of standbys during the materializer's run, none
    during the raw COPY it is compared with). What remains at rest is the processors' idle
    fetches.
    """
    start = time.monotonic()
    rates: list[float] = []
    before = tree_cpu_s(pid)
    while time.monotonic() - start < SETTLE_MAX_S:
        await asyncio.sleep(SETTLE_WINDOW_S)
        now = tree_cpu_s(pid)
        rates.append((now - before) / SETTLE_WINDOW_S)
        before = now
        if at_rest(rates):
            say(f"stack at rest after {time.monotonic() - start:.0f} s ({rates[-1]:.2f} core)")
            return
    say(f"stack still busy after {SETTLE_MAX_S:.0f} s; measuring anyway")


def at_rest(rates: list[float]) -> bool:
    """Whether CPU rates (cores, one per second, oldest first) show a stack at rest. Pure."""
    if len(rates) < 2:
        return False
    last, least = rates[-2:], min(rates)
    steady = max(last) - least <= SETTLE_SLACK
    warmed = max(rates) - max(last) > 2 * SETTLE_SLACK
    return steady and (warmed or len(rates) >= SETTLE_FLAT)


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants, those still running and
    those it has reaped (0 once it is gone).

    Reaped ones count: a datum's command runs in processes that live a few milliseconds and
    are reaped by the sandbox's agent, and a child's CPU moves into its parent's reaped
    total as it ends, so none is counted twice.
    """
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        total = ticks / os.sysconf("SC_CLK_TCK")
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                total += sum(tree_cpu_s(int(c)) for c in children.read().split())
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return total


class CpuMeter:
    """CPU seconds used by the stack's processes (with their descendants) and by this one
    (with the children it has reaped).

    A stack not started by ``pachstream up`` (processors run by a test, in this process)
    records no processes: this one's CPU is then the whole of it.
    """

    def __init__(self, settings: Settings) -> None:
        from pachstream.stack import read_state

        state = read_state(settings.home) or {}
        self._pids = {c["name"]: int(c["pid"]) for c in state.get("components", []) if c.get("pid")}
        self._idle: dict[str, float] = {}

    def read(self) -> dict[str, float]:
        """CPU seconds so far, per process (``bench``: this one)."""
        out = {name: tree_cpu_s(pid) for name, pid in self._pids.items()}
        out["bench"] = _own_cpu_s()
        return out

    async def measure_idle(self, seconds: float) -> None:
        """What each process burns at rest (polling), to take off the figures."""
        before, start = self.read(), time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - start
        self._idle = {k: max(0.0, v - before[k]) / elapsed for k, v in self.read().items()}

    def used(self, before: dict[str, float], seconds: float) -> dict[str, float]:
        """CPU seconds each process used since ``before``, ``seconds`` ago, beyond its rest."""
        return {
            k: max(0.0, v - before.get(k, v) - self._idle.get(k, 0.0) * seconds)
            for k, v in self.read().items()
        }


def cpu_split(used: dict[str, float], units: float) -> str:
    """Each process's CPU per unit, in milliseconds, the largest first. Pure."""
    ranked = sorted(((k, v) for k, v in used.items() if v > 0), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v / units * 1e3:.3f}" for k, v in ranked) or "none measured"


def cpu_figures(
    used: dict[str, float], seconds: float, units: float, unit: str, say: Callable[[str], None]
) -> list[Figure]:
    """The CPU of a timed stretch of ``seconds``: per ``unit`` over every process (the split
    by process said), and the cores it kept busy.
    """
    say(f"CPU per {unit}, ms: {cpu_split(used, units)}")
    total = sum(used.values())
    return [
        Figure(f"CPU per {unit}, every process", total / units * 1e3, "ms"),
        Figure("cores kept busy meanwhile", total / seconds, "cores", f"of {os.cpu_count()}"),
    ]


IDLE_S = 2.0
"""Seconds the stack's CPU at rest is measured before a timed stretch, to take off."""


def _quiet(_: str) -> None:
    """Say nothing (a bench called without a place to say its details)."""


def _tag() -> str:
    return uuid.uuid4().hex[:8]


async def ingest(
    client: Client, settings: Settings, files: int, size: int, say: Callable[[str], None] = _quiet
) -> list[Figure]:
    """Files/s into one commit, beside the raw aiokafka produce rate of as many messages; the
    CPU per 1,000 files of every process (this one is the client).
    """
    kafka, _, _ = settings.require()
    meter = CpuMeter(settings)
    await meter.measure_idle(IDLE_S)
    before = meter.read()
    raw = await raw_produce_rate(kafka, f"{settings.namespace}.bench-raw-{_tag()}", files, size)
    raw_cpu = sum(meter.used(before, files / raw).values())
    repo = f"bench_ingest_{_tag()}"
    await client.create_repo(repo)
    # The client's connections made before the clock starts, as the raw producer's are (its
    # start is not timed): the first put imports the content and S3 modules, builds the S3
    # client (botocore loads its service models) and starts the producer: ~1 s quiet, 5.7 s
    # of CPU at load 14, all of it inside the timed put before.
    await client.put_files(f"{repo}@warmup", [("/warmup", b"w")])
    # Distinct contents, so that deduplication does not flatter the figure.
    contents = [os.urandom(size) for _ in range(files)]
    last_sent = 0.0

    def sent(files: int, size: int) -> None:
        nonlocal last_sent
        last_sent = time.perf_counter()

    before = meter.read()
    started = time.perf_counter()
    cid = await client.put_files(
        f"{repo}@master", ((f"/f{i:07d}", c) for i, c in enumerate(contents)), progress=sent
    )
    ended = time.perf_counter()
    elapsed = ended - started
    used = meter.used(before, elapsed)
    info = await client.inspect_commit(f"{repo}@{cid}")
    assert info.file_count == files, f"commit has {info.file_count} files, expected {files}"
    rate = files / elapsed
    return [
        Figure(f"put {files:,} files of {size} B into one commit", elapsed, "s"),
        # The serial tail: finishing the commit (its tree) and its lineage rows, after the
        # last batch's produce was acknowledged (the client idle meanwhile).
        Figure("of which after the last batch was acknowledged", ended - last_sent, "s"),
        Figure("pachstream ingest", rate, "files/s"),
        Figure(f"raw aiokafka produce of {files:,} messages", raw, "msg/s"),
        Figure("ratio ingest / raw", rate / raw, "", "≥ 1.0"),
        *cpu_figures(used, elapsed, files / 1000, "1,000 files", say),
        # The raw producer's connections and topic are made inside its timed stretch: its
        # CPU is a little high, never low.
        Figure("raw produce: CPU per 1,000 messages, every process", raw_cpu / files * 1e6, "ms"),
    ]


async def commit_scale(
    client: Client, sizes: tuple[int, ...], changed: int, rounds: int
) -> list[Figure]:
    """Time to finish a commit of ``changed`` files on repos of each size.

    The repos are filled first, then the timed commits alternate between them (after one
    untimed commit each): on a shared machine the load drifts over the minutes a big fill
    takes, and timing one repo after the other put that drift into the ratio.
    """
    out: list[Figure] = []
    repos: list[str] = []
    for n in sizes:
        repo = f"bench_scale_{n}_{_tag()}"
        await client.create_repo(repo)
        started = time.perf_counter()
        step = 200_000
        for lo in range(0, n, step):
            await client.put_files(
                f"{repo}@master",
                (
                    (f"/d{i // 1000:04d}/f{i:07d}", f"{i}".encode())
                    for i in range(lo, min(n, lo + step))
                ),
            )
        out.append(Figure(f"fill a repo of {n:,} files", time.perf_counter() - started, "s"))
        repos.append(repo)
    times: list[list[float]] = [[] for _ in sizes]
    for r in range(-1, rounds):
        for k, (n, repo) in enumerate(zip(sizes, repos, strict=True)):
            t0 = time.perf_counter()
            await client.put_files(
                f"{repo}@master",
                (
                    (f"/d{i // 1000:04d}/f{i:07d}", f"{i}-{r}".encode())
                    for i in range(0, n, max(1, n // changed))
                ),
            )
            if r >= 0:
                times[k].append(time.perf_counter() - t0)
    medians = [statistics.median(t) for t in times]
    for n, med in zip(sizes, medians, strict=True):
        out.append(
            Figure(
                f"finish a {changed}-file commit on {n:,} files (median of {rounds})",
                med * 1000,
                "ms",
            )
        )
    out.append(Figure(f"ratio {sizes[-1]:,} / {sizes[0]:,}", medians[-1] / medians[0], "", "≤ 1.5"))
    return out


def _copy_pipeline(
    name: str, repo: str, parallelism: int = 2, image: str | None = None
) -> dict[str, object]:
    transform: dict[str, object] = {"cmd": ["sh", "-c", "cp /pfs/in/* /pfs/out/"]}
    if image is not None:
        transform["image"] = image
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": repo, "name": "in", "glob": "/*"}},
        "transform": transform,
        "parallelism_spec": {"constant": parallelism},
    }


BENCH_IMAGE = "pachstream-bench/busybox:1"
"""The image of ``bench datum-overhead --image``: the host's static busybox as its only program."""


def load_bench_image(settings: Settings) -> str:
    """Build :data:`BENCH_IMAGE` from the host's static busybox, load it into the image store
    the workers use, and return its name.

    Raises:
        Unavailable: no static busybox here (the message says how to install one).

    """
    from pachstream.images import ImageStore, write_docker_archive
    from pachstream.worker.sandbox import static_shell

    busybox = static_shell()
    with tempfile.TemporaryDirectory() as tmp:
        archive = write_docker_archive(
            Path(tmp) / "bench.tar",
            tags=[BENCH_IMAGE],
            files={"bin/busybox": (busybox.read_bytes(), 0o755)},
            links={"bin/sh": "bin/busybox"},
            config={"Env": ["PATH=/bin"]},
        )
        ImageStore(settings.images_dir).load(archive)
    return BENCH_IMAGE


@dataclass(frozen=True)
class FirstRun:
    """A copy pipeline's first job over a new repo (:func:`_first_run`)."""

    repo: str
    jobs: list[JobInfo]
    seconds: float
    """From create pipeline to the end of its first job."""
    cpu: dict[str, float]
    """CPU seconds each process used meanwhile, beyond its rest."""


async def _first_run(
    client: Client, meter: CpuMeter, prefix: str, files: int, image: str | None = None
) -> FirstRun:
    """Make a repo of ``files`` small files and a copy pipeline on it (in ``image``, if given)."""
    repo, pipe = f"{prefix}_{_tag()}", f"{prefix}_out_{_tag()}"
    await client.create_repo(repo)
    cid = await client.put_files(
        f"{repo}@master", ((f"/f{i:06d}", os.urandom(50)) for i in range(files))
    )
    await meter.measure_idle(IDLE_S)
    before, t0 = meter.read(), time.perf_counter()
    await client.create_pipeline(_copy_pipeline(pipe, repo, image=image))
    jobs = await client.flush(repo, cid, timeout_s=3600)
    seconds = time.perf_counter() - t0
    return FirstRun(repo, jobs, seconds, meter.used(before, seconds))


async def incremental(
    client: Client,
    settings: Settings,
    files: int,
    changed_pct: float,
    dvc: str | None = None,
    say: Callable[[str], None] = _quiet,
) -> list[Figure]:
    """Time a full run over ``files`` one-file datums, then a rerun after a few changed;
    with ``dvc`` (a ``dvc`` program), the same through DVC after (:mod:`.dvc`). The full
    runs' CPU per file is printed beside their times.

    ``changed_pct``: the percent of the files changed before the rerun.
    """
    run = await _first_run(client, CpuMeter(settings), "bench_inc", files)
    repo, first, full = run.repo, run.jobs, run.seconds
    step = max(1, round(100 / changed_pct))
    changed = list(range(0, files, step))
    t0 = time.perf_counter()
    cid = await client.put_files(
        f"{repo}@master", ((f"/f{i:06d}", os.urandom(50)) for i in changed)
    )
    second = await client.flush(repo, cid, timeout_s=3600)
    rerun = time.perf_counter() - t0
    ran = second[0].processed
    figures = [
        Figure(f"full run, {files:,} datums ({first[0].state})", full, "s"),
        Figure(f"rerun after {len(changed):,} files changed ({second[0].state})", rerun, "s"),
        Figure("ratio rerun / full", rerun / full, "", "≤ 0.03"),
        Figure("datums run in the rerun", ran, "datums"),
        Figure("files changed", len(changed), "files"),
        Figure("datums run == files changed", float(ran == len(changed)), "", "1"),
        *cpu_figures(run.cpu, full, files, "datum of the full run", say),
    ]
    if dvc is not None:
        from pachstream.bench.dvc import dvc_incremental

        # After pachstream's runs, the stack at rest: DVC runs on the same box, as loaded.
        times = await asyncio.to_thread(dvc_incremental, dvc, files, changed)
        figures += [
            Figure(f"DVC: dvc repro, {files:,} files (a stage looping cp)", times.full, "s"),
            Figure(f"DVC: dvc repro after {len(changed):,} files changed", times.rerun, "s"),
            Figure("ratio full run pachstream / DVC", full / times.full, "", "≤ 1.0"),
            Figure("DVC: CPU per file of the full repro", times.full_cpu / files * 1e3, "ms"),
        ]
    return figures


def spawn_loop(spawns: int) -> tuple[float, float]:
    """Spawns/s of ``sh -c cp`` (a 50-byte file), started one after another from Python, and
    the CPU seconds each took (this process's and the spawned ones').
    """
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "src", Path(tmp) / "dst"
        src.write_bytes(b"x" * 50)
        cpu0, t0 = _own_cpu_s(), time.perf_counter()
        for _ in range(spawns):
            subprocess.run(["sh", "-c", f"cp {src} {dst}"], check=True)
        seconds, cpu = time.perf_counter() - t0, _own_cpu_s() - cpu0
        return spawns / seconds, cpu / spawns


def _own_cpu_s() -> float:
    """CPU seconds of this process and of the children it has reaped."""
    return sum(
        u.ru_utime + u.ru_stime
        for u in (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


async def datum_overhead(
    client: Client,
    settings: Settings,
    datums: int,
    image: str | None = None,
    say: Callable[[str], None] = _quiet,
) -> list[Figure]:
    """Datums/s of a trivial ``cp`` pipeline, beside spawning the same command in a loop;
    with ``image`` (loaded, see :func:`load_bench_image`), the same pipeline in that image too.

    The loop runs right before and right after the pipeline and the ratio is taken against
    the mean of both: on a shared machine the rate of either alone swings threefold within a
    minute, and the pipeline ran between them. The CPU per datum (every process) is printed
    beside the loop's CPU per spawn.
    """
    meter = CpuMeter(settings)
    before, before_cpu = spawn_loop(datums)
    run = await _first_run(client, meter, "bench_ovh", datums)
    after, after_cpu = spawn_loop(datums)
    raw = (before + after) / 2
    rate = datums / run.seconds
    figures = [
        Figure("raw: sh -c cp, spawned in a loop, before", before, "spawns/s"),
        Figure("raw: the same loop, after", after, "spawns/s"),
        Figure(f"pipeline, 2 workers ({run.jobs[0].state})", rate, "datums/s"),
        Figure("ratio pipeline / raw (mean of before and after)", rate / raw, "", "≥ 1.0"),
        *cpu_figures(run.cpu, run.seconds, datums, "datum", say),
        Figure(
            "raw: CPU per spawn (mean of before and after)",
            (before_cpu + after_cpu) / 2 * 1e3,
            "ms",
        ),
    ]
    if image is not None:
        in_image = await _first_run(client, meter, "bench_ovh_img", datums, image)
        imaged = datums / in_image.seconds
        figures += [
            Figure(
                f"pipeline in an image, 2 workers ({in_image.jobs[0].state})", imaged, "datums/s"
            ),
            Figure("ratio image / host", imaged / rate, "", "≈ 1"),
        ]
    return figures


async def _idle_repos(client: Client, n: int, in_flight: int = 16) -> None:
    """Make ``n`` repos with one commit each, ``in_flight`` at a time."""
    tag = _tag()
    names = iter(range(n))

    async def one_by_one() -> None:
        for i in names:
            name = f"bench_idle_{tag}_{i}"
            await client.create_repo(name)
            await client.put_file(f"{name}@master", "/f", b"x")

    await asyncio.gather(*(one_by_one() for _ in range(in_flight)))


async def _history(client: Client, n: int, in_flight: int = 32) -> None:
    """Make ``n`` commits of one file each in one repo, on ``in_flight`` branches at a time,
    and wait until the query tables hold them all (the timed puts never share the machine
    with the materializer catching up).
    """
    repo = f"bench_history_{_tag()}"
    await client.create_repo(repo)
    counts = iter(range(n))
    last: dict[int, str] = {}

    async def branch(b: int) -> None:
        for i in counts:
            last[b] = await client.put_file(f"{repo}@b{b}", f"/f{i}", b"x")

    await asyncio.gather(*(branch(b) for b in range(in_flight)))
    for cid in last.values():
        await client.wait_commit(f"{repo}@{cid}", timeout_s=600)


async def latency(
    client: Client, puts: int, settings: Settings | None = None, repos: int = 0, commits: int = 0
) -> list[Figure]:
    """Time put file → output commit of a one-stage pipeline, per put; with ``settings``,
    also the median of each hop between the job's records (read from the topics after).

    ``repos``: other repos made first, each with a commit (a head), which no pipeline reads;
    ``commits``: commits made first in another repo (history no pipeline reads). A put's way
    must slow with neither the repos beside it nor the history behind it.
    """
    repo, pipe = f"bench_lat_{_tag()}", f"bench_lat_out_{_tag()}"
    if repos:
        await _idle_repos(client, repos)
    if commits:
        await _history(client, commits)
    await client.create_repo(repo)
    cid = await client.put_file(f"{repo}@master", "/warm", b"w")
    await client.create_pipeline(_copy_pipeline(pipe, repo, 1))
    await client.flush(repo, cid, timeout_s=600)
    since_ms = int(time.time() * 1000)
    times = []
    for i in range(puts):
        t0 = time.perf_counter()
        cid = await client.put_file(f"{repo}@master", f"/f{i}", b"x")
        jobs = await client.flush(repo, cid, timeout_s=120)
        assert jobs and jobs[0].state == "success", jobs
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    beside = f", {repos:,} other repos" if repos else ""
    beside += f", {commits:,} commits of history" if commits else ""
    figures = [
        Figure(
            f"put file → output commit, p50 of {puts}{beside}",
            statistics.median(times),
            "ms",
            "≤ 50 ms",
        ),
        Figure(
            f"put file → output commit, p95 of {puts}", times[int(0.95 * (len(times) - 1))], "ms"
        ),
    ]
    if settings is not None:
        topics = Topics(settings.namespace)
        records = await topic_records(
            settings,
            [topics.requests, topics.events],
            [topics.tasks(pipe, 1)],
            {repo.encode(), pipe.encode()},
            since_ms,
        )
        figures += [
            Figure(f"hop {label} (median of {n})", median, "ms")
            for label, n, median in hop_medians(records)
            if n >= puts // 2
        ]
    return figures
