"""The dispatcher's tables: the only module with their SQL.

``dispatch_pipelines`` (one state per pipeline, its running job's header included),
``dispatch_index`` (each pipeline's datum index), ``dispatch_jobs`` (every job's header, for
reruns and stops), ``dispatch_results`` (datum results per job), ``dispatch_entries`` (each
repo, branch head and retired pipeline version, a row each), ``dispatch_meta`` (the commit
sets in flight) and ``dispatch_offsets`` (consumed offsets, written by the shell in the same
transaction).

A batch's persist steps gather in :class:`Changes`; :meth:`Changes.writes` turns them into
rows, and :func:`checkpoint` writes them, the offsets and the outbox in one statement. Inserts of
jobs and results do nothing on a conflict: a replay of a batch writes the same rows again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from pachstream.dispatch import _core
from pachstream.dispatch._core import Result
from pachstream.dispatch._state import LEGACY_META, DispatchState, Pipeline
from pachstream.dispatch._steps import (
    DropPipeline,
    JobLoaded,
    Persist,
    SaveIndex,
    SaveJob,
    SaveMeta,
    SavePipeline,
    SaveResults,
)
from pachstream.dispatch.plan import IndexEntry, apply_delta
from pachstream.errors import PachstreamError
from pachstream.processor import Outbox, checkpoint_columns, checkpoint_ctes, columns, outbox_table

log = logging.getLogger("pachstream.dispatch")

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
    """,  # noqa: E501 - a migration is never edited
    outbox_table("dispatch"),
    # Repos, heads and retired versions, a row each (DispatchState.changed): they were three
    # values of dispatch_meta, rewritten whole at every change; a state still holding them
    # is read as before and moves them here at its next checkpoint.
    """
    CREATE TABLE dispatch_entries (
        kind text NOT NULL, name text NOT NULL, value jsonb NOT NULL,
        PRIMARY KEY (kind, name));
    """,
]
"""Append-only: a change is a new entry."""

KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "delete_pipeline": (("text",), "DELETE FROM dispatch_pipelines USING {rows} WHERE name = c0"),
    "delete_pipeline_index": (
        ("text",),
        "DELETE FROM dispatch_index USING {rows} WHERE pipeline = c0",
    ),
    "insert_job": (
        ("text", "text", "text"),
        "INSERT INTO dispatch_jobs SELECT c0, c1, c2::jsonb FROM {rows} "
        "ON CONFLICT (job_id) DO NOTHING",
    ),
    "insert_result": (
        ("text", "text", "text", "text", "text", "text", "bool", "text"),
        "INSERT INTO dispatch_results SELECT c0, c1, c2, c3, c4, c5::jsonb, c6, c7 FROM {rows} "
        "ON CONFLICT (job_id, datum_id) DO NOTHING",
    ),
    "delete_index": (
        ("text", "text"),
        "DELETE FROM dispatch_index USING {rows} WHERE pipeline = c0 AND datum_id = c1",
    ),
    "upsert_index": (
        ("text", "text", "text", "text"),
        "INSERT INTO dispatch_index SELECT c0, c1, c2, c3::jsonb FROM {rows} "
        "ON CONFLICT (pipeline, datum_id) DO UPDATE SET hash = EXCLUDED.hash, "
        "outputs = EXCLUDED.outputs",
    ),
    "upsert_pipeline": (
        ("text", "text"),
        "INSERT INTO dispatch_pipelines SELECT c0, c1::jsonb FROM {rows} "
        "ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state",
    ),
    "upsert_meta": (
        ("text", "text"),
        "INSERT INTO dispatch_meta SELECT c0, c1::jsonb FROM {rows} "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    ),
    "delete_meta": (("text",), "DELETE FROM dispatch_meta USING {rows} WHERE key = c0"),
    "delete_entry": (
        ("text", "text"),
        "DELETE FROM dispatch_entries USING {rows} WHERE kind = c0 AND name = c1",
    ),
    "upsert_entry": (
        ("text", "text", "text"),
        "INSERT INTO dispatch_entries SELECT c0, c1, c2::jsonb FROM {rows} "
        "ON CONFLICT (kind, name) DO UPDATE SET value = EXCLUDED.value",
    ),
}
"""Each kind of checkpoint write: its columns' types and its SQL over ``{rows}`` (the kind's
rows as a table of columns ``c0, c1, ...``)."""


