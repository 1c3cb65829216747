"""The dispatcher: pipeline requests and finished commits in, jobs, tasks and output commits out.

One batch at a time::

    read requests (pipeline ones only) and facts → pipeline requests answered; branch heads and
    repos followed; datum results folded into jobs → jobs started for pipelines whose inputs
    moved (trees loaded, datums made, planned against the index, tasks sharded onto the
    pipeline's task topic) → records produced (acks=all) → one Postgres transaction: changed
    pipelines, job results, index rows, heads, consumed offsets.

A job that has every result writes its output commit as one request to the commit processor
(deletes of vanished or replaced outputs, puts of new ones) and succeeds when that commit's
``commit.finished`` arrives; only then does the pipeline's datum index move, so the index
always describes the last output commit. One job runs per pipeline at a time; commits that
arrive meanwhile are folded into the next job (their heads are read when it starts).

Exactness after kill -9 is the commit processor's: facts are produced before the state that
led to them is committed, and a replay of the batch yields the same ids.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pachstream.codec import decode, encode
from pachstream.commits.events import (
    CommitDeleted,
    CommitFinished,
    CreateRepo,
    DeleteRepo,
    ModifyFiles,
    RepoCreated,
    RepoDeleted,
    RequestDone,
    refused,
)
from pachstream.dispatch import _core
from pachstream.dispatch._core import OUTPUT_BRANCH, Result
from pachstream.dispatch.commitsets import (
    CommitSet,
    Decision,
    Ready,
    UpstreamFailed,
    Wait,
    decide,
    in_use,
)
from pachstream.dispatch.events import (
    PIPELINE_REQUESTS,
    CreatePipeline,
    DatumFinished,
    DeletePipeline,
    InputCommit,
    JobFinished,
    JobStarted,
    PipelineCreated,
    PipelineStateSet,
    RerunJob,
    SetPipelineState,
    StopJob,
)
from pachstream.dispatch.plan import IndexEntry, JobPlan, apply_delta, output_delta
from pachstream.dispatch.spec import PipelineSpec, _pfs_inputs, parse_spec
from pachstream.errors import (
    Conflict,
    InvalidSpec,
    NotFound,
    OutputConflict,
    PachstreamError,
    RepoExists,
)
from pachstream.kafka import ensure_topics
from pachstream.model import FileEntry, derive_id, output_commit_id, output_request_id
from pachstream.objectstore import ObjectStore
from pachstream.processor import LogProcessor
from pachstream.settings import Settings
from pachstream.tree import TreeStore, raw_to_entry

log = logging.getLogger("pachstream.dispatch")

RECENT_REQUESTS = 200
"""Request ids remembered per pipeline to drop writers' retries."""

MIGRATIONS = [
    """
    CREATE TABLE dispatch_offsets (
        topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,
        PRIMARY KEY (topic, partition));
    CREATE TABLE dispatch_pipelines (name text PRIMARY KEY, state jsonb NOT NULL);
    CREATE TABLE dispatch_jobs (job_id text PRIMARY KEY, pipeline text NOT NULL, header jsonb NOT NULL);
    CREATE TABLE dispatch_index (
        pipeline text NOT NULL, datum_id text NOT NULL, hash text NOT NULL, outputs jsonb NOT NULL,
        PRIMARY KEY (pipeline, datum_id));
    CREATE TABLE dispatch_results (
        job_id text NOT NULL, datum_id text NOT NULL, pipeline text NOT NULL, state text NOT NULL,
        hash text NOT NULL, outputs jsonb NOT NULL, carried boolean NOT NULL, detail text NOT NULL,
        PRIMARY KEY (job_id, datum_id));
    CREATE TABLE dispatch_meta (key text PRIMARY KEY, value jsonb NOT NULL);
    """,
]


@dataclass
class Job:
    """The running job of a pipeline."""

    job_id: str
    version: int
    inputs: list[dict[str, Any]]
    """name, repo, branch, commit, root of every input."""
    output_commit: str
    started: float
    expect: set[str]
    """Datums dispatched to workers."""
    skipped: int
    vanished: list[str]
    rerun_of: str | None = None
    phase: str = "running"
    """running: waiting for results; finishing: waiting for the output commit."""
    commitset: str | None = None
    """The commit set the job runs for; its output commit joins it."""
    results: dict[str, Result] = field(default_factory=dict)

    def header(self) -> dict[str, Any]:
        """Persisted form (results are rows of their own)."""
        return {
            "job_id": self.job_id,
            "version": self.version,
            "inputs": self.inputs,
            "output_commit": self.output_commit,
            "started": self.started,
            "expect": sorted(self.expect),
            "skipped": self.skipped,
            "vanished": self.vanished,
            "rerun_of": self.rerun_of,
            "phase": self.phase,
            "commitset": self.commitset,
        }

    @classmethod
    def from_header(cls, raw: dict[str, Any]) -> Job:
        """Inverse of :meth:`header`."""
        return cls(**{"commitset": None, **raw, "expect": set(raw["expect"])})


