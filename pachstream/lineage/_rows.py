"""Facts → SQL statements: pure row mapping, one function per fact type.

Every statement is idempotent (an upsert with full values, or a delete), so applying a fact
twice, or replaying a suffix of the log in order, leaves the same tables. A request's answer
is first-wins: a writer's retry of a request that was applied may be refused the second time
(say, "repo exists"), and that later answer must not overwrite the real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from pachstream.codec import to_plain
from pachstream.commits.events import (
    BranchDeleted,
    BranchSet,
    CommitDeleted,
    CommitFinished,
    CommitSquashed,
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
from pachstream.errors import EventDecodeError
from pachstream.model import output_commit_id
from pachstream.tree import entry_to_raw

Statement = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Bulk:
    """How the rows of an append-only insert may be loaded in bulk."""

    table: str
    columns: tuple[str, ...]
    smallest: tuple[str, ...] = ()
    """Empty: the first row of a key wins (every row of a key is the same). Else the key
    column, then expressions over a row ``{t}`` whose smallest value wins: for rows whose
    facts may arrive in any order (on different partitions), the choice must not depend on
    that order."""
    apart: bool = False
    """Rows that no other statement reads, removes or needs beside them, and whose presence
    alone says nothing false (an index of content that is stored, whatever names it): many
    of them may go in by a transaction of their own, beside the batch's."""
    scattered: bool = False
    """Its key (the first column) is random (a content hash): many rows are loaded in key
    order. A btree takes 100,000 such keys by COPY in about half the time sorted (each leaf
    page touched once, in order, not at random): 0.19-0.46 s against 0.37-0.68 s, beside a
    sort of 0.08-0.19 s in the materializer (measured, empty and 300,000-row tables)."""

    @property
    def recurs(self) -> bool:
        """Whether its keys come again in normal operation, from other facts (one content
        stored by many commits), not only in a fact delivered again: a table whose smallest
        row wins. The materializer tries a COPY of such rows under a savepoint of its own
        (a duplicate key is likely); for other tables a duplicate key fails the batch's
        transaction, and the batch is written again through stages.
        """
        return bool(self.smallest)

    def select(self, source: str) -> str:
        """The stage's rows as an idempotent insert into the table."""
        names = ", ".join(self.columns)
        if not self.smallest:
            return (
                f"INSERT INTO {self.table} ({names}) SELECT {names} FROM {source} "
                "ON CONFLICT DO NOTHING"
            )
        # One row per key first: DO UPDATE may not touch a row twice in one statement.
        order = ", ".join(e.format(t=source) for e in self.smallest[1:])
        key = self.smallest[0]
        return (
            f"INSERT INTO {self.table} ({names}) SELECT DISTINCT ON ({key}) {names} "
            f"FROM {source} ORDER BY {key}, {order} " + _min_wins(self)
        )


def _min_wins(spec: Bulk) -> str:
    key, rest = spec.smallest[0], spec.smallest[1:]
    new = ", ".join(e.format(t="EXCLUDED") for e in rest)
    old = ", ".join(e.format(t=spec.table) for e in rest)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in spec.columns if c != key)
    return f"ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE ({new}) < ({old})"


BULK: dict[str, Bulk] = {}
"""Append-only inserts → how to load them: the materializer may defer these past other
statements of its batch (up to the next delete) and load many of them with COPY through a
staging table."""


def _append_only(
    table: str,
    columns: tuple[str, ...],
    smallest: tuple[str, ...] = (),
    *,
    apart: bool = False,
    scattered: bool = False,
) -> str:
    """An idempotent insert whose rows may be bulk-loaded (see :data:`BULK`)."""
    spec = Bulk(table, columns, smallest, apart, scattered)
    marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
    sql += _min_wins(spec) if smallest else "ON CONFLICT DO NOTHING"
    BULK[sql] = spec
    return sql


