"""The lineage consumer never crashes on its input and never loses a record: facts that arrive
out of order are applied when they can be (to the same tables as in order); garbage, and facts
Postgres refuses or that cannot be materialized, are dead-lettered with the reason."""

from __future__ import annotations

import asyncio
import base64
import itertools
import uuid
from dataclasses import replace

import pytest

from pachstream.codec import encode
from pachstream.commits.events import CommitFinished
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
from pachstream.lineage import Materializer
from pachstream.lineage._materializer import execute
from pachstream.lineage._rows import rows_for
from pachstream.lineage._schema import MIGRATIONS
from pachstream.model import FileEntry, output_commit_id
from pachstream.objectstore import S3ObjectStore
from pachstream.pg import connect_pool, migrate
from pachstream.service import State
from pachstream.testing.services import read_dead_letters

JOB = "a" * 32
IN_COMMIT = "b" * 32
OUT = output_commit_id("p", JOB)


def _file(data: str) -> FileEntry:
    return FileEntry(hash=data * 64, size=len(data), chunks=())


def _facts(state: str, job: str = JOB, stderr: str = "") -> list:
    out_commit = output_commit_id("p", job)
    started = JobStarted(
        event_id=f"s-{job}", job_id=job, pipeline="p", version=2,
        inputs=(InputCommit(name="raw", repo="raw", branch="master", commit_id=IN_COMMIT),),
        output_commit=out_commit, time=10.0, datums=1, to_run=1, skipped=0,
    )  # fmt: skip
    datum = DatumFinished(
        event_id=f"d-{job}", job_id=job, pipeline="p", datum_id="d" * 32, hash="h" * 64,
        state="success", tries=1, exit_code=0, timed_out=False, stderr_tail=stderr, log_ref="",
        started=11.0, duration_s=0.5, worker="w0",
        inputs=(
            TaskInput(
                name="raw", repo="raw", branch="master", commit_id=IN_COMMIT, path="/a",
                files=(StagedFile(path="/a", file=_file("1")),),
            ),
        ),
        outputs=(OutputFile(path="/a", file=_file("2")),),
    )  # fmt: skip
    finished = JobFinished(
        event_id=f"f-{job}", job_id=job, pipeline="p", state=state,
        output_commit=out_commit if state == "success" else None,
        processed=1, skipped=0, failed=0, recovered=0, time=12.0,
    )  # fmt: skip
    return [started, datum, finished]


DUMPS = {
    "jobs": "id",
    "datums": "job_id, datum_id",
    "datum_inputs": "job_id, datum_id, path",
    "datum_outputs": "job_id, datum_id, path",
    "commit_provenance": "commit_id, input_name",
}


@pytest.mark.parametrize("state", ["success", "failure"])
async def test_every_arrival_order_gives_the_same_tables(settings, state):
    """A job's start, datum and end in all six orders: the same rows; a failed job never keeps
    provenance for an output commit that does not exist."""
    _, pg, _ = settings.require()
    results = []
    for order in itertools.permutations(_facts(state)):
        schema = "o" + uuid.uuid4().hex[:12]
        pool = await connect_pool(pg, schema)
        try:
            await migrate(pool, "lineage", MIGRATIONS)
            async with pool.acquire() as conn:
                for fact in order:
                    async with conn.transaction():
                        await execute(conn, rows_for(fact), bulk=True)
                results.append(
                    {
                        t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY {o}")]
                        for t, o in DUMPS.items()
                    }
                )
            await pool.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            await pool.close()
    first = results[0]
    assert all(r == first for r in results)
    job = dict(zip(["id", "pipeline", "version"], first["jobs"][0][:3], strict=True))
    assert job == {"id": JOB, "pipeline": "p", "version": 2}
    assert first["jobs"][0][5] == state  # the end's state, whichever came first
    assert len(first["datum_outputs"]) == 1 and first["datum_outputs"][0][3] == OUT
    assert len(first["commit_provenance"]) == (1 if state == "success" else 0)


_dead_letters = read_dead_letters


async def test_garbage_and_disorder_never_stop_the_consumer_nor_lose_a_record(settings):
    kafka, pg, _ = settings.require()
    events = Topics(settings.namespace).events
    good_job, bad_job = "c" * 32, "e" * 32
    started, datum, finished = _facts("success", good_job)
    missing_diff = CommitFinished(
        event_id="cf", request_id="r", repo="raw", branch="master", commit_id="f" * 32,
        parent=None, started=1.0, finished=2.0, description="", root="manifests/x",
        file_count=1, size_bytes=1, added=1, modified=0, deleted=0,
        diff_ref="diffs/does-not-exist", diff=None,
    )  # fmt: skip
    # JSON, but neither a packed diff nor a list of rows.
    not_a_diff = replace(
        missing_diff, event_id="cg", commit_id="9" * 32, diff_ref="diffs/not-a-diff"
    )
    objects = S3ObjectStore(settings.require()[2], settings.namespace)
    try:
        await objects.put("diffs/not-a-diff", b'{"packs": ["p"], "rowz": []}')
    finally:
        await objects.close()
    nul = _facts("success", bad_job, stderr="a NUL \x00 byte")[1]
    records = [
        b"\x00\xffnot json",
        b'{"type": "no.such.fact", "schema_version": 1}',
        encode(datum),  # before its job
        encode(finished),  # before its start
        encode(nul),  # a text Postgres refuses
        encode(missing_diff),  # its diff object is gone
        encode(not_a_diff),  # its diff object is no diff
        encode(started),
    ]
    # The topics exist before anything is produced, as with the processors running: a broker
    # need not create topics on first use (Apache Kafka with auto-creation off does not).
    await ensure_topics(kafka, Topics(settings.namespace).all(kafka.partitions))
    producer = Producer(kafka)
    await producer.start()
    try:
        await producer.send_all([(events, "p", r) for r in records])
    finally:
        await producer.stop()

    consumer = Materializer(settings)
    await consumer.start()
    try:
        letters = await _dead_letters(settings, 5)
        pool = await connect_pool(pg, settings.namespace)
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while consumer.applied < 3 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.1)
            job = await pool.fetchrow("SELECT * FROM jobs WHERE id = $1", good_job)
            provenance = await pool.fetchval(
                "SELECT count(*) FROM commit_provenance WHERE job_id = $1", good_job
            )
            outputs = await pool.fetch("SELECT * FROM datum_outputs WHERE job_id = $1", good_job)
            refused = await pool.fetchval("SELECT count(*) FROM datums WHERE job_id = $1", bad_job)
        finally:
            await pool.close()
        # Still running, and the job's start, last in the log, was applied after all that.
        assert consumer.state is State.RUNNING, consumer.state
    finally:
        await consumer.stop()

    assert job is not None and job["state"] == "success" and job["version"] == 2
    assert job["started"] == 10.0 and job["output_commit"] == output_commit_id("p", good_job)
    assert provenance == 1 and len(outputs) == 1
    assert refused == 0
    reasons = sorted(letter["reason"] for letter in letters)
    assert len(letters) == 5, reasons
    assert any("not JSON" in r for r in reasons)
    assert any("no.such.fact" in r for r in reasons)
    assert any("Postgres refused" in r for r in reasons)
    assert any("diffs/does-not-exist" in r for r in reasons)
    assert any("diff object 'diffs/not-a-diff' is not a diff" in r for r in reasons)
    kept = {base64.b64decode(letter["value_b64"]) for letter in letters}
    assert {encode(nul), encode(missing_diff), encode(not_a_diff)} <= kept  # never lost
    assert all(letter["component"] == "lineage" for letter in letters)
