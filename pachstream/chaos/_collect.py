"""After quiescence: the facts the invariants need, read from the stack that was attacked,
from a from-scratch run of its inputs in a fresh namespace, and from a full replay of its
events topic into an empty database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

from pachstream.chaos._facts import Ack, CommitFact, DeadLetter, JobFact, OpenCommitFact, ReadBack
from pachstream.chaos._invariants import Fingerprint
from pachstream.chaos._load import job_fact, sha
from pachstream.client import Client
from pachstream.errors import PachstreamError, Unavailable
from pachstream.kafka import PartitionReader, Topics, partition_counts
from pachstream.lineage import Materializer
from pachstream.pg import connect_pool
from pachstream.settings import PostgresSettings, Settings
from pachstream.testing.services import RunningStack

Say = Callable[[str], None]

STALL_S = 60.0
"""Seconds without progress after which the lineage replay counts as stopped."""
NOT_COMPARED = frozenset({"lineage_offsets", "schema_migrations"})
"""Tables of the replayed schema that are bookkeeping, not facts."""


async def read_backs(c: Client, acks: Sequence[Ack], concurrency: int = 8) -> list[ReadBack]:
    """Read every acknowledged write back: at its commit when the acknowledgement named one,
    else at the commit of its branch's history that added the path.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(a: Ack) -> ReadBack:
        async with gate:
            commit = a.commit_id
            try:
                if commit is None:
                    changes = await c.find_commit(f"{a.repo}@master", a.path)
                    added = [ch for ch in changes if ch.path == a.path and ch.change != "deleted"]
                    if not added:
                        return ReadBack(ack=a, commit_id=None, sha256=None)
                    commit = added[-1].commit.id  # newest first: the last is where it came in
                data = await c.get_file(f"{a.repo}@{commit}", a.path)
            except PachstreamError as exc:
                return ReadBack(ack=a, commit_id=commit, sha256=None, error=exc.message)
            return ReadBack(ack=a, commit_id=commit, sha256=sha(data))

    return list(await asyncio.gather(*(one(a) for a in acks)))


async def commit_facts(c: Client, repos: Iterable[str]) -> list[CommitFact]:
    """Every commit of ``repos``."""
    return [
        CommitFact(repo=info.repo, id=info.id, finished=info.finished)
        for repo in repos
        for info in await c.list_commit(repo)
    ]


async def job_facts(c: Client) -> list[JobFact]:
    """Every started job."""
    return [job_fact(j) for j in await c.list_job()]


async def open_commit_facts(c: Client) -> list[OpenCommitFact]:
    """Every commit still open."""
    return [
        OpenCommitFact(
            repo=i.repo, id=i.id, branch=i.branch, description=i.description, started=i.started
        )
        for i in await c.list_open_commits()
    ]


HOLE_AFTER_S = 45.0
"""Seconds a partition stays short of its high watermark, no record coming, before the rest
is taken as a hole (Tansu gives offsets to a write its storage refused, and a log can end
with them). By then the reader's fetch deadline has grown to its 30 s cap: a broker that
found nothing in that long has nothing."""


def read_to_end(
    next_offset: dict[int, int],
    ends: dict[int, int | None],
    still_since: dict[int, float],
    now: float,
) -> bool:
    """Whether every partition is read to its end: reached the high watermark its fetches
    report, or short of it with no record for :data:`HOLE_AFTER_S` (``still_since``: when
    each last moved or was first seen). Pure.
    """
    return all(
        end is not None and (next_offset[p] >= end or now - still_since[p] >= HOLE_AFTER_S)
        for p, end in ends.items()
    )


