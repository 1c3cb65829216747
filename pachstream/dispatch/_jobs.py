"""The dispatcher's jobs and commit sets: which job starts when, and how it ends. Pure.

The helpers of :func:`._handle.handle`, each a flow of steps (see :mod:`._steps`). A job's
lifecycle is :class:`._state.JobPhase`; every move goes through ``Job.move``, which checks it.
One job runs per pipeline: commit sets that reach a pipeline meanwhile queue up
(``Pipeline.pending``) and each gets a job of its own when the one before ends; a job reads
its set's commits where the set has them, else the branch heads as the set decides
(:mod:`.commitsets`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeAlias

from pachstream.commits.events import ModifyFiles
from pachstream.dispatch import _core
from pachstream.dispatch._core import OUTPUT_BRANCH, NewJob, Result
from pachstream.dispatch._state import DispatchState, Job, JobPhase, Pipeline
from pachstream.dispatch._steps import (
    Answer,
    DiffLoaded,
    Emit,
    LoadDiff,
    LoadTrees,
    SaveJob,
    SaveMeta,
    SavePipeline,
    SaveResults,
    SendTask,
    Step,
    TreesLoaded,
)
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
    InputCommit,
    JobFinished,
    JobStarted,
    PipelineStateSet,
)
from pachstream.dispatch.plan import JobPlan, output_delta
from pachstream.dispatch.spec import _pfs_inputs
from pachstream.errors import OutputConflict
from pachstream.model import derive_id, output_commit_id, output_request_id

Flow: TypeAlias = Generator[Step, Answer | None, None]
"""A flow of steps: steps out, answers (to the steps that ask) in."""


def emit_fact(key: str, event: Any) -> Emit:
    """Produce ``event`` as a fact, keyed by ``key``."""
    return Emit("events", key, event)


def emit_request(key: str, event: Any) -> Emit:
    """Produce ``event`` as a request to the commit processor, keyed by ``key``."""
    return Emit("requests", key, event)


# ----------------------------------------------------------------------------- commit sets


def _producers(s: DispatchState) -> dict[str, list[str]]:
    """Output source of each pipeline → its input sources (the DAG, for commit sets)."""
    return {_core.source(p.name, OUTPUT_BRANCH): p.sources() for p in s.pipelines.values()}


def startable(s: DispatchState) -> list[tuple[Pipeline, Decision]]:
    """Idle pipelines whose oldest pending set can start a job (or fail it) now."""
    idle = [p for p in s.pipelines.values() if p.job is None and not p.stopped and p.pending]
    if not idle:
        return []  # the common case on every quiet step: build nothing
    producers = _producers(s)
    # Only the heads these pipelines read: a decision looks at no other, and every branch
    # of every repo is far more on a big install (this runs at each step while one waits).
    read = {k: v for p in idle for k in p.sources() if (v := s.heads.get(k)) is not None}
    heads = {k: (v[0], v[1]) for k, v in read.items()}
    head_sets = {k: s.sets[v[2]] for k, v in read.items() if len(v) > 2 and v[2] in s.sets}
    seqs = {k: v[3] for k, v in read.items() if len(v) > 3}
    out: list[tuple[Pipeline, Decision]] = []
    for p in idle:
        commitset = s.sets.setdefault(p.pending[0], CommitSet())
        decision = decide(p.sources(), commitset, heads, producers, head_sets, seqs)
        if not isinstance(decision, Wait):
            out.append((p, decision))
    return out


def next_job(s: DispatchState, p: Pipeline, decision: Decision, now: float) -> Flow:
    """Start the job of the pipeline's oldest pending set with the inputs decided."""
    commitset = p.pending.pop(0)
    p.done.append(commitset)
    yield SavePipeline(p.name)
    yield SaveMeta()
    cs = s.sets.setdefault(commitset, CommitSet())
    picks = decision.picks if isinstance(decision, Ready) else {}
    if isinstance(decision, Ready):
        late = decision.older_than(p.read)
        if late is not None:
            # The set reached this pipeline late (a new or rerun upstream pipeline whose
            # output came after newer sets): its job would move the output back. The set
            # takes the output as it is, and goes on downstream.
            out = _core.source(p.name, OUTPUT_BRANCH)
            head = s.heads.get(out)
            if head is not None:
                cs.add(out, (head[0], head[1]), head[3] if len(head) > 3 else 0, alias=True)
                yield from _reach(s, commitset, p.name, OUTPUT_BRANCH)
            yield from _superseded(p, commitset, now, late)
            return
        for src, pick in picks.items():
            if pick is not None and src not in cs.commits:
                cs.add(src, pick, decision.seqs.get(src, 0), alias=True)
            p.read[src] = max(p.read.get(src, 0), decision.seqs.get(src, 0))
    inputs = []
    for pfs in _pfs_inputs(p.spec.input):
        pick = picks.get(pfs.source)
        inputs.append(
            {
                "name": pfs.name,
                "repo": pfs.repo,
                "branch": pfs.branch,
                "commit": pick[0] if pick else None,
                "root": pick[1] if pick else None,
            }
        )
    failure = None
    if isinstance(decision, UpstreamFailed):
        failure = (
            f"it did not run: input '{decision.source}' has no commit in commit set "
            f"{commitset}, because {decision.reason}"
        )
    yield from start_job(s, p, now, inputs=inputs, commitset=commitset, failure=failure)


