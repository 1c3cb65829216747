"""Workers: one process per shard of a pipeline version, and the pool that keeps them running.

A :class:`Worker` reads one partition of its pipeline's task topic from the offset it last
committed (table ``worker_offsets``), runs each datum in its warm sandbox
(:mod:`.sandbox`, :mod:`.runner`), stores the datum's logs, answers with a
:class:`~pachstream.dispatch.events.DatumFinished` on the events topic, then commits the
offset. Killed mid-datum, it loses nothing: the restarted worker reads the same task again and
the dispatcher keeps the first result of each datum.

The :class:`WorkerPool` is the local backend (Kubernetes replicas would be the other): it reads
the current pipelines from Postgres and keeps ``parallelism`` worker processes per pipeline,
restarting dead ones and stopping those of deleted or replaced versions, and those of
pipelines with ``autoscaling`` that had no job for a while (:data:`IDLE_WORKERS_KEPT_S`). It keeps
:data:`STANDBY` processes with the worker's code already loaded (:mod:`pachstream.cli._standby`)
and hands a new shard to one of them: a new pipeline's workers pay no interpreter start.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import asyncpg

from pachstream.codec import decode, encode
from pachstream.content import ContentWriter
from pachstream.dispatch.datums import Datum, DatumInput
from pachstream.dispatch.events import (
    DatumFinished,
    DatumTask,
    DatumTaskRef,
    OutputFile,
    SpilledTask,
)
from pachstream.dispatch.spec import Transform, parse_spec
from pachstream.dispatch.spill import load_spilled, slim_result, without_files
from pachstream.errors import (
    EventDecodeError,
    ImageNotFound,
    InvalidInput,
    ObjectMissing,
    PachstreamError,
)
from pachstream.images import ImageStore, RunPlan
from pachstream.kafka import PartitionReader, Producer, Record, Topics, dead_letter_value
from pachstream.lineage import notify_channel, queries
from pachstream.metrics import MULTIPROC_ENV, child_exited, collect_children, process_metrics
from pachstream.model import derive_id
from pachstream.objectstore import ObjectStore, S3ObjectStore
from pachstream.pg import connect_pool, migrate
from pachstream.service import Service, own_command
from pachstream.settings import Settings
from pachstream.worker._reads import DatumReader
from pachstream.worker.runner import Attempted, attempt_datum, datum_env
from pachstream.worker.sandbox import (
    MEMORY_DIR,
    MEMORY_MIN_BYTES,
    AgentBox,
    PodAgent,
    RunResult,
    Sandbox,
    free_memory,
)

log = logging.getLogger("pachstream.worker")

_OUTCOME = {"success": "processed", "failed": "failed", "recovered": "recovered"}
"""A datum result's state → its ``pachstream_datums_total`` outcome."""

READ_TASKS = 100
"""Tasks a worker reads at once (one reader of their inputs, fetching ahead)."""

SEND_AFTER_S = 0.25
"""Once the datums run since the last results were sent have taken this long, their outputs
are stored and their results sent (one store, one produce, one offset), though more tasks
of the read wait: a slow datum's result is not held back by the ones after it, and a worker
that dies runs again at most this much work. ``bench datum-overhead`` (1,000 one-file datums,
alternating on fresh stacks): 340, 357, 347 datums/s when every 20 tasks read were sent
together; 358, 375, 376 with 100 read and sent by this time (CPU per datum 4.01-4.04 → 3.79-3.88
ms: the store, produce and offset of each sending cost ~15 ms, then paid per 20 datums)."""

SEND_AFTER_BYTES = 64 * 1024 * 1024
"""Outputs held in memory past which they are stored and sent at once, whatever the time."""

WORKER_MIGRATIONS = [
    """
    CREATE TABLE worker_offsets (
        topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,
        PRIMARY KEY (topic, partition));
    """,
]