UPSERT_REPO = (
    "INSERT INTO repos (name, description, created, pipeline) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, "
    "created = EXCLUDED.created, pipeline = EXCLUDED.pipeline"
)
DELETE_REPO = "DELETE FROM repos WHERE name = $1"
DELETE_REPO_BRANCHES = "DELETE FROM branches WHERE repo = $1"
DELETE_REPO_COMMITS = "DELETE FROM commits WHERE repo = $1"
# By the repo's commits (their id leads commit_files' key): a repo's files are found without an
# index of their own, which every commit's rows paid for (see the schema's version 8).
DELETE_REPO_FILES = (
    "DELETE FROM commit_files WHERE commit_id IN (SELECT id FROM commits WHERE repo = $1)"
)
UPSERT_BRANCH = (
    "INSERT INTO branches (repo, name, head, updated) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (repo, name) DO UPDATE SET head = EXCLUDED.head, updated = EXCLUDED.updated"
)
DELETE_BRANCH = "DELETE FROM branches WHERE repo = $1 AND name = $2"
DELETE_COMMIT_FILES = "DELETE FROM commit_files WHERE commit_id = $1"
DELETE_COMMIT = "DELETE FROM commits WHERE id = $1"
REPARENT_COMMIT = (
    "UPDATE commits SET parent = $2, added = $3, modified = $4, deleted = $5, diff_ref = $6 "
    "WHERE id = $1"
)
# A squashed commit's one child now holds its data: provenance that named it names the child.
REMAP_PROVENANCE = "UPDATE commit_provenance SET input_commit = $2 WHERE input_commit = $1"
# Datum inputs by their jobs, not a scan of every job's: the jobs that read the commit, or a
# commit squashed into it before (their rows name it now), by the jobs_inputs index, then their
# rows by key. Before CHAIN_SQUASH, which makes those point past it. A job whose start comes
# after the squash has its rows remapped then (REMAP_JOB_DATUM_INPUTS, see job_remaps).
REMAP_DATUM_INPUTS = (
    "UPDATE datum_inputs d SET commit_id = $2 FROM ("
    "SELECT DISTINCT j.id FROM (SELECT $1::text AS c "
    "UNION SELECT commit_id FROM squashed_commits WHERE child = $1) ids "
    "JOIN jobs j ON j.inputs @> jsonb_build_array(jsonb_build_object('commit', ids.c))) r "
    "WHERE d.job_id = r.id AND d.commit_id = $1"
)
REMAP_JOB_DATUM_INPUTS = (
    "UPDATE datum_inputs d SET commit_id = s.child FROM squashed_commits s "
    "WHERE d.job_id = $1 AND d.commit_id = s.commit_id"
)
# ... and so do the rows that name it later (see follow_squashes), and earlier squashes into it.
RECORD_SQUASH = (
    "INSERT INTO squashed_commits (commit_id, child) VALUES ($1, $2) "
    "ON CONFLICT (commit_id) DO UPDATE SET child = EXCLUDED.child"
)
CHAIN_SQUASH = "UPDATE squashed_commits SET child = $2 WHERE child = $1"
UPSERT_STARTED = (
    "INSERT INTO commits (id, repo, branch, parent, description, started, request_id, commitset) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING"
)
UPSERT_FINISHED = (
    "INSERT INTO commits (id, repo, branch, parent, description, started, finished, root, "
    "file_count, size_bytes, added, modified, deleted, diff_ref, request_id, commitset) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) "
    "ON CONFLICT (id) DO UPDATE SET description = EXCLUDED.description, "
    "finished = EXCLUDED.finished, root = EXCLUDED.root, file_count = EXCLUDED.file_count, "
    "size_bytes = EXCLUDED.size_bytes, added = EXCLUDED.added, modified = EXCLUDED.modified, "
    "deleted = EXCLUDED.deleted, diff_ref = EXCLUDED.diff_ref"
)
INSERT_REQUEST = (
    "INSERT INTO requests (request_id, repo, ok, commit_id, error_code, error_message, "
    "error_fields) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id) DO NOTHING"
)
# The same content may be stored twice (two writers, two packs) and its facts reach us on
# different partitions: the smallest location wins, so replays pick the same one. Apart: a
# blob row says a chunk is stored at a place, which stays true whether or not the fact that
# brought it is ever applied (packs are never deleted), and only writers deduplicating read it.
INSERT_BLOB = _append_only(
    "blobs",
    ("hash", "size", "pack", "pack_offset"),
    smallest=("hash", "COALESCE({t}.pack, '')", "{t}.pack_offset"),
    apart=True,
    scattered=True,
)
INSERT_COMMIT_FILE = _append_only(
    "commit_files", ("commit_id", "repo", "path", "change", "hash", "size")
)

