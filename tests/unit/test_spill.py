"""Spilled datum tasks: when a task spills, its key, its reference on the wire, the checks on
read, the slim result and its inputs restored for lineage, and the worker's failed result when
the stored task is gone or damaged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time

import pytest

from pachstream.codec import decode, encode
from pachstream.dispatch._core import result_of
from pachstream.dispatch.events import (
    DatumFinished,
    DatumTask,
    DatumTaskRef,
    JobFinished,
    SpilledTask,
    StagedFile,
    TaskInput,
)
from pachstream.dispatch.spill import (
    SPILL_BYTES,
    check_spilled,
    full_result,
    load_spilled,
    slim_result,
    spill_key,
    spill_task,
    without_files,
)
from pachstream.errors import EventDecodeError, ObjectMissing
from pachstream.lineage._rows import INSERT_DATUM_INPUT, rows_for
from pachstream.model import Chunk, FileEntry
from pachstream.objectstore import MemoryObjectStore
from pachstream.worker._worker import Worker


def _task(files: int, job: str = "j" * 32, datum: str = "d" * 32) -> DatumTask:
    staged = tuple(
        StagedFile(
            path=f"/dir{i % 100:02d}/file{i:07d}.txt",
            file=FileEntry(
                hash=f"{i:064x}",
                size=12,
                chunks=(Chunk(hash=f"{i:064x}", size=12, pack="packs/" + "b" * 64, offset=12 * i),),
            ),
        )
        for i in range(files)
    )
    return DatumTask(
        job_id=job,
        pipeline="count",
        version=1,
        datum_id=datum,
        hash="h" * 64,
        inputs=(
            TaskInput(
                name="raw", repo="raw", branch="master", commit_id="c" * 32, path="/", files=staged
            ),
        ),
        output_commit="o" * 32,
        cmd=("sh", "-c", "find /pfs/raw -type f | wc -l > /pfs/out/count"),
    )


def _finished(task: DatumTask) -> DatumFinished:
    return DatumFinished(
        event_id="e",
        job_id=task.job_id,
        pipeline=task.pipeline,
        datum_id=task.datum_id,
        hash=task.hash,
        state="success",
        tries=1,
        exit_code=0,
        timed_out=False,
        stderr_tail="",
        log_ref="",
        started=1.0,
        duration_s=2.0,
        worker="w",
        inputs=task.inputs,
    )


# ----------------------------------------------------------------------------- when to spill


@pytest.mark.parametrize(
    ("size", "limit", "spills"),
    [
        (10, 10, False),  # at the limit: still one record
        (11, 10, True),
        (0, 0, False),
        (SPILL_BYTES, SPILL_BYTES, False),
        (SPILL_BYTES + 1, SPILL_BYTES, True),
    ],
)
def test_a_task_spills_only_past_the_limit(size: int, limit: int, spills: bool) -> None:
    assert (spill_task(_task(1), b"x" * size, limit) is not None) is spills


def test_a_small_task_is_sent_as_it_is() -> None:
    task = _task(10)
    assert spill_task(task, encode(task)) is None


def test_a_task_of_thousands_of_files_spills_and_its_reference_is_small() -> None:
    # ~320 bytes a file: 200,000 files (the integration test's datum) make 64 MB, four
    # times the broker's 16 MiB record limit; 5,000 already pass SPILL_BYTES.
    task = _task(5_000)
    data = encode(task)
    assert len(data) > SPILL_BYTES and len(data) / 5_000 > 300
    spill = spill_task(task, data)
    assert spill is not None and spill.data is data
    assert len(encode(spill.ref)) < 1024
    ref = spill.ref
    assert (ref.job_id, ref.pipeline, ref.datum_id, ref.hash) == (
        task.job_id,
        task.pipeline,
        task.datum_id,
        task.hash,
    )
    assert ref.task.size == len(data)
    assert check_spilled(ref.task, data) == task


# ----------------------------------------------------------------------------- keys


def test_the_key_is_the_content_hash_so_a_retried_send_writes_the_same_object() -> None:
    task = _task(3)
    data = encode(task)
    first = spill_task(task, data, limit=0)
    again = spill_task(task, encode(task), limit=0)
    assert first is not None and again is not None
    digest = hashlib.sha256(data).hexdigest()
    assert first.ref.task == SpilledTask(key=f"tasks/{digest}", sha256=digest, size=len(data))
    assert spill_key(digest) == first.ref.task.key
    assert again == first
    other = spill_task(_task(3, job="k" * 32), encode(_task(3, job="k" * 32)), limit=0)
    assert other is not None and other.ref.task.key != first.ref.task.key


def test_the_reference_round_trips_through_the_codec() -> None:
    spill = spill_task(_task(2), encode(_task(2)), limit=0)
    assert spill is not None
    decoded = decode(encode(spill.ref))
    assert isinstance(decoded, DatumTaskRef) and decoded == spill.ref


# ----------------------------------------------------------------------------- reading back


def _stored(data: bytes) -> SpilledTask:
    digest = hashlib.sha256(data).hexdigest()
    return SpilledTask(key=spill_key(digest), sha256=digest, size=len(data))


def test_damaged_or_foreign_objects_are_refused_naming_the_key() -> None:
    data = encode(_task(2))
    stored = _stored(data)
    with pytest.raises(EventDecodeError, match=r"expected \d+.*rerun job") as short:
        check_spilled(stored, data[:-1])
    assert short.value.key == stored.key
    flipped = data[:-2] + b"x}"
    with pytest.raises(EventDecodeError, match=f"sha256 .*expected {stored.sha256}"):
        check_spilled(stored, flipped)
    other = encode(
        JobFinished(
            event_id="e", job_id="j", pipeline="p", state="killed", output_commit=None,
            processed=0, skipped=0, failed=0, recovered=0, time=1.0,
        )
    )  # fmt: skip
    with pytest.raises(EventDecodeError, match="holds a 'job.finished' event"):
        check_spilled(_stored(other), other)


async def test_load_spilled_reads_checks_or_says_missing() -> None:
    objects = MemoryObjectStore()
    task = _task(5)
    spill = spill_task(task, encode(task), limit=0)
    assert spill is not None
    with pytest.raises(ObjectMissing):
        await load_spilled(objects, spill.ref.task)
    await objects.put(spill.ref.task.key, spill.data)
    assert await load_spilled(objects, spill.ref.task) == task


# ----------------------------------------------------------------------------- results


def test_a_slim_result_is_small_and_lineage_gets_every_file_back() -> None:
    task = _task(5_000)
    stored = _stored(b"irrelevant here")
    full = _finished(task)
    slim = slim_result(full, stored)
    assert slim.inputs_ref == stored
    assert [(i.name, i.path, i.files) for i in slim.inputs] == [("raw", "/", ())]
    assert len(encode(slim)) < 2048
    restored = full_result(decode(encode(slim)), task)
    assert restored == full
    inputs = [args for sql, args in rows_for(restored, None) if sql == INSERT_DATUM_INPUT]
    assert len(inputs) == 5_000
    assert inputs[7][5:7] == ("/dir07/file0000007.txt", f"{7:064x}")


def test_a_result_is_not_completed_from_another_datums_task() -> None:
    slim = slim_result(_finished(_task(1)), _stored(b"x"))
    with pytest.raises(EventDecodeError, match="holds datum"):
        full_result(slim, _task(1, datum="e" * 32))


def _worker(objects: MemoryObjectStore) -> Worker:
    # Only what _unspill touches: the real method, without a broker or Postgres behind it.
    worker = Worker.__new__(Worker)
    worker._objects = objects
    worker.id = "count.1.0@test"
    return worker


async def test_the_worker_fails_the_datum_when_its_task_is_gone_or_damaged() -> None:
    objects = MemoryObjectStore()
    task = _task(4)
    spill = spill_task(task, encode(task), limit=0)
    assert spill is not None
    now = time.time()
    gone = await _worker(objects)._unspill(spill.ref, now)
    assert isinstance(gone, DatumFinished)
    assert (gone.job_id, gone.datum_id, gone.state, gone.inputs_ref) == (
        task.job_id,
        task.datum_id,
        "failed",
        None,
    )
    reason = result_of(gone).detail
    assert spill.ref.task.key in reason and "does not exist" in reason
    assert f"rerun job {task.job_id}" in reason

    await objects.put(spill.ref.task.key, spill.data.replace(b"wc -l", b"wc -c"))
    damaged = await _worker(objects)._unspill(spill.ref, now)
    assert isinstance(damaged, DatumFinished) and damaged.state == "failed"
    assert "sha256" in result_of(damaged).detail

    await objects.put(spill.ref.task.key, spill.data)
    assert await _worker(objects)._unspill(spill.ref, now) == task


def test_the_slim_result_keeps_every_other_field() -> None:
    full = _finished(_task(3))
    slim = slim_result(full, _stored(b"x"))
    same = dataclasses.replace(slim, inputs=full.inputs, inputs_ref=None)
    assert same == full
    # What the worker keeps of a task it ran gives the same slim result.
    bare = without_files(_task(3))
    assert [i.files for i in bare.inputs] == [()]
    assert dataclasses.replace(bare, inputs=_task(3).inputs) == _task(3)
    assert slim_result(_finished(bare), _stored(b"x")) == slim