def task_datum(task: DatumTask) -> Datum:
    """The datum a task describes (for its environment). Pure."""
    return Datum(
        tuple(
            DatumInput(
                name=i.name,
                repo=i.repo,
                branch=i.branch,
                path=i.path,
                files=tuple((f.path, f.file.hash) for f in i.files),
                join_on=i.join_on,
                group_by=i.group_by,
            )
            for i in task.inputs
        )
    )


class Worker(Service):
    """Runs the datums of one shard of one pipeline version."""

    name = "worker"

    def __init__(
        self,
        settings: Settings,
        pipeline: str,
        version: int,
        shard: int,
        folder: Path,
        *,
        objects: ObjectStore | None = None,
        agent: Literal["sandbox", "pod"] = "sandbox",
    ) -> None:
        super().__init__()
        self._settings = settings
        self._agent = agent
        self._kafka, self._pg, s3 = settings.require()
        self._topics = Topics(settings.namespace)
        self._topic = self._topics.tasks(pipeline, version)
        self._shard = shard
        self._folder = folder
        self._objects: ObjectStore = objects or S3ObjectStore(s3, settings.namespace)
        self._writer = ContentWriter(self._objects)
        self._producer = Producer(self._kafka)
        self._reader = PartitionReader(self._kafka, max_records=READ_TASKS)
        self._pool: Any = None
        self._sandbox: AgentBox | None = None
        self._plan: tuple[Any, Path, RunPlan] | None = None
        """(task's image, cmd, env, working dir) → the image root and what runs in it."""
        self._offset: int | None = None
        self.id = f"{pipeline}.{version}.{shard}@{socket.gethostname()}:{os.getpid()}"
        self._parent = os.getppid()
        self.ran = 0
        """Datums run since start."""
        self.skipped = 0
        """Tasks of killed jobs passed over since start."""
        self._ended: dict[str, tuple[bool, float]] = {}
        """Job id → (killed, when asked): the answer is asked again after a second."""

    async def _open(self) -> None:
        self._pool = await connect_pool(self._pg, self._settings.namespace)
        await migrate(self._pool, "worker", WORKER_MIGRATIONS)
        row = await self._pool.fetchrow(
            "SELECT next_offset FROM worker_offsets WHERE topic = $1 AND partition = $2",
            self._topic,
            self._shard,
        )
        offsets = {(self._topic, self._shard): row["next_offset"]} if row else {}
        await self._producer.start()
        await self._reader.start([self._topic], offsets, partitions=[self._shard])
        log.info(
            "worker %s: reading %s[%d] from %s",
            self.id,
            self._topic,
            self._shard,
            offsets or "the start",
        )

    async def _close(self) -> None:
        if self._sandbox is not None:
            await self._sandbox.stop()
        await self._reader.stop()
        await self._producer.stop()
        if self._pool is not None:
            await self._pool.close()
        await self._objects.close()

    def _box(
        self,
        names: list[str],
        image_root: Path | None = None,
        user: tuple[int, int] | None = None,
    ) -> AgentBox:
        """The warm sandbox (or the pod's agent); rebuilt only when a task brings an input
        name it lacks (unions) or runs in another image (a pipeline's version changes it: a
        new worker then).
        """
        box = self._sandbox
        same_root = box is not None and (
            not isinstance(box, Sandbox) or (box.image_root, box.user) == (image_root, user)
        )
        if box is None or not same_root or not set(names) <= set(box.input_names):
            have = box.input_names if box is not None and same_root else []
            wanted = sorted(set(have) | set(names))
            fresh: AgentBox
            if self._agent == "pod":
                fresh = PodAgent(self._folder / "box", wanted)
            else:
                fresh = Sandbox(self._folder / "box", wanted, image_root=image_root, user=user)
            if box is not None:
                # Same root, same control folder: the new box keeps it.
                asyncio.ensure_future(box.stop(release=False))
            self._sandbox = box = fresh
        return box

    async def _image(self, task: DatumTask) -> tuple[Path, RunPlan]:
        """The unpacked root of the task's image and what runs in it (cached: one pipeline
        version has one transform, so one plan).
        """
        assert task.image is not None
        key = (task.image, task.cmd, task.env, task.working_dir)
        if self._plan is None or self._plan[0] != key:
            store = ImageStore(self._settings.images_dir)
            # Loading, pulling and unpacking block on files and on skopeo: off the loop.
            root, plan = await asyncio.to_thread(
                store.plan,
                task.image,
                cmd=task.cmd or None,
                env=dict(task.env),
                working_dir=task.working_dir,
            )
            self._plan = (key, root, plan)
        return self._plan[1], self._plan[2]

    async def _step(self) -> None:
        if os.getppid() != self._parent:
            # The pool died (kill -9): a new pool starts a new worker for this shard; this one
            # must not run beside it.
            raise SystemExit(f"worker {self.id}: pool {self._parent} is gone")
        records = await self._reader.read(timeout_ms=300)
        if not records:
            return
        began = time.monotonic()
        out: list[tuple[str, str | None, bytes]] = []
        ran: list[tuple[DatumTask, Attempted, str, str, float]] = []
        held = 0  # bytes of the outputs in ``ran``
        done = 0  # records whose results were sent
        spilled: dict[tuple[str, str], SpilledTask] = {}
        decoded = [_decode_task(rec) for rec in records]
        shared = await self._prepare([t for t in decoded if not isinstance(t, str)])
        for n, (rec, task) in enumerate(zip(records, decoded, strict=True)):
            if ran and (time.monotonic() - began >= SEND_AFTER_S or held >= SEND_AFTER_BYTES):
                await self._send_results(ran, spilled, out, records[done:n], began)
                out, ran, held, done, began = [], [], 0, n, time.monotonic()
            if isinstance(task, str):
                out.append((self._topics.deadletter, None, dead_letter_value(rec, task, self.id)))
                continue
            self._offset = rec.offset + 1
            if await self._killed(task.job_id):
                self.skipped += 1  # `stop job`: its queued datums are not run
                continue
            started = time.time()
            if isinstance(task, DatumTaskRef):
                loaded = await self._unspill(task, started)
                if isinstance(loaded, DatumFinished):
                    out.append((self._topics.events, task.pipeline, encode(loaded)))
                    continue
                spilled[(task.job_id, task.datum_id)] = task.task
                task = loaded
            unspilled = (task.job_id, task.datum_id) not in spilled
            attempted, state, err_log = await self._run(task, shared if unspilled else None)
            metrics = process_metrics()
            metrics.datums.labels(task.pipeline, _OUTCOME.get(state, state)).inc()
            metrics.datum_seconds.labels(task.pipeline).observe(time.time() - started)
            if (task.job_id, task.datum_id) in spilled:
                task = without_files(task)  # the batch's later tasks need the memory
            ran.append((task, attempted, state, err_log, started))
            held += sum(len(data) for data in attempted.files.values())
            self.ran += 1
        await self._send_results(ran, spilled, out, records[done:], began)

    async def _send_results(
        self,
        ran: list[tuple[DatumTask, Attempted, str, str, float]],
        spilled: dict[tuple[str, str], SpilledTask],
        out: list[tuple[str, str | None, bytes]],
        records: list[Record],
        began: float,
    ) -> None:
        """Store the outputs of the datums ``ran``, send their results with ``out`` (the
        records already due) and keep the offset past ``records``, the ones they came from.
        """
        # One store for them all: small outputs share packs and a round trip.
        files = [data for _, a, _, _, _ in ran for data in a.files.values()]
        entries = iter(await self._writer.store_many(files))
        for task, a, state, err_log, started in ran:
            outputs = tuple(OutputFile(path=p, file=next(entries)) for p in a.files)
            finished = self._finished(task, a, state, err_log, started, outputs)
            stored = spilled.get((task.job_id, task.datum_id))
            if stored is not None:
                # Echoing every staged file would pass the record limit as the task did.
                finished = slim_result(finished, stored)
            out.append((self._topics.events, task.pipeline, encode(finished)))
        await self._producer.send_all(out)
        if self._offset is not None:
            await self._pool.execute(
                "INSERT INTO worker_offsets VALUES ($1, $2, $3) ON CONFLICT (topic, partition) "
                "DO UPDATE SET next_offset = EXCLUDED.next_offset",
                self._topic,
                self._shard,
                self._offset,
            )
            # Under the pool's name: its /metrics is where the workers' metrics are served.
            process_metrics().observe_batch(
                "workers",
                records,
                {(self._topic, self._shard): self._offset},
                self._reader.highwater,
                time.monotonic() - began,
            )

    async def _prepare(self, tasks: list[DatumTask | DatumTaskRef]) -> DatumReader:
        """Before a batch runs: one reader of all its (unspilled) tasks' inputs, already
        fetching, so that neighbouring files come in one GET while the first datum runs; and
        whether each of its jobs was stopped, asked meanwhile (cached for the batch's loop).
        """
        shared = DatumReader(
            self._objects,
            (
                f.file
                for t in tasks
                if isinstance(t, DatumTask)
                for i in t.inputs
                if not i.empty_files
                for f in i.files
            ),
        )
        shared.prefetch()
        for job_id in dict.fromkeys(t.job_id for t in tasks):
            await self._killed(job_id)
        return shared

    async def _unspill(self, ref: DatumTaskRef, started: float) -> DatumTask | DatumFinished:
        """The spilled task a reference points at, or, when it is gone or not the bytes
        referenced, the datum's failed result saying so: the datum fails, never the worker.
        An object store that does not answer (Unavailable) stops the worker, which reads the
        task again after its restart.
        """
        try:
            return await load_spilled(self._objects, ref.task)
        except (ObjectMissing, EventDecodeError) as err:
            log.warning("worker %s: datum %s: %s", self.id, ref.datum_id, err.message)
            note = (
                f"pachstream: datum {ref.datum_id}: its task, spilled to the object store at "
                f"{ref.task.key!r}, cannot be read: {err.message}; rerun the job "
                f"('pachstream rerun job {ref.job_id}') to store it again\n"
            )
            return DatumFinished(
                event_id=derive_id(ref.job_id, ref.datum_id, DatumFinished.TYPE),
                job_id=ref.job_id,
                pipeline=ref.pipeline,
                datum_id=ref.datum_id,
                hash=ref.hash,
                state="failed",
                tries=1,
                exit_code=None,
                timed_out=False,
                stderr_tail=note,
                log_ref="",
                started=started,
                duration_s=time.time() - started,
                worker=self.id,
            )

    async def _killed(self, job_id: str) -> bool:
        """Whether the job was stopped (``stop job``, or its pipeline deleted): asked of the
        jobs table at most once a second per job, so a datum pays no round trip.
        """
        now = time.monotonic()
        known = self._ended.get(job_id)
        if known is not None and (known[0] or now - known[1] < 1.0):
            return known[0]
        state: str | None
        try:
            state = await queries.job_state(self._pool, job_id)
        except asyncpg.UndefinedTableError:
            state = None  # no lineage tables in this namespace (yet): nothing was stopped
        if len(self._ended) > 1000:
            self._ended.clear()
        self._ended[job_id] = (state == "killed", now)
        return state == "killed"

    async def _run(
        self, task: DatumTask, shared: DatumReader | None = None
    ) -> tuple[Attempted, str, str]:
        """Run one task: (the attempt, its state, err_cmd's log); ``shared``: the batch's
        reader, which holds this task's inputs (a spilled task's are read on their own).
        """
        datum = task_datum(task)
        entries = {(i.name, f.path): (i.empty_files, f.file) for i in task.inputs for f in i.files}
        reader = (
            shared
            if shared is not None
            else DatumReader(self._objects, (e for empty, e in entries.values() if not empty))
        )

        async def fetch(name: str, path: str) -> bytes:
            empty, entry = entries[(name, path)]
            return b"" if empty else await reader.read(entry)

        names = [i.name for i in task.inputs]
        transform = Transform(
            cmd=task.cmd, stdin=task.stdin, env=task.env, working_dir=task.working_dir
        )
        if self._agent == "pod":
            if not task.cmd:
                # The pod's runtime replaced the image's Entrypoint with the agent, and the
                # sidecar cannot read the image's config: refuse rather than guess.
                note = (
                    f"pachstream: pipeline {task.pipeline!r} gives no transform.cmd; on the "
                    "Kubernetes backend the image's Entrypoint cannot be used (the agent "
                    "replaces it); set transform.cmd to the command to run\n"
                )
                return _not_run(note)
            box = self._box(names)
        elif task.image is None:
            box = self._box(names)
        else:
            try:
                root, plan = await self._image(task)
            except (ImageNotFound, InvalidInput) as err:
                # Never the host instead: the datum fails at once, naming the image and how to
                # provide it (or what is wrong with its name, its config or the spec's cmd);
                # so does every datum of the job, without running anything.
                note = f"pachstream: {err.message}\n"
                return _not_run(note)
            box = self._box(names, root, (plan.uid, plan.gid))
            transform = Transform(
                cmd=plan.cmd,
                stdin=task.stdin,
                env=tuple(sorted(plan.env.items())),
                working_dir=plan.working_dir,
            )
        commits = {i.name: i.commit_id or "" for i in task.inputs}
        env = datum_env(datum, commits, task.job_id, task.output_commit)
        try:
            attempted = await attempt_datum(
                datum, transform, box, fetch, env=env, tries=task.tries, timeout_s=task.timeout_s
            )
        except (OSError, ValueError) as err:
            # The command could not even be set up (a script that cannot be written, text
            # that cannot be encoded): the datum fails with the reason, the worker goes on.
            log.warning("worker %s: datum %s could not run: %s", self.id, task.datum_id, err)
            return _not_run(not_started(err))
        state: str = attempted.state
        err_log = ""
        if state == "failed" and task.err_cmd:
            recovery = await box.run(
                task.err_cmd, stdin="\n".join(task.err_stdin), env={**dict(transform.env), **env}
            )
            err_log = f"\n[err_cmd exit {recovery.exit_code}]\n{recovery.stderr_tail}"
            if recovery.exit_code == 0:
                state = "recovered"
        return attempted, state, err_log

    def _finished(
        self,
        task: DatumTask,
        a: Attempted,
        state: str,
        err_log: str,
        started: float,
        outputs: tuple[OutputFile, ...],
    ) -> DatumFinished:
        return DatumFinished(
            event_id=derive_id(task.job_id, task.datum_id, DatumFinished.TYPE),
            job_id=task.job_id,
            pipeline=task.pipeline,
            datum_id=task.datum_id,
            hash=task.hash,
            state=state,  # type: ignore[arg-type]
            tries=a.tries,
            exit_code=a.last.exit_code,
            timed_out=a.last.timed_out,
            stderr_tail=a.last.stderr_tail + err_log,
            log_ref="",
            started=started,
            duration_s=time.time() - started,
            worker=self.id,
            inputs=task.inputs,
            outputs=outputs,
            stdout_tail=a.last.stdout_tail,
        )