UPSERT_PIPELINE = (
    "INSERT INTO pipelines (name, version, spec, salt, created) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (name, version) DO NOTHING"
)
# Last writer by event time wins, whichever of a pipeline's facts arrives first.
UPSERT_PIPELINE_STATE = (
    "INSERT INTO pipeline_states (name, version, state, updated) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (name) DO UPDATE SET "
    "version = GREATEST(pipeline_states.version, EXCLUDED.version), "
    "state = CASE WHEN EXCLUDED.updated >= pipeline_states.updated "
    "THEN EXCLUDED.state ELSE pipeline_states.state END, "
    "updated = GREATEST(pipeline_states.updated, EXCLUDED.updated)"
)
# A job's row is made by its start or its end, whichever arrives first; each fills its own
# columns and never undoes the other's (a finished job stays finished).
UPSERT_JOB_STARTED = (
    "INSERT INTO jobs (id, pipeline, version, inputs, output_commit, state, datums, to_run, "
    "skipped, started, rerun_of, commitset) "
    "VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10, $11) "
    "ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, inputs = EXCLUDED.inputs, "
    "output_commit = CASE WHEN jobs.output_commit = '' THEN EXCLUDED.output_commit "
    "ELSE jobs.output_commit END, datums = EXCLUDED.datums, to_run = EXCLUDED.to_run, "
    "skipped = CASE WHEN jobs.finished IS NULL THEN EXCLUDED.skipped ELSE jobs.skipped END, "
    "started = EXCLUDED.started, rerun_of = EXCLUDED.rerun_of, commitset = EXCLUDED.commitset"
)
UPSERT_JOB_FINISHED = (
    "INSERT INTO jobs (id, pipeline, state, processed, skipped, failed, recovered, finished, "
    "reason, output_commit) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, COALESCE($10, '')) "
    "ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, processed = EXCLUDED.processed, "
    "skipped = EXCLUDED.skipped, failed = EXCLUDED.failed, recovered = EXCLUDED.recovered, "
    "finished = EXCLUDED.finished, reason = EXCLUDED.reason, "
    "output_commit = COALESCE($10, jobs.output_commit)"
)
# Provenance is that of output commits that exist: a failed job's rows never stay, whichever
# of its start and end arrives first.
INSERT_PROVENANCE = (
    "INSERT INTO commit_provenance (commit_id, repo, job_id, input_name, input_repo, "
    "input_branch, input_commit) SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS "
    "(SELECT 1 FROM jobs WHERE id = $3 AND state IN ('failure', 'killed')) "
    "ON CONFLICT DO NOTHING"
)
DELETE_PROVENANCE = "DELETE FROM commit_provenance WHERE job_id = $1"
INSERT_DATUM = _append_only(
    "datums",
    (
        "job_id", "datum_id", "pipeline", "hash", "state", "tries", "exit_code", "timed_out",
        "stderr_tail", "log_ref", "started", "duration_s", "worker", "inputs", "outputs",
        "stdout_tail",
    ),
)  # fmt: skip
INSERT_DATUM_INPUT = _append_only(
    "datum_inputs",
    ("job_id", "datum_id", "input_name", "repo", "commit_id", "path", "hash", "size"),
)
INSERT_DATUM_OUTPUT = _append_only(
    "datum_outputs", ("job_id", "datum_id", "repo", "commit_id", "path", "hash", "size")
)


SQUASHED_AT: dict[str, tuple[int, ...]] = {
    INSERT_DATUM_INPUT: (4,),  # commit_id
    INSERT_PROVENANCE: (6,),  # input_commit
    # A squash's own target: (squashed, into).
    REMAP_PROVENANCE: (1,),
    REMAP_DATUM_INPUTS: (1,),
    CHAIN_SQUASH: (1,),
    RECORD_SQUASH: (1,),
}
"""Statements that name a commit that may have been squashed, and where in their arguments:
what :func:`follow_squashes` maps (the input commits a squash remaps, and a squash's target)."""


def _json(value: Any) -> str:
    return orjson.dumps(to_plain(value)).decode()


def blob_rows(diff: list[Any]) -> list[Statement]:
    """Blob-index rows for the new content of a raw diff (``[path, change, new, old]`` rows,
    as the diff object stores them).
    """
    return [
        (INSERT_BLOB, (c[0], c[1], c[2], c[3]))
        for _, _, cur, _ in diff
        if cur is not None
        for c in cur[2]
    ]


def commit_file_rows(commit_id: str, repo: str, diff: list[Any]) -> list[Statement]:
    """The files a commit changed, from its raw diff: one row per path with the new hash and
    size (none for a delete).
    """
    return [
        (
            INSERT_COMMIT_FILE,
            (
                commit_id,
                repo,
                path,
                change,
                None if cur is None else cur[0],
                None if cur is None else cur[1],
            ),
        )
        for path, change, cur, _ in diff
    ]


