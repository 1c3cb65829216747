"""The dispatcher's core, driven without servers: every job transition, and replay after a kill.

A small world answers the core's steps as the servers would: workers run each task (failing
the datums a scenario names), the commit processor turns an output request into a finished
commit, and the tables take each batch's writes through the store's own row mapping
(:meth:`_store.Changes.writes`, :func:`_store.restore`). Each scenario is a table of batches;
its trace (per job: started, finishing, how it ended) is checked, and then the same facts are
replayed from a fresh state and from the tables after a kill at every batch, before and after
the checkpoint: the steps must be the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from pachstream.commits.events import (
    CommitFinished,
    CreateRepo,
    DeleteRepo,
    ModifyFiles,
    RepoCreated,
    RepoDeleted,
    RequestDone,
)
from pachstream.dispatch import _store
from pachstream.dispatch._handle import handle
from pachstream.dispatch._state import DispatchState, Job, JobPhase
from pachstream.dispatch._steps import (
    BatchEnded,
    BatchStarted,
    DiffLoaded,
    Emit,
    EnsureTaskTopic,
    Fact,
    JobLoaded,
    LoadDiff,
    LoadJob,
    LoadTrees,
    Observed,
    Requested,
    SendTask,
    Step,
    TreesLoaded,
)
from pachstream.dispatch.events import (
    CreatePipeline,
    DatumFinished,
    DeletePipeline,
    JobFinished,
    JobStarted,
    OutputFile,
    PipelineStateSet,
    RerunJob,
    SetPipelineState,
    StopJob,
)
from pachstream.model import Chunk, FileEntry, derive_id

# ----------------------------------------------------------------------------- the world


def one_input_spec(name: str, repo: str) -> dict[str, Any]:
    """A pipeline spec with one ``/*`` input on ``repo`` whose command does nothing."""
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": repo, "glob": "/*"}},
        "transform": {"cmd": ["true"]},
    }


def entry(h: str) -> FileEntry:
    return FileEntry(hash=h, size=1, chunks=(Chunk(hash=h, size=1),))


class Tables:
    """The dispatcher's tables in memory, written with the store's rows."""

    def __init__(self) -> None:
        self.pipelines: dict[str, str] = {}
        self.index: dict[tuple[str, str], tuple[str, str]] = {}
        self.jobs: dict[str, tuple[str, str]] = {}
        self.results: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.meta: dict[str, str] = {}
        self.entries: dict[tuple[str, str], str] = {}

    def apply(self, writes: _store.Writes) -> None:
        for kind, rows in writes:
            for row in rows:
                match kind:
                    case "delete_pipeline":
                        self.pipelines.pop(row[0], None)
                    case "delete_pipeline_index":
                        for key in [k for k in self.index if k[0] == row[0]]:
                            del self.index[key]
                    case "insert_job":
                        self.jobs.setdefault(row[0], (row[1], row[2]))
                    case "insert_result":
                        self.results.setdefault((row[0], row[1]), row[2:])
                    case "delete_index":
                        self.index.pop((row[0], row[1]), None)
                    case "upsert_index":
                        self.index[(row[0], row[1])] = (row[2], row[3])
                    case "upsert_pipeline":
                        self.pipelines[row[0]] = row[1]
                    case "upsert_meta":
                        self.meta[row[0]] = row[1]
                    case "delete_meta":
                        self.meta.pop(row[0], None)
                    case "delete_entry":
                        self.entries.pop((row[0], row[1]), None)
                    case "upsert_entry":
                        self.entries[(row[0], row[1])] = row[2]
                    case _:
                        raise AssertionError(kind)

    def job_results(self, job_id: str) -> dict[str, Any]:
        return {
            d: _store.result_from_row(*row[1:])
            for (j, d), row in self.results.items()
            if j == job_id
        }

    def restore(self) -> DispatchState:
        """What a restarted dispatcher loads (``_store.load`` without Postgres)."""
        state = _store.restore(
            list(self.meta.items()),
            list(self.pipelines.values()),
            [(p, d, h, o) for (p, d), (h, o) in self.index.items()],
            [(k, n, v) for (k, n), v in self.entries.items()],
        )
        for p in state.pipelines.values():
            if p.job is not None:
                p.job.results = self.job_results(p.job.job_id)
        return state

    def load_job(self, job_id: str, results: bool) -> JobLoaded:
        if job_id not in self.jobs:
            return JobLoaded(None)
        pipeline, header = self.jobs[job_id]
        return JobLoaded(
            pipeline, orjson.loads(header), self.job_results(job_id) if results else {}
        )

    def snapshot(self) -> tuple[Any, ...]:
        return tuple(
            sorted(t.items())
            for t in (self.pipelines, self.index, self.jobs, self.results, self.meta, self.entries)
        )


def run_batch(
    state: DispatchState, facts: list[Fact], trees: dict[str, dict[str, FileEntry]], tables: Tables
) -> tuple[list[Step], _store.Writes]:
    """One batch as the shell runs it: every fact's steps, answers sent back; the writes."""
    steps: list[Step] = []
    changes = _store.Changes()
    for fact in [BatchStarted(), *facts, BatchEnded()]:
        flow = handle(state, fact)
        answer: Any = None
        while True:
            try:
                step = flow.send(answer)
            except StopIteration:
                break
            steps.append(step)
            answer = None
            match step:
                case LoadTrees():
                    answer = TreesLoaded(
                        {k: dict(trees[root]) if root else {} for k, root in step.roots}
                    )
                case LoadDiff():
                    old, new = trees[step.old_root], trees[step.new_root]
                    answer = DiffLoaded(
                        {p: new.get(p) for p in old.keys() | new.keys() if old.get(p) != new.get(p)}
                    )
                case LoadJob():
                    answer = tables.load_job(step.job_id, step.results)
                case Emit() | SendTask() | EnsureTaskTopic():
                    pass
                case _:
                    changes.add(step)
    return steps, changes.writes(state)


class Sim:
    """The dispatcher's core with workers, a commit processor and tables around it."""

    def __init__(self) -> None:
        self.state = DispatchState()
        self.tables = Tables()
        self.trees: dict[str, dict[str, FileEntry]] = {}
        self.branches: dict[str, dict[str, FileEntry]] = {}
        self.batches: list[list[Fact]] = []
        self.steps: list[list[Step]] = []
        self.clock = 100.0
        self.fail: set[str] = set()
        """Input paths whose datums fail."""
        self.replies: list[Fact] = []
        """What the world answers to the last batch's records, for the next batch."""
        self.hold_outputs = False
        """Keep output requests unanswered (jobs stay finishing)."""
        self.held: list[ModifyFiles] = []

    def tick(self) -> float:
        self.clock += 1
        return self.clock

    def batch(self, *facts: Fact) -> list[Step]:
        """Run one batch of ``facts`` plus the world's pending replies."""
        todo = [*self.replies, *facts]
        self.replies = []
        steps, writes = run_batch(self.state, todo, self.trees, self.tables)
        self.tables.apply(writes)
        self.batches.append(todo)
        self.steps.append(steps)
        self.replies = self._answer(steps)
        return steps

    def settle(self, *facts: Fact, limit: int = 20) -> None:
        """Batches until the world has nothing more to say."""
        self.batch(*facts)
        for _ in range(limit):
            if not self.replies:
                return
            self.batch()
        raise AssertionError("the world did not settle")

    # -- what users do

    def repo(self, name: str) -> Fact:
        return Observed(
            RepoCreated(
                event_id=f"rc-{name}", request_id=f"rc-{name}", repo=name, time=self.tick()
            ),
            self.clock,
        )

    def put(self, repo: str, files: dict[str, str], *, commit: str) -> Fact:
        """A finished commit on ``repo@master`` whose tree is the branch's plus ``files``."""
        tree = {**self.branches.get(repo, {}), **{p: entry(h) for p, h in files.items()}}
        return self._finished(repo, commit, tree, None)

    def _finished(
        self, repo: str, commit: str, tree: dict[str, FileEntry], commitset: str | None
    ) -> Fact:
        self.branches[repo] = tree
        root = f"root-{commit}"
        self.trees[root] = dict(tree)
        t = self.tick()
        return Observed(
            CommitFinished(
                event_id=f"cf-{commit}", request_id=f"r-{commit}", repo=repo, branch="master",
                commit_id=commit, parent=None, started=t, finished=t, description="",
                root=root, file_count=len(tree), size_bytes=len(tree), added=0, modified=0,
                deleted=0, diff_ref="", commitset=commitset,
            ),
            t,
        )  # fmt: skip

    def create(self, name: str, repo: str, rid: str, **kw: Any) -> Fact:
        spec = one_input_spec(name, repo)
        return Requested(
            CreatePipeline(request_id=rid, pipeline=name, time=self.tick(), spec=spec, **kw),
            self.clock,
        )

    def request(self, cls: type, **kw: Any) -> Fact:
        return Requested(cls(time=self.tick(), **kw), self.clock)

    # -- what the servers answer

    def _answer(self, steps: list[Step]) -> list[Fact]:
        out: list[Fact] = []
        for step in steps:
            if isinstance(step, SendTask):
                out.append(self._run_task(step))
            elif isinstance(step, Emit) and isinstance(step.event, CreateRepo):
                out.append(self.repo(step.event.repo))
            elif isinstance(step, Emit) and isinstance(step.event, DeleteRepo):
                e = step.event
                out.append(
                    Observed(
                        RepoDeleted(event_id=f"rd-{e.request_id}", request_id=e.request_id,
                                    repo=e.repo, time=self.tick()),
                        self.clock,
                    )
                )  # fmt: skip
            elif isinstance(step, Emit) and isinstance(step.event, ModifyFiles):
                if self.hold_outputs:
                    self.held.append(step.event)
                else:
                    out.extend(self.output_commit(step.event))
        return out

    def _run_task(self, step: SendTask) -> Fact:
        task = step.task
        path = task.inputs[0].files[0].path
        ok = path not in self.fail
        t = self.tick()
        return Observed(
            DatumFinished(
                event_id=derive_id(task.job_id, task.datum_id, "finished"), job_id=task.job_id,
                pipeline=task.pipeline, datum_id=task.datum_id, hash=task.hash,
                state="success" if ok else "failed", tries=1, exit_code=0 if ok else 1,
                timed_out=False, stderr_tail="" if ok else "boom\n", log_ref="", started=t,
                duration_s=0.5, worker="w",
                outputs=(
                    (OutputFile(path=path, file=entry("out-" + task.inputs[0].files[0].file.hash)),)
                    if ok else ()
                ),
            ),
            t,
        )  # fmt: skip

    def output_commit(
        self, req: ModifyFiles, *, refuse: bool = False, taken_by: str | None = None
    ) -> list[Fact]:
        """The commit processor's answer to a job's output request."""
        t = self.tick()
        if refuse:
            done = RequestDone(
                event_id=f"rd-{req.request_id}", request_id=req.request_id, repo=req.repo,
                ok=False, error_code="conflict", error_message="no",
            )  # fmt: skip
            return [Observed(done, t)]
        commit = taken_by or derive_id(req.repo, req.request_id)
        done = RequestDone(
            event_id=f"rd-{req.request_id}", request_id=req.request_id, repo=req.repo, ok=True,
            commit_id=commit,
        )  # fmt: skip
        tree = dict(self.branches.get(req.repo, {}))
        for op in req.ops:
            if op.op == "delete":
                tree.pop(op.path, None)
            else:
                assert op.file is not None
                tree[op.path] = op.file
        out: list[Fact] = [Observed(done, t)]
        if taken_by is None:
            out.append(self._finished(req.repo, commit, tree, req.commitset))
        return out


def events(steps: list[Step], cls: type) -> list[Any]:
    return [s.event for s in steps if isinstance(s, Emit) and isinstance(s.event, cls)]


def all_steps(sim: Sim) -> list[Step]:
    return [s for batch in sim.steps for s in batch]


def trace(sim: Sim, pipeline: str = "edges") -> list[str]:
    """Per job of ``pipeline``, in order: ``running``, ``finishing``, and how it ended."""
    out: list[str] = []
    for s in all_steps(sim):
        if not isinstance(s, Emit) or getattr(s.event, "pipeline", None) != pipeline:
            continue
        match s.event:
            case JobStarted():
                out.append("running")
            case ModifyFiles():
                out.append("finishing")
            case JobFinished():
                out.append(s.event.state)
    return out


def last_job(sim: Sim, pipeline: str = "edges") -> JobStarted:
    started: list[JobStarted] = events(all_steps(sim), JobStarted)
    return [e for e in started if e.pipeline == pipeline][-1]


def answers(sim: Sim) -> list[RequestDone]:
    """The dispatcher's answers to pipeline requests."""
    return [e for e in events(all_steps(sim), RequestDone) if not e.request_id.startswith("r-")]


# ----------------------------------------------------------------------------- scenarios


def _start(sim: Sim) -> None:
    sim.settle(sim.repo("images"))
    sim.settle(sim.put("images", {"/a": "1", "/b": "2"}, commit="c1"))
    sim.settle(sim.create("edges", "images", "create-1"))


def trigger(sim: Sim) -> None:
    """A new pipeline runs on the data there; a commit runs only its changed datum."""
    _start(sim)
    before = len(all_steps(sim))
    sim.settle(sim.put("images", {"/b": "3"}, commit="c2"))
    job = last_job(sim)
    assert (job.datums, job.to_run, job.skipped) == (2, 1, 1)
    # The second job was planned from the change alone, never from the whole tree.
    loads = [
        type(s).__name__ for s in all_steps(sim)[before:] if isinstance(s, LoadDiff | LoadTrees)
    ]
    assert loads == ["LoadDiff"]
    p = sim.state.pipelines["edges"]
    assert p.job is None and sorted(e.hash for e in p.index.values())  # index moved
    assert sorted(sim.branches["edges"]) == ["/a", "/b"]
    assert sim.branches["edges"]["/b"] == entry("out-3")


def empty_input(sim: Sim) -> None:
    """A pipeline on an empty repo: a job of no datums that still writes an (empty) commit."""
    sim.settle(sim.repo("images"))
    sim.settle(sim.create("edges", "images", "create-1"))
    assert last_job(sim).datums == 0


def folding(sim: Sim) -> None:
    """Commits that land during a job wait, and run after it, each in its set's job."""
    _start(sim)
    sim.hold_outputs = True
    sim.batch(sim.put("images", {"/a": "5"}, commit="c2"))  # job 2 starts
    sim.settle(
        sim.put("images", {"/b": "6"}, commit="c3"), sim.put("images", {"/c": "7"}, commit="c4")
    )
    assert len(sim.state.pipelines["edges"].pending) == 2
    assert sim.state.pipelines["edges"].job.phase is JobPhase.FINISHING  # type: ignore[union-attr]
    sim.hold_outputs = False
    for req in sim.held:
        sim.replies += sim.output_commit(req)
    sim.held.clear()
    sim.settle()
    started = [e for e in events(all_steps(sim), JobStarted) if e.pipeline == "edges"]
    assert [e.inputs[0].commit_id for e in started] == ["c1", "c2", "c3", "c4"]
    assert [e.to_run for e in started] == [2, 1, 1, 1]


def failure(sim: Sim) -> None:
    """A failed datum fails the job: no output commit, the index stays."""
    _start(sim)
    before = dict(sim.state.pipelines["edges"].index)
    sim.fail = {"/a"}
    sim.settle(sim.put("images", {"/a": "9"}, commit="c2"))
    ended = events(all_steps(sim), JobFinished)[-1]
    assert ended.state == "failure" and "1 datum(s) failed" in ended.reason
    assert f"rerun job {ended.job_id} --failed" in ended.reason
    assert sim.state.pipelines["edges"].index == before


def rerun(sim: Sim) -> None:
    """'rerun job --failed' carries the successes and runs the failed datum again."""
    _start(sim)
    sim.fail = {"/a"}
    sim.settle(sim.put("images", {"/a": "9", "/b": "8"}, commit="c2"))
    failed = last_job(sim)
    sim.fail = set()
    sim.settle(sim.request(RerunJob, request_id="rerun-1", pipeline="edges", job_id=failed.job_id))
    again = last_job(sim)
    assert again.rerun_of == failed.job_id and (again.to_run, again.skipped) == (1, 1)
    assert sim.branches["edges"]["/a"] == entry("out-9")
    # Only the last job may be rerun, and not while one runs.
    sim.settle(sim.request(RerunJob, request_id="rerun-2", pipeline="edges", job_id=failed.job_id))
    sim.settle(sim.request(RerunJob, request_id="rerun-3", pipeline="edges", job_id="nope"))
    refused = {a.request_id: a.error_code for a in answers(sim) if not a.ok}
    assert refused == {"rerun-2": "Conflict", "rerun-3": "NotFound"}


def stop_start(sim: Sim) -> None:
    """A stopped pipeline runs nothing; started again, it runs what came meanwhile."""
    _start(sim)
    sim.settle(sim.request(SetPipelineState, request_id="stop-1", pipeline="edges", stopped=True))
    sim.settle(sim.put("images", {"/a": "5"}, commit="c2"))
    assert len(trace(sim)) == 3 and sim.state.pipelines["edges"].pending
    sim.settle(sim.request(SetPipelineState, request_id="start-1", pipeline="edges", stopped=False))
    assert last_job(sim).inputs[0].commit_id == "c2"
    states = [e.state for e in events(all_steps(sim), PipelineStateSet)]
    assert states == ["stopped", "running"]


def update(sim: Sim) -> None:
    """Update keeps the salt (nothing runs again); --reprocess draws a new one (all run)."""
    _start(sim)
    sim.settle(sim.create("edges", "images", "update-1", update=True))
    kept = last_job(sim)
    assert (kept.version, kept.to_run, kept.skipped) == (2, 0, 2)
    sim.settle(sim.create("edges", "images", "update-2", update=True, reprocess=True))
    redone = last_job(sim)
    assert (redone.version, redone.to_run, redone.skipped) == (3, 2, 0)
    assert [s.version for s in all_steps(sim) if isinstance(s, EnsureTaskTopic)] == [1, 2, 3]


def kill(sim: Sim) -> None:
    """'stop job' kills a running job; its late results change nothing."""
    _start(sim)
    sim.batch(sim.put("images", {"/a": "5"}, commit="c2"))
    running = last_job(sim)
    late = sim.replies
    sim.replies = []
    sim.settle(sim.request(StopJob, request_id="kill-1", pipeline="edges", job_id=running.job_id))
    sim.settle(*late)
    sim.settle(sim.request(StopJob, request_id="kill-2", pipeline="edges", job_id=running.job_id))
    sim.settle(sim.request(StopJob, request_id="kill-3", pipeline="edges", job_id="nope"))
    refused = {a.request_id: a.error_code for a in answers(sim) if not a.ok}
    assert refused == {"kill-2": "Conflict", "kill-3": "NotFound"}
    assert sim.branches["edges"]["/a"] == entry("out-1")


def kill_finishing(sim: Sim) -> None:
    """A finishing job cannot be stopped; deleting its pipeline kills it."""
    _start(sim)
    sim.hold_outputs = True
    sim.settle(sim.put("images", {"/a": "5"}, commit="c2"))
    job = last_job(sim)
    sim.settle(sim.request(StopJob, request_id="kill-1", pipeline="edges", job_id=job.job_id))
    assert [a.error_code for a in answers(sim) if not a.ok] == ["Conflict"]
    sim.settle(sim.request(DeletePipeline, request_id="delete-1", pipeline="edges"))
    assert "edges" not in sim.state.pipelines and sim.state.retired == {"edges": 1}


def output_refused(sim: Sim) -> None:
    """The commit processor refuses the output commit: the finishing job fails."""
    _start(sim)
    sim.hold_outputs = True
    sim.settle(sim.put("images", {"/a": "5"}, commit="c2"))
    sim.settle(*sim.output_commit(sim.held.pop(), refuse=True))
    assert "the output commit was refused: no" in events(all_steps(sim), JobFinished)[-1].reason


def output_taken(sim: Sim) -> None:
    """An open commit on the output branch took the outputs: the finishing job fails."""
    _start(sim)
    sim.hold_outputs = True
    sim.settle(sim.put("images", {"/a": "5"}, commit="c2"))
    sim.settle(*sim.output_commit(sim.held.pop(), taken_by="someone-elses"))
    assert "had open commit someone-elses" in events(all_steps(sim), JobFinished)[-1].reason


def upstream_failed(sim: Sim) -> None:
    """In a DAG, a job whose input's job failed fails too, naming it (no mixed read)."""
    _start(sim)
    sim.settle(sim.create("montage", "edges", "create-2"))
    sim.fail = {"/b"}
    sim.settle(sim.put("images", {"/b": "7"}, commit="c2"))
    ended = [e for e in events(all_steps(sim), JobFinished) if e.pipeline == "montage"][-1]
    assert ended.state == "failure" and "it did not run: input 'edges@master'" in ended.reason


def delete_running(sim: Sim) -> None:
    """Deleting a pipeline kills its running job; its output repo goes; readers stop."""
    _start(sim)
    sim.settle(sim.create("montage", "edges", "create-2"))
    sim.batch(sim.put("images", {"/a": "5"}, commit="c2"))
    sim.replies = []  # the workers never answer
    sim.settle(sim.request(DeletePipeline, request_id="delete-1", pipeline="edges", force=True))
    assert sim.state.pipelines["montage"].stopped and "edges" not in sim.state.repos


OK = ["running", "finishing", "success"]
"""The trace of a job that succeeds."""

SCENARIOS: list[tuple[Callable[[Sim], None], list[str]]] = [
    (trigger, OK * 2),
    (empty_input, OK),
    (folding, OK * 4),
    (failure, [*OK, "running", "failure"]),
    (rerun, [*OK, "running", "failure", *OK]),
    (stop_start, OK * 2),
    (update, OK * 3),
    (kill, [*OK, "running", "killed"]),
    (kill_finishing, [*OK, "running", "finishing", "killed"]),
    (output_refused, [*OK, "running", "finishing", "failure"]),
    (output_taken, [*OK, "running", "finishing", "failure"]),
    (upstream_failed, [*OK, "running", "failure"]),
    (delete_running, [*OK, "running", "killed"]),
]
IDS = [s[0].__name__ for s in SCENARIOS]


@pytest.fixture(params=SCENARIOS, ids=IDS)
def scenario(request: pytest.FixtureRequest) -> tuple[Sim, list[str]]:
    play, expected = request.param
    sim = Sim()
    play(sim)
    return sim, expected


def test_trace(scenario: tuple[Sim, list[str]]) -> None:
    """Each scenario's jobs go through the lifecycle it names, and nothing is left running."""
    sim, expected = scenario
    assert trace(sim) == expected


def test_replay_from_a_fresh_state_gives_the_same_steps(scenario: tuple[Sim, list[str]]) -> None:
    sim, _ = scenario
    tables = Tables()
    state = DispatchState()
    for facts, steps in zip(sim.batches, sim.steps, strict=True):
        again, writes = run_batch(state, facts, sim.trees, tables)
        tables.apply(writes)
        assert again == steps
    assert tables.snapshot() == sim.tables.snapshot()


def test_the_tables_hold_the_repos_heads_and_sets_after_every_batch(
    scenario: tuple[Sim, list[str]],
) -> None:
    """Each entry is written only when marked changed: a change that is not marked (or a
    mark that is dropped) leaves a restarted dispatcher with other heads or repos."""
    sim, _ = scenario
    tables = Tables()
    state = DispatchState()
    for n, facts in enumerate(sim.batches):
        _, writes = run_batch(state, facts, sim.trees, tables)
        tables.apply(writes)
        again = tables.restore()
        held = (again.repos, again.heads, again.retired, again.meta_json())
        assert held == (state.repos, state.heads, state.retired, state.meta_json()), n
        assert not state.changed


def test_kill_and_restart_at_every_batch(scenario: tuple[Sim, list[str]]) -> None:
    """Killed after batch k's checkpoint (restart from the tables) or before it (the batch is
    read again from the old offsets): the steps and the tables end the same."""
    sim, _ = scenario
    for k in range(len(sim.batches)):
        for crash_before_checkpoint in (False, True):
            tables = Tables()
            state = DispatchState()
            for n, (facts, steps) in enumerate(zip(sim.batches, sim.steps, strict=True)):
                again, writes = run_batch(state, facts, sim.trees, tables)
                assert again == steps, f"batch {n} after a kill at batch {k}"
                if n == k and crash_before_checkpoint:
                    state = tables.restore()  # nothing of the batch was written
                    again, writes = run_batch(state, facts, sim.trees, tables)
                    assert again == steps, f"batch {k} read again after a kill"
                tables.apply(writes)
                if n == k:
                    state = tables.restore()
            assert tables.snapshot() == sim.tables.snapshot()


def test_a_request_seen_twice_is_answered_once() -> None:
    sim = Sim()
    _start(sim)
    create = sim.create("other", "images", "create-1")
    sim.settle(create)
    assert sim.batch(create) == []


# ----------------------------------------------------------------------------- the lifecycle

P = JobPhase
TRANSITIONS = [
    (P.RUNNING, P.FINISHING, True),
    (P.RUNNING, P.FAILURE, True),
    (P.RUNNING, P.KILLED, True),
    (P.RUNNING, P.SUCCESS, False),  # only an output commit makes a success
    (P.FINISHING, P.SUCCESS, True),
    (P.FINISHING, P.FAILURE, True),
    (P.FINISHING, P.KILLED, True),
    (P.FINISHING, P.RUNNING, False),
    (P.FINISHING, P.FINISHING, False),
    (P.SUCCESS, P.RUNNING, False),
    (P.SUCCESS, P.FAILURE, False),
    (P.FAILURE, P.SUCCESS, False),
    (P.KILLED, P.FINISHING, False),
]


@pytest.mark.parametrize(("old", "new", "allowed"), TRANSITIONS, ids=lambda v: str(v))
def test_transitions(old: JobPhase, new: JobPhase, allowed: bool) -> None:
    assert old.can_become(new) is allowed
    job = Job("j", 1, [], "o", 0.0, set(), 0, [], phase=old)
    if allowed:
        job.move(new)
        assert job.phase is new
    else:
        with pytest.raises(AssertionError, match=f"{old.value} → {new.value}"):
            job.move(new)


def test_the_stored_phase_comes_back() -> None:
    job = Job("j", 1, [], "o", 0.0, {"d"}, 0, [], phase=P.FINISHING, commitset="s")
    again = Job.from_header(job.header())
    assert again == dataclasses.replace(job) and again.phase is P.FINISHING


# ----------------------------------------------------------------------------- local workers

KUBE_ONLY = [
    ("resource_limits", {"resource_limits": {"memory": "1Gi"}}),
    ("resource_requests", {"resource_requests": {"cpu": 0.5}}),
    ("scheduling_spec.node_selector", {"scheduling_spec": {"node_selector": {"disk": "ssd"}}}),
]


def _first_answer(kubernetes: bool, extra: dict[str, Any]) -> RequestDone | None:
    """The answer the dispatcher gives a create request before it needs any I/O."""
    state = DispatchState(repos={"raw"}, kubernetes_workers=kubernetes)
    spec = {**one_input_spec("p", "raw"), **extra}
    req = CreatePipeline(request_id="c", pipeline="p", time=1.0, spec=spec)
    for step in handle(state, Requested(req, 1.0)):
        if isinstance(step, Emit) and isinstance(step.event, RequestDone):
            return step.event
        if not isinstance(step, Emit):
            return None  # accepted so far: the flow asks the shell for something
    return None


@pytest.mark.parametrize(("field", "extra"), KUBE_ONLY, ids=[k[0] for k in KUBE_ONLY])
def test_local_workers_refuse_what_only_kubernetes_applies(field: str, extra: dict) -> None:
    done = _first_answer(kubernetes=False, extra=extra)
    assert done is not None and not done.ok, done
    assert f"field '{field}'" in done.error_message
    assert "PACHSTREAM_WORKERS=kubernetes" in done.error_message
    # On Kubernetes workers the same spec is taken (they apply it).
    taken = _first_answer(kubernetes=True, extra=extra)
    assert taken is None or taken.ok, taken


def test_kubernetes_workers_refuse_autoscaling_which_only_local_workers_apply() -> None:
    done = _first_answer(kubernetes=True, extra={"autoscaling": True})
    assert done is not None and not done.ok, done
    assert "field 'autoscaling'" in done.error_message
    assert "unset PACHSTREAM_WORKERS" in done.error_message
    taken = _first_answer(kubernetes=False, extra={"autoscaling": True})
    assert taken is None or taken.ok, taken
    taken = _first_answer(kubernetes=True, extra={"autoscaling": False})  # the default
    assert taken is None or taken.ok, taken


# ----------------------------------------------------------------------------- read your writes

AFTER_CASES = [
    # (after: the writer's view, events_read: the dispatcher's, seconds since written, waits)
    ((), {}, 1.0, False),
    (((0, 5),), {0: 5}, 1.0, False),
    (((0, 5),), {0: 9}, 1.0, False),
    (((0, 5), (1, 3)), {0: 5, 1: 2}, 1.0, True),
    (((0, 5), (1, 3)), {0: 5}, 1.0, True),  # a partition not read at all is at 0
    (((0, 5),), {0: 4}, 59.0, True),
    (((0, 5),), {0: 4}, 60.0, False),  # waited long enough: decided on what it knows
]


@pytest.mark.parametrize(("after", "read", "age", "waits"), AFTER_CASES)
def test_a_create_waits_for_the_events_its_writer_saw(
    after: tuple[tuple[int, int], ...], read: dict[int, int], age: float, waits: bool
) -> None:
    state = DispatchState(repos={"raw"})
    spec = one_input_spec("p", "fresh")
    req = CreatePipeline(request_id="c", pipeline="p", time=100.0, spec=spec, after=after)
    steps = list(handle(state, Requested(req, 100.0 + age, read)))
    if waits:
        # Sent to the back of its partition, unchanged, and not answered.
        assert steps == [Emit("requests", "p", req)]
        assert "p" not in state.pipelines
    else:
        (done,) = events(steps, RequestDone)
        assert not done.ok and "names repo 'fresh', which does not exist" in done.error_message


def test_a_waiting_create_is_taken_once_the_repo_is_read() -> None:
    state = DispatchState(repos={"raw"})
    spec = one_input_spec("p", "fresh")
    req = CreatePipeline(request_id="c", pipeline="p", time=1.0, spec=spec, after=((2, 8),))
    assert list(handle(state, Requested(req, 1.5, {2: 7}))) == [Emit("requests", "p", req)]
    made = RepoCreated(event_id="e", request_id="r", repo="fresh", time=1.0, description="")
    list(handle(state, Observed(made, 1.6)))
    steps = list(handle(state, Requested(req, 1.7, {2: 8})))
    assert [e.repo for e in events(steps, CreateRepo)] == ["p"]  # its output repo
    (done,) = events(steps, RequestDone)
    assert done.ok and "p" in state.pipelines
