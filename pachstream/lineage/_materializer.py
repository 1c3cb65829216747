"""The materializer: every fact of the events topic becomes rows in Postgres.

One batch at a time: read → decode (garbage → dead-letter) → :func:`rows_for` → one
transaction with the rows and the consumed offsets → ``NOTIFY <ns>_changes`` (delivered at
commit) so that waiting clients look again. Offsets and rows commit together, so a kill -9
at any point leaves tables that a restart completes exactly.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import orjson

from pachstream.codec import decode
from pachstream.commits.events import CommitFinished, RequestDone
from pachstream.errors import EventDecodeError
from pachstream.kafka import PartitionReader, Producer, Topics, dead_letter_value, ensure_topics
from pachstream.lineage._rows import Statement, rows_for
from pachstream.lineage._schema import MIGRATIONS
from pachstream.objectstore import ObjectStore, S3ObjectStore
from pachstream.pg import connect_pool, migrate
from pachstream.service import Service
from pachstream.settings import Settings

log = logging.getLogger("pachstream.lineage")


def notify_channel(namespace: str) -> str:
    """The Postgres channel on which the materializer announces new rows."""
    return f"{namespace}_changes"


class Materializer(Service):
    """Consumes the events topic into the query tables."""

    name = "lineage"

    def __init__(self, settings: Settings, *, objects: ObjectStore | None = None) -> None:
        super().__init__()
        self._settings = settings
        self._kafka, self._pg, self._s3 = settings.require()
        self._topics = Topics(settings.namespace)
        self._objects: ObjectStore = objects or S3ObjectStore(self._s3, settings.namespace)
        self._pool: Any = None
        self._reader = PartitionReader(self._kafka, max_records=5000)
        self._producer = Producer(self._kafka)
        self._offsets: dict[tuple[str, int], int] = {}
        self.applied = 0
        """Facts applied since start."""

    async def _open(self) -> None:
        self._pool = await connect_pool(self._pg, self._settings.namespace)
        await migrate(self._pool, "lineage", MIGRATIONS)
        await ensure_topics(self._kafka, self._topics.all())
        async with self._pool.acquire() as conn:
            for row in await conn.fetch("SELECT topic, partition, next_offset FROM lineage_offsets"):
                self._offsets[(row["topic"], row["partition"])] = row["next_offset"]
        await self._producer.start()
        await self._reader.start([self._topics.events], self._offsets)

    async def _close(self) -> None:
        await self._reader.stop()
        await self._producer.stop()
        if self._pool is not None:
            await self._pool.close()
        await self._objects.close()

    async def _step(self) -> None:
        records = await self._reader.read(timeout_ms=200)
        if not records:
            return
        statements: list[Statement] = []
        dead: list[tuple[str, str | None, bytes]] = []
        offsets = dict(self._offsets)
        notify = False
        for rec in records:
            offsets[(rec.topic, rec.partition)] = rec.offset + 1
            try:
                fact = decode(rec.value)
            except EventDecodeError as exc:
                log.warning("lineage: dead-lettering %s@%d: %s", rec.topic, rec.offset, exc.message)
                dead.append((self._topics.deadletter, None, dead_letter_value(rec, exc.message, self.name)))
                continue
            diff = await self._full_diff(fact)
            statements.extend(rows_for(fact, diff))
            notify = notify or isinstance(fact, (RequestDone, CommitFinished))
            self.applied += 1
        # Dead letters first: once offsets commit, the record would otherwise be lost.
        await self._producer.send_all(dead)
        async with self._pool.acquire() as conn, conn.transaction():
            for sql, group in itertools.groupby(statements, key=lambda s: s[0]):
                await conn.executemany(sql, [args for _, args in group])
            await conn.executemany(
                "INSERT INTO lineage_offsets VALUES ($1, $2, $3) "
                "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
                [(t, p, o) for (t, p), o in offsets.items()],
            )
            if notify:
                await conn.execute("SELECT pg_notify($1, 'batch')", notify_channel(self._settings.namespace))
        self._offsets = offsets

    async def _full_diff(self, fact: Any) -> list[Any] | None:
        """A large commit's diff travels by reference: read it (raw rows) for the blob index."""
        if not isinstance(fact, CommitFinished) or fact.diff is not None or fact.added + fact.modified == 0:
            return None
        rows: list[Any] = orjson.loads(await self._objects.get(fact.diff_ref))
        return rows
