"""The log is the truth: replaying it rebuilds exactly the same state, and again changes nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pachstream.errors import RepoExists
from pachstream.kafka import PartitionReader, Producer, Record, Topics
from pachstream.pg import connect_pool
from pachstream.testing.services import RunningStack

TABLES = {
    "repos": "name",
    "branches": "repo, name",
    "commits": "id",
    "requests": "request_id",
    "blobs": "hash",
}


async def _read_all(settings, topic: str, expected: int | None = None) -> list[Record]:
    """Every record of a topic: ``expected`` of them, or until two reads come back empty."""
    kafka, _, _ = settings.require()
    reader = PartitionReader(kafka)
    await reader.start([topic], {})
    out: list[Record] = []
    empty = 0
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            batch = await reader.read(timeout_ms=500)
            out.extend(batch)
            empty = 0 if batch else empty + 1
            if (expected is not None and len(out) >= expected) or (
                expected is None and out and empty >= 2
            ):
                break
    finally:
        await reader.stop()
    return sorted(out, key=lambda r: (r.partition, r.offset))


async def _tables(settings) -> dict[str, list[tuple]]:
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)
    try:
        return {
            table: [tuple(r) for r in await pool.fetch(f"SELECT * FROM {table} ORDER BY {order}")]
            for table, order in TABLES.items()
        }
    finally:
        await pool.close()


async def _send_requests(settings, log: list[Record]) -> None:
    """Produce ``log``'s request records again, with their keys, to ``settings``' namespace."""
    kafka, _, _ = settings.require()
    producer = Producer(kafka)
    await producer.start()
    try:
        await producer.send_all(
            (Topics(settings.namespace).requests, r.key.decode() if r.key else None, r.value)
            for r in log
        )
    finally:
        await producer.stop()


async def _session(c) -> None:
    await c.create_repo("raw", "replayed")
    await c.create_repo("gone")
    await c.put_file("raw@master", "/a", b"a")
    await c.put_files("raw@master", [(f"/d/{i}", f"{i}".encode()) for i in range(50)])
    async with c.commit("raw@master") as commit:
        await commit.put_file("/a", b"appended", append=True)
        await commit.delete_file("/d/7")
    await c.create_branch("raw@old", "master^")
    await c.put_file("raw@old", "/old", b"o")
    await c.delete_branch("raw@old")
    await c.delete_repo("gone")
    with pytest.raises(RepoExists):
        await c.create_repo("raw")  # refused: part of the log too


async def test_replaying_the_request_log_rebuilds_identical_tables(servers):
    first = servers.with_namespace("r" + uuid.uuid4().hex[:12])
    async with RunningStack(first) as stack:
        await _session(stack.client)
        original = await _tables(first)
    n_requests = len(original["requests"])
    log = await _read_all(first, Topics(first.namespace).requests, n_requests)
    assert len(log) == n_requests

    # A fresh namespace gets the same request records, in the same per-repo order.
    second = servers.with_namespace("r" + uuid.uuid4().hex[:12])
    async with RunningStack(second) as replay:
        await _send_requests(second, log)
        ids = [row[0] for row in original["requests"]]

        async def all_answered():
            n = await replay.client._pool.fetchval(
                "SELECT count(*) FROM requests WHERE request_id = ANY($1::text[])", ids
            )
            return True if n == len(ids) else None

        await replay.client._wait_until(all_answered, "the replay")
        await asyncio.sleep(0.5)  # facts after the last answer (none expected) would land now
        replayed = await _tables(second)
    assert replayed == original

    # A second replay of the facts into the same tables changes nothing (idempotent consumer).
    _, pg, _ = second.require()
    pool = await connect_pool(pg, second.namespace)
    try:
        await pool.execute("DELETE FROM lineage_offsets")
    finally:
        await pool.close()
    async with RunningStack(second) as again:
        events = Topics(second.namespace).events
        n_events = len(await _read_all(second, events))

        async def caught_up():
            done = await again.client._pool.fetchval(
                "SELECT coalesce(sum(next_offset), 0) FROM lineage_offsets WHERE topic = $1", events
            )
            return True if done >= n_events else None

        await again.client._wait_until(caught_up, "the second replay")
        assert await _tables(second) == original


async def test_retries_of_answered_requests_after_a_restart_change_nothing(servers):
    """The commit processor remembers the request ids it answered across a restart (its
    ``commits_recent`` rows): every request sent again is a writer's retry and is dropped."""
    settings = servers.with_namespace("r" + uuid.uuid4().hex[:12])
    async with RunningStack(settings) as stack:
        await _session(stack.client)
        original = await _tables(settings)
    log = await _read_all(settings, Topics(settings.namespace).requests, len(original["requests"]))
    async with RunningStack(settings) as restarted:
        await _send_requests(settings, log)
        # A new request behind the retries: once it is answered, so were they.
        await restarted.client.put_file("raw@master", "/after", b"x")
        await asyncio.sleep(0.5)  # facts of a retry (none expected) would land now
        after = await _tables(settings)
    new = [row for row in after["commits"] if row not in original["commits"]]
    assert len(new) == 1  # the one new put's commit; the retries made none
    assert len(after["requests"]) == len(original["requests"]) + 1
    assert after["repos"] == original["repos"]
    assert len(after["blobs"]) == len(original["blobs"]) + 1  # the new put's content
