"""The ingest consumer: records of ``<ns>.ingest`` become commits, by each repo's policy.

Per step: read → parse each record (bad ones → dead letters with the reason) → store the
contents (inline values in one batch; ``s3-uri`` objects copied from S3) → add the file ops to
the pending batch of their branch → send each due batch as one ``file.modify`` request (an
auto-commit, so pipelines run on it) → save offsets.

Delivery is at-least-once. A partition's saved offset never passes a record whose batch is
still pending, so after a crash every unsent record is read again. A batch's request id is
derived from the records in it, so a batch resent whole is recognized by the commit processor.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from pachstream.codec import encode
from pachstream.commits.events import ModifyFiles
from pachstream.config import CommitPolicy
from pachstream.content import ContentWriter
from pachstream.errors import EventDecodeError, NotFound, ObjectStoreRefused, PachstreamError
from pachstream.ingest._records import (
    IngestItem,
    parse_notification,
    parse_record,
)
from pachstream.kafka import Record, ensure_topics
from pachstream.lineage import queries
from pachstream.model import FileOp, derive_id
from pachstream.objectstore import ObjectStore, S3ObjectStore
from pachstream.pg import UndefinedTable
from pachstream.processor import LogProcessor, Outgoing, offsets_table
from pachstream.settings import Settings

log = logging.getLogger("pachstream.ingest")

MIGRATIONS = [
    offsets_table("ingest"),
    # Bucket notifications already ingested (bucket, key, version, sequencer, event): the
    # same notification delivered twice is ingested once.
    """
    CREATE TABLE ingest_seen (k text PRIMARY KEY);
    """,
]


@dataclasses.dataclass
class _Batch:
    """Records gathered for one branch, not yet sent."""

    since: float
    ops: list[FileOp] = dataclasses.field(default_factory=list)
    records: list[Record] = dataclasses.field(default_factory=list)
    seen: list[str] = dataclasses.field(default_factory=list)
    """Notification keys of the batch, recorded once it is sent."""


class IngestConsumer(LogProcessor):
    """Turns ingest records into commits (``pachstream run ingest``)."""

    name = "ingest"
    migrations = MIGRATIONS
    max_records = 2000

    def __init__(self, settings: Settings, *, objects: ObjectStore | None = None) -> None:
        super().__init__(settings, objects=objects)
        self.default_policy, self.policies = settings.ingest_policies()
        self.notify = settings.notify_config()
        self._writer = ContentWriter(self._objects)
        self._pending: dict[tuple[str, str], _Batch] = {}
        self._read: dict[tuple[str, int], int] = {}
        self._external: dict[tuple[str, str], S3ObjectStore] = {}
        self.commits = 0
        """Batches sent since start."""

    def input_topics(self) -> list[str]:
        """The ingest topic, and the bucket-notification topic when one is configured."""
        return [self._topics.ingest] + ([self.notify.topic] if self.notify else [])

    async def _open(self) -> None:
        if self.notify is not None:
            # Not auto-created: a broker would make it with its own default partitions.
            await ensure_topics(self._kafka, {self.notify.topic: 1})
        await super()._open()

    def policy(self, repo: str) -> CommitPolicy:
        """The commit policy of a repo."""
        return self.policies.get(repo, self.default_policy)

    async def _step(self) -> None:
        records = await self._reader.read(timeout_ms=100)
        started = time.monotonic()
        dead: Outgoing = []
        items: list[tuple[Record, IngestItem, str | None]] = []
        for rec in records:
            self._read[(rec.topic, rec.partition)] = rec.offset + 1
            try:
                if self.notify is not None and rec.topic == self.notify.topic:
                    items.extend(
                        (rec, n.item, n.seen_key)
                        for n in parse_notification(rec.value, self.notify)
                    )
                else:
                    items.append((rec, parse_record(rec.key, rec.value, list(rec.headers)), None))
            except PachstreamError as err:
                self.dead_letter(rec, EventDecodeError(err.message), dead)
        items = await self._unseen(items)
        now = time.monotonic()
        ready: list[tuple[tuple[str, str], _Batch]] = []
        for (rec, item, seen), op in zip(items, await self._store(items, dead), strict=True):
            if op is None:
                continue
            key = (item.repo, item.branch)
            batch = self._pending.setdefault(key, _Batch(since=now))
            batch.ops.append(op)
            batch.records.append(rec)
            if seen is not None:
                batch.seen.append(seen)
            if self.policy(item.repo).due(len(batch.records), now - batch.since):
                ready.append((key, self._pending.pop(key)))  # full: the next record starts anew
        for key, batch in list(self._pending.items()):
            if self.policy(key[0]).due(len(batch.records), now - batch.since):
                ready.append((key, self._pending.pop(key)))
        await self._send(ready, dead)
        if records or ready:
            async with self._pool.acquire() as conn, conn.transaction():
                seen_keys = [(k,) for _, b in ready for k in b.seen]
                if seen_keys:
                    await conn.executemany(
                        "INSERT INTO ingest_seen VALUES ($1) ON CONFLICT DO NOTHING", seen_keys
                    )
                await self.save_offsets(conn, self._safe_offsets())
        if records:
            self.observe_batch(records, self._read, started)

    async def _unseen(
        self, items: list[tuple[Record, IngestItem, str | None]]
    ) -> list[tuple[Record, IngestItem, str | None]]:
        """Drop notifications already ingested, or already waiting in a batch."""
        keys = [k for _, _, k in items if k is not None]
        if not keys:
            return items
        done = {
            r["k"]
            for r in await self._pool.fetch("SELECT k FROM ingest_seen WHERE k = ANY($1)", keys)
        }
        done |= {k for b in self._pending.values() for k in b.seen}
        out = []
        for rec, item, key in items:
            if key is not None:
                if key in done:
                    continue
                done.add(key)
            out.append((rec, item, key))
        return out

    async def _store(
        self, items: list[tuple[Record, IngestItem, str | None]], dead: Outgoing
    ) -> list[FileOp | None]:
        """File ops for the items (None where the content could not be had)."""
        inline = [i for _, i, _ in items if i.op != "delete" and i.s3_bucket is None]
        entries = iter(await self._writer.store_many(i.data for i in inline))
        out: list[FileOp | None] = []
        for rec, item, seen in items:
            if item.op == "delete":
                out.append(FileOp(op="delete", path=item.path))
            elif item.s3_bucket is None:
                out.append(FileOp(op=item.op, path=item.path, file=next(entries)))
            else:
                out.append(await self._copy_object(rec, item, dead, external=seen is not None))
        return out

    async def _copy_object(
        self, rec: Record, item: IngestItem, dead: Outgoing, *, external: bool
    ) -> FileOp | None:
        """The object an item names, stored as content. ``external``: from the notifying
        bucket's endpoint (PACHSTREAM_NOTIFY), else from the stack's S3.
        """
        assert item.s3_bucket is not None and item.s3_key is not None
        _, _, s3 = self._settings.require()
        keys = "the stack's access key (PACHSTREAM_S3_ACCESS_KEY)"
        if external and self.notify is not None and self.notify.endpoint:
            if self.notify.access_key:
                keys = "the access key in PACHSTREAM_NOTIFY"
            s3 = dataclasses.replace(
                s3,
                endpoint=self.notify.endpoint,
                access_key=self.notify.access_key or s3.access_key,
                secret_key=self.notify.secret_key or s3.secret_key,
            )
        where = (s3.endpoint, item.s3_bucket)
        store = self._external.get(where)
        if store is None:
            store = S3ObjectStore(dataclasses.replace(s3, bucket=item.s3_bucket), "")
            self._external[where] = store
        uri = f"s3://{item.s3_bucket}/{item.s3_key}"
        try:
            data = await store.get(item.s3_key)
        except NotFound:
            reason = f"{uri} does not exist at {s3.endpoint}"
            self.dead_letter(rec, EventDecodeError(reason), dead)
            return None
        except ObjectStoreRefused as err:
            # The record named the bucket, so the fix is in the record (or the bucket's grants),
            # not in the stack's settings the refusal's own message points to.
            reason = (
                f"{uri} could not be read at {s3.endpoint}: {err.answer}; check that bucket "
                f"{item.s3_bucket!r} exists and that {keys} may read it"
            )
            self.dead_letter(rec, EventDecodeError(reason), dead)
            return None
        [entry] = await self._writer.store_many([data])
        return FileOp(op=item.op, path=item.path, file=entry)

    async def _send(self, due: list[tuple[tuple[str, str], _Batch]], dead: Outgoing) -> None:
        """Each due batch as one auto-commit request; batches for missing repos are
        dead-lettered, record by record, with the fix.
        """
        requests: Outgoing = []
        for (repo, branch), batch in due:
            if not await self._repo_exists(repo):
                reason = (
                    f"repo '{repo}' does not exist; create it with 'pachstream create repo {repo}'"
                )
                for rec in batch.records:
                    self.dead_letter(rec, EventDecodeError(reason), dead)
                continue
            first, last = batch.records[0], batch.records[-1]
            span = (f"{r.topic}/{r.partition}/{r.offset}" for r in (first, last))
            rid = derive_id("ingest", repo, branch, *span)
            req = ModifyFiles(
                request_id=rid,
                repo=repo,
                branch=branch,
                time=time.time(),
                ops=tuple(batch.ops),
                description=f"ingest: {len(batch.ops)} records",
            )
            requests.append((self._topics.requests, repo, encode(req)))
            self.commits += 1
        # Dead letters and requests before the offsets move past their records.
        await self._producer.send_all(dead + requests)

    async def _repo_exists(self, repo: str) -> bool:
        try:
            return await queries.repo_exists(self._pool, repo)
        except UndefinedTable:  # the query tables are not there yet: let the commit processor say
            return True

    def _safe_offsets(self) -> dict[tuple[str, int], int]:
        """Read positions, held back to the first record of any batch still pending."""
        safe = dict(self._read)
        for batch in self._pending.values():
            for rec in batch.records:
                tp = (rec.topic, rec.partition)
                safe[tp] = min(safe.get(tp, rec.offset), rec.offset)
        return safe

    async def _close(self) -> None:
        for store in self._external.values():
            await store.close()
        await super()._close()
