"""Lineage benchmarks: how fast facts become rows, and how fast an upstream question is answered.

``lineage_write``: synthetic job and datum facts on the events topic of a fresh namespace, then
a :class:`~pachstream.lineage.Materializer` timed from its start until every datum is a row;
next to plain COPY of as many rows into the same Postgres.

``lineage_query``: a synthetic three-stage lineage loaded straight into the lineage tables
with COPY (through Kafka it would take far longer than the query it sets up), then
``lineage_upstream`` of random final files, each answer checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from pachstream.bench import Figure
from pachstream.codec import encode
from pachstream.dispatch.events import (
    DatumFinished,
    InputCommit,
    JobFinished,
    JobStarted,
    OutputFile,
    StagedFile,
    TaskInput,
)
from pachstream.kafka import Producer, Topics, ensure_topics
from pachstream.lineage import BULK, Materializer, rows_for
from pachstream.model import FileEntry, derive_id, output_commit_id
from pachstream.pg import connect_pool, migrate
from pachstream.settings import Settings

Say = Callable[[str], None]


def _h(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


# ----------------------------------------------------------------------------- write


def synthetic_job(pipeline: str, datums: int, inputs_per_datum: int = 2) -> list[Any]:
    """The facts of one successful job of ``datums`` datums (each reading
    ``inputs_per_datum`` files and writing one): start, datums, end.
    """
    job = _h("job", pipeline, datums)[:32]
    commit = _h("commit", pipeline)[:32]
    out = output_commit_id(pipeline, job)
    facts: list[Any] = [
        JobStarted(
            event_id=derive_id(job, "start"), job_id=job, pipeline=pipeline, version=1,
            inputs=(InputCommit(name="raw", repo="raw", branch="master", commit_id=commit),),
            output_commit=out, time=1.0, datums=datums, to_run=datums, skipped=0,
        )
    ]  # fmt: skip
    for i in range(datums):
        files = tuple(
            StagedFile(path=f"/f{i}-{k}", file=FileEntry(hash=_h("in", i, k), size=9, chunks=()))
            for k in range(inputs_per_datum)
        )
        facts.append(
            DatumFinished(
                event_id=derive_id(job, str(i)), job_id=job, pipeline=pipeline,
                datum_id=_h("datum", i)[:32], hash=_h("dh", i), state="success", tries=1,
                exit_code=0, timed_out=False, stderr_tail="", log_ref="", started=2.0,
                duration_s=0.01, worker="w0",
                inputs=(TaskInput(name="raw", repo="raw", branch="master", commit_id=commit,
                                  path=f"/f{i}-*", files=files),),
                outputs=(OutputFile(path=f"/o{i}", file=FileEntry(hash=_h("out", i), size=9,
                                                                   chunks=())),),
            )
        )  # fmt: skip
    facts.append(
        JobFinished(
            event_id=derive_id(job, "end"), job_id=job, pipeline=pipeline, state="success",
            output_commit=out, processed=datums, skipped=0, failed=0, recovered=0, time=3.0,
        )
    )  # fmt: skip
    return facts


async def lineage_write(settings: Settings, datums: int, say: Say) -> list[Figure]:
    """Rows/s the materializer writes from datum facts, beside raw COPY rows/s.

    The raw COPY runs right before and right after the materializer, and the ratio is taken
    against the mean of both: on a shared machine either alone swung 88,000-164,000 rows/s
    within minutes (a ratio of 0.56 or 0.88 for the same materializer).
    """
    ns = settings.with_namespace("benchlw" + uuid.uuid4().hex[:8])
    kafka, pg, _ = ns.require()
    facts = synthetic_job("bench", datums)
    rows = sum(len(rows_for(f)) for f in facts)
    say(f"producing {len(facts):,} facts ({rows:,} rows) onto {Topics(ns.namespace).events}")
    await ensure_topics(kafka, Topics(ns.namespace).all(kafka.partitions))
    producer = Producer(kafka)
    await producer.start()
    try:
        await producer.send_all([(Topics(ns.namespace).events, "bench", encode(f)) for f in facts])
    finally:
        await producer.stop()

    pool = await connect_pool(pg, ns.namespace)
    consumer = Materializer(ns)
    try:
        # The tables first, for the raw COPY's copies of them (before the materializer
        # starts: it reads at once, and the two would share the machine).
        await migrate(pool, Materializer.name, Materializer.migrations)
        raw_before = await _raw_copy_rate(pool, facts)
        # Started (migrations, topics, connections) before the clock: the figure is the
        # steady rate of reading, decoding, mapping and writing.
        await consumer.start()
        started, cpu = time.perf_counter(), time.process_time()
        try:
            # Watched in this process, not by polling count(*) (a scan of the growing table
            # every 20 ms took Postgres time from the writes being measured).
            while consumer.applied < len(facts):
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
        finally:
            await consumer.stop()
        written = await _count(pool, "datums")
        if written != datums:  # a wrong answer is a failed bench, not a fast one
            raise AssertionError(f"{written:,} datum rows after {datums:,} datum facts")
        raw_after = await _raw_copy_rate(pool, facts)
    finally:
        await pool.execute(f"DROP SCHEMA {ns.namespace} CASCADE")
        await pool.close()
    rate = rows / elapsed
    raw = (raw_before + raw_after) / 2
    return [
        Figure(f"materialize {datums:,} datums ({rows:,} rows)", elapsed, "s"),
        Figure("lineage rows materialized", rate, "rows/s"),
        Figure(
            "raw COPY of the same rows into tables like the same ones, before", raw_before, "rows/s"
        ),
        Figure("raw COPY, the same, after", raw_after, "rows/s"),
        Figure("ratio materialized / raw COPY (mean of before and after)", rate / raw, "", "≥ 0.8"),
        # On a shared box the wall clock says how busy the box was; this says what a fact
        # costs the materializer (read, parse, map, encode the COPY), whatever the load.
        Figure("materializer CPU per fact (this process)", cpu / len(facts) * 1e6, "µs"),
    ]


async def _count(pool: Any, table: str) -> int:
    try:
        return int(await pool.fetchval(f"SELECT count(*) FROM {table}"))
    except Exception:  # the materializer has not created its tables yet
        return 0


async def _raw_copy_rate(pool: Any, facts: list[Any]) -> float:
    """Rows/s of plain COPY of the very rows the facts become, prepared in advance, into
    copies of their tables (same columns, same indexes): what loading them costs at best.
    """
    by_table: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {}
    rows = 0
    for fact in facts:
        for sql, args in rows_for(fact):
            rows += 1
            spec = BULK.get(sql)
            if spec is not None:
                by_table.setdefault(spec.table, (spec.columns, []))[1].append(args)
    for table in by_table:
        await pool.execute(f"CREATE TABLE bench_{table} (LIKE {table} INCLUDING ALL)")
    try:
        started = time.perf_counter()
        async with pool.acquire() as conn:
            for table, (columns, records) in by_table.items():
                await conn.copy_records_to_table(f"bench_{table}", records=records, columns=columns)
        return rows / (time.perf_counter() - started)
    finally:
        for table in by_table:
            await pool.execute(f"DROP TABLE bench_{table}")


# ----------------------------------------------------------------------------- query


def _stage_sizes(datums: int) -> tuple[int, int, int]:
    """Datums of the three stages: s1 and s2 one per file, s3 one per pair of s2 files."""
    pairs = datums // 5
    return 2 * pairs, 2 * pairs, pairs


async def _copy(
    conn: Any, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]
) -> int:
    n = 0
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == 100_000:
            await conn.copy_records_to_table(table, records=chunk, columns=columns)
            n += len(chunk)
            chunk = []
    if chunk:
        await conn.copy_records_to_table(table, records=chunk, columns=columns)
        n += len(chunk)
    return n


FILE_COLS = ("commit_id", "repo", "path", "change", "hash", "size")
IN_COLS = ("job_id", "datum_id", "input_name", "repo", "commit_id", "path", "hash", "size")
OUT_COLS = ("job_id", "datum_id", "repo", "commit_id", "path", "hash", "size")
DATUM_COLS = (
    "job_id", "datum_id", "pipeline", "hash", "state", "tries", "exit_code", "timed_out",
    "stderr_tail", "stdout_tail", "log_ref", "started", "duration_s", "worker", "inputs",
    "outputs",
)  # fmt: skip


async def _load_three_stages(conn: Any, datums: int) -> tuple[str, int, int]:
    """Load three stages: raw (a commit of files) → s1 (copy each) → s2 (copy each) → s3
    (one per pair). Returns (s3's output commit, s3's datums, rows loaded).
    """
    n1, n2, n3 = _stage_sizes(datums)
    commits = {repo: _h("commit", repo)[:32] for repo in ("raw", "s1", "s2", "s3")}
    jobs = {p: _h("job", p)[:32] for p in ("s1", "s2", "s3")}
    rows = 0
    for repo, cid in commits.items():
        await conn.execute(
            "INSERT INTO commits (id, repo, branch, started, finished, request_id) "
            "VALUES ($1, $2, 'master', 1, 1, $1)",
            cid,
            repo,
        )
    for n, (p, job) in enumerate(jobs.items()):
        await conn.execute(
            "INSERT INTO jobs (id, pipeline, version, output_commit, state, datums, to_run, "
            "skipped, started, finished) VALUES ($1, $2, 1, $3, 'success', 0, 0, 0, $4, $4)",
            job,
            p,
            commits[p],
            float(n + 1),
        )

    def h(repo: str, i: int) -> str:
        return _h(repo, i)

    rows += await _copy(
        conn,
        "commit_files",
        FILE_COLS,
        (
            (commits[repo], repo, f"/o{i}", "added", h(repo, i), 9)
            for repo, count in (("raw", n1), ("s1", n1), ("s2", n2), ("s3", n3))
            for i in range(count)
        ),
    )
    # Datum i of s1 and s2 reads file i of the stage before; datum k of s3 reads 2k and 2k+1.
    reads = [("s1", "raw", n1, 1), ("s2", "s1", n2, 1), ("s3", "s2", n3, 2)]
    rows += await _copy(
        conn,
        "datum_inputs",
        IN_COLS,
        (
            (jobs[p], f"{p}-{i}", src, src, commits[src], f"/o{j}", h(src, j), 9)
            for p, src, count, fan in reads
            for i in range(count)
            for j in range(fan * i, fan * i + fan)
        ),
    )
    rows += await _copy(
        conn,
        "datum_outputs",
        OUT_COLS,
        (
            (jobs[p], f"{p}-{i}", p, commits[p], f"/o{i}", h(p, i), 9)
            for p, _, count, _ in reads
            for i in range(count)
        ),
    )
    rows += await _copy(
        conn,
        "datums",
        DATUM_COLS,
        (
            (
                jobs[p],
                f"{p}-{i}",
                p,
                h("dh" + p, i),
                "success",
                1,
                0,
                False,
                "",
                "",
                "",
                1.0,
                0.01,
                "w0",
                "[]",
                "[]",
            )
            for p, _, count, _ in reads
            for i in range(count)
        ),  # fmt: skip
    )
    for table in ("commit_files", "datum_inputs", "datum_outputs", "datums", "jobs", "commits"):
        await conn.execute(f"ANALYZE {table}")
    return commits["s3"], n3, rows


async def lineage_query(settings: Settings, datums: int, queries: int, say: Say) -> list[Figure]:
    """p50/p95 of ``lineage_upstream`` of one final file over a three-stage lineage."""
    ns = "benchlq" + uuid.uuid4().hex[:8]
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, ns)
    try:
        # The tables the lineage processor would create, in a throwaway schema of the bench.
        await migrate(pool, Materializer.name, Materializer.migrations)
        say(f"loading a three-stage lineage of {datums:,} datums into schema {ns}")
        started = time.perf_counter()
        async with pool.acquire() as conn:
            commit, finals, rows = await _load_three_stages(conn, datums)
        load = time.perf_counter() - started
        times = []
        rng = random.Random(7)
        async with pool.acquire() as conn:
            for _ in range(queries):
                k = rng.randrange(finals)
                t0 = time.perf_counter()
                answer = await conn.fetch(
                    "SELECT * FROM lineage_upstream('s3', $1, $2, 100)", commit, f"/o{k}"
                )
                times.append((time.perf_counter() - t0) * 1000)
                # A wrong answer is a failed bench, not a slow one.
                sources = sorted(r["input_path"] for r in answer if r["depth"] == 3)
                if len(answer) != 6 or sources != [f"/o{2 * k}", f"/o{2 * k + 1}"]:
                    raise AssertionError(f"upstream of s3:/o{k} is wrong: {answer}")
        times.sort()
    finally:
        await pool.execute(f"DROP SCHEMA {ns} CASCADE")
        await pool.close()
    return [
        Figure(f"load {datums:,} datums ({rows:,} rows) with COPY", load, "s"),
        Figure(f"upstream of one final file, p50 of {queries}", statistics.median(times), "ms"),
        Figure(
            f"upstream of one final file, p95 of {queries}",
            times[int(0.95 * (len(times) - 1))],
            "ms",
            "≤ 50 ms",
        ),
    ]