def _decode_task(rec: Record) -> DatumTask | DatumTaskRef | str:
    """A record's task, or why it is not one (for the dead-letter topic)."""
    try:
        task = decode(rec.value)
    except EventDecodeError as exc:
        return exc.message
    if not isinstance(task, (DatumTask, DatumTaskRef)):
        return f"a {task.TYPE!r} event is not a datum task"
    return task


def not_started(err: OSError | ValueError) -> str:
    """What a datum whose command could not be set up says (the worker goes on). Pure."""
    said = f"pachstream: the datum could not be started: {type(err).__name__}: {err}"
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        said += (
            "; its files do not fit where the sandbox stages them (the memory folder "
            f"{MEMORY_DIR}, when it holds {MEMORY_MIN_BYTES >> 30} GiB or more): give it or "
            "the worker's disk more room, or make datums smaller with a finer glob"
        )
    return said + "\n"


def _not_run(note: str) -> tuple[Attempted, str, str]:
    """A datum failed before its command ran (no image, no cmd, no script), saying why."""
    return Attempted("failed", 1, RunResult(None, "", note, False, 0.0), {}), "failed", ""


# ----------------------------------------------------------------------------- the pool


@dataclass
class _Proc:
    key: tuple[str, int, int]
    process: subprocess.Popen[bytes]
    restarts: int = 0
    next_try: float = 0.0


