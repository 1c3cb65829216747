"""The shell every log processor shares: read a topic, keep offsets beside the state.

A :class:`LogProcessor` owns a Postgres pool (its namespace's schema, its own migrations), a
producer and a reader of its input topic. Its offsets live in the table ``<name>_offsets`` and
are written by :meth:`save_offsets` inside the same transaction as the state they produced, so
a restart resumes exactly where the committed state ends. Records that do not decode become
dead letters through :meth:`decode_or_dead_letter`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from pachstream.codec import decode
from pachstream.errors import EventDecodeError
from pachstream.kafka import (
    PartitionReader,
    Producer,
    Record,
    Topics,
    dead_letter_value,
    ensure_topics,
)
from pachstream.metrics import process_metrics
from pachstream.objectstore import ObjectStore, S3ObjectStore
from pachstream.pg import connect_pool, migrate
from pachstream.service import Service
from pachstream.settings import Settings

log = logging.getLogger("pachstream")

Outgoing = list[tuple[str, str | None, bytes]]
"""Records to produce: (topic, key, value)."""


def offsets_table(name: str) -> str:
    """The migration that creates processor ``name``'s offsets table (see :class:`LogProcessor`).

    Append it to a migration list once, never change it: migrations are append-only.
    """
    return (
        f"CREATE TABLE {name}_offsets (topic text NOT NULL, partition integer NOT NULL, "
        "next_offset bigint NOT NULL, PRIMARY KEY (topic, partition))"
    )


def outbox_table(name: str) -> str:
    """The migration that creates processor ``name``'s outbox (:func:`checkpoint_ctes`).

    Append it to a migration list once, never change it: migrations are append-only.
    """
    return (
        f"CREATE TABLE {name}_outbox (seq integer PRIMARY KEY, topic text NOT NULL, "
        "key text, value bytea NOT NULL, partition integer)"
    )


Outbox = list[tuple[str, str | None, bytes, int | None]]
"""Records a batch decided to produce: (topic, key, value, partition or None for by key)."""


def checkpoint_ctes(name: str, first: int) -> str:
    """The part of a one-statement checkpoint that keeps processor ``name``'s offsets and
    outbox: ``WITH`` entries over parameters ``$first`` on, given as :func:`checkpoint_columns`.

    The outbox holds a batch's records in place of the previous batch's (already produced).
    For a processor whose decisions depend on timing (the dispatcher: which records of
    several partitions a batch holds, which jobs ended), a batch replayed after a crash may
    decide differently; records produced before the commit could then describe a job the
    restarted processor never knew. Committed first and produced after (again by
    :meth:`LogProcessor.send_outbox` after a restart), every record produced is one the state
    holds. The rows past the new batch's are deleted and the others overwritten, so the two
    never touch one row in the one statement.
    """
    seq = f"${first + 3}::int[]"
    box = ", ".join(
        f"${first + 3 + i}::{t}[]" for i, t in enumerate(("int", "text", "text", "bytea", "int"))
    )
    return (
        f"{offsets_cte(name, first)}, "
        f"{name}_outbox_d AS (DELETE FROM {name}_outbox WHERE seq >= cardinality({seq})), "
        f"{name}_outbox_w AS (INSERT INTO {name}_outbox SELECT * FROM unnest({box}) "
        "ON CONFLICT (seq) DO UPDATE SET topic = EXCLUDED.topic, key = EXCLUDED.key, "
        "value = EXCLUDED.value, partition = EXCLUDED.partition)"
    )


def offsets_cte(name: str, first: int) -> str:
    """A ``WITH`` entry that keeps processor ``name``'s consumed offsets, from parameters
    ``$first`` to ``$first + 2``: topics, partitions and next offsets as arrays.
    """
    off = ", ".join(f"${first + i}::{t}[]" for i, t in enumerate(("text", "int", "bigint")))
    return (
        f"{name}_offsets_w AS (INSERT INTO {name}_offsets SELECT * FROM unnest({off}) "
        "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset)"
    )


def offsets_columns(offsets: dict[tuple[str, int], int]) -> list[list[Any]]:
    """The parameters of :func:`offsets_cte`: topics, partitions and next offsets."""
    return columns([(topic, partition, at) for (topic, partition), at in offsets.items()], 3)


def checkpoint_columns(offsets: dict[tuple[str, int], int], outbox: Outbox) -> list[list[Any]]:
    """The parameters of :func:`checkpoint_ctes`: offsets and outbox records as columns."""
    box_rows = [(seq, *record) for seq, record in enumerate(outbox)]
    return offsets_columns(offsets) + columns(box_rows, 5)


def columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as ``width`` columns (empty columns for no rows)."""
    return [list(column) for column in zip(*rows, strict=True)] or [[] for _ in range(width)]


