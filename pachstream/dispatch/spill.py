"""Spilled datum tasks: a task too large for one record travels through the object store.

A task carries every staged file's entry inline (about 300 bytes a file), so a ``/`` datum
over some 50,000 files would pass the broker's 16 MiB record limit. Above
:data:`SPILL_BYTES` encoded, the dispatcher's shell stores the encoded
:class:`~.events.DatumTask` under ``tasks/<sha256>`` and sends a small
:class:`~.events.DatumTaskRef` instead::

    dispatcher: encode(task) → spill_task() → put(key, data) → send(encode(ref))
    worker:     DatumTaskRef → load_spilled() (sha256 checked) → run the task
                → DatumFinished with inputs_ref, its inputs without their files
    lineage:    DatumFinished.inputs_ref → load_spilled() → full_result() → rows

The key is content-addressed, so a replayed batch writes the same object again and sends the
same reference. The object is written before the reference is produced (the shell awaits the
put in the step), so a worker never reads a reference to nothing, barring loss.

Garbage: spilled objects are kept, like the commit processor's ``diffs/`` objects. The
lineage consumer reads them when it materializes the datum's result, and again when its
tables are rebuilt from the log; deleting them at the job's end would make the log lie
about which files a datum read. A content-addressed task embeds its job id, so each job of a
big datum leaves one object (about 300 bytes per input file).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from pachstream.codec import decode
from pachstream.dispatch.events import (
    DatumFinished,
    DatumTask,
    DatumTaskRef,
    SpilledTask,
    TaskInput,
)
from pachstream.errors import EventDecodeError
from pachstream.objectstore import ObjectStore

SPILL_BYTES = 1024 * 1024
"""An encoded task larger than this is spilled to the object store: well under the
broker's 16 MiB limit, and large enough that only datums of thousands of files spill."""

KEY_PREFIX = "tasks/"
"""Where spilled tasks live in the object store (under the namespace's prefix)."""


@dataclass(frozen=True, slots=True)
class Spill:
    """What the shell does for a large task: store ``data`` at ``ref.task.key``, then send
    ``ref``.
    """

    data: bytes
    """The encoded task."""
    ref: DatumTaskRef
    """The record sent in its place."""


def spill_key(sha256: str) -> str:
    """The object key of a spilled task whose encoding has this sha256. Pure."""
    return f"{KEY_PREFIX}{sha256}"


def spill_task(task: DatumTask, data: bytes, limit: int = SPILL_BYTES) -> Spill | None:
    """How to send ``task`` (encoded as ``data``): None when it fits in a record as it is,
    else the object to store and the reference to send. Pure.
    """
    if len(data) <= limit:
        return None
    digest = hashlib.sha256(data).hexdigest()
    stored = SpilledTask(key=spill_key(digest), sha256=digest, size=len(data))
    ref = DatumTaskRef(
        job_id=task.job_id,
        pipeline=task.pipeline,
        datum_id=task.datum_id,
        hash=task.hash,
        task=stored,
    )
    return Spill(data, ref)


def check_spilled(stored: SpilledTask, data: bytes) -> DatumTask:
    """The task in a spilled object's bytes, or EventDecodeError naming the object and what
    is wrong with it (size, sha256, not a datum task). Pure.
    """
    fix = "the object was damaged or replaced; rerun the job ('pachstream rerun job ID')"
    if len(data) != stored.size:
        raise EventDecodeError(
            f"spilled task {stored.key!r}: {len(data)} bytes, expected {stored.size}; {fix}",
            key=stored.key,
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != stored.sha256:
        raise EventDecodeError(
            f"spilled task {stored.key!r}: sha256 {digest}, expected {stored.sha256}; {fix}",
            key=stored.key,
        )
    task = decode(data)
    if not isinstance(task, DatumTask):
        raise EventDecodeError(
            f"spilled task {stored.key!r} holds a {task.TYPE!r} event, not a datum task; {fix}",
            key=stored.key,
        )
    return task


async def load_spilled(objects: ObjectStore, stored: SpilledTask) -> DatumTask:
    """Read and check a spilled task: ObjectMissing when it is gone, EventDecodeError when
    its bytes are not the ones referenced.
    """
    return check_spilled(stored, await objects.get(stored.key))


def without_files(task: DatumTask) -> DatumTask:
    """The task with each input's file list dropped: what a worker keeps of a spilled task
    once it ran (hundreds of MB of objects at 200,000 files). Pure.
    """
    return dataclasses.replace(task, inputs=_bare(task.inputs))


def slim_result(finished: DatumFinished, stored: SpilledTask) -> DatumFinished:
    """A spilled datum's result as sent: each input without its files, and a reference to
    the task that lists them (echoing them would pass the record limit too). Pure.
    """
    return dataclasses.replace(finished, inputs=_bare(finished.inputs), inputs_ref=stored)


def _bare(inputs: tuple[TaskInput, ...]) -> tuple[TaskInput, ...]:
    return tuple(dataclasses.replace(i, files=()) for i in inputs)


def full_result(finished: DatumFinished, task: DatumTask) -> DatumFinished:
    """A slim result with its inputs back from the spilled task (for lineage rows), or
    EventDecodeError when the task is another datum's. Pure.
    """
    if (task.job_id, task.datum_id) != (finished.job_id, finished.datum_id):
        raise EventDecodeError(
            f"datum {finished.datum_id} of job {finished.job_id}: its inputs_ref "
            f"{finished.inputs_ref!r} holds datum {task.datum_id} of job {task.job_id}",
            datum_id=finished.datum_id,
        )
    inputs: tuple[TaskInput, ...] = task.inputs
    return dataclasses.replace(finished, inputs=inputs, inputs_ref=None)


__all__ = [
    "KEY_PREFIX",
    "SPILL_BYTES",
    "Spill",
    "check_spilled",
    "full_result",
    "load_spilled",
    "slim_result",
    "spill_key",
    "spill_task",
    "without_files",
]
