"""Facts → SQL statements: pure row mapping, one function per fact type.

Every statement is idempotent (an upsert with full values, or a delete), so applying a fact
twice, or replaying a suffix of the log in order, leaves the same tables. A request's answer
is first-wins: a writer's retry of a request that was applied may be refused the second time
(say, "repo exists"), and that later answer must not overwrite the real one.
"""

from __future__ import annotations

from typing import Any

import orjson

from pachstream.codec import to_plain
from pachstream.commits.events import (
    BranchDeleted,
    BranchSet,
    CommitFinished,
    CommitStarted,
    RepoCreated,
    RepoDeleted,
    RequestDone,
)
from pachstream.dispatch.events import (
    DatumFinished,
    JobFinished,
    JobStarted,
    PipelineCreated,
    PipelineStateSet,
)

Statement = tuple[str, tuple[Any, ...]]

UPSERT_REPO = (
    "INSERT INTO repos (name, description, created) VALUES ($1, $2, $3) "
    "ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, created = EXCLUDED.created"
)
DELETE_REPO = "DELETE FROM repos WHERE name = $1"
DELETE_REPO_BRANCHES = "DELETE FROM branches WHERE repo = $1"
DELETE_REPO_COMMITS = "DELETE FROM commits WHERE repo = $1"
UPSERT_BRANCH = (
    "INSERT INTO branches (repo, name, head, updated) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (repo, name) DO UPDATE SET head = EXCLUDED.head, updated = EXCLUDED.updated"
)
DELETE_BRANCH = "DELETE FROM branches WHERE repo = $1 AND name = $2"
UPSERT_STARTED = (
    "INSERT INTO commits (id, repo, branch, parent, description, started, request_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING"
)
UPSERT_FINISHED = (
    "INSERT INTO commits (id, repo, branch, parent, description, started, finished, root, "
    "file_count, size_bytes, added, modified, deleted, diff_ref, request_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
    "ON CONFLICT (id) DO UPDATE SET description = EXCLUDED.description, "
    "finished = EXCLUDED.finished, root = EXCLUDED.root, file_count = EXCLUDED.file_count, "
    "size_bytes = EXCLUDED.size_bytes, added = EXCLUDED.added, modified = EXCLUDED.modified, "
    "deleted = EXCLUDED.deleted, diff_ref = EXCLUDED.diff_ref"
)
INSERT_REQUEST = (
    "INSERT INTO requests (request_id, repo, ok, commit_id, error_code, error_message, "
    "error_fields) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id) DO NOTHING"
)
INSERT_BLOB = (
    "INSERT INTO blobs (hash, size, pack, pack_offset) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (hash) DO NOTHING"
)

UPSERT_PIPELINE = (
    "INSERT INTO pipelines (name, version, spec, salt, created) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (name, version) DO NOTHING"
)
UPSERT_PIPELINE_STATE = (
    "INSERT INTO pipeline_states (name, version, state, updated) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, state = EXCLUDED.state, "
    "updated = EXCLUDED.updated"
)
SET_PIPELINE_STATE = "UPDATE pipeline_states SET state = $2, updated = $3 WHERE name = $1"
INSERT_JOB = (
    "INSERT INTO jobs (id, pipeline, version, inputs, output_commit, state, datums, to_run, "
    "skipped, started, rerun_of) VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10) "
    "ON CONFLICT (id) DO NOTHING"
)
FINISH_JOB = (
    "UPDATE jobs SET state = $2, processed = $3, skipped = $4, failed = $5, recovered = $6, "
    "finished = $7, reason = $8, output_commit = COALESCE($9, output_commit) WHERE id = $1"
)
INSERT_DATUM = (
    "INSERT INTO datums (job_id, datum_id, pipeline, hash, state, tries, exit_code, timed_out, "
    "stderr_tail, log_ref, started, duration_s, worker, inputs, outputs, stdout_tail) VALUES ($1, $2, "
    "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (job_id, datum_id) "
    "DO NOTHING"
)


def _json(value: Any) -> str:
    return orjson.dumps(to_plain(value)).decode()


def blob_rows(diff: list[Any]) -> list[Statement]:
    """Blob-index rows for the new content of a raw diff (``[path, change, new, old]`` rows,
    as the diff object stores them)."""
    return [
        (INSERT_BLOB, (c[0], c[1], c[2], c[3]))
        for _, _, cur, _ in diff
        if cur is not None
        for c in cur[2]
    ]