@dataclass
class Pipeline:
    """What the dispatcher keeps of one pipeline."""

    name: str
    version: int
    salt: str
    raw: dict[str, Any]
    spec: PipelineSpec
    stopped: bool = False
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_REQUESTS))
    pending: list[str] = field(default_factory=list)
    """Commit sets that reached the pipeline and wait for their job, oldest first."""
    done: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_REQUESTS))
    """Commit sets whose job ran: a set gets one job per pipeline."""
    last_job: str | None = None
    """The job that ended last: the only one a rerun may redo (never an older one)."""
    read: dict[str, int] = field(default_factory=dict)
    """Source → position in its branch of the newest commit a job of this pipeline read."""
    job: Job | None = None
    index: dict[str, IndexEntry] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    """Output path → datum, for the index."""

    def state_json(self) -> dict[str, Any]:
        """Persisted form (the index is rows of its own)."""
        return {
            "name": self.name,
            "version": self.version,
            "salt": self.salt,
            "raw": self.raw,
            "stopped": self.stopped,
            "recent": list(self.recent),
            "pending": self.pending,
            "done": list(self.done),
            "last_job": self.last_job,
            "read": self.read,
            "job": self.job.header() if self.job else None,
        }

    def reads(self, repo: str, branch: str) -> bool:
        """Whether a commit on ``repo@branch`` feeds this pipeline."""
        return (repo, branch) in self.spec.repos()

    def sources(self) -> list[str]:
        """``repo@branch`` of each input, each once."""
        return list(dict.fromkeys(_core.source(r, b) for r, b in self.spec.repos()))

    def queue(self, commitset: str) -> bool:
        """Add a set that reached the pipeline (once); whether it was new."""
        if commitset in self.pending or commitset in self.done:
            return False
        if self.job is not None and self.job.commitset == commitset:
            return False
        self.pending.append(commitset)
        return True


