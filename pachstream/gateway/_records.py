"""Where the gateway keeps object metadata: its ``s3_objects`` table in Postgres.

A row is keyed by (repo, path, content hash), so it follows the bytes rather than a commit:
every commit in which the path holds those bytes (a commit bucket of an older commit, another
branch) finds it, and a file rewritten with other bytes by any writer (``put file``, a
pipeline) finds none and is answered with defaults. Writing the same bytes to the same path
again replaces the row, also for the older commits that hold them. Rows are written before
the file op that puts the bytes in a tree, so a read that sees the file sees its row.
Concurrent writers share one ``executemany`` (:class:`~._batch.Batcher`).
"""

from __future__ import annotations

from typing import Any

import orjson

from pachstream.gateway._batch import Batcher
from pachstream.gateway._metadata import ObjectRecord

__all__ = ["Records"]

_UPSERT = """
INSERT INTO s3_objects (repo, path, hash, meta, checksum, parts)
SELECT r, p, h, m::jsonb, c::jsonb, s::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    AS t(r, p, h, m, c, s)
ON CONFLICT (repo, path, hash)
DO UPDATE SET meta = EXCLUDED.meta, checksum = EXCLUDED.checksum, parts = EXCLUDED.parts
"""
"""One statement for a batch of rows, as columns: an ``executemany`` runs the statement once
per row (Postgres's executor set up and torn down each time)."""

_Row = tuple[str, str, str, str, str | None, str | None]


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class Records:
    """Read and write the :class:`ObjectRecord` of (repo, path, hash)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._writes: Batcher[_Row, None] = Batcher(self._write, "s3gw-records")

    async def get(self, repo: str, path: str, content_hash: str) -> ObjectRecord | None:
        """The record of those bytes at that path (None: stored without the gateway)."""
        row = await self._pool.fetchrow(
            "SELECT meta, checksum, parts FROM s3_objects "
            "WHERE repo = $1 AND path = $2 AND hash = $3",
            repo,
            path,
            content_hash,
        )
        if row is None:
            return None
        return ObjectRecord.from_json(
            *(
                None if row[c] is None else orjson.loads(row[c])
                for c in ("meta", "checksum", "parts")
            )
        )

    async def put(self, repo: str, path: str, content_hash: str, record: ObjectRecord) -> None:
        """Store (or replace) the record of those bytes at that path."""
        data = record.to_json()
        await self._writes.submit(
            (
                repo,
                path,
                content_hash,
                orjson.dumps(data["meta"]).decode(),
                _json(data["checksum"]),
                _json(data["parts"]),
            )
        )

    async def _write(self, rows: list[_Row]) -> list[None]:
        # The same key twice in one batch: the last write wins, as it would one by one.
        # (One statement cannot update a row twice either.)
        last = {row[:3]: row for row in rows}
        columns = [list(column) for column in zip(*last.values(), strict=True)]
        await self._pool.execute(_UPSERT, *columns)
        return [None] * len(rows)
