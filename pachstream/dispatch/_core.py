"""The dispatcher's pure decisions: job ids, the job's plan with reruns, tasks, job outcomes.

No I/O and no clock: the shell (:mod:`._dispatcher`) loads trees and passes times in, so a
replay of the same events gives the same jobs, tasks and facts. :mod:`._handle` makes its
decisions with these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pachstream.dispatch.datums import Datum, PfsInput, datums, pfs_datum_changes
from pachstream.dispatch.events import DatumFinished, DatumTask, InputCommit, StagedFile, TaskInput
from pachstream.dispatch.plan import IndexEntry, JobPlan, OutputDelta, plan_changes, plan_job
from pachstream.dispatch.spec import PipelineSpec, parse_spec
from pachstream.errors import InvalidSpec, PachstreamError
from pachstream.model import FileEntry, FileOp, derive_id, output_commit_id
from pachstream.tree import entry_to_raw, raw_to_entry

log = logging.getLogger("pachstream.dispatch")

OUTPUT_BRANCH = "master"
"""Branch of a pipeline's output repo that its jobs commit to."""


def job_id(
    pipeline: str, version: int, salt: str, inputs: Sequence[InputCommit], commitset: str
) -> str:
    """A job's id: one pipeline version's job of one commit set on its input commits."""
    return derive_id(
        "job", pipeline, str(version), salt, commitset,
        *(f"{i.name}={i.commit_id}" for i in inputs),
    )  # fmt: skip


@dataclass
class Result:
    """A datum's outcome inside a job."""

    state: str
    """success, failed or recovered."""
    hash: str
    """The datum's hash."""
    outputs: dict[str, FileEntry] = field(default_factory=dict)
    """Its files (success)."""
    carried: bool = False
    """Taken from an earlier job (a rerun keeps the datums that succeeded)."""
    detail: str = ""
    """For failures: exit code and the end of stderr."""


def source(repo: str, branch: str) -> str:
    """The key of a branch's tree and head commit in a job (``PfsInput.source``'s form)."""
    return f"{repo}@{branch}"


def task_for(
    datum: Datum,
    spec: PipelineSpec,
    version: int,
    salt: str,
    job: str,
    output_commit: str,
    commits: Mapping[str, str | None],
    entries: Mapping[str, Mapping[str, FileEntry]],
) -> DatumTask:
    """The task a worker needs to run ``datum``.

    ``commits`` and ``entries`` are keyed by ``source`` (``repo@branch``), not by input name:
    inputs of a union may share a name while reading different repos.
    """
    t = spec.transform
    return DatumTask(
        job_id=job,
        pipeline=spec.name,
        version=version,
        datum_id=datum.id,
        hash=datum.hash(salt),
        inputs=tuple(
            TaskInput(
                name=i.name,
                repo=i.repo,
                branch=i.branch,
                commit_id=commits.get(i.source),
                path=i.path,
                files=tuple(StagedFile(path=p, file=entries[i.source][p]) for p, _ in i.files),
                join_on=i.join_on,
                group_by=i.group_by,
                empty_files=i.empty_files,
            )
            for i in datum.inputs
        ),
        output_commit=output_commit,
        cmd=t.cmd,
        stdin=t.stdin,
        env=t.env,
        working_dir=t.working_dir,
        err_cmd=t.err_cmd,
        err_stdin=t.err_stdin,
        tries=spec.datum_tries,
        timeout_s=spec.datum_timeout_s,
        image=t.image,
    )


@dataclass(frozen=True)
class NewJob:
    """What a job is made of before it starts: its plan, carried results and tasks."""

    plan: JobPlan
    """Which datums run, are skipped, carried or vanish."""
    carried: dict[str, Result]
    """Results taken from the job being rerun."""
    tasks: list[DatumTask]
    """One task per datum to run, in datum order."""


def plan_or_reason(
    spec: PipelineSpec,
    version: int,
    salt: str,
    job: str,
    index: Mapping[str, IndexEntry],
    entries: Mapping[str, Mapping[str, FileEntry]],
    commits: Mapping[str, str | None],
    *,
    earlier: Mapping[str, Result] | None = None,
    every_job: bool = False,
    force: frozenset[str] = frozenset(),
) -> NewJob | str:
    """Datums of the inputs' trees, planned against the index, as tasks; or why the job fails.

    ``entries`` and ``commits`` are keyed by :func:`source`.
    """

    def make() -> NewJob:
        trees = {key: {p: e.hash for p, e in files.items()} for key, files in entries.items()}
        successes = {
            i: IndexEntry(i, r.hash, r.outputs)
            for i, r in (earlier or {}).items()
            if r.state == "success"
        }
        planned = plan_job(
            index,
            datums(spec.input, trees),
            salt,
            every_job=every_job or spec.reprocess == "every_job",
            earlier=successes,
            force=force,
        )
        carried = {
            i: Result("success", e.hash, dict(e.outputs), carried=True)
            for i, e in planned.carried.items()
        }
        return _new_job(planned, carried, spec, version, salt, job, commits, entries)

    made = _or_reason(spec, job, make)
    assert made is not None
    return made