def _checkpoint_sql() -> str:
    ctes, n = [], 0
    for i, (types, body) in enumerate(KINDS.values()):
        arrays = ", ".join(f"${n + j + 1}::{t}[]" for j, t in enumerate(types))
        columns = ", ".join(f"c{j}" for j in range(len(types)))
        ctes.append(f"w{i} AS ({body.format(rows=f'unnest({arrays}) AS u{i}({columns})')})")
        n += len(types)
    return f"WITH {', '.join(ctes)}, {checkpoint_ctes('dispatch', n + 1)} SELECT 1"


CHECKPOINT = _checkpoint_sql()
"""A whole checkpoint as one statement: every kind's rows, the offsets and the outbox, as
columns of arrays. One statement is one transaction and one round trip, where a transaction
of a statement per kind was ten (each ~0.5-1 ms on a busy box, on every hop of a job)."""


def checkpoint_args(
    writes: Writes, offsets: dict[tuple[str, int], int], outbox: Outbox
) -> list[list[Any]]:
    """The arguments of :data:`CHECKPOINT`: each kind's rows as columns, in :data:`KINDS`'
    order (a kind without rows: empty columns), then the offsets' and the outbox's.
    """
    rows = dict(writes)
    args = [
        c for kind, (types, _) in KINDS.items() for c in columns(rows.get(kind, []), len(types))
    ]
    return args + checkpoint_columns(offsets, outbox)


Writes = list[tuple[str, list[tuple[Any, ...]]]]
"""(kind in :data:`KINDS`, rows), each kind once."""


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass
class Changes:
    """What one batch changed, from its persist steps."""

    dirty: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    jobs: list[SaveJob] = field(default_factory=list)
    results: list[SaveResults] = field(default_factory=list)
    index: list[SaveIndex] = field(default_factory=list)
    meta: bool = False

    def add(self, step: Persist) -> None:
        """Take one persist step."""
        match step:
            case SavePipeline():
                self.dirty.add(step.pipeline)
            case DropPipeline():
                self.deleted.add(step.pipeline)
            case SaveJob():
                self.jobs.append(step)
            case SaveResults():
                self.results.append(step)
            case SaveIndex():
                self.index.append(step)
            case SaveMeta():
                self.meta = True

    def writes(self, state: DispatchState) -> Writes:
        """The rows to write, given the state at the checkpoint.

        Folded so that no row is named twice in a table: the first of a job or result (as
        their inserts keep it), the last change of an index row, no index rows of a pipeline
        that is gone, an entry as it is now. Applied in any order, or all at once in one
        statement (:func:`checkpoint`), they leave the tables as applied one by one. Pure but
        for the state's marks of changed entries, which it clears (:func:`entry_writes`).
        """
        out: Writes = []
        # Deleted, and not created again in the same batch: its rows go.
        gone = sorted(name for name in self.deleted if name not in state.pipelines)
        out += [
            ("delete_pipeline", [(n,) for n in gone]),
            ("delete_pipeline_index", [(n,) for n in gone]),
        ]
        jobs: dict[str, tuple[Any, ...]] = {}
        for job in self.jobs:
            jobs.setdefault(job.job_id, (job.job_id, job.pipeline, _json(job.header)))
        out.append(("insert_job", list(jobs.values())))
        results: dict[tuple[str, str], tuple[Any, ...]] = {}
        for saved in self.results:
            for datum, r in saved.results:
                row = (saved.job_id, datum, saved.pipeline, *result_row(r))
                results.setdefault((saved.job_id, datum), row)
        out.append(("insert_result", list(results.values())))
        index: dict[tuple[str, str], IndexEntry | None] = {}
        for moved in self.index:
            if moved.pipeline not in gone:
                index.update(((moved.pipeline, i), e) for i, e in moved.changed.items())
        out.append(("delete_index", [key for key, e in index.items() if e is None]))
        out.append(
            (
                "upsert_index",
                [
                    (*key, e.hash, _json(_core.entry_json(e.outputs)))
                    for key, e in index.items()
                    if e is not None
                ],
            )
        )
        out.append(
            (
                "upsert_pipeline",
                [
                    (name, _json(p.state_json()))
                    for name in sorted(self.dirty)
                    if (p := state.pipelines.get(name)) is not None
                ],
            )
        )
        if self.meta:
            out.append(("upsert_meta", [(k, _json(v)) for k, v in state.meta_json().items()]))
        out += entry_writes(state)
        return [(kind, rows) for kind, rows in out if rows]