async def current_pipelines(pool: Any) -> list[queries.PipelineVersion]:
    """The pipelines the pools serve now; none while the lineage tables are not migrated yet
    (a pool may start before the lineage processor: it looks again at its next step).
    """
    try:
        return await queries.current_pipelines(pool)
    except asyncpg.UndefinedTableError:
        return []


IDLE_WORKERS_KEPT_S = 120.0
"""The workers of a pipeline with ``autoscaling: true`` stop once it has had no job for this
long, nor a new version, and start again (from the pool's standbys) when a job of it starts:
the pool hears the lineage processor's announcement. That job pays the workers' start: put
file -> output commit of a one-file job, median 326 ms on warm workers, 656 ms on stopped ones
(6 each, alternating). An idle worker keeps fetching its task partition (Tansu answers
an empty fetch only when its wait runs out): a memory stack at rest took 0.15 core, 0.42 with
5 idle pipelines of 2 workers, 0.17 with the same 5 autoscaling. Pachyderm's own default,
``autoscaling: false``, keeps them."""


def wanted_workers(
    rows: list[tuple[str, int, float, dict[str, Any]]],
    at_work: Collection[str],
    now: float,
    kept_s: float,
) -> set[tuple[str, int, int]]:
    """(pipeline, version, shard) of every worker the current ``(name, version, created,
    spec)`` pipelines need. Pure.

    The parallelism is the parsed spec's, as the dispatcher shards by it (``parallelismSpec``,
    ``constant: 0`` meaning 1); a spec this version refuses gets no workers. A pipeline with
    ``autoscaling`` gets none while it rests: not in ``at_work`` (no job running or ended less
    than ``kept_s`` before ``now``) and its version created longer ago than that.
    """
    out: set[tuple[str, int, int]] = set()
    for name, version, created, raw in rows:
        try:
            spec = parse_spec(raw)
        except PachstreamError:
            continue
        if spec.autoscaling and name not in at_work and now - created >= kept_s:
            continue
        out.update((name, version, i) for i in range(spec.parallelism))
    return out


