"""The dispatcher's decisions: ``handle(state, fact)`` yields the steps the shell performs.

Pure: no await, clock, randomness or I/O. Times come with the facts (record timestamps and
event times); trees and stored jobs come back as answers to the steps that ask for them
(:class:`LoadTrees` → :class:`TreesLoaded`, :class:`LoadJob` → :class:`JobLoaded`), sent
into the flow like httpx's ``Auth.auth_flow``. A replay of the same facts on the same state
yields the same steps, which is what makes a restart exact. A :class:`PachstreamError`
that the shell meets while performing a step is thrown into the flow at that step: a
pipeline request then gets its refusal, as when the core itself refuses.

A job's lifecycle (:class:`JobPhase`)::

    set ready / rerun ─→ RUNNING ──every result in──→ FINISHING ──output commit──→ SUCCESS
                           │  (datum failed, no datums made,        │ (commit refused, or
                           │   output conflict, upstream failed)    │  taken by an open commit)
                           ├──────────────→ FAILURE ←───────────────┤
                           └─stop job, delete pipeline─→ KILLED ←───┘ (delete pipeline only)

When jobs start, and how commit sets queue up, is :mod:`._jobs`.
"""

from __future__ import annotations

from typing import Any

from pachstream.commits.events import (
    CommitDeleted,
    CommitFinished,
    CreateRepo,
    DeleteRepo,
    RepoCreated,
    RepoDeleted,
    RequestDone,
    accepted,
    refused,
)
from pachstream.dispatch import _core
from pachstream.dispatch._core import OUTPUT_BRANCH
from pachstream.dispatch._jobs import (
    Flow,
    complete,
    emit_fact,
    emit_request,
    end_job,
    forget_sets,
    new_head,
    new_set,
    next_job,
    readers,
    start_job,
    startable,
    stop_readers,
)
from pachstream.dispatch._state import DispatchState, JobPhase, Pipeline
from pachstream.dispatch._steps import (
    BatchEnded,
    BatchStarted,
    DropPipeline,
    EnsureTaskTopic,
    Fact,
    JobLoaded,
    LoadJob,
    Observed,
    Requested,
    SaveIndex,
    SaveMeta,
    SavePipeline,
    SaveResults,
)
from pachstream.dispatch.events import (
    CreatePipeline,
    DatumFinished,
    DeletePipeline,
    PipelineCreated,
    PipelineStateSet,
    RerunJob,
    SetPipelineState,
    StopJob,
)
from pachstream.dispatch.plan import apply_delta
from pachstream.errors import (
    Conflict,
    InvalidSpec,
    NotFound,
    PachstreamError,
    RepoExists,
)
from pachstream.model import derive_id, output_request_id

__all__ = ["Flow", "handle", "startable"]


def handle(state: DispatchState, fact: Fact) -> Flow:
    """The steps that follow from ``fact`` (``state`` changes in place as they are made)."""
    match fact:
        case BatchStarted():
            state.now = 0.0
        case Requested():
            yield from _request(state, fact.request, fact.time, fact.events_read)
        case Observed():
            yield from _observe(state, fact.event, fact.time)
        case BatchEnded():
            # A job that ends at once (no datums, an upstream failure) lets the next set start.
            while started := startable(state):
                for p, decision in started:
                    yield from next_job(state, p, decision, state.now or 0.0)
            yield from forget_sets(state)


# ----------------------------------------------------------------------------- requests


AFTER_WAIT_S = 60.0
"""How long a create request waits for the dispatcher to read the events its writer saw;
past it, the request is decided on what the dispatcher knows (a position that never comes:
a topic made again under a database that remembers the old one)."""


def _request(s: DispatchState, req: Any, now: float, events_read: dict[int, int]) -> Flow:
    s.now = max(s.now, now)
    p = s.pipelines.get(req.pipeline)
    if p is not None and req.request_id in p.recent:
        return  # a writer's retry of a request already answered
    if isinstance(req, CreatePipeline) and waits_for_events(req, events_read, now):
        # Requests and facts are two topics: the writer saw its repo created (lineage had
        # the fact), but this reader may not have read that fact yet. The request goes to
        # the back of its partition, to be read again after more of the events topic.
        yield emit_request(req.pipeline, req)
        return
    try:
        match req:
            case CreatePipeline():
                yield from _create(s, req)
            case DeletePipeline():
                yield from _delete(s, req)
            case SetPipelineState():
                p = _require(s, req.pipeline)
                p.stopped = req.stopped
                yield emit_fact(p.name, _state_fact(req, "stopped" if req.stopped else "running"))
            case RerunJob():
                yield from _rerun(s, req)
            case StopJob():
                yield from _stop_job(s, req)
    except PachstreamError as err:
        yield emit_fact(req.pipeline, refused(req, err, repo=req.pipeline))
        return
    after = s.pipelines.get(req.pipeline)
    if after is not None:
        after.recent.append(req.request_id)
        yield SavePipeline(after.name)
    yield emit_fact(req.pipeline, accepted(req, repo=req.pipeline))