class Dispatcher(LogProcessor):
    """Turns finished input commits into jobs, tasks and output commits."""

    name = "dispatch"
    migrations = MIGRATIONS
    max_records = 2000

    def __init__(self, settings: Settings, *, objects: ObjectStore | None = None) -> None:
        super().__init__(settings, objects=objects)
        self._trees = TreeStore(self._objects)
        self.pipelines: dict[str, Pipeline] = {}
        self.repos: set[str] = set()
        self.heads: dict[str, list[Any]] = {}
        """'repo@branch' → [commit id, root key, commit set, position in the branch] of the
        last finished commit."""
        self.sets: dict[str, CommitSet] = {}
        """Commit sets some pipeline still waits on or runs, by id."""
        self.retired: dict[str, int] = {}
        """Deleted pipeline → its last version: a pipeline created again under the name
        continues the count, so its tasks, workers and rows are never the old version's."""
        self._tree_cache: dict[str, tuple[str | None, dict[str, FileEntry]]] = {}
        self._batch: _Batch = _Batch()

    def input_topic(self) -> str:
        """Facts: commits, repos, datum results."""
        return self._topics.events

    def input_topics(self) -> list[str]:
        """Facts, and the requests topic for pipeline requests."""
        return [self._topics.events, self._topics.requests]

    # ------------------------------------------------------------------------- restore

    async def _restore(self, conn: Any) -> None:
        for row in await conn.fetch("SELECT key, value FROM dispatch_meta"):
            value = orjson.loads(row["value"])
            if row["key"] == "repos":
                self.repos = set(value)
            elif row["key"] == "heads":
                self.heads = value
            elif row["key"] == "sets":
                self.sets = {k: CommitSet.from_json(v) for k, v in value.items()}
            elif row["key"] == "retired":
                self.retired = value
        for row in await conn.fetch("SELECT state FROM dispatch_pipelines"):
            raw = orjson.loads(row["state"])
            try:
                spec = _checked_spec(raw["name"], raw["raw"], None)
            except PachstreamError as err:
                # Accepted by an older pachstream, refused by this one: the pipeline stays, its
                # jobs do not start, every other pipeline runs; 'update pipeline' repairs it.
                log.error("dispatch: pipeline %r is not started: %s", raw["name"], err.message)
                continue
            p = Pipeline(
                name=raw["name"],
                version=raw["version"],
                salt=raw["salt"],
                raw=raw["raw"],
                spec=spec,
                stopped=raw["stopped"],
                pending=list(raw.get("pending", [])),
                last_job=raw.get("last_job"),
                read=dict(raw.get("read", {})),
                job=Job.from_header(raw["job"]) if raw["job"] else None,
            )
            p.recent.extend(raw["recent"])
            p.done.extend(raw.get("done", []))
            self.pipelines[p.name] = p
        for row in await conn.fetch("SELECT pipeline, datum_id, hash, outputs FROM dispatch_index"):
            p = self.pipelines.get(row["pipeline"])
            if p is not None:
                entry = IndexEntry(
                    row["datum_id"],
                    row["hash"],
                    _core.entry_from_json(orjson.loads(row["outputs"])),
                )
                apply_delta(p.index, p.owners, {entry.datum_id: entry})
        for p in self.pipelines.values():
            if p.job is not None:
                p.job.results = await self._load_results(conn, p.job.job_id)
        log.info(
            "dispatch: restored %d pipelines at offsets %s", len(self.pipelines), self._offsets
        )

    async def _load_results(self, conn: Any, job_id: str) -> dict[str, Result]:
        rows = await conn.fetch(
            "SELECT datum_id, state, hash, outputs, carried, detail FROM dispatch_results WHERE job_id = $1",
            job_id,
        )
        return {
            r["datum_id"]: Result(
                r["state"],
                r["hash"],
                _core.entry_from_json(orjson.loads(r["outputs"])),
                r["carried"],
                r["detail"],
            )
            for r in rows
        }

    # ------------------------------------------------------------------------- the batch

    async def _step(self) -> None:
        records = await self._reader.read(timeout_ms=200)
        if not records and not self._startable():
            return
        self._batch = b = _Batch(
            events_topic=self._topics.events, requests_topic=self._topics.requests
        )
        offsets = dict(self._offsets)
        for rec in records:
            offsets[(rec.topic, rec.partition)] = rec.offset + 1
            now = rec.timestamp_ms / 1000 if rec.timestamp_ms else 0.0
            if rec.topic == self._topics.requests:
                # The commit processor answers the other requests; garbage is its to dead-letter.
                try:
                    event = decode(rec.value)
                except PachstreamError:
                    continue
                if isinstance(event, PIPELINE_REQUESTS):
                    await self._request(event, now)
                continue
            event = self.decode_or_dead_letter(rec, b.out)
            if event is not None:
                await self._fact(event, now)
        # A job that ends at once (no datums, an upstream failure) lets the next set start.
        while started := self._startable():
            for p, decision in started:
                await self._next_job(p, decision, b.now or 0.0)
        self._forget_sets()
        await self._producer.send_all(b.out)
        if b.tasks:
            futures = [await self._producer.send(t, k, v, part) for t, k, v, part in b.tasks]
            for f in futures:
                await f
        await self._checkpoint(b, offsets)
        self._offsets = offsets

    def _producers(self) -> dict[str, list[str]]:
        """Output source of each pipeline → its input sources (the DAG, for commit sets)."""
        return {_core.source(p.name, OUTPUT_BRANCH): p.sources() for p in self.pipelines.values()}

    def _startable(self) -> list[tuple[Pipeline, Decision]]:
        """Idle pipelines whose oldest pending set can start a job (or fail it) now."""
        idle = [
            p for p in self.pipelines.values() if p.job is None and not p.stopped and p.pending
        ]
        if not idle:
            return []  # the common case on every quiet step: build nothing
        producers = self._producers()
        heads = {k: (v[0], v[1]) for k, v in self.heads.items()}
        head_sets = {
            k: self.sets[v[2]] for k, v in self.heads.items() if len(v) > 2 and v[2] in self.sets
        }
        seqs = {k: v[3] for k, v in self.heads.items() if len(v) > 3}
        out: list[tuple[Pipeline, Decision]] = []
        for p in idle:
            commitset = self.sets.setdefault(p.pending[0], CommitSet())
            decision = decide(p.sources(), commitset, heads, producers, head_sets, seqs)
            if not isinstance(decision, Wait):
                out.append((p, decision))
        return out

    async def _next_job(self, p: Pipeline, decision: Decision, now: float) -> None:
        """Start the job of the pipeline's oldest pending set with the inputs decided."""
        commitset = p.pending.pop(0)
        p.done.append(commitset)
        self._batch.dirty.add(p.name)
        self._batch.meta = True
        cs = self.sets.setdefault(commitset, CommitSet())
        picks = decision.picks if isinstance(decision, Ready) else {}
        if isinstance(decision, Ready):
            if decision.older_than(p.read) is not None:
                # The set reached this pipeline late (a new or rerun upstream pipeline whose
                # output came after newer sets): its job would move the output back. The set
                # takes the output as it is, and goes on downstream.
                out = _core.source(p.name, OUTPUT_BRANCH)
                head = self.heads.get(out)
                if head is not None:
                    cs.add(out, (head[0], head[1]), head[3] if len(head) > 3 else 0, alias=True)
                    self._reach(commitset, p.name, OUTPUT_BRANCH)
                self._superseded(p, commitset, now, decision.older_than(p.read) or "")
                return
            for source, pick in picks.items():
                if pick is not None and source not in cs.commits:
                    cs.add(source, pick, decision.seqs.get(source, 0), alias=True)
                p.read[source] = max(p.read.get(source, 0), decision.seqs.get(source, 0))
        inputs = []
        for pfs in _pfs_inputs(p.spec.input):
            head = picks.get(pfs.source)
            inputs.append(
                {
                    "name": pfs.name,
                    "repo": pfs.repo,
                    "branch": pfs.branch,
                    "commit": head[0] if head else None,
                    "root": head[1] if head else None,
                }
            )
        failure = None
        if isinstance(decision, UpstreamFailed):
            failure = (
                f"it did not run: input '{decision.source}' has no commit in commit set "
                f"{commitset}, because {decision.reason}"
            )
        await self._start_job(p, now, inputs=inputs, commitset=commitset, failure=failure)

    def _superseded(self, p: Pipeline, commitset: str, now: float, source: str) -> None:
        """Record that a late set made no job here: a job that ran nothing and wrote nothing
        (so waits on the set end), saying why."""
        job = derive_id("superseded", p.name, commitset)
        b = self._batch
        b.fact(
            p.name,
            JobStarted(
                event_id=derive_id(job, JobStarted.TYPE), job_id=job, pipeline=p.name,
                version=p.version, inputs=(), output_commit="", time=now, datums=0, to_run=0,
                skipped=0, commitset=commitset,
            ),
        )  # fmt: skip
        b.fact(
            p.name,
            JobFinished(
                event_id=derive_id(job, JobFinished.TYPE), job_id=job, pipeline=p.name,
                state="success", output_commit=None, processed=0, skipped=0, failed=0,
                recovered=0, time=now,
                reason=(
                    f"nothing to do: the set reached '{p.name}' after newer commits of input "
                    f"'{source}' were processed; its output for the set is the current head"
                ),
            ),
        )  # fmt: skip

    def _forget_sets(self) -> None:
        """Drop the sets no pipeline waits on or runs (they are in Postgres for reading)."""
        used = in_use(
            {p.name: p.pending for p in self.pipelines.values()},
            {p.name: p.job.commitset if p.job else None for p in self.pipelines.values()},
        )
        for gone in [s for s in self.sets if s not in used]:
            del self.sets[gone]
            self._batch.meta = True

    def _new_set(self, p: Pipeline, commitset: str) -> None:
        """Queue a set that starts at this pipeline, holding its inputs' heads of now (as
        Pachyderm's sets hold every branch's head when they are made): a job that starts
        later still reads these."""
        cs = self.sets.setdefault(commitset, CommitSet())
        for source in p.sources():
            head = self.heads.get(source)
            if head is not None:
                cs.add(source, (head[0], head[1]), head[3] if len(head) > 3 else 0, alias=True)
        p.queue(commitset)
        self._batch.meta = True

    def _reach(self, commitset: str, repo: str, branch: str) -> None:
        """A set reached ``repo@branch`` (a commit, or a failure): queue it where it is read."""
        for p in self.pipelines.values():
            if p.reads(repo, branch) and p.queue(commitset):
                self._batch.dirty.add(p.name)

    # ------------------------------------------------------------------------- requests

    async def _request(self, req: Any, now: float) -> None:
        b = self._batch
        b.now = max(b.now, now)
        p = self.pipelines.get(req.pipeline)
        if p is not None and req.request_id in p.recent:
            return  # a writer's retry of a request already answered
        try:
            match req:
                case CreatePipeline():
                    await self._create(req)
                case DeletePipeline():
                    self._delete(req)
                case SetPipelineState():
                    self._set_state(req)
                case RerunJob():
                    await self._rerun(req)
                case StopJob():
                    await self._stop_job(req)
        except PachstreamError as err:
            b.fact(req.pipeline, _refused(req, err))
            return
        after = self.pipelines.get(req.pipeline)
        if after is not None:
            after.recent.append(req.request_id)
            b.dirty.add(after.name)
        b.fact(req.pipeline, _done(req))

    def _known_repo(self, name: str) -> bool:
        return name in self.repos or name in self.pipelines

    async def _create(self, req: CreatePipeline) -> None:
        b = self._batch
        spec = _checked_spec(req.pipeline, req.spec, self._known_repo)
        if spec.name != req.pipeline:
            raise InvalidSpec(
                f"the request names pipeline '{req.pipeline}' but its spec names '{spec.name}'",
                pipeline=req.pipeline,
            )
        old = self.pipelines.get(spec.name)
        if old is None and req.update:
            raise NotFound(
                f"pipeline '{spec.name}' does not exist; create it with 'pachstream create pipeline'",
                pipeline=spec.name,
            )
        if old is not None and not req.update:
            raise Conflict(
                f"pipeline '{spec.name}' exists; change it with 'pachstream update pipeline'",
                pipeline=spec.name,
            )
        if old is None and spec.name in self.repos:
            raise RepoExists(
                f"repo '{spec.name}' exists and is no pipeline's output; a pipeline writes to a repo "
                "of its own name: rename the pipeline or delete the repo",
                repo=spec.name,
            )
        version = (old.version if old else self.retired.get(spec.name, 0)) + 1
        salt = old.salt if old and not req.reprocess else derive_id("salt", req.request_id)
        p = Pipeline(name=spec.name, version=version, salt=salt, raw=req.spec, spec=spec)
        if old is not None:
            p.recent, p.index, p.owners, p.job = old.recent, old.index, old.owners, old.job
            p.stopped, p.pending, p.done, p.last_job, p.read = (
                old.stopped, old.pending, old.done, old.last_job, old.read,
            )  # fmt: skip
        else:
            # The output repo: keyed like this pipeline's requests, so it exists before any
            # output commit request (same partition, earlier offset).
            rid = derive_id(req.request_id, "output-repo")
            b.request(
                spec.name,
                CreateRepo(
                    request_id=rid,
                    repo=spec.name,
                    time=req.time,
                    description=f"output of pipeline {spec.name}",
                    pipeline=spec.name,
                ),
            )
        await ensure_topics(self._kafka, {self._topics.tasks(spec.name, version): spec.parallelism})
        self.pipelines[spec.name] = p
        # A new spec runs once on the inputs as they are now: a commit set of its own.
        self._new_set(p, derive_id("commitset", req.request_id))
        self.retired.pop(spec.name, None)
        b.meta = True
        b.fact(
            spec.name,
            PipelineCreated(
                event_id=derive_id(req.request_id, PipelineCreated.TYPE),
                request_id=req.request_id,
                pipeline=spec.name,
                version=version,
                spec=req.spec,
                salt=salt,
                time=req.time,
            ),
        )

    def _require(self, name: str) -> Pipeline:
        p = self.pipelines.get(name)
        if p is None:
            raise NotFound(
                f"pipeline '{name}' does not exist; see 'pachstream list pipeline'", pipeline=name
            )
        return p

    def _readers(self, repo: str) -> list[Pipeline]:
        """Pipelines with an input on any branch of ``repo``, by name."""
        return sorted(
            (p for p in self.pipelines.values() if any(r == repo for r, _ in p.spec.repos())),
            key=lambda p: p.name,
        )

    def _delete(self, req: DeletePipeline) -> None:
        b = self._batch
        p = self._require(req.pipeline)
        downstream = [d for d in self._readers(p.name) if d.name != p.name]
        if downstream and not req.force:
            names = ", ".join(f"'{d.name}'" for d in downstream)
            raise Conflict(
                f"pipeline '{p.name}' is read by pipeline(s) {names}; delete those first, or "
                f"pass --force to delete '{p.name}' and stop them",
                pipeline=p.name,
            )
        if p.job is not None:
            self._end_job(p, "killed", None, req.time, "the pipeline was deleted")
        del self.pipelines[p.name]
        self.retired[p.name] = p.version
        # Its repo is gone for this processor now: the delete below reaches the commit
        # processor before any later create of the name (same key, earlier offset).
        self.repos.discard(p.name)
        b.meta = True
        b.deleted.add(p.name)
        b.fact(p.name, _state_fact(req, "deleted"))
        b.request(
            p.name,
            DeleteRepo(
                request_id=derive_id(req.request_id, "output-repo"),
                repo=p.name,
                time=req.time,
                pipeline=p.name,
            ),
        )
        self._stop_readers(p.name, req.request_id, req.time, f"pipeline '{p.name}' was deleted")

    def _stop_readers(self, repo: str, cause: str, now: float, why: str) -> None:
        """Stop the pipelines that read a deleted repo: they must not run on nothing."""
        for d in self._readers(repo):
            if d.stopped:
                continue
            d.stopped = True
            self._batch.dirty.add(d.name)
            self._batch.fact(
                d.name,
                PipelineStateSet(
                    event_id=derive_id(cause, d.name, PipelineStateSet.TYPE),
                    request_id=derive_id(cause, d.name),
                    pipeline=d.name,
                    state="stopped",
                    time=now,
                    reason=f"stopped: its input {why}; update its spec, then start it",
                ),
            )
            log.warning("dispatch: pipeline %s stopped: its input %s", d.name, why)

    def _set_state(self, req: SetPipelineState) -> None:
        p = self._require(req.pipeline)
        p.stopped = req.stopped
        self._batch.fact(p.name, _state_fact(req, "stopped" if req.stopped else "running"))

    async def _stop_job(self, req: StopJob) -> None:
        p = self._require(req.pipeline)
        job = p.job
        if job is None or job.job_id != req.job_id:
            async with self._pool.acquire() as conn:
                known = await conn.fetchval(
                    "SELECT 1 FROM dispatch_jobs WHERE job_id = $1 AND pipeline = $2",
                    req.job_id,
                    p.name,
                )
            if not known:
                raise NotFound(
                    f"job {req.job_id} of pipeline '{p.name}' does not exist; see "
                    f"'pachstream list job -p {p.name}'",
                    job_id=req.job_id,
                )
            raise Conflict(
                f"job {req.job_id} of pipeline '{p.name}' has already ended; see "
                f"'pachstream inspect job {req.job_id}'",
                job_id=req.job_id,
            )
        if job.phase == "finishing":
            # Its output commit is on its way to the commit processor: it cannot be called back.
            raise Conflict(
                f"job {req.job_id} of pipeline '{p.name}' has run every datum and is writing its "
                "output commit; it ends in a moment",
                job_id=req.job_id,
            )
        self._end_job(p, "killed", None, req.time, "stopped by 'pachstream stop job'")

    async def _rerun(self, req: RerunJob) -> None:
        p = self._require(req.pipeline)
        if p.job is not None:
            raise Conflict(
                f"pipeline '{p.name}' is running job {p.job.job_id}; wait for it "
                f"('pachstream wait job {p.job.job_id}') and rerun then",
                pipeline=p.name,
            )
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT header FROM dispatch_jobs WHERE job_id = $1", req.job_id
            )
            if row is None or orjson.loads(row["header"]).get("pipeline", p.name) != p.name:
                raise NotFound(
                    f"job {req.job_id} of pipeline '{p.name}' does not exist; see 'pachstream list job -p {p.name}'",
                    job_id=req.job_id,
                )
            earlier = await self._load_results(conn, req.job_id)
        header = orjson.loads(row["header"])
        if p.last_job is not None and req.job_id != p.last_job:
            # Its output would land on top of newer work and move the branch back.
            raise Conflict(
                f"job {req.job_id} is not the last job of pipeline '{p.name}' "
                f"({p.last_job} ran after it); rerun that one: 'pachstream rerun job "
                f"{p.last_job}'",
                job_id=req.job_id,
            )
        if req.datum_id is not None and req.datum_id not in earlier and req.datum_id not in p.index:
            raise NotFound(
                f"datum {req.datum_id} is not a datum of job {req.job_id}; see 'pachstream list datum {req.job_id}'",
                datum_id=req.datum_id,
            )
        force = frozenset([req.datum_id]) if req.datum_id else frozenset()
        await self._start_job(
            p,
            req.time,
            inputs=header["inputs"],
            job=derive_id("rerun", req.request_id),
            earlier=earlier if (req.failed_only or req.datum_id) else {},
            every_job=not req.failed_only and req.datum_id is None,
            force=force,
            rerun_of=req.job_id,
            commitset=derive_id("commitset", req.request_id),
        )

    # ------------------------------------------------------------------------- facts

    async def _fact(self, fact: Any, now: float) -> None:
        b = self._batch
        match fact:
            case RepoCreated():
                self.repos.add(fact.repo)
                b.meta = True
            case RepoDeleted():
                self.repos.discard(fact.repo)
                for key in [k for k in self.heads if k.split("@", 1)[0] == fact.repo]:
                    del self.heads[key]
                b.meta = True
                # Deleted with --force while pipelines read it: they stop, saying why.
                self._stop_readers(
                    fact.repo, fact.event_id, fact.time, f"repo '{fact.repo}' was deleted"
                )
            case CommitFinished():
                b.now = max(b.now, fact.finished)
                self._head(
                    fact.repo, fact.branch, fact.commit_id, fact.root or None,
                    fact.commitset or fact.commit_id,
                )  # fmt: skip
                owner = self.pipelines.get(fact.repo)
                if (
                    owner
                    and owner.job
                    and owner.job.phase == "finishing"
                    and owner.job.output_commit == fact.commit_id
                ):
                    self._succeed(owner, fact.finished)
            case CommitDeleted():
                # The branches went back to the parent: pipelines run on it again (a set of
                # its own), so that outputs match the inputs as they are now.
                for m in fact.moved:
                    key = _core.source(fact.repo, m.branch)
                    seen = self.heads.get(key)
                    if seen is None or seen[0] == m.head:
                        continue  # an open commit no pipeline saw
                    if m.head is None:
                        del self.heads[key]  # nothing left to run on; outputs stay
                        b.meta = True
                        continue
                    self._head(fact.repo, m.branch, m.head, m.root, fact.commitset)
            case RequestDone():
                self._check_output_request(fact)
            case DatumFinished():
                b.now = max(b.now, fact.started + fact.duration_s)
                p = self.pipelines.get(fact.pipeline)
                job = p.job if p else None
                if p is None or job is None or job.job_id != fact.job_id or job.phase != "running":
                    return  # a late or repeated result of a job that moved on
                if fact.datum_id not in job.expect or fact.datum_id in job.results:
                    return  # first result wins (a restarted worker runs a datum twice)
                result = _core.result_of(fact)
                job.results[fact.datum_id] = result
                b.results.append((p.name, job.job_id, fact.datum_id, result))
                if job.expect.issubset(job.results):
                    self._complete(p, b.now)

    def _head(self, repo: str, branch: str, commit: str, root: str | None, commitset: str) -> None:
        """A branch has a new head, of ``commitset``: record it and queue the set."""
        key = _core.source(repo, branch)
        old = self.heads.get(key)
        seq = (old[3] if old and len(old) > 3 else 0) + 1
        self.heads[key] = [commit, root, commitset, seq]
        self.sets.setdefault(commitset, CommitSet()).add(key, (commit, root), seq)
        self._batch.meta = True
        self._reach(commitset, repo, branch)

    def _check_output_request(self, fact: RequestDone) -> None:
        p = self.pipelines.get(fact.repo)
        job = p.job if p else None
        if p is None or job is None or job.phase != "finishing":
            return
        if fact.request_id != output_request_id(job.job_id):
            return
        if not fact.ok:
            self._end_job(
                p,
                "failure",
                None,
                self._batch.now,
                f"the output commit was refused: {fact.error_message}",
            )
        elif fact.commit_id != job.output_commit:
            self._end_job(
                p,
                "failure",
                None,
                self._batch.now,
                f"branch '{OUTPUT_BRANCH}' of output repo '{p.name}' had open commit {fact.commit_id}, "
                f"which took this job's outputs; finish or delete that commit and rerun job {job.job_id}",
            )

    # ------------------------------------------------------------------------- jobs

    async def _tree(self, repo: str, branch: str, head: list[Any] | None) -> dict[str, FileEntry]:
        """Entries of a branch head, cached per branch by root."""
        key = _core.source(repo, branch)
        root_key = head[1] if head else None
        cached = self._tree_cache.get(key)
        if cached is not None and cached[0] == root_key:
            return cached[1]
        entries: dict[str, FileEntry] = {}
        if root_key is not None:
            root = await self._trees.root(root_key)
            async for path, raw in self._trees.walk(root):
                entries[path] = raw_to_entry(raw)
        self._tree_cache[key] = (root_key, entries)
        return entries

    async def _start_job(
        self,
        p: Pipeline,
        now: float,
        *,
        inputs: list[dict[str, Any]],
        commitset: str,
        job: str | None = None,
        earlier: dict[str, Result] | None = None,
        every_job: bool = False,
        force: frozenset[str] = frozenset(),
        rerun_of: str | None = None,
        failure: str | None = None,
    ) -> None:
        """Start a job on ``inputs`` for ``commitset``; with ``failure``, end it at once."""
        b = self._batch
        commits = [
            InputCommit(name=i["name"], repo=i["repo"], branch=i["branch"], commit_id=i["commit"])
            for i in inputs
        ]
        if job is None:
            job = _core.job_id(p.name, p.version, p.salt, commits, commitset)
        entries: dict[str, dict[str, FileEntry]] = {}
        heads: dict[str, str | None] = {}
        for i in inputs if failure is None else ():
            key = _core.source(i["repo"], i["branch"])
            head = [i["commit"], i["root"]] if i["commit"] else None
            entries[key] = await self._tree(i["repo"], i["branch"], head)
            heads[key] = i["commit"]
        output_commit = output_commit_id(p.name, job)
        outcome = failure or _core.plan_or_reason(
            p.spec, p.version, p.salt, job, p.index, entries, heads,
            earlier=earlier, every_job=every_job, force=force,
        )  # fmt: skip
        made = outcome if isinstance(outcome, _core.NewJob) else None
        planned = made.plan if made else JobPlan()
        carried = made.carried if made else {}
        j = Job(
            job_id=job,
            version=p.version,
            inputs=inputs,
            output_commit=output_commit,
            started=now,
            expect={t.datum_id for t in made.tasks} if made else set(),
            skipped=len(planned.skip),
            vanished=sorted(e.datum_id for e in planned.vanished),
            rerun_of=rerun_of,
            commitset=commitset,
        )
        j.results.update(carried)
        b.results.extend((p.name, job, i, r) for i, r in carried.items())
        p.job = j
        b.dirty.add(p.name)
        b.jobs.append((job, p.name, {**j.header(), "pipeline": p.name}))
        b.fact(
            p.name,
            JobStarted(
                event_id=derive_id(job, JobStarted.TYPE),
                job_id=job,
                pipeline=p.name,
                version=p.version,
                inputs=tuple(commits),
                output_commit=output_commit,
                time=now,
                datums=planned.total,
                to_run=len(planned.run),
                skipped=len(planned.skip) + len(carried),
                rerun_of=rerun_of,
                commitset=commitset,
            ),
        )
        if isinstance(outcome, str):
            self._end_job(p, "failure", None, now, outcome)
            return
        assert made is not None
        topic = self._topics.tasks(p.name, p.version)
        for n, task in enumerate(made.tasks):
            b.tasks.append((topic, task.datum_id, encode(task), n % p.spec.parallelism))
        log.info(
            "dispatch: job %s of %s: %d datums, %d to run, %d skipped",
            job, p.name, planned.total, len(planned.run), len(planned.skip) + len(carried),
        )  # fmt: skip
        if not j.expect:
            self._complete(p, now)

    def _complete(self, p: Pipeline, now: float) -> None:
        """Every result is in: fail the job, or write its output commit."""
        job = p.job
        assert job is not None
        reason = _core.failure_reason(job.job_id, job.results)
        if reason is not None:
            self._end_job(p, "failure", None, now, reason)
            return
        try:
            delta = output_delta(p.index, p.owners, _core.changes(job.results, job.vanished))
        except OutputConflict as err:
            self._end_job(p, "failure", None, now, f"output conflict: {err.message}")
            return
        except Exception as err:  # noqa: BLE001 - one pipeline's outputs must not stop the loop
            log.exception("dispatch: merging outputs of job %s of %s failed", job.job_id, p.name)
            self._end_job(
                p, "failure", None, now,
                f"its outputs could not be merged ({type(err).__name__}: {err}); this is a "
                "pachstream defect, please report it",
            )  # fmt: skip
            return
        job.phase = "finishing"
        self._batch.dirty.add(p.name)
        self._batch.request(
            p.name,
            ModifyFiles(
                request_id=output_request_id(job.job_id),
                repo=p.name,
                branch=OUTPUT_BRANCH,
                time=now,
                ops=_core.output_ops(delta),
                description=f"output of job {job.job_id}",
                commitset=job.commitset,
                pipeline=p.name,
            ),
        )

    def _succeed(self, p: Pipeline, now: float) -> None:
        job = p.job
        assert job is not None
        changed = _core.changes(job.results, job.vanished)
        apply_delta(p.index, p.owners, changed)
        self._batch.index.append((p.name, changed))
        self._end_job(p, "success", job.output_commit, now, "")

    def _end_job(
        self, p: Pipeline, state: str, output: str | None, now: float, reason: str
    ) -> None:
        job = p.job
        assert job is not None
        counts = {"success": 0, "failed": 0, "recovered": 0}
        carried = 0
        for r in job.results.values():
            if r.carried:
                carried += 1
            else:
                counts[r.state] = counts.get(r.state, 0) + 1
        self._batch.fact(
            p.name,
            JobFinished(
                event_id=derive_id(job.job_id, JobFinished.TYPE),
                job_id=job.job_id,
                pipeline=p.name,
                state=state,  # type: ignore[arg-type]
                output_commit=output,
                processed=counts["success"],
                skipped=job.skipped + carried,
                failed=counts["failed"],
                recovered=counts["recovered"],
                time=now,
                reason=reason,
            ),
        )
        if state != "success":
            log.warning("dispatch: job %s of %s: %s: %s", job.job_id, p.name, state, reason)
            commitset = self.sets.get(job.commitset) if job.commitset else None
            if commitset is not None and commitset.commits:
                # The set will have no commit here: whoever waits for one fails, saying why.
                assert job.commitset is not None
                commitset.failed[_core.source(p.name, OUTPUT_BRANCH)] = (
                    f"job {job.job_id} of pipeline '{p.name}' ended in {state}"
                )
                self._reach(job.commitset, p.name, OUTPUT_BRANCH)
                self._batch.meta = True
        p.job = None
        p.last_job = job.job_id
        self._batch.dirty.add(p.name)

    # ------------------------------------------------------------------------- checkpoint

    async def _checkpoint(self, b: _Batch, offsets: dict[tuple[str, int], int]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            for name in b.deleted:
                if name not in self.pipelines:
                    await conn.execute("DELETE FROM dispatch_pipelines WHERE name = $1", name)
                    await conn.execute("DELETE FROM dispatch_index WHERE pipeline = $1", name)
            if b.jobs:
                await conn.executemany(
                    "INSERT INTO dispatch_jobs VALUES ($1, $2, $3) ON CONFLICT (job_id) DO NOTHING",
                    [(j, name, orjson.dumps(h).decode()) for j, name, h in b.jobs],
                )
            if b.results:
                await conn.executemany(
                    "INSERT INTO dispatch_results VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                    "ON CONFLICT (job_id, datum_id) DO NOTHING",
                    [
                        (
                            job,
                            datum,
                            name,
                            r.state,
                            r.hash,
                            orjson.dumps(_core.entry_json(r.outputs)).decode(),
                            r.carried,
                            r.detail,
                        )
                        for name, job, datum, r in b.results
                    ],
                )
            for name, changed in b.index:
                gone = [(name, i) for i, e in changed.items() if e is None]
                if gone:
                    await conn.executemany(
                        "DELETE FROM dispatch_index WHERE pipeline = $1 AND datum_id = $2", gone
                    )
                rows = [
                    (name, i, e.hash, orjson.dumps(_core.entry_json(e.outputs)).decode())
                    for i, e in changed.items()
                    if e is not None
                ]
                if rows:
                    await conn.executemany(
                        "INSERT INTO dispatch_index VALUES ($1, $2, $3, $4) ON CONFLICT (pipeline, datum_id) "
                        "DO UPDATE SET hash = EXCLUDED.hash, outputs = EXCLUDED.outputs",
                        rows,
                    )
            for name in b.dirty:
                p = self.pipelines.get(name)
                if p is not None:
                    await conn.execute(
                        "INSERT INTO dispatch_pipelines VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state",
                        name,
                        orjson.dumps(p.state_json()).decode(),
                    )
            if b.meta:
                await conn.executemany(
                    "INSERT INTO dispatch_meta VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    [
                        ("repos", orjson.dumps(sorted(self.repos)).decode()),
                        ("heads", orjson.dumps(self.heads).decode()),
                        (
                            "sets",
                            orjson.dumps({k: v.to_json() for k, v in self.sets.items()}).decode(),
                        ),
                        ("retired", orjson.dumps(self.retired).decode()),
                    ],
                )
            await self.save_offsets(conn, offsets)