REFILL_AFTER_SPAWN_S = 1.0
"""No standby is made so soon after a worker started."""

REFILL_QUIET_S = 2.0
"""No standby is made while a job runs or within this long of one's end: jobs that follow each
other (a stream of commits, bench latency) are one busy spell, not gaps to fill."""

REFILL_DEFER_MAX_S = 60.0
"""Standbys are made after this long even while workers stay busy (a long job): the next new
pipeline's workers then start warm, the standbys' imports slowing that job a little."""

STANDBY = 2
"""Standby workers a local pool keeps (:mod:`pachstream.cli._standby`): a pipeline of up to
this many shards starts with no interpreter start of its own."""


class WorkerPool(Service):
    """Keeps one local worker process per (pipeline, version, shard) that the pipelines need,
    and ``standby`` processes that have loaded a worker's code, ready to become one.
    """

    name = "workers"

    def __init__(
        self,
        settings: Settings,
        *,
        folder: Path | None = None,
        poll_s: float = 0.2,
        standby: int = STANDBY,
        idle_kept_s: float = IDLE_WORKERS_KEPT_S,
    ) -> None:
        super().__init__()
        self._idle_kept_s = idle_kept_s
        # poll_s: a new pipeline waits half of it on average for its workers; one query of
        # the pipelines table per poll costs ~1 ms.
        self._standby_n = standby
        self._standby: list[subprocess.Popen[bytes]] = []
        self._settings = settings
        _, self._pg, _ = settings.require()
        self._folder = folder or settings.home / "workers" / settings.namespace
        self._poll_s = poll_s
        self._pool: Any = None
        self._listener: Any = None
        self._spawned = self._idle = time.monotonic()
        self._changed = asyncio.Event()
        """Set when the lineage processor announced new facts (see :meth:`_listen`)."""
        self.procs: dict[tuple[str, int, int], _Proc] = {}
        self.metrics_dir = self._folder / ".metrics"
        """Where the workers write their metrics (prometheus-client's multiprocess files)."""
        self.metrics_registry = collect_children(self.metrics_dir)
        """The workers' metrics, which ``pachstream run workers`` serves."""

    async def _open(self) -> None:
        self._pool = await connect_pool(self._pg, self._settings.namespace)
        await self._listen()

    async def _listen(self) -> None:
        """Wake at the lineage processor's announcements (a pipeline created, a job started):
        a new pipeline's workers start then, not at the next poll (0.1 s later on average);
        the poll stays for the workers that died. Retried at each step when it fails.
        """
        try:
            listener = await self._pool.acquire()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("workers: cannot listen for pipeline changes, retrying: %s", exc)
            return
        try:
            await listener.add_listener(notify_channel(self._settings.namespace), self._heard)
        except (OSError, asyncpg.PostgresError) as exc:
            await self._pool.release(listener)
            log.warning("workers: cannot listen for pipeline changes, retrying: %s", exc)
            return
        listener.add_termination_listener(self._lost)
        self._listener = listener

    def _heard(self, *_: Any) -> None:
        self._changed.set()

    def _lost(self, *_: Any) -> None:
        self._listener = None  # listened to again at the next step

    async def _close(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            listener.remove_termination_listener(self._lost)
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await listener.remove_listener(
                    notify_channel(self._settings.namespace), self._heard
                )
            await self._pool.release(listener)
        for spare in self._standby:
            _drop(spare)
        self._standby.clear()
        for proc in self.procs.values():
            _terminate(proc.process)
        for proc in self.procs.values():
            _reap(proc.process)
        self.procs.clear()
        if self._pool is not None:
            await self._pool.close()

    async def _step(self) -> None:
        if self._listener is None:
            await self._listen()
        # Cleared before the read: facts committed after it wake the next step.
        self._changed.clear()
        current = await current_pipelines(self._pool)
        rows = [(p.name, p.version, p.created, p.spec) for p in current]
        wall = time.time()
        since = wall - self._idle_kept_s
        autoscaling = any(p.spec.get("autoscaling") for p in current)
        at_work = await self._at_work(since) if autoscaling else ()
        wanted = wanted_workers(rows, at_work, wall, self._idle_kept_s)
        versions = {(p.name, p.version) for p in current}
        for key in [k for k in self.procs if k not in wanted]:
            if key[:2] in versions:  # still current: stopped for want of jobs
                log.info("workers: %s had no job for %.0f s: stopped", key, self._idle_kept_s)
            gone = self.procs.pop(key)
            _terminate(gone.process)
            _reap(gone.process)
            # A worker killed before its own stop leaves its folders in memory.
            free_memory(self._folder / f"{key[0]}.{key[1]}.{key[2]}" / "box")
            child_exited(self.metrics_dir, gone.process.pid)
        now = time.monotonic()
        spawned = False
        for key in sorted(wanted):
            proc = self.procs.get(key)
            if proc is not None and proc.process.poll() is None:
                continue
            if proc is not None and now < proc.next_try:
                continue
            restarts = 0 if proc is None else proc.restarts + 1
            if proc is not None:
                log.warning("workers: %s exited (%s); restarting", key, proc.process.returncode)
                child_exited(self.metrics_dir, proc.process.pid)
            self.procs[key] = _Proc(
                key, self._spawn(key), restarts, now + min(10.0, 0.5 * 2**restarts)
            )
            spawned = True
        busy = await self._workers_busy(now)
        if spawned:
            self._spawned = now
        if not spawned and (not busy or now - self._idle > REFILL_DEFER_MAX_S):
            # Not while workers start or run datums: a standby's imports take ~1 s of CPU
            # each, which a job on a small machine would wait for (bench datum-overhead: two
            # standbys made during its job were a fifth of the whole stack's CPU).
            self._refill()
        if not busy and now - self._spawned > REFILL_AFTER_SPAWN_S:
            self._idle = now
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), self._poll_s)

    async def _at_work(self, since: float) -> set[str]:
        """The pipelines with a job running or ended after ``since`` (epoch seconds); none
        before the lineage tables exist. Asked only while a pipeline autoscales.
        """
        try:
            return await queries.pipelines_at_work(self._pool, since)
        except asyncpg.UndefinedTableError:
            return set()

    async def _workers_busy(self, now: float) -> bool:
        """Whether standbys made now would take CPU from work: a worker started less than
        :data:`REFILL_AFTER_SPAWN_S` ago (it opens its connections, then reads its first
        tasks), or a job is running or ended less than :data:`REFILL_QUIET_S` ago. Asked of
        the jobs table only while standbys are missing.

        A worker's CPU share was the sign before: an idle worker's fetches cost ~2% of a core
        on a quiet machine, but passed the 5% line on a loaded one, where standbys then came
        only after REFILL_DEFER_MAX_S (60 s, every time, in a CI run).
        """
        if now - self._spawned < REFILL_AFTER_SPAWN_S:
            return True
        if sum(1 for p in self._standby if p.poll() is None) >= self._standby_n:
            return False  # nothing to make: no question to ask
        try:
            return await queries.jobs_active(self._pool, time.time() - REFILL_QUIET_S)
        except asyncpg.UndefinedTableError:
            return False  # no lineage tables yet: no job either

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self._settings.child_env(), MULTIPROC_ENV: str(self.metrics_dir)}

    def _refill(self) -> None:
        """Start standby workers up to the pool's number (dead ones are dropped)."""
        for spare in [p for p in self._standby if p.poll() is not None]:
            self._standby.remove(spare)
            _drop(spare)
        while len(self._standby) < self._standby_n:
            self._folder.mkdir(parents=True, exist_ok=True)
            with open(self._folder / "standby.log", "ab") as logf:
                self._standby.append(
                    subprocess.Popen(
                        own_command("pachstream.cli._standby"),
                        env=self._env(),
                        stdin=subprocess.PIPE,
                        stdout=logf,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

    def _assign(self, argv: list[str], log_file: Path) -> subprocess.Popen[bytes] | None:
        """Hand a worker's command to a standby; None when none is alive to take it."""
        order = json.dumps({"argv": argv, "log": str(log_file)}).encode() + b"\n"
        while self._standby:
            spare = self._standby.pop(0)
            if spare.poll() is None and spare.stdin is not None:
                try:
                    spare.stdin.write(order)
                    spare.stdin.close()
                except OSError:  # it died meanwhile
                    pass
                else:
                    return spare
            _drop(spare)
        return None

    def _spawn(self, key: tuple[str, int, int]) -> subprocess.Popen[bytes]:
        name, version, shard = key
        folder = self._folder / f"{name}.{version}.{shard}"
        folder.mkdir(parents=True, exist_ok=True)
        argv = ["run", "worker", name, str(version), str(shard), str(folder)]
        warm = self._assign(argv, folder / "worker.log")
        if warm is not None:
            return warm
        cmd = own_command("pachstream", *argv)
        with open(folder / "worker.log", "ab") as logf:
            return subprocess.Popen(
                cmd, env=self._env(), stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
            )

    def pids(self) -> dict[tuple[str, int, int], int]:
        """Running workers' pids (tests kill them)."""
        return {k: p.process.pid for k, p in self.procs.items() if p.process.poll() is None}


def _drop(spare: subprocess.Popen[bytes]) -> None:
    """Stop a standby and let go of its pipe."""
    if spare.stdin is not None:
        with contextlib.suppress(OSError):
            spare.stdin.close()
    _terminate(spare)
    _reap(spare)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def _reap(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