def stored_diff_rows(
    commit_id: str, repo: str, stored: Any, *, blobs: bool = True, key: str = ""
) -> list[Statement]:
    """The blob-index rows (with ``blobs``) and the file rows of a commit's diff as its object
    stores it: packed (:func:`~pachstream.tree.pack_diff`), straight from the packed rows,
    or a plain list of raw rows (written before packing). Pure.

    As ``blob_rows(unpack_diff(stored)) + commit_file_rows(...)``, without the raw entries in
    between (three lists a file, then dropped): for a commit of 100,000 files, 0.10-0.18 s
    of the materializer's CPU before its rows could go, against 0.03 this way (measured).

    Raises:
        EventDecodeError: ``stored`` is not a diff (its fact is dead-lettered, saying so, with
            ``key``, the object it was read from).
    """
    try:
        if isinstance(stored, list):
            return (blob_rows(stored) if blobs else []) + commit_file_rows(commit_id, repo, stored)
        packs, rows = stored["packs"], stored["rows"]
        blob_out: list[Statement] = []
        file_out: list[Statement] = []
        add_blob, add_file = blob_out.append, file_out.append
        for path, change, cur, _ in rows:
            if cur is None:
                add_file((INSERT_COMMIT_FILE, (commit_id, repo, path, change, None, None)))
                continue
            if len(cur) == 4:  # one chunk, the whole file (see tree._packed)
                h, size, at, offset = cur
                if blobs:
                    add_blob((INSERT_BLOB, (h, size, packs[at], offset)))
            else:
                h, size, chunks = cur
                if blobs:
                    for c in chunks:
                        add_blob((INSERT_BLOB, (c[0], c[1], packs[c[2]], c[3])))
            add_file((INSERT_COMMIT_FILE, (commit_id, repo, path, change, h, size)))
    except (ValueError, LookupError, TypeError) as err:
        where = f"diff object {key!r}" if key else "inline diff"
        raise EventDecodeError(f"{where} is not a diff (commit {commit_id}): {err!r}") from err
    return blob_out + file_out


def _raw_diff(entries: Any) -> list[Any]:
    return [
        [d.path, d.change, None if d.file is None else entry_to_raw(d.file), None] for d in entries
    ]


SquashMap = dict[str, str]
"""Squashed commit id → the commit that now holds its data (its one child, or where that
child was squashed in turn)."""


def squashed_into(fact: Any) -> tuple[str, str] | None:
    """``(squashed commit, where its data went)`` for a squash with one child (whose rows are
    remapped to that child); None for any other fact. Pure.
    """
    if isinstance(fact, CommitSquashed) and len(fact.children) == 1:
        return fact.commit_id, fact.children[0].commit_id
    return None


def note_squash(squashes: SquashMap, squashed: str, into: str) -> None:
    """Add a squash to ``squashes``, kept flat: the commits already squashed into ``squashed``
    now go where it goes, as ``CHAIN_SQUASH`` does to the table; and if ``into`` was squashed
    itself (its squash came first, from another partition), where that went.
    """
    into = squashes.get(into, into)
    for old, child in squashes.items():
        if child == squashed:
            squashes[old] = into
    squashes[squashed] = into


def follow_squashes(statements: list[Statement], squashes: SquashMap) -> list[Statement]:
    """``statements`` with every commit that was squashed, where they name one that may have
    been (:data:`SQUASHED_AT`), replaced by where its data went: an input commit of rows that
    a squash would have remapped had they come before it, and the target of a later squash
    into a commit squashed already. Pure.
    """
    if not squashes:
        return statements
    out: list[Statement] = []
    for sql, args in statements:
        for at in SQUASHED_AT.get(sql, ()):
            if args[at] in squashes:
                args = (*args[:at], squashes[args[at]], *args[at + 1 :])
        out.append((sql, args))
    return out


def job_remaps(fact: Any, squashes: SquashMap) -> list[Statement]:
    """For a job's start that comes after a squash of a commit it read: its datum inputs that
    name a squashed commit, remapped by key (the squash found a job's rows through the job's
    row, which did not exist yet). Pure.
    """
    if isinstance(fact, JobStarted) and any(i.commit_id in squashes for i in fact.inputs):
        return [(REMAP_JOB_DATUM_INPUTS, (fact.job_id,))]
    return []