class LogProcessor(Service):
    """Base of the commit processor and the materializer."""

    migrations: ClassVar[list[str]] = []
    """This processor's schema, one entry per version."""
    max_records: ClassVar[int] = 1000
    """Records per batch."""

    def __init__(self, settings: Settings, *, objects: ObjectStore | None = None) -> None:
        super().__init__()
        self._settings = settings
        self._kafka, self._pg, self._s3 = settings.require()
        self._topics = Topics(settings.namespace)
        self._objects: ObjectStore = objects or S3ObjectStore(self._s3, settings.namespace)
        self._pool: Any = None
        self._producer = Producer(self._kafka)
        self._reader = PartitionReader(self._kafka, max_records=self.max_records)
        self._offsets: dict[tuple[str, int], int] = {}

    def input_topic(self) -> str:
        """The topic this processor consumes."""
        raise NotImplementedError

    def input_topics(self) -> list[str]:
        """Every topic this processor consumes (default: :meth:`input_topic`)."""
        return [self.input_topic()]

    async def _open(self) -> None:
        self._pool = await connect_pool(self._pg, self._settings.namespace)
        # The migrations create ``<name>_offsets`` (topic, partition, next_offset) with the state.
        await migrate(self._pool, self.name, self.migrations)
        await ensure_topics(self._kafka, self._topics.all(self._kafka.partitions))
        async with self._pool.acquire() as conn:
            for row in await conn.fetch(
                f"SELECT topic, partition, next_offset FROM {self.name}_offsets"
            ):
                self._offsets[(row["topic"], row["partition"])] = row["next_offset"]
            await self._restore(conn)
        await self._producer.start()
        await self._reader.start(self.input_topics(), self._offsets)

    async def _restore(self, conn: Any) -> None:
        """Load the processor's own state (hook)."""

    async def _close(self) -> None:
        await self._reader.stop()
        await self._producer.stop()
        if self._pool is not None:
            await self._pool.close()
        await self._objects.close()

    def decode_or_dead_letter(self, rec: Record, out: Outgoing) -> Any:
        """The record's event, or None after queueing a dead letter with the reason."""
        try:
            return decode(rec.value)
        except EventDecodeError as exc:
            return self.dead_letter(rec, exc, out)

    def dead_letter(self, rec: Record, exc: EventDecodeError, out: Outgoing) -> None:
        """Queue a dead letter for ``rec``: the original bytes are kept, never lost."""
        log.warning("%s: dead-lettering %s@%d: %s", self.name, rec.topic, rec.offset, exc.message)
        process_metrics().dead_letters.labels(self.name).inc()
        out.append((self._topics.deadletter, None, dead_letter_value(rec, exc.message, self.name)))

    def observe_batch(
        self, records: Sequence[Record], offsets: dict[tuple[str, int], int], started: float
    ) -> None:
        """Count a handled batch in this process's metrics: its records, each partition's lag
        behind the highwater of the last fetch, and the time since ``started`` (monotonic).
        """
        process_metrics().observe_batch(
            self.name, records, offsets, self._reader.highwater, time.monotonic() - started
        )

    async def load_outbox(self, conn: Any) -> Outbox:
        """The last committed batch's records (to produce again after a restart)."""
        rows = await conn.fetch(
            f"SELECT topic, key, value, partition FROM {self.name}_outbox ORDER BY seq"
        )
        return [(r["topic"], r["key"], bytes(r["value"]), r["partition"]) for r in rows]

    async def send_outbox(self, records: Outbox) -> None:
        """Produce ``records`` in order and wait for every acknowledgement."""
        futures = [await self._producer.send(t, k, v, p) for t, k, v, p in records]
        for f in futures:
            await f

    async def save_offsets(self, conn: Any, offsets: dict[tuple[str, int], int]) -> None:
        """Record consumed offsets, inside the caller's transaction."""
        await conn.executemany(
            f"INSERT INTO {self.name}_offsets VALUES ($1, $2, $3) "
            "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
            [(t, p, o) for (t, p), o in offsets.items()],
        )


