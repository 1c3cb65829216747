"""The dispatcher: pipeline requests and finished commits in, jobs, tasks and output commits out.

The shell around :func:`._handle.handle`. One batch at a time::

    read requests (pipeline ones only) and facts → for each, the core's steps: records to
    produce, task topics to create, trees and stored jobs to load (their answers go back into
    the core), rows to write → at the batch's end, the jobs that can start → one Postgres
    transaction (:mod:`._store`): changed pipelines, jobs, results, index rows, heads,
    consumed offsets, and the records to produce (the outbox) → records produced (acks=all).

A job that has every result writes its output commit as one request to the commit processor
and succeeds when that commit's ``commit.finished`` arrives; only then does the pipeline's
datum index move, so the index always describes the last output commit.

The dispatcher's decisions depend on timing (which records of several partitions one batch
holds; which jobs ended before a commit arrived), so a batch replayed after a crash may decide
otherwise: its records are committed with the state first and produced after (again, after a
restart, from the outbox; consumers are idempotent). A record produced is always one the
state holds: no job the dispatcher does not know is ever announced (the chaos campaign found
one, forever running, when facts were produced before the commit).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pachstream.codec import decode, encode, peek_type
from pachstream.commits.events import CommitFinished
from pachstream.dispatch import _store
from pachstream.dispatch._handle import handle, startable
from pachstream.dispatch._state import DispatchState
from pachstream.dispatch._steps import (
    Answer,
    BatchEnded,
    BatchStarted,
    Emit,
    EnsureTaskTopic,
    Fact,
    LoadDiff,
    LoadJob,
    LoadTrees,
    Observed,
    Requested,
    SendTask,
    Step,
)
from pachstream.dispatch.events import PIPELINE_REQUESTS, JobFinished, JobStarted, PipelineStateSet
from pachstream.dispatch.spill import spill_task
from pachstream.dispatch.trees import TreeLoader
from pachstream.errors import PachstreamError
from pachstream.kafka import ensure_topics
from pachstream.metrics import process_metrics
from pachstream.objectstore import ObjectStore
from pachstream.processor import LogProcessor, Outbox
from pachstream.settings import Settings
from pachstream.tree import TreeStore

log = logging.getLogger("pachstream.dispatch")

_PIPELINE_REQUEST_TYPES = frozenset(cls.TYPE for cls in PIPELINE_REQUESTS)

OFFSETS_SAVE_EVERY_S = 5.0
"""Longest a batch that changed nothing waits to have its offsets saved: bounds what a
restarted dispatcher reads again."""


class Dispatcher(LogProcessor):
    """Turns finished input commits into jobs, tasks and output commits."""

    name = "dispatch"
    migrations = _store.MIGRATIONS
    max_records = 2000

    def __init__(self, settings: Settings, *, objects: ObjectStore | None = None) -> None:
        super().__init__(settings, objects=objects)
        self._loader = TreeLoader(TreeStore(self._objects))
        self.dispatch_state = DispatchState(kubernetes_workers=settings.workers == "kubernetes")
        """What the core decides from; only :func:`handle` changes it."""
        # The batch's outcome: produced (facts and requests, then tasks) before the
        # checkpoint writes the changes, so that offsets never run ahead of what they caused.
        self._out: list[tuple[str, str | None, bytes]] = []
        self._tasks: list[tuple[str, str, bytes, int]] = []
        self._changes = _store.Changes()
        self._offsets_saved_at = -OFFSETS_SAVE_EVERY_S
        self._unsent: Outbox = []
        """The last committed batch's records, produced again after a restart."""
        self._job_started: dict[str, tuple[str, float]] = {}
        """Running jobs' (pipeline, start time), for ``pachstream_job_seconds``; a job
        started before a restart is not timed."""

    def input_topic(self) -> str:
        """Facts: commits, repos, datum results."""
        return self._topics.events

    def input_topics(self) -> list[str]:
        """Facts, and the requests topic for pipeline requests."""
        return [self._topics.events, self._topics.requests]

    async def _restore(self, conn: Any) -> None:
        self.dispatch_state = await _store.load(conn)
        self._unsent = await self.load_outbox(conn)
        self.dispatch_state.kubernetes_workers = self._settings.workers == "kubernetes"
        log.info(
            "dispatch: restored %d pipelines at offsets %s",
            len(self.dispatch_state.pipelines),
            self._offsets,
        )

    async def _step(self) -> None:
        if self._unsent:
            await self.send_outbox(self._unsent)
            self._unsent = []
        records = await self._reader.read(timeout_ms=200)
        if not records and not startable(self.dispatch_state):
            return
        started = time.monotonic()
        self._out, self._tasks, self._changes = [], [], _store.Changes()
        offsets = dict(self._offsets)
        await self._run(BatchStarted())
        for rec in records:
            offsets[(rec.topic, rec.partition)] = rec.offset + 1
            now = rec.timestamp_ms / 1000 if rec.timestamp_ms else 0.0
            if rec.topic == self._topics.requests:
                # The commit processor answers the other requests; garbage is its to dead-letter.
                if peek_type(rec.value) not in _PIPELINE_REQUEST_TYPES:
                    continue  # not built: file.modify records carry up to 2,000 ops each
                try:
                    event = decode(rec.value)
                except PachstreamError:
                    continue
                if isinstance(event, PIPELINE_REQUESTS):
                    read = {p: o for (t, p), o in offsets.items() if t == self._topics.events}
                    await self._run(Requested(event, now, read))
                continue
            event = self.decode_or_dead_letter(rec, self._out)
            if isinstance(event, CommitFinished):
                self._loader.remember(event)  # before the job it starts asks for its diff
            if event is not None:
                await self._run(Observed(event, now))
        await self._run(BatchEnded())
        outbox: Outbox = [(t, k, v, None) for t, k, v in self._out]
        outbox += [(t, k, v, part) for t, k, v, part in self._tasks]
        writes = self._changes.writes(self.dispatch_state)
        if writes or outbox or started - self._offsets_saved_at >= OFFSETS_SAVE_EVERY_S:
            async with self._pool.acquire() as conn:
                await _store.checkpoint(conn, writes, offsets, outbox)
            self._offsets_saved_at = started
        # Else the batch changed nothing and sends nothing (the records it read were the
        # commit processor's requests, its own facts read back): no transaction, which was
        # a Postgres round trip in front of the next record on every hop of a job. Its
        # offsets are saved with the next batch that writes (or within
        # OFFSETS_SAVE_EVERY_S); after a crash those records are read again, to the same
        # nothing. The last outbox stays kept, as after any batch until the next one.
        self._offsets = offsets
        # A crash from here on: the restarted dispatcher produces the outbox again. Facts and
        # tasks go in one round of produce requests: a worker's result may reach the events
        # topic before its job's start (they were acknowledged one after the other, one
        # produce round trip on every job's first hop), and no reader needs that order: the
        # state holding the job is committed before either is produced, the materializer's
        # rows are order-independent, and a job's end follows every result it counts.
        self._unsent = outbox
        await self.send_outbox(outbox)
        self._unsent = []
        self.observe_batch(records, offsets, started)

    async def _run(self, fact: Fact) -> None:
        """Drive the core's flow for ``fact``: perform each step, send answers back, and throw
        an error met while performing a step back in at that step (a request's refusal).
        """
        flow = handle(self.dispatch_state, fact)
        answer: Answer | None = None
        error: PachstreamError | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(answer)
            except StopIteration:
                return
            answer, error = None, None
            try:
                answer = await self._perform(step)
            except PachstreamError as err:
                error = err

    def _count_fact(self, event: Any) -> None:
        """Skipped datums when a job starts (workers count the datums they run), a job's
        duration when it ends.
        """
        metrics = process_metrics()
        match event:
            case JobStarted():
                self._job_started[event.job_id] = (event.pipeline, event.time)
                if event.skipped:
                    metrics.datums.labels(event.pipeline, "skipped").inc(event.skipped)
            case JobFinished():
                began = self._job_started.pop(event.job_id, None)
                if began is not None:
                    metrics.job_seconds.labels(event.pipeline).observe(
                        max(0.0, event.time - began[1])
                    )

    async def _perform(self, step: Step) -> Answer | None:
        match step:
            case Emit():
                topic = self._topics.events if step.topic == "events" else self._topics.requests
                self._out.append((topic, step.key, encode(step.event)))
                _log_fact(step.event)
                self._count_fact(step.event)
            case SendTask():
                topic = self._topics.tasks(step.pipeline, step.version)
                data = encode(step.task)
                spill = spill_task(step.task, data)
                if spill is not None:
                    # Stored before the reference is produced (at the batch's end): a
                    # worker never reads a reference to nothing. Same bytes, same key.
                    await self._objects.put(spill.ref.task.key, spill.data)
                    data = encode(spill.ref)
                self._tasks.append((topic, step.task.datum_id, data, step.partition))
            case EnsureTaskTopic():
                await ensure_topics(
                    self._kafka, {self._topics.tasks(step.pipeline, step.version): step.partitions}
                )
            case LoadTrees() | LoadDiff():
                return await self._loader.answer(step)
            case LoadJob():
                async with self._pool.acquire() as conn:
                    return await _store.load_job(conn, step.job_id, results=step.results)
            case _:
                self._changes.add(step)
        return None


def _log_fact(event: Any) -> None:
    """One line per job start and per job or pipeline that stops short."""
    match event:
        case JobStarted() if event.inputs:
            log.info(
                "dispatch: job %s of %s: %d datums, %d to run, %d skipped",
                event.job_id, event.pipeline, event.datums, event.to_run, event.skipped,
            )  # fmt: skip
        case JobFinished() if event.state != "success":
            log.warning(
                "dispatch: job %s of %s: %s: %s",
                event.job_id,
                event.pipeline,
                event.state,
                event.reason,
            )
        case PipelineStateSet() if event.reason:
            log.warning("dispatch: pipeline %s %s", event.pipeline, event.reason)