def rows_for(fact: Any, diff: Any = None) -> list[Statement]:
    """The statements that materialize one fact.

    ``diff``: a CommitFinished's full diff, read from its ``diff_ref`` when it was too large
    to travel inline, as its object stores it (see :func:`stored_diff_rows`); for a
    CommitSquashed, child id → such a diff.

    Raises:
        EventDecodeError: a diff given is not one.
    """
    match fact:
        case CommitDeleted():
            return [
                (DELETE_COMMIT_FILES, (fact.commit_id,)),
                (DELETE_COMMIT, (fact.commit_id,)),
                *[(UPSERT_BRANCH, (fact.repo, m.branch, m.head, fact.time)) for m in fact.moved],
            ]
        case CommitSquashed():
            # The delete first: it also loads any deferred rows that name the commit.
            squashed: list[Statement] = [(DELETE_COMMIT_FILES, (fact.commit_id,))]
            for c in fact.children:
                stored = (
                    _raw_diff(c.diff) if c.diff is not None else (diff or {}).get(c.commit_id, [])
                )
                counts = (c.added, c.modified, c.deleted, c.diff_ref)
                squashed.append((REPARENT_COMMIT, (c.commit_id, c.parent, *counts)))
                squashed.append((DELETE_COMMIT_FILES, (c.commit_id,)))
                squashed.extend(
                    stored_diff_rows(
                        c.commit_id,
                        fact.repo,
                        stored,
                        blobs=False,
                        key=c.diff_ref if c.diff is None else "",
                    )
                )
            if len(fact.children) == 1:
                moved = (fact.commit_id, fact.children[0].commit_id)
                squashed += [
                    (REMAP_PROVENANCE, moved),
                    (REMAP_DATUM_INPUTS, moved),
                    (CHAIN_SQUASH, moved),
                    (RECORD_SQUASH, moved),
                ]
            return squashed + [(DELETE_COMMIT, (fact.commit_id,))]
        case RepoCreated():
            return [(UPSERT_REPO, (fact.repo, fact.description, fact.time, fact.pipeline))]
        case RepoDeleted():
            return [
                (DELETE_REPO_BRANCHES, (fact.repo,)),
                (DELETE_REPO_FILES, (fact.repo,)),
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
                        fact.commitset or fact.commit_id,
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
                        fact.commitset or fact.commit_id,
                    ),
                )
            ]
            if diff is None:
                diff = _raw_diff(fact.diff or ())
            key = fact.diff_ref if fact.diff is None else ""  # where the diff was read from
            out.extend(stored_diff_rows(fact.commit_id, fact.repo, diff, key=key))
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
            return [(UPSERT_PIPELINE_STATE, (fact.pipeline, 0, fact.state, fact.time))]
        case JobStarted():
            inputs = [
                {"name": i.name, "repo": i.repo, "branch": i.branch, "commit": i.commit_id}
                for i in fact.inputs
            ]
            started: list[Statement] = [
                (
                    UPSERT_JOB_STARTED,
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
                        fact.commitset,
                    ),
                )
            ]
            return started + [
                (
                    INSERT_PROVENANCE,
                    (
                        fact.output_commit,
                        fact.pipeline,
                        fact.job_id,
                        i.name,
                        i.repo,
                        i.branch,
                        i.commit_id,
                    ),
                )
                for i in fact.inputs
            ]
        case JobFinished():
            finished: list[Statement] = [
                (
                    UPSERT_JOB_FINISHED,
                    (
                        fact.job_id,
                        fact.pipeline,
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
            if fact.state != "success":
                finished.append((DELETE_PROVENANCE, (fact.job_id,)))
            return finished
        case DatumFinished():
            datum_inputs: list[dict[str, Any]] = [
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
            output_commit = output_commit_id(fact.pipeline, fact.job_id)
            edges: list[Statement] = [
                (
                    INSERT_DATUM_INPUT,
                    (
                        fact.job_id,
                        fact.datum_id,
                        i.name,
                        i.repo,
                        i.commit_id,
                        f.path,
                        f.file.hash,
                        f.file.size,
                    ),
                )
                for i in fact.inputs
                for f in i.files
            ]
            edges.extend(
                (
                    INSERT_DATUM_OUTPUT,
                    (
                        fact.job_id,
                        fact.datum_id,
                        fact.pipeline,
                        output_commit,
                        o.path,
                        o.file.hash,
                        o.file.size,
                    ),
                )
                for o in fact.outputs
            )
            return edges + [
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
                        orjson.dumps(datum_inputs).decode(),
                        orjson.dumps(outputs).decode(),
                        fact.stdout_tail,
                    ),
                )
            ]
    return []