RECLAIM_FLOOR = 1_000_000
"""Memory blocks held by Python objects below which no full collection is run."""

RECLAIM_GROWTH = 1.25
"""Growth of those blocks since the last full collection that calls for the next one:
CPython's own rule for its oldest generation (a quarter more than it held)."""

RECLAIM_WAIT_S = 30.0
"""How long a full collection that is due waits for the process to be idle before it runs
between two batches anyway (a processor that is never idle still reclaims its cycles)."""


class _SetAside:
    """Python's memory blocks in use just after the last full collection (0: none yet), and
    since when (monotonic) batches have ended with the heap grown past it (None: they do not).
    """

    after_reclaim = 0
    due_since: float | None = None


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a batch is decoded and handled; after it, what the
    batch left alive is set aside where the collector does not look (:func:`gc.freeze`).

    What a batch builds lives on until it is written: a 2,000-op request record is ~12,000
    ops, entries and chunks kept in an open commit's overlay; a large commit's diff is ~1.5
    million lists and strings for 100,000 files; lineage holds ~12 objects per fact until its
    COPY ends. With the collector on, every young collection meanwhile walked the survivors
    and the old generation kept growing: the commit processor's decode, fold and tree build
    cost 2.5 times as much, and lineage parsed that diff in 0.41 s of CPU instead of 0.10
    (each measured in one process). Merely re-enabling it was not enough: its first young
    collection then walked everything the batch had built, once per batch, to find no garbage
    (lineage: 0.74 s of 3.7 s of CPU in 160 collections that freed 70 objects, 50,000 facts).

    Set aside, those objects still die by their reference counts, as nearly all of them do.
    Only garbage *cycles* among them wait: all set-aside objects go back to the collector and
    one full collection runs once the heap has grown by :data:`RECLAIM_GROWTH` since the last
    one, when the processor is idle (:func:`reclaim_when_idle`), or after
    :data:`RECLAIM_WAIT_S` between two batches if it never is.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            _set_aside()
            gc.enable()


def _set_aside() -> None:
    gc.freeze()
    # The count of blocks is cheap (~80 µs at 3 million); the count of frozen objects walks
    # them all (12 ms at a million, measured: it doubled lineage's CPU per fact).
    blocks = sys.getallocatedblocks()
    if not _SetAside.after_reclaim:  # the first batch: what is there is the base
        _SetAside.after_reclaim = blocks
        return
    if not _grown(blocks):
        _SetAside.due_since = None
        return
    # Not now: a batch that just ended holds what it built until its write is done (a large
    # commit's diff: the heap five times its size at rest), and the collection walks it all
    # to free nothing, on the path of the write (commit processor: 0.1-0.25 s per 100,000-
    # file commit, which its client waited for).
    now = time.monotonic()
    if _SetAside.due_since is None:
        _SetAside.due_since = now
    elif now - _SetAside.due_since >= RECLAIM_WAIT_S:
        _reclaim()


def reclaim_when_idle() -> bool:
    """Run the full collection the set-aside calls for, if it does; for a processor with
    nothing to do. The heap at rest decides, not the heap of a batch in hand: it is what a
    collection could free. Returns whether one ran.
    """
    if not _SetAside.after_reclaim or not _grown(sys.getallocatedblocks()):
        _SetAside.due_since = None
        return False
    _reclaim()
    return True


def _grown(blocks: int) -> bool:
    return blocks > RECLAIM_FLOOR and blocks > RECLAIM_GROWTH * _SetAside.after_reclaim


def _reclaim() -> None:
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _SetAside.after_reclaim = sys.getallocatedblocks()
    _SetAside.due_since = None