@dataclass
class _Batch:
    """What one batch produces and changes."""

    out: list[tuple[str, str | None, bytes]] = field(default_factory=list)
    tasks: list[tuple[str, str, bytes, int]] = field(default_factory=list)
    dirty: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    results: list[tuple[str, str, str, Result]] = field(default_factory=list)
    index: list[tuple[str, dict[str, IndexEntry | None]]] = field(default_factory=list)
    jobs: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    meta: bool = False
    now: float = 0.0
    events_topic: str = ""
    requests_topic: str = ""

    def fact(self, key: str, event: Any) -> None:
        """Queue a fact for the events topic."""
        self.out.append((self.events_topic, key, encode(event)))

    def request(self, key: str, event: Any) -> None:
        """Queue a request for the commit processor."""
        self.out.append((self.requests_topic, key, encode(event)))


def _checked_spec(
    pipeline: str, raw: dict[str, Any], known_repos: Callable[[str], bool] | None
) -> PipelineSpec:
    """Parse a spec; a defect of the parser refuses this spec, it never stops the loop."""
    try:
        return parse_spec(raw, known_repos)
    except PachstreamError:
        raise
    except Exception as err:  # noqa: BLE001 - the spec is user input
        log.exception("dispatch: checking the spec of pipeline %r failed", pipeline)
        raise InvalidSpec(
            f"pipeline '{pipeline}': the spec could not be checked ({type(err).__name__}: {err}); "
            "this is a pachstream defect, please report it with the spec",
            pipeline=pipeline,
        ) from err


def _done(req: Any) -> RequestDone:
    return RequestDone(
        event_id=derive_id(req.request_id, RequestDone.TYPE),
        request_id=req.request_id,
        repo=req.pipeline,
        ok=True,
    )


def _refused(req: Any, err: PachstreamError) -> RequestDone:
    return refused(req, err, repo=req.pipeline)


def _state_fact(req: Any, state: str) -> PipelineStateSet:
    return PipelineStateSet(
        event_id=derive_id(req.request_id, PipelineStateSet.TYPE),
        request_id=req.request_id,
        pipeline=req.pipeline,
        state=state,  # type: ignore[arg-type]
        time=req.time,
    )