def since_index(
    spec: PipelineSpec,
    index_roots: Mapping[str, str] | None,
    inputs: Sequence[Mapping[str, Any]],
    *,
    rerun: bool = False,
    every_job: bool = False,
    force: frozenset[str] = frozenset(),
) -> tuple[str, str, str] | None:
    """``(source, root the index reflects, root of the job's commit)`` when the job's datums
    can be planned from the change between the two (:func:`plan_changes_or_reason`); None
    when every datum must be made from the whole tree. Pure.

    Only a single pfs input qualifies (a cross, join or group makes datums of several inputs
    at once), and only when the index reflects a commit of that same branch
    (``index_roots``: set when a job's output commit lands, cleared by every new spec version)
    and nothing asks for datums beyond the change (a rerun, ``every_job``, forced datums).
    """
    if rerun or every_job or force or spec.reprocess == "every_job" or index_roots is None:
        return None
    if not isinstance(spec.input, PfsInput) or len(inputs) != 1:
        return None
    key = spec.input.source
    old = index_roots.get(key)
    new = inputs[0]["root"] if inputs[0]["commit"] else None
    if old is None or new is None or set(index_roots) != {key}:
        return None
    return key, old, new


def index_roots(
    inputs: Sequence[Mapping[str, Any]], job_version: int, version: int
) -> dict[str, str] | None:
    """What the index reflects once a job's output commit lands: its inputs' roots (None when
    the job ran under an older spec version, or read an empty branch). Pure.
    """
    if job_version != version:
        return None
    roots = {source(i["repo"], i["branch"]): i["root"] for i in inputs if i["commit"]}
    return roots if roots and len(roots) == len(inputs) else None


def plan_changes_or_reason(
    spec: PipelineSpec,
    version: int,
    salt: str,
    job: str,
    index: Mapping[str, IndexEntry],
    changed: Mapping[str, FileEntry | None],
    commits: Mapping[str, str | None],
) -> NewJob | str | None:
    """As :func:`plan_or_reason`, from the files that changed since the commit the index
    reflects (path → new entry, None: deleted); None when the change alone cannot tell the
    datums (a directory datum holds a changed path): then the whole tree is needed.
    """
    assert isinstance(spec.input, PfsInput)
    pfs = spec.input

    def make() -> NewJob | None:
        found = pfs_datum_changes(pfs, {p: e.hash if e else None for p, e in changed.items()})
        if found is None:
            return None
        planned = plan_changes(index, found[0], found[1], salt)
        entries = {pfs.source: {p: e for p, e in changed.items() if e is not None}}
        return _new_job(planned, {}, spec, version, salt, job, commits, entries)

    return _or_reason(spec, job, make)


def _new_job(
    planned: JobPlan,
    carried: dict[str, Result],
    spec: PipelineSpec,
    version: int,
    salt: str,
    job: str,
    commits: Mapping[str, str | None],
    entries: Mapping[str, Mapping[str, FileEntry]],
) -> NewJob:
    output_commit = output_commit_id(spec.name, job)
    tasks = [
        task_for(d, spec, version, salt, job, output_commit, commits, entries) for d in planned.run
    ]
    return NewJob(planned, carried, tasks)


def _or_reason(
    spec: PipelineSpec, job: str, make: Callable[[], NewJob | None]
) -> NewJob | str | None:
    """``make()``, or why the job fails: the dispatcher serves every pipeline in one loop, so
    whatever goes wrong while one job's datums are made (a refused glob or template, a defect
    of pachstream's own planning code) fails that job with a reason the user can act on, and
    the loop goes on.
    """
    try:
        return make()
    except PachstreamError as err:
        return (
            f"its datums could not be made: {err.message}; fix the spec and "
            f"'pachstream update pipeline', or fix the data"
        )
    except Exception as err:  # noqa: BLE001 - one pipeline's data must not stop the loop
        log.exception("dispatch: planning job %s of %s failed", job, spec.name)
        return (
            f"its datums could not be made ({type(err).__name__}: {err}); this is a pachstream "
            f"defect: please report it with the spec ('pachstream inspect pipeline {spec.name} "
            "--json')"
        )