def entry_writes(state: DispatchState) -> Writes:
    """The rows of the entries changed since the last checkpoint, each as it is now (gone:
    its row is deleted), and the older form's values once they are entries; clears the marks.
    What a checkpoint writes of them depends on what changed, not on how many there are.
    """
    upserts: list[tuple[Any, ...]] = []
    deletes: list[tuple[Any, ...]] = []
    for kind, name in sorted(state.changed):
        value = state.entry(kind, name)
        if value is None:
            deletes.append((kind, name))
        else:
            upserts.append((kind, name, _json(value)))
    state.changed.clear()
    legacy = [(key,) for key in LEGACY_META] if state.legacy_meta else []
    state.legacy_meta = False
    return [("delete_entry", deletes), ("upsert_entry", upserts), ("delete_meta", legacy)]


def result_row(r: Result) -> tuple[str, str, str, bool, str]:
    """A result's columns after (job_id, datum_id, pipeline)."""
    return (r.state, r.hash, _json(_core.entry_json(r.outputs)), r.carried, r.detail)


def result_from_row(state: str, hash_: str, outputs: str, carried: bool, detail: str) -> Result:
    """Inverse of :func:`result_row`."""
    return Result(state, hash_, _core.entry_from_json(orjson.loads(outputs)), carried, detail)


def restore(
    meta: list[tuple[str, str]],
    pipelines: list[str],
    index: list[tuple[str, str, str, str]],
    entries: Sequence[tuple[str, str, str]] = (),
) -> DispatchState:
    """The state from its rows (running jobs still lack their results: see :func:`load`).

    A pipeline whose stored spec this version refuses stays out of the state (its rows
    stay too), so every other pipeline runs; 'update pipeline' brings it back.
    """
    state = DispatchState()
    for key, value in meta:
        state.load_meta(key, orjson.loads(value))
    for kind, name, value in entries:
        state.load_entry(kind, name, orjson.loads(value))
    for row in pipelines:
        raw = orjson.loads(row)
        try:
            spec = _core.checked_spec(raw["name"], raw["raw"], None)
        except PachstreamError as err:
            log.error("dispatch: pipeline %r is not started: %s", raw["name"], err.message)
            continue
        state.pipelines[raw["name"]] = Pipeline.from_json(raw, spec)
    for name, datum_id, hash_, outputs in index:
        p = state.pipelines.get(name)
        if p is not None:
            entry = IndexEntry(datum_id, hash_, _core.entry_from_json(orjson.loads(outputs)))
            apply_delta(p.index, p.owners, {datum_id: entry})
    return state


# ----------------------------------------------------------------------------- SQL


async def load(conn: Any) -> DispatchState:
    """Read the whole state."""
    meta = [
        (r["key"], r["value"]) for r in await conn.fetch("SELECT key, value FROM dispatch_meta")
    ]
    pipelines = [r["state"] for r in await conn.fetch("SELECT state FROM dispatch_pipelines")]
    index = [
        (r["pipeline"], r["datum_id"], r["hash"], r["outputs"])
        for r in await conn.fetch("SELECT pipeline, datum_id, hash, outputs FROM dispatch_index")
    ]
    entries = [
        (r["kind"], r["name"], r["value"])
        for r in await conn.fetch("SELECT kind, name, value FROM dispatch_entries")
    ]
    state = restore(meta, pipelines, index, entries)
    for p in state.pipelines.values():
        if p.job is not None:
            p.job.results = await load_results(conn, p.job.job_id)
    return state


async def load_results(conn: Any, job_id: str) -> dict[str, Result]:
    """A job's stored datum results."""
    rows = await conn.fetch(
        "SELECT datum_id, state, hash, outputs, carried, detail FROM dispatch_results "
        "WHERE job_id = $1",
        job_id,
    )
    return {
        r["datum_id"]: result_from_row(
            r["state"], r["hash"], r["outputs"], r["carried"], r["detail"]
        )
        for r in rows
    }


async def load_job(conn: Any, job_id: str, *, results: bool) -> JobLoaded:
    """A stored job (``pipeline`` None when there is none), with its results if asked."""
    row = await conn.fetchrow(
        "SELECT pipeline, header FROM dispatch_jobs WHERE job_id = $1", job_id
    )
    if row is None:
        return JobLoaded(None)
    return JobLoaded(
        row["pipeline"],
        orjson.loads(row["header"]),
        await load_results(conn, job_id) if results else {},
    )


async def checkpoint(
    conn: Any, writes: Writes, offsets: dict[tuple[str, int], int], outbox: Outbox
) -> None:
    """Commit a batch: its writes, the offsets it read to and the records it will produce."""
    await conn.execute(CHECKPOINT, *checkpoint_args(writes, offsets, outbox))