async def read_topic(settings: Settings, topic: str, timeout_s: float = 300) -> list[Any]:
    """Every record of ``topic`` now: read until each partition reached the high watermark its
    fetches report (no "some quiet reads" guess: a broker slow to list a long partition
    answers nothing for a while, and the records after that were missed), or until a
    partition short of it gave nothing for :data:`HOLE_AFTER_S` (its log ends in a hole).
    """
    kafka, _, _ = settings.require()
    partitions = (await partition_counts(kafka, [topic]))[topic]
    reader = PartitionReader(kafka)
    await reader.start([topic], {})
    out = []
    next_offset = dict.fromkeys(range(partitions), 0)
    still_since = dict.fromkeys(range(partitions), time.monotonic())
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            for r in await reader.read(timeout_ms=300):
                out.append(r)
                next_offset[r.partition] = r.offset + 1
                still_since[r.partition] = time.monotonic()
            ends = {p: reader.highwater(topic, p) for p in range(partitions)}
            if read_to_end(next_offset, ends, still_since, time.monotonic()):
                return out
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"reading topic {topic} did not reach its end in {timeout_s:.0f} s; "
                    f"partition: (read up to, end) {[(p, next_offset[p], ends[p]) for p in ends]}"
                )
    finally:
        await reader.stop()


async def dead_letters(settings: Settings) -> list[DeadLetter]:
    """The namespace's dead letters."""
    out = []
    for r in await read_topic(settings, Topics(settings.namespace).deadletter):
        doc = orjson.loads(r.value or b"{}")
        out.append(
            DeadLetter(
                component=str(doc.get("component", "?")),
                topic=str(doc.get("topic", "?")),
                offset=int(doc.get("offset", -1)),
                reason=str(doc.get("reason", "?"))[:300],
            )
        )
    return out


async def tree(c: Client, repo: str) -> dict[str, str]:
    """Path → content hash of every file at ``repo@master`` (empty before its first commit)."""
    try:
        files = await c.glob_file(f"{repo}@master", "/**")
    except PachstreamError:
        return {}
    return {f.path: f.hash or "" for f in files if f.type == "file"}


async def scratch_outputs(
    live: Client,
    settings: Settings,
    specs: str,
    inputs: Sequence[str],
    outputs: Sequence[str],
    say: Say,
) -> dict[str, dict[str, str]]:
    """The outputs of the same pipelines run from scratch, in a fresh namespace on the same
    servers, over the files the live inputs hold now (one commit per input repo).
    """
    fresh = settings.with_namespace("chaos_scratch_" + uuid.uuid4().hex[:10])
    began = time.monotonic()
    async with RunningStack(fresh, timeout_s=120) as stack:
        c = stack.client
        for repo in inputs:
            await c.create_repo(repo)
        await c.create_pipeline(specs)
        heads: list[tuple[str, str]] = []
        for repo in inputs:
            files = await tree(live, repo)
            if not files:
                continue
            contents = [(p, await live.get_file(f"{repo}@master", p)) for p in sorted(files)]
            heads.append((repo, await c.put_files(f"{repo}@master", contents)))
        for repo, head in heads:
            jobs = await c.flush(repo, head, timeout_s=240)
            failed = [j for j in jobs if j.state != "success"]
            if failed:
                raise Unavailable(
                    f"the from-scratch run's job {failed[0].id} of {failed[0].pipeline} "
                    f"ended {failed[0].state}: {failed[0].reason}"
                )
        out = {p: await tree(c, p) for p in outputs}
    say(f"from-scratch run in namespace {fresh.namespace}: {time.monotonic() - began:.1f} s")
    return out


async def _fingerprint(pool: Any, tables: Sequence[str]) -> dict[str, tuple[int, str]]:
    out = {}
    for table in tables:
        row = await pool.fetchrow(
            f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), "
            f"'')) AS h FROM {table} t"
        )
        out[table] = (int(row["n"]), str(row["h"]))
    return out


async def _offsets(pool: Any) -> dict[tuple[str, int], int]:
    try:
        rows = await pool.fetch("SELECT topic, partition, next_offset FROM lineage_offsets")
    except asyncpg.UndefinedTableError:
        return {}  # no materializer ever ran in this namespace: it applied nothing
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def _log_ends(settings: Settings, topic: str) -> dict[tuple[str, int], int]:
    """(topic, partition) → the offset after its last record now."""
    ends: dict[tuple[str, int], int] = {}
    for r in await read_topic(settings, topic):
        ends[(r.topic, r.partition)] = max(ends.get((r.topic, r.partition), 0), r.offset + 1)
    return ends


