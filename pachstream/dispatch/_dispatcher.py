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
from dataclasses import dataclass, field
from typing import Any

import orjson

from pachstream.codec import decode, encode
from pachstream.commits._core import refused
from pachstream.commits.events import (
    CommitFinished,
    CreateRepo,
    DeleteRepo,
    FileEntry,
    ModifyFiles,
    RepoCreated,
    RepoDeleted,
    RequestDone,
    derive_id,
)
from pachstream.dispatch import _core
from pachstream.dispatch._core import OUTPUT_BRANCH, Result
from pachstream.dispatch.datums import PfsInput, datums
from pachstream.dispatch.events import (
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
)
from pachstream.dispatch.plan import IndexEntry, OutputConflict, apply_delta, output_delta, plan_job
from pachstream.dispatch.spec import PipelineSpec, _pfs_inputs, parse_spec
from pachstream.errors import Conflict, InvalidSpec, NotFound, PachstreamError, RepoExists
from pachstream.kafka import ensure_topics
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
        }

    @classmethod
    def from_header(cls, raw: dict[str, Any]) -> Job:
        """Inverse of :meth:`header`."""
        return cls(**{**raw, "expect": set(raw["expect"])})


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
    last_job_key: str | None = None
    """Job id of the last job started for new inputs: the same inputs start no second job."""
    trigger: bool = False
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
            "last_job_key": self.last_job_key,
            "trigger": self.trigger,
            "job": self.job.header() if self.job else None,
        }

    def reads(self, repo: str, branch: str) -> bool:
        """Whether a commit on ``repo@branch`` feeds this pipeline."""
        return (repo, branch) in self.spec.repos()


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
        """'repo@branch' → [commit id, root key] of the last finished commit."""
        self._tree_cache: dict[str, tuple[str | None, dict[str, FileEntry], dict[str, str]]] = {}
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
        for row in await conn.fetch("SELECT state FROM dispatch_pipelines"):
            raw = orjson.loads(row["state"])
            p = Pipeline(
                name=raw["name"],
                version=raw["version"],
                salt=raw["salt"],
                raw=raw["raw"],
                spec=parse_spec(raw["raw"]),
                stopped=raw["stopped"],
                last_job_key=raw["last_job_key"],
                trigger=raw["trigger"],
                job=Job.from_header(raw["job"]) if raw["job"] else None,
            )
            p.recent.extend(raw["recent"])
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
        if not records and not any(p.trigger for p in self.pipelines.values()):
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
                if isinstance(event, (CreatePipeline, DeletePipeline, SetPipelineState, RerunJob)):
                    await self._request(event, now)
                continue
            event = self.decode_or_dead_letter(rec, b.out)
            if event is not None:
                await self._fact(event, now)
        for p in list(self.pipelines.values()):
            if p.trigger and p.job is None and not p.stopped:
                p.trigger = False
                b.dirty.add(p.name)
                await self._start_job(p, b.now or 0.0)
        await self._producer.send_all(b.out)
        if b.tasks:
            futures = [await self._producer.send(t, k, v, part) for t, k, v, part in b.tasks]
            for f in futures:
                await f
        await self._checkpoint(b, offsets)
        self._offsets = offsets

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
        spec = parse_spec(req.spec, self._known_repo)
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
        version = old.version + 1 if old else 1
        salt = old.salt if old and not req.reprocess else derive_id("salt", req.request_id)
        p = Pipeline(
            name=spec.name, version=version, salt=salt, raw=req.spec, spec=spec, trigger=True
        )
        if old is not None:
            p.recent, p.index, p.owners, p.job = old.recent, old.index, old.owners, old.job
            p.stopped = old.stopped
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
                ),
            )
        await ensure_topics(self._kafka, {self._topics.tasks(spec.name, version): spec.parallelism})
        self.pipelines[spec.name] = p
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

    def _delete(self, req: DeletePipeline) -> None:
        b = self._batch
        p = self._require(req.pipeline)
        if p.job is not None:
            self._end_job(p, "killed", None, req.time, "the pipeline was deleted")
        del self.pipelines[p.name]
        b.deleted.add(p.name)
        b.fact(p.name, _state_fact(req, "deleted"))
        b.request(
            p.name,
            DeleteRepo(
                request_id=derive_id(req.request_id, "output-repo"), repo=p.name, time=req.time
            ),
        )

    def _set_state(self, req: SetPipelineState) -> None:
        p = self._require(req.pipeline)
        p.stopped = req.stopped
        p.trigger = not req.stopped
        self._batch.fact(p.name, _state_fact(req, "stopped" if req.stopped else "running"))

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
            case CommitFinished():
                b.now = max(b.now, fact.finished)
                self.heads[f"{fact.repo}@{fact.branch}"] = [fact.commit_id, fact.root or None]
                b.meta = True
                for p in self.pipelines.values():
                    if p.reads(fact.repo, fact.branch):
                        p.trigger = True
                        b.dirty.add(p.name)
                owner = self.pipelines.get(fact.repo)
                if (
                    owner
                    and owner.job
                    and owner.job.phase == "finishing"
                    and owner.job.output_commit == fact.commit_id
                ):
                    self._succeed(owner, fact.finished)
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

    def _check_output_request(self, fact: RequestDone) -> None:
        p = self.pipelines.get(fact.repo)
        job = p.job if p else None
        if p is None or job is None or job.phase != "finishing":
            return
        if fact.request_id != _core.output_request_id(job.job_id):
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

    async def _tree(
        self, repo: str, branch: str, head: list[Any] | None
    ) -> tuple[dict[str, FileEntry], dict[str, str]]:
        """Entries and path → hash of a branch head, cached per branch by root."""
        key = f"{repo}@{branch}"
        root_key = head[1] if head else None
        cached = self._tree_cache.get(key)
        if cached is not None and cached[0] == root_key:
            return cached[1], cached[2]
        entries: dict[str, FileEntry] = {}
        if root_key is not None:
            root = await self._trees.root(root_key)
            async for path, raw in self._trees.walk(root):
                entries[path] = raw_to_entry(raw)
        hashes = {p: e.hash for p, e in entries.items()}
        self._tree_cache[key] = (root_key, entries, hashes)
        return entries, hashes

    async def _start_job(
        self,
        p: Pipeline,
        now: float,
        *,
        inputs: list[dict[str, Any]] | None = None,
        job: str | None = None,
        earlier: dict[str, Result] | None = None,
        every_job: bool = False,
        force: frozenset[str] = frozenset(),
        rerun_of: str | None = None,
    ) -> None:
        b = self._batch
        pfs: dict[str, PfsInput] = {i.name: i for i in _pfs_inputs(p.spec.input)}
        if inputs is None:
            inputs = []
            for i in pfs.values():
                head = self.heads.get(f"{i.repo}@{i.branch}")
                inputs.append(
                    {
                        "name": i.name,
                        "repo": i.repo,
                        "branch": i.branch,
                        "commit": head[0] if head else None,
                        "root": head[1] if head else None,
                    }
                )
        commits = [
            InputCommit(name=i["name"], repo=i["repo"], branch=i["branch"], commit_id=i["commit"])
            for i in inputs
        ]
        if job is None:
            job = _core.job_id(p.name, p.version, p.salt, commits)
            if job == p.last_job_key:
                return  # these inputs already had their job
            p.last_job_key = job
        entries: dict[str, dict[str, FileEntry]] = {}
        trees: dict[str, dict[str, str]] = {}
        for i in inputs:
            head = [i["commit"], i["root"]] if i["commit"] else None
            entries[i["name"]], trees[i["name"]] = await self._tree(i["repo"], i["branch"], head)
        every = every_job or p.spec.reprocess == "every_job"
        made = datums(p.spec.input, trees)
        successes = {
            i: IndexEntry(i, r.hash, r.outputs)
            for i, r in (earlier or {}).items()
            if r.state == "success"
        }
        planned = plan_job(p.index, made, p.salt, every_job=every, earlier=successes, force=force)
        carried = {
            i: Result("success", e.hash, dict(e.outputs), carried=True)
            for i, e in planned.carried.items()
        }
        output_commit = _core.output_commit_id(p.name, job)
        j = Job(
            job_id=job,
            version=p.version,
            inputs=inputs,
            output_commit=output_commit,
            started=now,
            expect={d.id for d in planned.run},
            skipped=len(planned.skip),
            vanished=sorted(e.datum_id for e in planned.vanished),
            rerun_of=rerun_of,
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
            ),
        )
        topic = self._topics.tasks(p.name, p.version)
        by_name = {i["name"]: i["commit"] for i in inputs}
        for n, d in enumerate(planned.run):
            task = _core.task_for(
                d, p.spec, p.version, p.salt, job, output_commit, by_name, entries, pfs
            )
            b.tasks.append((topic, d.id, encode(task), n % p.spec.parallelism))
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
        job.phase = "finishing"
        self._batch.dirty.add(p.name)
        self._batch.request(
            p.name,
            ModifyFiles(
                request_id=_core.output_request_id(job.job_id),
                repo=p.name,
                branch=OUTPUT_BRANCH,
                time=now,
                ops=_core.output_ops(delta),
                description=f"output of job {job.job_id}",
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
        p.job = None
        p.trigger = True  # inputs may have moved while the job ran
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