def _superseded(p: Pipeline, commitset: str, now: float, late: str) -> Flow:
    """Record that a late set made no job here: a job that ran nothing and wrote nothing
    (so waits on the set end), saying why.
    """
    job = derive_id("superseded", p.name, commitset)
    yield emit_fact(
        p.name,
        JobStarted(
            event_id=derive_id(job, JobStarted.TYPE), job_id=job, pipeline=p.name,
            version=p.version, inputs=(), output_commit="", time=now, datums=0, to_run=0,
            skipped=0, commitset=commitset,
        ),
    )  # fmt: skip
    yield emit_fact(
        p.name,
        JobFinished(
            event_id=derive_id(job, JobFinished.TYPE), job_id=job, pipeline=p.name,
            state="success", output_commit=None, processed=0, skipped=0, failed=0,
            recovered=0, time=now,
            reason=(
                f"nothing to do: the set reached '{p.name}' after newer commits of input "
                f"'{late}' were processed; its output for the set is the current head"
            ),
        ),
    )  # fmt: skip


def forget_sets(s: DispatchState) -> Flow:
    """Drop the sets no pipeline waits on or runs (they are in Postgres for reading)."""
    used = in_use(
        {p.name: p.pending for p in s.pipelines.values()},
        {p.name: p.job.commitset if p.job else None for p in s.pipelines.values()},
    )
    for gone in [k for k in s.sets if k not in used]:
        del s.sets[gone]
        yield SaveMeta()


def new_set(s: DispatchState, p: Pipeline, commitset: str) -> Flow:
    """Queue a set that starts at this pipeline, holding its inputs' heads of now (as
    Pachyderm's sets hold every branch's head when they are made): a job that starts
    later still reads these.
    """
    cs = s.sets.setdefault(commitset, CommitSet())
    for src in p.sources():
        head = s.heads.get(src)
        if head is not None:
            cs.add(src, (head[0], head[1]), head[3] if len(head) > 3 else 0, alias=True)
    p.queue(commitset)
    yield SaveMeta()


def _reach(s: DispatchState, commitset: str, repo: str, branch: str) -> Flow:
    """A set reached ``repo@branch`` (a commit, or a failure): queue it where it is read."""
    for p in s.pipelines.values():
        if p.reads(repo, branch) and p.queue(commitset):
            yield SavePipeline(p.name)


def new_head(
    s: DispatchState, repo: str, branch: str, commit: str, root: str | None, commitset: str
) -> Flow:
    """A branch has a new head, of ``commitset``: record it and queue the set."""
    key = _core.source(repo, branch)
    old = s.heads.get(key)
    seq = (old[3] if old and len(old) > 3 else 0) + 1
    s.set_head(key, [commit, root, commitset, seq])
    s.sets.setdefault(commitset, CommitSet()).add(key, (commit, root), seq)
    yield SaveMeta()
    yield from _reach(s, commitset, repo, branch)


def readers(s: DispatchState, repo: str) -> list[Pipeline]:
    """Pipelines with an input on any branch of ``repo``, by name."""
    return sorted(
        (p for p in s.pipelines.values() if any(r == repo for r, _ in p.spec.repos())),
        key=lambda p: p.name,
    )