async def lineage_offsets(settings: Settings) -> dict[tuple[str, int], int]:
    """How far the live materializer has applied the events topic."""
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)
    try:
        return await _offsets(pool)
    finally:
        await pool.close()


async def lineage_lag(
    settings: Settings, timeout_s: float = 10
) -> dict[tuple[str, int], tuple[int, int | None]]:
    """Events partitions the live materializer has not applied to their end: (topic,
    partition) → (next offset applied, the log end offset; None if no fetch reported it
    within ``timeout_s``).

    The end is the high watermark a fetch from the applied offset reports, not the last
    record read: a log can end in a hole (Tansu after a failed write), which a read to the
    last record would wait on for ever.
    """
    kafka, _, _ = settings.require()
    topic = Topics(settings.namespace).events
    applied = await lineage_offsets(settings)
    reader = PartitionReader(kafka, max_records=1)
    await reader.start([topic], applied)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            ends = {p: reader.highwater(topic, p) for p in reader.partitions(topic)}
            if all(e is not None for e in ends.values()) or time.monotonic() > deadline:
                break
            await reader.read(timeout_ms=300)
    finally:
        await reader.stop()
    return {
        (topic, p): (applied.get((topic, p), 0), end)
        for p, end in sorted(ends.items())
        if end is None or applied.get((topic, p), 0) < end
    }


async def lineage_replay(
    settings: Settings, say: Say, timeout_s: float = 900
) -> tuple[Fingerprint, Fingerprint]:
    """Fingerprints of the live lineage tables and of a full replay of the events topic into
    an empty database (same servers, same namespace), once the replay reached the live
    materializer's offsets.
    """
    _, pg, _ = settings.require()
    name = "chaos_replay_" + uuid.uuid4().hex[:10]
    admin = await connect_pool(pg, settings.namespace)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        live_offsets = await _offsets(admin)
        replay = dataclasses.replace(
            settings,
            postgres=PostgresSettings(dsn=urlunsplit(urlsplit(pg.dsn)._replace(path="/" + name))),
        )
        began = time.monotonic()
        consumer = Materializer(replay)
        await consumer.start()
        pool = await connect_pool(replay.postgres or pg, settings.namespace)
        try:
            deadline = time.monotonic() + timeout_s
            moved, last = time.monotonic(), None
            while True:
                got = await _offsets(pool)
                if all(got.get(k, 0) >= v for k, v in live_offsets.items()):
                    break
                if got != last:
                    moved, last = time.monotonic(), got
                # A replay that stops moving short of the live offsets is not slow: say where
                # it stopped and what the topic holds (a broker that lost records the live
                # materializer had read leaves it short for ever).
                if time.monotonic() - moved > STALL_S or time.monotonic() > deadline:
                    held = await _log_ends(settings, Topics(settings.namespace).events)
                    short = {
                        f"{t}[{p}]": (got.get((t, p), 0), v, held.get((t, p), 0))
                        for (t, p), v in sorted(live_offsets.items())
                        if got.get((t, p), 0) < v
                    }
                    raise Unavailable(
                        f"the lineage replay into {name} stopped short of the live offsets; "
                        "partition: (replayed, live materializer, records in the topic now) "
                        + ", ".join(f"{k}: {v}" for k, v in short.items())
                    )
                await asyncio.sleep(0.5)
            rows = await pool.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 "
                "AND table_type = 'BASE TABLE' ORDER BY table_name",
                settings.namespace,
            )
            tables = [r["table_name"] for r in rows if r["table_name"] not in NOT_COMPARED]
            replayed = await _fingerprint(pool, tables)
        finally:
            await pool.close()
            await consumer.stop()
        live = await _fingerprint(admin, tables)
        say(f"lineage replay of {sum(live_offsets.values())} facts: "
            f"{time.monotonic() - began:.1f} s, {len(tables)} tables")  # fmt: skip
        return live, replayed
    finally:
        await admin.close()