def checked_spec(
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


def refuse_what_local_workers_ignore(spec: PipelineSpec) -> None:
    """Refuse the fields only Kubernetes workers apply, when the workers are local.

    Local workers reserve and limit nothing and run on this machine: a resource or a node
    selector would be accepted and silently ignored.

    Raises:
        InvalidSpec: naming the first such field and both ways out.

    """
    asked = [
        name
        for name, value in (
            ("resource_requests", spec.resource_requests),
            ("resource_limits", spec.resource_limits),
            ("scheduling_spec.node_selector", spec.node_selector),
        )
        if value
    ]
    if asked:
        raise InvalidSpec(
            f"pipeline '{spec.name}': field '{asked[0]}' is applied only by Kubernetes workers, "
            "and these workers are local (they reserve and limit nothing); remove it, or run "
            "the workers on Kubernetes (PACHSTREAM_WORKERS=kubernetes)",
            pipeline=spec.name,
            field=asked[0],
        )


def refuse_what_kubernetes_workers_ignore(spec: PipelineSpec) -> None:
    """Refuse ``autoscaling`` when the workers run on Kubernetes: their pool keeps a pipeline's
    pods whatever its jobs do, and the field would be accepted and silently ignored.

    Raises:
        InvalidSpec: naming the field and both ways out.

    """
    if spec.autoscaling:
        raise InvalidSpec(
            f"pipeline '{spec.name}': field 'autoscaling' is applied only by local workers, and "
            "these run on Kubernetes (their pods stay while the pipeline is idle); remove it, "
            "or run the workers locally (unset PACHSTREAM_WORKERS)",
            pipeline=spec.name,
            field="autoscaling",
        )


DETAIL_CHARS = 500
"""Characters of a failed datum's last stderr line kept in its job's failure reason."""


def result_of(fact: DatumFinished) -> Result:
    """A worker's report as a job's result."""
    detail = ""
    if fact.state != "success":
        how = "timed out" if fact.timed_out else f"exit {fact.exit_code}"
        if fact.exit_code is None and not fact.timed_out:
            how = "no exit status"
        tail = fact.stderr_tail.strip().splitlines()[-1:] if fact.stderr_tail.strip() else []
        # The last line in full up to a bound: a setup failure (an image that is missing)
        # says what to do at the end of a long line.
        detail = f"{how} after {fact.tries} tries" + (f": {tail[0][:DETAIL_CHARS]}" if tail else "")
    return Result(fact.state, fact.hash, {o.path: o.file for o in fact.outputs}, detail=detail)


def failure_reason(job: str, results: Mapping[str, Result]) -> str | None:
    """Why the job failed (naming its failed datums and the way out), or None."""
    failed = sorted((i, r) for i, r in results.items() if r.state == "failed")
    if not failed:
        return None
    shown = "; ".join(f"datum {i} {r.detail}" for i, r in failed[:3])
    more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
    return (
        f"{len(failed)} datum(s) failed: {shown}{more}; see "
        f"'pachstream logs --job {job} --datum ID', fix the code or data, then "
        f"'pachstream rerun job {job} --failed'"
    )


def changes(results: Mapping[str, Result], vanished: Sequence[str]) -> dict[str, IndexEntry | None]:
    """How a successful job moves the pipeline's index: datums that succeeded get their new
    entry; vanished ones and recovered ones (no outputs kept, so they run again) leave it.
    """
    out: dict[str, IndexEntry | None] = {i: None for i in vanished}
    for i, r in results.items():
        out[i] = IndexEntry(i, r.hash, r.outputs) if r.state == "success" else None
    return out


def output_ops(delta: OutputDelta) -> tuple[FileOp, ...]:
    """The file ops that turn the previous output commit into the new one: deletes first."""
    ops = [FileOp(op="delete", path=p) for p in delta.deletes]
    ops += [FileOp(op="put", path=p, file=delta.puts[p]) for p in sorted(delta.puts)]
    return tuple(ops)


def entry_json(entries: Mapping[str, FileEntry]) -> dict[str, Any]:
    """Outputs as stored in the dispatcher's tables."""
    return {p: entry_to_raw(e) for p, e in entries.items()}


def entry_from_json(raw: Mapping[str, Any]) -> dict[str, FileEntry]:
    """The inverse of :func:`entry_json`."""
    return {p: raw_to_entry(e) for p, e in raw.items()}
