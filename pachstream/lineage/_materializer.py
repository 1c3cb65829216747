"""The materializer: every fact of the events topic becomes rows in Postgres.

One batch at a time: read → decode (garbage → dead-letter) → :func:`rows_for` → one
transaction with the rows and the consumed offsets → ``NOTIFY <ns>_changes`` (delivered at
commit) so that waiting clients look again. Offsets and rows commit together, so a kill -9
at any point leaves tables that a restart completes exactly.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import operator
import time
from collections.abc import Awaitable
from typing import Any

import asyncpg
import orjson

from pachstream.aio import wait_all
from pachstream.commits.events import CommitDeleted, CommitFinished, CommitSquashed, RequestDone
from pachstream.dispatch.events import (
    DatumFinished,
    JobFinished,
    JobStarted,
    PipelineCreated,
    PipelineStateSet,
)
from pachstream.dispatch.spill import full_result, load_spilled
from pachstream.errors import EventDecodeError, ObjectMissing
from pachstream.kafka import Record
from pachstream.lineage._fast import datum_rows
from pachstream.lineage._rows import (
    BULK,
    SquashMap,
    Statement,
    follow_squashes,
    job_remaps,
    note_squash,
    rows_for,
    squashed_into,
)
from pachstream.lineage._schema import MIGRATIONS
from pachstream.lineage.queries import notify_channel
from pachstream.objectstore import ObjectStore
from pachstream.processor import (
    LogProcessor,
    Outgoing,
    collector_paused,
    offsets_columns,
    offsets_cte,
    reclaim_when_idle,
)
from pachstream.settings import Settings

log = logging.getLogger("pachstream.lineage")


NOTIFYING = (
    RequestDone,
    CommitFinished,
    CommitDeleted,
    CommitSquashed,
    JobStarted,
    JobFinished,
    PipelineCreated,
    PipelineStateSet,
)
"""Facts that waiting clients look for."""

Deferred = dict[str, list[tuple[Any, ...]]]
"""Rows of append-only inserts (:data:`BULK`), by insert, to be loaded together."""

APART_ROWS = 5000
"""Rows of one table that may go in apart (:attr:`Bulk.apart`) above which they do: a
commit of this many files or more (see :func:`set_apart`)."""

COPY_THRESHOLD = 200
"""Rows of one append-only table in a batch above which COPY beats a batched insert."""

YIELD_EVERY = 50
"""Records decoded between two turns of the event loop while the batch before is being
written. Its write is a dozen round trips (begin, a savepoint and a COPY per table, offsets,
commit), each waiting on this loop: decoding without a pause held each one until the decode
ended (measured: batches written one after another, not beside the next decode). A pause
every 250 records (~5 ms) still held each round trip up to that long: 0.22-0.35 s per 5,000
facts written, against 0.16-0.26 s with a pause each millisecond or so."""

GATHER_WAIT_MS = 2
"""Longest wait for more records while the batch before is being written: at most this late
does the next batch start after that write ends. Without it, batches alternated between
5,000 facts and the ~1,150 of one fetch, each small one paying a whole transaction (measured,
50,000 facts: 10 transactions instead of about 16; rows/s ratio to raw COPY 0.60 -> 0.69)."""


class Mode(enum.Enum):
    """How a batch is written (:meth:`Materializer._write`)."""

    FRESH = "fresh"
    """Its bulk rows straight in, as new (the usual case)."""
    AGAIN = "again"
    """Its bulk rows through stages, which skip rows already there: a fact of the batch was
    written before."""
    CAREFUL = "careful"
    """Fact by fact, each under a savepoint: Postgres refused some value of the batch."""


BAD_ROWS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)
"""Postgres refusing a value: the fact's fault, not the database's; such a fact is
dead-lettered (other errors stop the processor, and the supervisor restarts it)."""


class Materializer(LogProcessor):
    """Consumes the events topic into the query tables."""

    name = "lineage"
    migrations = MIGRATIONS
    max_records = 1000
    """Records per read. aiokafka unpacks a read's records in one go, holding the loop
    (~6 µs a record): reads of 5,000 held the next batch's write for 30-100 ms."""
    batch_records = 5000
    """Records per transaction, gathered by several reads."""

    def __init__(self, settings: Settings, *, objects: ObjectStore | None = None) -> None:
        super().__init__(settings, objects=objects)
        self.applied = 0
        """Facts applied since start."""
        self._pending: asyncio.Task[None] | None = None
        self._read_offsets: dict[tuple[str, int], int] = {}
        """Positions after the batches read, ahead of the committed ``_offsets`` while a
        batch is being written."""
        self._squashes: SquashMap = {}
        """Where squashed commits went, as of the facts decoded (the ``squashed_commits``
        table once their batches are written): rows decoded after a squash that name its
        commit name where its data went (:func:`follow_squashes`)."""

    async def _restore(self, conn: Any) -> None:
        rows = await conn.fetch("SELECT commit_id, child FROM squashed_commits")
        self._squashes = {r["commit_id"]: r["child"] for r in rows}

    def input_topic(self) -> str:
        """The events topic only: it holds every fact. Requests and tasks are intentions, and
        each one's outcome is a fact there (a refused request is a ``request.done``).
        """
        return self._topics.events

    async def _step(self) -> None:
        records = await self._reader.read(timeout_ms=200)
        if not records:
            await self._drain()
            reclaim_when_idle()
            return
        started = time.monotonic()
        dead: Outgoing = []
        offsets = dict(self._read_offsets or self._offsets)
        facts: list[tuple[Record, list[Statement]]] = []
        notify = False
        batch: list[Record] = []
        # Read max_records at a time (unpacking a read holds the loop, so between two the
        # write in flight takes its next step), gathered into one transaction until it holds
        # batch_records or the writer is free: a free writer takes what there is at once (the
        # first batch after a start went only once 5,000 were decoded, ~0.1 s with Postgres
        # idle). A busy one lets the batch grow meanwhile, as large as its write takes.
        while records:
            batch += records
            with collector_paused():
                notify = await self._decode(records, offsets, facts, dead) or notify
            if len(batch) >= self.batch_records or self._writer_idle():
                break
            await asyncio.sleep(0)
            records = await self._reader.read(timeout_ms=0)  # only what has arrived
            # While the batch before is still being written, this one could not go anyway:
            # it gathers what arrives meanwhile instead of waiting for the write with a few
            # records in hand (one fetch's worth: the next is asked only once that is read).
            while not records and not self._writer_idle():
                records = await self._reader.read(timeout_ms=GATHER_WAIT_MS)
        self._read_offsets = offsets
        # Postgres applies a batch in its own process while this one decodes the next: the
        # two overlap (measured: rows/s up by about half). Batches still commit in order.
        await self._drain()
        self._pending = asyncio.create_task(self._commit(facts, offsets, notify, dead))
        self.observe_batch(batch, offsets, started)

    def _writer_idle(self) -> bool:
        """Whether no batch is being written."""
        return self._pending is None or self._pending.done()

    async def _decode(
        self,
        records: list[Record],
        offsets: dict[tuple[str, int], int],
        facts: list[tuple[Record, list[Statement]]],
        dead: Outgoing,
    ) -> bool:
        """Each record's statements into ``facts`` (or a dead letter into ``dead``), its
        position into ``offsets``; returns whether a fact that clients wait for came.
        """
        notify = False
        for n, rec in enumerate(records):
            if n % YIELD_EVERY == 0 and self._pending is not None:
                await asyncio.sleep(0)  # the write of the batch before takes its next step
            offsets[(rec.topic, rec.partition)] = rec.offset + 1
            # Datum results, the bulk of the topic, straight from their bytes to their rows;
            # every other record, and any the fast path does not accept, the general way.
            rows = datum_rows(rec.value)
            if rows is not None:
                facts.append((rec, follow_squashes(rows, self._squashes)))
                continue
            fact = self.decode_or_dead_letter(rec, dead)
            if fact is None:
                continue
            try:
                fact = await self._full_inputs(fact)
                statements = rows_for(fact, await self._full_diff(fact))
            except (ObjectMissing, EventDecodeError) as err:
                # A commit whose diff object is gone (a datum result whose spilled task is
                # gone or damaged) cannot be materialized; keep the record.
                self.dead_letter(rec, EventDecodeError(f"cannot be materialized: {err}"), dead)
                continue
            statements = follow_squashes(statements, self._squashes)
            facts.append((rec, statements + job_remaps(fact, self._squashes)))
            if (moved := squashed_into(fact)) is not None:
                note_squash(self._squashes, *moved)
            notify = notify or isinstance(fact, NOTIFYING)
        return notify

    async def _drain(self) -> None:
        """Wait for the batch being written (and raise what stopped it)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending

    async def _commit(
        self,
        facts: list[tuple[Record, list[Statement]]],
        offsets: dict[tuple[str, int], int],
        notify: bool,
        dead: Outgoing,
    ) -> None:
        try:
            try:
                applied = await self._write(facts, offsets, notify, dead, mode=Mode.FRESH)
            except asyncpg.UniqueViolationError as err:
                # A fact of the batch was written before (delivered again): its rows are in.
                # The batch again, its bulk rows through stages, which skip what is there.
                log.info("lineage: batch meets rows already written (%s); writing it again", err)
                applied = await self._write(facts, offsets, notify, dead, mode=Mode.AGAIN)
        except BAD_ROWS as err:
            # Some fact holds a value Postgres refuses (a NUL byte in a text, say): find it
            # fact by fact, dead-letter it with the reason, and keep the rest of the batch.
            log.warning("lineage: batch refused (%s); applying fact by fact", err)
            applied = await self._write(facts, offsets, notify, dead, mode=Mode.CAREFUL)
        self.applied += applied
        self._offsets = offsets

    async def _close(self) -> None:
        try:
            await self._drain()  # the batch in hand is finished, as stop() promises
        finally:
            await super()._close()

    async def _write(
        self,
        facts: list[tuple[Record, list[Statement]]],
        offsets: dict[tuple[str, int], int],
        notify: bool,
        dead: Outgoing,
        *,
        mode: Mode,
    ) -> int:
        """One transaction: the facts' rows, the offsets, the notification; returns the
        number of facts applied.
        """
        dead = list(dead)
        applied = len(facts)
        async with self._pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                if mode is Mode.CAREFUL:
                    for rec, statements in facts:
                        try:
                            async with conn.transaction():  # a savepoint per fact
                                await execute(conn, statements, bulk=False)
                        except BAD_ROWS as err:
                            applied -= 1
                            reason = f"Postgres refused its rows: {err}"
                            self.dead_letter(rec, EventDecodeError(reason), dead)
                else:
                    again = mode is Mode.AGAIN
                    apart, rest = set_apart([s for _, st in facts for s in st])
                    await self._beside(apart, execute(conn, rest, bulk=True, again=again), again)
                # Offsets and notice in one statement: one round trip fewer before the commit
                # that wakes the clients (a data-modifying WITH runs whether or not it is read).
                await conn.execute(
                    f"WITH {offsets_cte(self.name, 1)} SELECT pg_notify($4, 'batch') WHERE $5",
                    *offsets_columns(offsets),
                    notify_channel(self._settings.namespace),
                    notify,
                )
                # Dead letters before the offsets commit: otherwise the record would be lost.
                await self._producer.send_all(dead)
            except BaseException:
                await tx.rollback()
                raise
            await tx.commit()
        return applied

    async def _beside(self, apart: Deferred, main: Awaitable[None], again: bool) -> None:
        """``main`` (the batch's statements, in its transaction), and meanwhile ``apart``'s rows
        loaded on a second connection in a transaction of their own, committed whether or not
        the batch's is (:attr:`Bulk.apart`). Postgres indexes the two in two backends: on a
        commit of 100,000 files, the blob index beside its file rows. Raises the first failure
        once both have ended, so that neither is left running unobserved. ``again``: see
        :func:`execute`.
        """
        if not apart:
            await main
            return
        await wait_all((main, self._load_apart(apart, again)))

    async def _load_apart(self, apart: Deferred, again: bool) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await _load(conn, apart, again=again)

    async def _full_inputs(self, fact: Any) -> Any:
        """A spilled datum's result names its input files by reference: the result with
        them read back from the stored task (lineage records every input file).
        """
        if isinstance(fact, DatumFinished) and fact.inputs_ref is not None:
            return full_result(fact, await load_spilled(self._objects, fact.inputs_ref))
        return fact

    async def _full_diff(self, fact: Any) -> Any:
        """A large commit's diff travels by reference: read it (as stored) for the blob index;
        for a squash, each child's new diff that did not travel inline.
        """
        if isinstance(fact, CommitSquashed):
            return {
                c.commit_id: await self._diff(c.diff_ref) for c in fact.children if c.diff is None
            }
        if (
            not isinstance(fact, CommitFinished)
            or fact.diff is not None
            or fact.added + fact.modified == 0
        ):
            return None
        return await self._diff(fact.diff_ref)

    async def _diff(self, key: str) -> Any:
        """A stored diff as its object holds it, packed or not (:func:`rows_for` maps either).

        Raises:
            EventDecodeError: the object is not JSON (its fact is dead-lettered, saying so).
        """
        data = await self._objects.get(key)
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as err:
            raise EventDecodeError(f"diff object {key!r} is not a diff: {err!r}") from err


def set_apart(statements: list[Statement]) -> tuple[Deferred, list[Statement]]:
    """The rows of ``statements`` to load apart from their batch's transaction, by insert, and
    the other statements in order: a table's rows whose spec allows it (:attr:`Bulk.apart`),
    when there are more than :data:`APART_ROWS` of them (fewer: a second transaction costs
    more than it saves, and its commit is one more flush of the log).
    """
    counts: dict[str, int] = {}
    for sql, _ in statements:
        spec = BULK.get(sql)
        if spec is not None and spec.apart:
            counts[sql] = counts.get(sql, 0) + 1
    chosen = {sql for sql, n in counts.items() if n > APART_ROWS}
    if not chosen:
        return {}, statements
    apart: Deferred = {sql: [] for sql in chosen}
    rest: list[Statement] = []
    for sql, args in statements:
        if sql in chosen:
            apart[sql].append(args)
        else:
            rest.append((sql, args))
    return apart, rest


async def execute(
    conn: Any, statements: list[Statement], *, bulk: bool, again: bool = False
) -> None:
    """Run statements in order, consecutive equal ones as one ``executemany``.

    With ``bulk``, append-only inserts (:data:`BULK`) wait until the end, or until the next
    delete, and go in per table: they commute with every other statement of the batch
    (they never overwrite, and nothing but a delete can remove what they add). Their load
    may raise ``UniqueViolationError`` having failed the transaction (see :func:`_load`);
    ``again``, for the batch's second try, loads without that risk.
    """
    deferred: Deferred = {}
    run_sql: str | None = None
    run: list[tuple[Any, ...]] = []
    for sql, args in statements:
        if bulk and sql in BULK:
            deferred.setdefault(sql, []).append(args)
            continue
        deleting = sql.startswith("DELETE")
        if sql != run_sql or (deleting and deferred):
            if run_sql is not None:
                await conn.executemany(run_sql, run)
            if deleting and deferred:
                await _load(conn, deferred, again=again)
                deferred = {}
            run_sql, run = sql, []
        run.append(args)
    if run_sql is not None:
        await conn.executemany(run_sql, run)
    await _load(conn, deferred, again=again)


_first = operator.itemgetter(0)


async def _load(conn: Any, deferred: Deferred, *, again: bool = False) -> None:
    """Append-only rows, per table. Many go in by COPY: straight into the table when none is
    there yet (raw COPY speed), else COPY → staging table → one idempotent insert (~0.6 of
    raw COPY, measured).

    Rows of a table whose keys do not recur (:attr:`Bulk.recurs`) go straight in without a
    savepoint: a key already there (a fact delivered again) raises ``UniqueViolationError``
    and fails the whole transaction, whose caller writes it again with ``again``, which
    stages them. A savepoint per table was 2 round trips of 3 per COPY, each waiting for the
    loop that decodes the next batch (bench lineage-write, 4 alternating pairs: 0.82 ->
    0.74 s for 20,000 datums).
    """
    for sql, rows in deferred.items():
        if len(rows) <= COPY_THRESHOLD:
            await conn.executemany(sql, rows)
            continue
        spec = BULK[sql]
        if spec.scattered:
            rows.sort(key=_first)  # the deferred list is this load's own
        if not spec.recurs and not again:
            # New rows, the usual case: straight in (a row already there fails the batch).
            await conn.copy_records_to_table(spec.table, records=rows, columns=spec.columns)
            continue
        if spec.recurs:
            # Straight in as well when no key of its rows is in the table or twice among
            # them: each key then has one candidate, the one the upsert below would choose
            # (measured on 100,000 new blobs: Postgres CPU 0.77 -> 0.51 s). A key already
            # there fails this savepoint only, and the staged upsert runs.
            try:
                async with conn.transaction():
                    await conn.copy_records_to_table(spec.table, records=rows, columns=spec.columns)
                continue
            except asyncpg.UniqueViolationError:
                pass
        stage = f"stage_{spec.table}"
        await conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {spec.table}) ON COMMIT DELETE ROWS"
        )
        await conn.copy_records_to_table(stage, records=rows, columns=spec.columns)
        await conn.execute(spec.select(stage))
        # A later load in this transaction must not insert these again (a delete may
        # have come in between).
        await conn.execute(f"TRUNCATE {stage}")
