"""The dispatcher's pure decisions: job ids, the job's plan with reruns, tasks, job outcomes.

No I/O and no clock: the shell (:mod:`._dispatcher`) loads trees and passes times in, so a
replay of the same events gives the same jobs, tasks and facts.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pachstream.commits.events import FileEntry, FileOp, derive_id
from pachstream.dispatch.datums import Datum, PfsInput
from pachstream.dispatch.events import DatumFinished, DatumTask, InputCommit, StagedFile, TaskInput
from pachstream.dispatch.plan import IndexEntry, OutputDelta
from pachstream.dispatch.spec import PipelineSpec
from pachstream.tree import entry_to_raw, raw_to_entry

OUTPUT_BRANCH = "master"
"""Branch of a pipeline's output repo that its jobs commit to."""


def job_id(pipeline: str, version: int, salt: str, inputs: Sequence[InputCommit]) -> str:
    """A job's id: the same pipeline version on the same input commits is the same job."""
    return derive_id(
        "job", pipeline, str(version), salt, *(f"{i.name}={i.commit_id}" for i in inputs)
    )


def output_request_id(job: str) -> str:
    """The request that writes a job's output commit; the commit id derives from it."""
    return derive_id(job, "output")


@functools.lru_cache(maxsize=1024)
def output_commit_id(pipeline: str, job: str) -> str:
    """The id the job's output commit gets (the commit processor derives it the same way)."""
    return derive_id(pipeline, output_request_id(job))


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


def task_for(
    datum: Datum,
    spec: PipelineSpec,
    version: int,
    salt: str,
    job: str,
    output_commit: str,
    commits: Mapping[str, str | None],
    entries: Mapping[str, Mapping[str, FileEntry]],
    pfs: Mapping[str, PfsInput],
) -> DatumTask:
    """The task a worker needs to run ``datum`` (``entries``: input name → path → entry)."""
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
                commit_id=commits.get(i.name),
                path=i.path,
                files=tuple(StagedFile(path=p, file=entries[i.name][p]) for p, _ in i.files),
                join_on=i.join_on,
                group_by=i.group_by,
                empty_files=pfs[i.name].empty_files if i.name in pfs else False,
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
    )


def result_of(fact: DatumFinished) -> Result:
    """A worker's report as a job's result."""
    detail = ""
    if fact.state != "success":
        how = "timed out" if fact.timed_out else f"exit {fact.exit_code}"
        tail = fact.stderr_tail.strip().splitlines()[-1:] if fact.stderr_tail.strip() else []
        detail = f"{how} after {fact.tries} tries" + (f": {tail[0][:200]}" if tail else "")
    return Result(fact.state, fact.hash, {o.path: o.file for o in fact.outputs}, detail=detail)


def failure_reason(job: str, results: Mapping[str, Result]) -> str | None:
    """Why the job failed (naming its failed datums and the way out), or None."""
    failed = sorted((i, r) for i, r in results.items() if r.state == "failed")
    if not failed:
        return None
    shown = "; ".join(f"datum {i} {r.detail}" for i, r in failed[:3])
    more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
    return (
        f"{len(failed)} datum(s) failed: {shown}{more}; see 'pachstream logs --job {job} --datum ID', "
        f"fix the code or data, then 'pachstream rerun job {job} --failed'"
    )


def changes(results: Mapping[str, Result], vanished: Sequence[str]) -> dict[str, IndexEntry | None]:
    """How a successful job moves the pipeline's index: datums that succeeded get their new
    entry; vanished ones and recovered ones (no outputs kept, so they run again) leave it."""
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