def waits_for_events(req: CreatePipeline, events_read: dict[int, int], now: float) -> bool:
    """Whether ``req`` names events (``req.after``) this reader has not read yet, and may
    still wait for them (:data:`AFTER_WAIT_S` from its writing, by the record's clock).
    """
    if not now or now - req.time >= AFTER_WAIT_S:
        return False
    return any(events_read.get(partition, 0) < offset for partition, offset in req.after)


def _state_fact(req: Any, state: str) -> PipelineStateSet:
    return PipelineStateSet(
        event_id=derive_id(req.request_id, PipelineStateSet.TYPE),
        request_id=req.request_id,
        pipeline=req.pipeline,
        state=state,  # type: ignore[arg-type]
        time=req.time,
    )


def _create(s: DispatchState, req: CreatePipeline) -> Flow:
    spec = _core.checked_spec(
        req.pipeline, req.spec, lambda name: name in s.repos or name in s.pipelines
    )
    if s.kubernetes_workers:
        _core.refuse_what_kubernetes_workers_ignore(spec)
    else:
        _core.refuse_what_local_workers_ignore(spec)
    if spec.name != req.pipeline:
        raise InvalidSpec(
            f"the request names pipeline '{req.pipeline}' but its spec names '{spec.name}'",
            pipeline=req.pipeline,
        )
    old = s.pipelines.get(spec.name)
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
    if old is None and spec.name in s.repos:
        raise RepoExists(
            f"repo '{spec.name}' exists and is no pipeline's output; a pipeline writes to a repo "
            "of its own name: rename the pipeline or delete the repo",
            repo=spec.name,
        )
    version = (old.version if old else s.retired.get(spec.name, 0)) + 1
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
        yield emit_request(
            spec.name,
            CreateRepo(
                request_id=derive_id(req.request_id, "output-repo"),
                repo=spec.name,
                time=req.time,
                description=f"output of pipeline {spec.name}",
                pipeline=spec.name,
            ),
        )
    yield EnsureTaskTopic(spec.name, version, spec.parallelism)
    s.pipelines[spec.name] = p
    # A new spec runs once on the inputs as they are now: a commit set of its own.
    yield from new_set(s, p, derive_id("commitset", req.request_id))
    s.unretire(spec.name)
    yield SaveMeta()
    yield emit_fact(
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


def _require(s: DispatchState, name: str) -> Pipeline:
    p = s.pipelines.get(name)
    if p is None:
        raise NotFound(
            f"pipeline '{name}' does not exist; see 'pachstream list pipeline'", pipeline=name
        )
    return p


def _delete(s: DispatchState, req: DeletePipeline) -> Flow:
    p = _require(s, req.pipeline)
    downstream = [d for d in readers(s, p.name) if d.name != p.name]
    if downstream and not req.force:
        names = ", ".join(f"'{d.name}'" for d in downstream)
        raise Conflict(
            f"pipeline '{p.name}' is read by pipeline(s) {names}; delete those first, or "
            f"pass --force to delete '{p.name}' and stop them",
            pipeline=p.name,
        )
    if p.job is not None:
        yield from end_job(s, p, JobPhase.KILLED, None, req.time, "the pipeline was deleted")
    del s.pipelines[p.name]
    s.retire(p.name, p.version)
    # Its repo is gone for this processor now: the delete below reaches the commit
    # processor before any later create of the name (same key, earlier offset).
    s.drop_repo(p.name)
    yield DropPipeline(p.name)
    yield emit_fact(p.name, _state_fact(req, "deleted"))
    yield emit_request(
        p.name,
        DeleteRepo(
            request_id=derive_id(req.request_id, "output-repo"),
            repo=p.name,
            time=req.time,
            pipeline=p.name,
        ),
    )
    yield from stop_readers(s, p.name, req.request_id, req.time, f"pipeline '{p.name}' was deleted")


def _stop_job(s: DispatchState, req: StopJob) -> Flow:
    p = _require(s, req.pipeline)
    job = p.job
    if job is None or job.job_id != req.job_id:
        stored = yield LoadJob(req.job_id, results=False)
        assert isinstance(stored, JobLoaded)
        if stored.pipeline != p.name:
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
    if job.phase is JobPhase.FINISHING:
        # Its output commit is on its way to the commit processor: it cannot be called back.
        raise Conflict(
            f"job {req.job_id} of pipeline '{p.name}' has run every datum and is writing its "
            "output commit; it ends in a moment",
            job_id=req.job_id,
        )
    yield from end_job(s, p, JobPhase.KILLED, None, req.time, "stopped by 'pachstream stop job'")


def _rerun(s: DispatchState, req: RerunJob) -> Flow:
    p = _require(s, req.pipeline)
    if p.job is not None:
        raise Conflict(
            f"pipeline '{p.name}' is running job {p.job.job_id}; wait for it "
            f"('pachstream wait job {p.job.job_id}') and rerun then",
            pipeline=p.name,
        )
    stored = yield LoadJob(req.job_id, results=True)
    assert isinstance(stored, JobLoaded)
    header = stored.header
    if header is None or header.get("pipeline", p.name) != p.name:
        raise NotFound(
            f"job {req.job_id} of pipeline '{p.name}' does not exist; see "
            f"'pachstream list job -p {p.name}'",
            job_id=req.job_id,
        )
    earlier = stored.results
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
            f"datum {req.datum_id} is not a datum of job {req.job_id}; see "
            f"'pachstream list datum {req.job_id}'",
            datum_id=req.datum_id,
        )
    yield from start_job(
        s,
        p,
        req.time,
        inputs=header["inputs"],
        job=derive_id("rerun", req.request_id),
        earlier=earlier if (req.failed_only or req.datum_id) else {},
        every_job=not req.failed_only and req.datum_id is None,
        force=frozenset([req.datum_id]) if req.datum_id else frozenset(),
        rerun_of=req.job_id,
        commitset=derive_id("commitset", req.request_id),
    )