def rows_for(fact: Any, diff: list[Any] | None = None) -> list[Statement]:
    """The statements that materialize one fact.

    ``diff``: a CommitFinished's full raw diff, read from its ``diff_ref`` when it was too
    large to travel inline.
    """
    match fact:
        case RepoCreated():
            return [(UPSERT_REPO, (fact.repo, fact.description, fact.time))]
        case RepoDeleted():
            return [
                (DELETE_REPO_BRANCHES, (fact.repo,)),
                (DELETE_REPO_COMMITS, (fact.repo,)),
                (DELETE_REPO, (fact.repo,)),
            ]
        case BranchSet():
            return [(UPSERT_BRANCH, (fact.repo, fact.branch, fact.head, fact.time))]
        case BranchDeleted():
            return [(DELETE_BRANCH, (fact.repo, fact.branch))]
        case CommitStarted():
            return [
                (
                    UPSERT_STARTED,
                    (
                        fact.commit_id,
                        fact.repo,
                        fact.branch,
                        fact.parent,
                        fact.description,
                        fact.time,
                        fact.request_id,
                    ),
                ),
                (UPSERT_BRANCH, (fact.repo, fact.branch, fact.commit_id, fact.time)),
            ]
        case CommitFinished():
            out: list[Statement] = [
                (
                    UPSERT_FINISHED,
                    (
                        fact.commit_id,
                        fact.repo,
                        fact.branch,
                        fact.parent,
                        fact.description,
                        fact.started,
                        fact.finished,
                        fact.root or None,
                        fact.file_count,
                        fact.size_bytes,
                        fact.added,
                        fact.modified,
                        fact.deleted,
                        fact.diff_ref,
                        fact.request_id,
                    ),
                )
            ]
            if diff is not None:
                out.extend(blob_rows(diff))
            else:
                for d in fact.diff or ():
                    if d.file is not None:
                        out.extend(
                            (INSERT_BLOB, (c.hash, c.size, c.pack, c.offset)) for c in d.file.chunks
                        )
            return out
        case RequestDone():
            fields = orjson.dumps(fact.error_fields).decode() if fact.error_fields else None
            return [
                (
                    INSERT_REQUEST,
                    (
                        fact.request_id,
                        fact.repo,
                        fact.ok,
                        fact.commit_id,
                        fact.error_code,
                        fact.error_message,
                        fields,
                    ),
                )
            ]
        case PipelineCreated():
            return [
                (
                    UPSERT_PIPELINE,
                    (fact.pipeline, fact.version, _json(fact.spec), fact.salt, fact.time),
                ),
                (UPSERT_PIPELINE_STATE, (fact.pipeline, fact.version, "running", fact.time)),
            ]
        case PipelineStateSet():
            return [(SET_PIPELINE_STATE, (fact.pipeline, fact.state, fact.time))]
        case JobStarted():
            inputs = [
                {"name": i.name, "repo": i.repo, "branch": i.branch, "commit": i.commit_id}
                for i in fact.inputs
            ]
            return [
                (
                    INSERT_JOB,
                    (
                        fact.job_id,
                        fact.pipeline,
                        fact.version,
                        orjson.dumps(inputs).decode(),
                        fact.output_commit,
                        fact.datums,
                        fact.to_run,
                        fact.skipped,
                        fact.time,
                        fact.rerun_of,
                    ),
                )
            ]
        case JobFinished():
            return [
                (
                    FINISH_JOB,
                    (
                        fact.job_id,
                        fact.state,
                        fact.processed,
                        fact.skipped,
                        fact.failed,
                        fact.recovered,
                        fact.time,
                        fact.reason,
                        fact.output_commit,
                    ),
                )
            ]
        case DatumFinished():
            inputs = [
                {
                    "name": i.name,
                    "repo": i.repo,
                    "commit": i.commit_id,
                    "path": i.path,
                    "files": [[f.path, f.file.hash] for f in i.files],
                }
                for i in fact.inputs
            ]
            outputs = [[o.path, o.file.hash, o.file.size] for o in fact.outputs]
            return [
                (
                    INSERT_DATUM,
                    (
                        fact.job_id,
                        fact.datum_id,
                        fact.pipeline,
                        fact.hash,
                        fact.state,
                        fact.tries,
                        fact.exit_code,
                        fact.timed_out,
                        fact.stderr_tail,
                        fact.log_ref,
                        fact.started,
                        fact.duration_s,
                        fact.worker,
                        orjson.dumps(inputs).decode(),
                        orjson.dumps(outputs).decode(),
                        fact.stdout_tail,
                    ),
                )
            ]
    return []
