"""The materializer's fast path for datum results, end to end: valid results become the very
rows the general path writes, and broken ones (each written to look like a datum result) are
dead-lettered with the codec's own reason, none of them writing a row."""

from __future__ import annotations

import asyncio
import base64
import uuid

from pachstream.codec import decode, encode
from pachstream.dispatch.events import (
    DatumFinished,
    InputCommit,
    JobStarted,
    OutputFile,
    StagedFile,
    TaskInput,
)
from pachstream.errors import EventDecodeError
from pachstream.kafka import Producer, Topics, ensure_topics
from pachstream.lineage import Materializer
from pachstream.lineage._fast import PREFIX, datum_rows
from pachstream.lineage._materializer import execute
from pachstream.lineage._rows import rows_for
from pachstream.lineage._schema import MIGRATIONS
from pachstream.model import Chunk, FileEntry, output_commit_id
from pachstream.pg import connect_pool, migrate
from pachstream.service import State
from pachstream.testing.services import read_dead_letters

JOB, IN_COMMIT = "a" * 32, "b" * 32
TABLES = {
    "datums": "job_id, datum_id",
    "datum_inputs": "job_id, datum_id, input_name, path",
    "datum_outputs": "job_id, datum_id, path",
}


def _entry(n: int) -> FileEntry:
    chunk = Chunk(hash=f"{n:064x}", size=n, pack="packs/p" if n % 2 else None, offset=n)
    return FileEntry(hash=f"{n:064x}", size=n, chunks=(chunk,))


def _datum(n: int, stderr: str = "") -> DatumFinished:
    return DatumFinished(
        event_id=f"d{n}", job_id=JOB, pipeline="p", datum_id=f"{n:032x}", hash="h" * 64,
        state="success" if n % 3 else "failed", tries=1, exit_code=n % 3, timed_out=False,
        stderr_tail=stderr, log_ref="", started=float(n), duration_s=0.5, worker="w0",
        inputs=(
            TaskInput(name="raw", repo="raw", branch="master", commit_id=IN_COMMIT,
                      path=f"/{n}", files=tuple(StagedFile(path=f"/{n}/{k}", file=_entry(k))
                                                for k in range(n % 4))),
        ),
        outputs=(OutputFile(path=f"/{n}", file=_entry(n)),),
    )  # fmt: skip


def _broken(good: bytes) -> list[bytes]:
    """Records that start as a datum result does and are no valid one."""
    return [
        good[:-7],  # cut short: not JSON
        good.replace(b'"tries":1', b'"tries":true'),
        good.replace(b'"state":"success"', b'"state":"exploded"'),
        good.replace(b'"offset":1}', b'"offset":"1"}'),
        good.replace(b'"branch":"master",', b""),
    ]


async def _tables(pool) -> dict[str, list[tuple]]:
    return {
        t: [tuple(r) for r in await pool.fetch(f"SELECT * FROM {t} ORDER BY {o}")]
        for t, o in TABLES.items()
    }


async def test_fast_path_rows_and_dead_letters(settings):
    kafka, pg, _ = settings.require()
    started = JobStarted(
        event_id="s", job_id=JOB, pipeline="p", version=1,
        inputs=(InputCommit(name="raw", repo="raw", branch="master", commit_id=IN_COMMIT),),
        output_commit=output_commit_id("p", JOB), time=1.0, datums=40, to_run=40, skipped=0,
    )  # fmt: skip
    good = [encode(_datum(n)) for n in range(40)]
    refused_by_postgres = encode(_datum(99, stderr="a NUL \x00 byte"))
    broken = _broken(encode(_datum(7)))
    assert all(b.startswith(PREFIX) and b != good[7] for b in broken)
    assert all(datum_rows(g) is not None for g in good) and datum_rows(refused_by_postgres)
    records = [encode(started), *good[:20], *broken, refused_by_postgres, *good[20:]]

    await ensure_topics(kafka, Topics(settings.namespace).all(kafka.partitions))
    producer = Producer(kafka)
    await producer.start()
    try:
        await producer.send_all([(Topics(settings.namespace).events, "p", r) for r in records])
    finally:
        await producer.stop()
    consumer = Materializer(settings)
    await consumer.start()
    try:
        letters = await read_dead_letters(settings, len(broken) + 1)
        deadline = asyncio.get_running_loop().time() + 30
        while consumer.applied < 41 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert consumer.state is State.RUNNING, consumer.state
        assert consumer.applied == 41
    finally:
        await consumer.stop()

    # Each broken record dead-lettered with the reason the codec gives, its bytes kept.
    reasons = {}
    for b in broken:
        try:
            decode(b)
        except EventDecodeError as err:
            reasons[b] = err.message
    assert len(reasons) == len(broken)
    kept = {base64.b64decode(letter["value_b64"]): letter["reason"] for letter in letters}
    assert len(letters) == len(broken) + 1
    assert {b: kept.get(b) for b in broken} == reasons
    assert "Postgres refused" in kept[refused_by_postgres]

    # The rows: those the general path writes for the valid results, and no others.
    pool = await connect_pool(pg, settings.namespace)
    scratch = "g" + uuid.uuid4().hex[:12]
    general = await connect_pool(pg, scratch)
    try:
        fast_tables = await _tables(pool)
        await migrate(general, "lineage", MIGRATIONS)
        async with general.acquire() as conn, conn.transaction():
            for g in good:
                await execute(conn, rows_for(decode(g)), bulk=True)
        assert fast_tables == await _tables(general)
        assert len(fast_tables["datums"]) == 40
        assert len(fast_tables["datum_inputs"]) == sum(n % 4 for n in range(40))
    finally:
        await general.execute(f"DROP SCHEMA {scratch} CASCADE")
        await general.close()
        await pool.close()