# ----------------------------------------------------------------------------- facts


def _observe(s: DispatchState, fact: Any, now: float) -> Flow:
    match fact:
        case RepoCreated():
            s.add_repo(fact.repo)
        case RepoDeleted():
            s.drop_repo(fact.repo)
            for key in [k for k in s.heads if k.split("@", 1)[0] == fact.repo]:
                s.drop_head(key)
            # Deleted with --force while pipelines read it: they stop, saying why.
            yield from stop_readers(
                s, fact.repo, fact.event_id, fact.time, f"repo '{fact.repo}' was deleted"
            )
        case CommitFinished():
            s.now = max(s.now, fact.finished)
            yield from new_head(
                s, fact.repo, fact.branch, fact.commit_id, fact.root or None,
                fact.commitset or fact.commit_id,
            )  # fmt: skip
            owner = s.pipelines.get(fact.repo)
            job = owner.job if owner else None
            if (
                owner
                and job
                and job.phase is JobPhase.FINISHING
                and job.output_commit == fact.commit_id
            ):
                changed = _core.changes(job.results, job.vanished)
                apply_delta(owner.index, owner.owners, changed)
                owner.index_roots = _core.index_roots(job.inputs, job.version, owner.version)
                yield SaveIndex(owner.name, changed)
                yield from end_job(s, owner, JobPhase.SUCCESS, job.output_commit, fact.finished, "")
        case CommitDeleted():
            # The branches went back to the parent: pipelines run on it again (a set of
            # its own), so that outputs match the inputs as they are now.
            for m in fact.moved:
                key = _core.source(fact.repo, m.branch)
                seen = s.heads.get(key)
                if seen is None or seen[0] == m.head:
                    continue  # an open commit no pipeline saw
                if m.head is None:
                    s.drop_head(key)  # nothing left to run on; outputs stay
                    continue
                yield from new_head(s, fact.repo, m.branch, m.head, m.root, fact.commitset)
        case RequestDone():
            yield from _output_answered(s, fact)
        case DatumFinished():
            s.now = max(s.now, fact.started + fact.duration_s)
            p = s.pipelines.get(fact.pipeline)
            running = p.job if p else None
            if p is None or running is None or running.job_id != fact.job_id:
                return  # a late or repeated result of a job that moved on
            if running.phase is not JobPhase.RUNNING:
                return
            if fact.datum_id not in running.expect or fact.datum_id in running.results:
                return  # first result wins (a restarted worker runs a datum twice)
            result = _core.result_of(fact)
            every = running.add_result(fact.datum_id, result)
            yield SaveResults(p.name, running.job_id, ((fact.datum_id, result),))
            if every:
                yield from complete(s, p, s.now)


def _output_answered(s: DispatchState, fact: RequestDone) -> Flow:
    """The commit processor answered a job's output commit request: a refusal, or a commit
    other than the job's (an open commit on the branch took the outputs), fails the job.
    """
    p = s.pipelines.get(fact.repo)
    job = p.job if p else None
    if p is None or job is None or job.phase is not JobPhase.FINISHING:
        return
    if fact.request_id != output_request_id(job.job_id):
        return
    if not fact.ok:
        reason = f"the output commit was refused: {fact.error_message}"
    elif fact.commit_id != job.output_commit:
        reason = (
            f"branch '{OUTPUT_BRANCH}' of output repo '{p.name}' had open commit "
            f"{fact.commit_id}, which took this job's outputs; finish or delete that commit "
            f"and rerun job {job.job_id}"
        )
    else:
        return
    yield from end_job(s, p, JobPhase.FAILURE, None, s.now, reason)
