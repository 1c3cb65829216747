"""The lineage tables are a function of the log: a lineage consumer killed with SIGKILL in the
middle of its work, then restarted, and a full replay from offset 0 into an empty database,
both end with tables identical to the ones the live consumer wrote."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from pachstream.lineage import Materializer
from pachstream.pg import connect_pool
from pachstream.settings import PostgresSettings, Settings
from pachstream.testing.services import RunningStack
from pachstream.testing.waits import eventually

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

TABLES = (
    "repos", "branches", "commits", "requests", "blobs", "pipelines", "pipeline_states", "jobs",
    "datums", "commit_files", "commit_provenance", "datum_inputs", "datum_outputs",
)  # fmt: skip


async def _fingerprint(settings: Settings) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of every lineage table."""
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)
    try:
        out = {}
        for table in TABLES:
            row = await pool.fetchrow(
                f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), "
                f"'')) AS h FROM {table} t"
            )
            out[table] = (row["n"], row["h"])
        return out
    finally:
        await pool.close()


async def _consumed(settings: Settings) -> int:
    _, pg, _ = settings.require()
    conn = await asyncpg.connect(pg.dsn)
    try:
        return await conn.fetchval(
            f"SELECT coalesce(sum(next_offset), 0) FROM {settings.namespace}.lineage_offsets"
        )
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0
    finally:
        await conn.close()


async def _writing(settings: Settings) -> bool:
    """Whether a transaction of the lineage consumer is open, writing rows (not migrating)."""
    _, pg, _ = settings.require()
    conn = await asyncpg.connect(pg.dsn)
    try:
        return await conn.fetchval(
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
            "AND (query ILIKE 'INSERT INTO%' OR query ILIKE 'COPY%') "
            "AND query NOT ILIKE '%schema_migrations%'"
        )
    finally:
        await conn.close()


async def _empty_database(settings: Settings) -> Settings:
    """The same servers and namespace, with a new, empty Postgres database."""
    _, pg, _ = settings.require()
    name = "replay_" + uuid.uuid4().hex[:10]
    conn = await asyncpg.connect(pg.dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    parts = urlsplit(pg.dsn)
    dsn = urlunsplit(parts._replace(path="/" + name))
    return dataclasses.replace(settings, postgres=PostgresSettings(dsn=dsn))


async def _start_consumer(settings: Settings) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHSTREAM_")}
    env.update(settings.child_env())
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pachstream", "run", "lineage", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def _history(stack: RunningStack) -> None:
    """A log with every kind of fact: repos, many commits and files, a deleted repo, a
    two-stage pipeline with a changed input, a failed job."""
    c = stack.client
    await c.create_repo("raw")
    await c.create_repo("gone")
    await c.delete_repo("gone")
    for batch in range(12):
        await c.put_files(
            "raw@master", ((f"/d{batch:02d}/f{i:04d}", f"{batch}-{i}".encode()) for i in range(250))
        )
    await c.create_pipeline(
        """
pipeline: {name: upper}
input: {pfs: {repo: raw, glob: "/d00/*"}}
transform:
  cmd: [sh, -c, 'for f in /pfs/raw/d00/*; do tr a-z A-Z < "$f" > /pfs/out/$(basename $f); done']
---
pipeline: {name: summary}
input: {pfs: {repo: upper, glob: "/"}}
transform: {cmd: [sh, -c, 'ls /pfs/upper | wc -l > /pfs/out/count']}
---
pipeline: {name: broken}
input: {pfs: {repo: raw, glob: "/d01/f000*"}}
transform: {cmd: [sh, -c, 'exit 2']}
datum_tries: 1
"""
    )
    head = (await c.inspect_commit("raw@master")).id
    await c.flush("raw", head, timeout_s=240)
    changed = await c.put_file("raw@master", "/d00/f0001", b"changed")
    await c.flush("raw", changed, timeout_s=240)


async def test_kill_9_mid_batch_and_a_full_replay_give_the_same_tables(stack: RunningStack):
    await _history(stack)
    settings = stack.settings
    live = await _fingerprint(settings)
    assert live["datum_inputs"][0] > 250 and live["commit_files"][0] > 3000, live
    end = await _consumed(settings)

    # A consumer killed with SIGKILL while it works through the log, then restarted.
    killed = await _empty_database(settings)
    proc = await _start_consumer(killed)
    try:
        await eventually(
            lambda: _writing(killed),
            "the new consumer to write its first batch",
            timeout_s=120,
            every_s=0.02,
        )
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    at_kill = await _consumed(killed)
    assert at_kill < end, (at_kill, end)  # it died with work left
    proc = await _start_consumer(killed)
    try:
        await eventually(
            lambda: _count_is(killed, end),
            "the restarted consumer to catch up",
            timeout_s=120,
            every_s=0.02,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    assert await _fingerprint(killed) == live

    # A replay from offset 0 into another empty database, undisturbed, in-process.
    replay = await _empty_database(settings)
    consumer = Materializer(replay)
    await consumer.start()
    try:
        await eventually(
            lambda: _count_is(replay, end), "the replay to catch up", timeout_s=120, every_s=0.02
        )
    finally:
        await consumer.stop()
    assert await _fingerprint(replay) == live


async def _count_is(settings: Settings, end: int) -> bool:
    return await _consumed(settings) >= end