def stop_readers(s: DispatchState, repo: str, cause: str, now: float, why: str) -> Flow:
    """Stop the pipelines that read a deleted repo: they must not run on nothing."""
    for d in readers(s, repo):
        if d.stopped:
            continue
        d.stopped = True
        yield SavePipeline(d.name)
        yield emit_fact(
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


# ----------------------------------------------------------------------------- jobs


def start_job(
    s: DispatchState,
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
) -> Flow:
    """Start a job on ``inputs`` for ``commitset``; with ``failure``, end it at once."""
    commits = [
        InputCommit(name=i["name"], repo=i["repo"], branch=i["branch"], commit_id=i["commit"])
        for i in inputs
    ]
    if job is None:
        job = _core.job_id(p.name, p.version, p.salt, commits, commitset)
    heads: dict[str, str | None] = {}
    entries: dict[str, Any] = {}
    outcome: NewJob | str | None = failure
    if failure is None and inputs:
        heads = {_core.source(i["repo"], i["branch"]): i["commit"] for i in inputs}
        since = _core.since_index(
            p.spec, p.index_roots, inputs,
            rerun=earlier is not None, every_job=every_job, force=force,
        )  # fmt: skip
        if since is not None:
            diff = yield LoadDiff(*since)
            assert isinstance(diff, DiffLoaded)
            outcome = _core.plan_changes_or_reason(
                p.spec, p.version, p.salt, job, p.index, diff.changed, heads
            )
        if outcome is None:
            roots = tuple(
                (_core.source(i["repo"], i["branch"]), i["root"] if i["commit"] else None)
                for i in inputs
            )
            loaded = yield LoadTrees(roots)
            assert isinstance(loaded, TreesLoaded)
            entries = loaded.entries
    output_commit = output_commit_id(p.name, job)
    if outcome is None:
        outcome = _core.plan_or_reason(
            p.spec, p.version, p.salt, job, p.index, entries, heads,
            earlier=earlier, every_job=every_job, force=force,
        )  # fmt: skip
    made = outcome if isinstance(outcome, NewJob) else None
    planned = made.plan if made else JobPlan()
    carried = made.carried if made else {}
    j = Job(
        job_id=job,
        version=p.version,
        inputs=inputs,
        output_commit=output_commit,
        started=now,
        expect={t.datum_id for t in made.tasks} if made else set(),
        skipped=planned.skipped,
        vanished=sorted(e.datum_id for e in planned.vanished),
        rerun_of=rerun_of,
        commitset=commitset,
    )
    j.results.update(carried)
    if carried:
        yield SaveResults(p.name, job, tuple(carried.items()))
    p.job = j
    yield SavePipeline(p.name)
    yield SaveJob(job, p.name, {**j.header(), "pipeline": p.name})
    yield emit_fact(
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
            skipped=planned.skipped + len(carried),
            rerun_of=rerun_of,
            commitset=commitset,
        ),
    )
    if made is None:
        yield from end_job(s, p, JobPhase.FAILURE, None, now, str(outcome))
        return
    for n, task in enumerate(made.tasks):
        yield SendTask(p.name, p.version, n % p.spec.parallelism, task)
    if not j.expect:
        yield from complete(s, p, now)


def complete(s: DispatchState, p: Pipeline, now: float) -> Flow:
    """Every result is in: fail the job, or write its output commit."""
    job = p.job
    assert job is not None
    reason = _core.failure_reason(job.job_id, job.results)
    if reason is not None:
        yield from end_job(s, p, JobPhase.FAILURE, None, now, reason)
        return
    try:
        delta = output_delta(p.index, p.owners, _core.changes(job.results, job.vanished))
    except OutputConflict as err:
        yield from end_job(s, p, JobPhase.FAILURE, None, now, f"output conflict: {err.message}")
        return
    except Exception as err:  # noqa: BLE001 - one pipeline's outputs must not stop the loop
        _core.log.exception("dispatch: merging outputs of job %s of %s failed", job.job_id, p.name)
        yield from end_job(
            s, p, JobPhase.FAILURE, None, now,
            f"its outputs could not be merged ({type(err).__name__}: {err}); this is a "
            "pachstream defect, please report it",
        )  # fmt: skip
        return
    job.move(JobPhase.FINISHING)
    yield SavePipeline(p.name)
    yield emit_request(
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


def end_job(
    s: DispatchState, p: Pipeline, phase: JobPhase, output: str | None, now: float, reason: str
) -> Flow:
    """End the pipeline's job in ``phase`` (``output``: its output commit, on success only).

    A job that ends without an output commit marks its commit set failed at the pipeline's
    output, so that downstream jobs waiting for the set fail too, naming it.
    """
    job = p.job
    assert job is not None
    job.move(phase)
    counts = {"success": 0, "failed": 0, "recovered": 0}
    carried = 0
    for r in job.results.values():
        if r.carried:
            carried += 1
        else:
            counts[r.state] = counts.get(r.state, 0) + 1
    yield emit_fact(
        p.name,
        JobFinished(
            event_id=derive_id(job.job_id, JobFinished.TYPE),
            job_id=job.job_id,
            pipeline=p.name,
            state=phase.value,  # type: ignore[arg-type]
            output_commit=output,
            processed=counts["success"],
            skipped=job.skipped + carried,
            failed=counts["failed"],
            recovered=counts["recovered"],
            time=now,
            reason=reason,
        ),
    )
    if phase is not JobPhase.SUCCESS:
        commitset = s.sets.get(job.commitset) if job.commitset else None
        if commitset is not None and commitset.commits:
            # The set will have no commit here: whoever waits for one fails, saying why.
            assert job.commitset is not None
            commitset.failed[_core.source(p.name, OUTPUT_BRANCH)] = (
                f"job {job.job_id} of pipeline '{p.name}' ended in {phase.value}"
            )
            yield from _reach(s, job.commitset, p.name, OUTPUT_BRANCH)
            yield SaveMeta()
    p.job = None
    p.last_job = job.job_id
    yield SavePipeline(p.name)
