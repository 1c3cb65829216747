"""Where multipart uploads in progress live: the gateway's ``s3_uploads`` and ``s3_parts``.

Rows survive a restart of the gateway, and any replica can take an upload's next part. A
completed upload keeps its row (``completed``, with its ``result``) for
:data:`COMPLETED_KEPT_S`, so that a repeated CompleteMultipartUpload gets the same answer.
Every statement runs on the gateway's own pool (:mod:`~._schema`).
"""

from __future__ import annotations

from typing import Any

import orjson

from pachstream.model import FileEntry

COMPLETED_KEPT_S = 86400.0
"""How long a completed upload answers a repeated CompleteMultipartUpload."""


class Uploads:
    """The rows of multipart uploads and their parts (asyncpg records: read by column)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def get(self, upload_id: str) -> Any:
        """The upload's row (None: no such upload)."""
        return await self._pool.fetchrow(
            "SELECT bucket, key, checksum_algorithm, checksum_type, meta, completed, result "
            "FROM s3_uploads WHERE upload_id = $1",
            upload_id,
        )

    async def create(
        self,
        upload_id: str,
        bucket: str,
        key: str,
        *,
        initiated: float,
        meta: dict[str, str],
        algorithm: str | None,
        kind: str | None,
    ) -> None:
        """Record a new upload of ``bucket``/``key``."""
        await self._pool.execute(
            "INSERT INTO s3_uploads (upload_id, bucket, key, initiated, meta, "
            "checksum_algorithm, checksum_type) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            upload_id,
            bucket,
            key,
            initiated,
            orjson.dumps(meta).decode(),
            algorithm,
            kind,
        )

    async def save_part(
        self, upload_id: str, number: int, entry: FileEntry, checksums: dict[str, str], now: float
    ) -> None:
        """Store (or replace: a part uploaded again) part ``number``: its stored chunks."""
        chunks = [[c.hash, c.size, c.pack, c.offset] for c in entry.chunks]
        await self._pool.execute(
            "INSERT INTO s3_parts (upload_id, part_number, etag, size, chunks, last_modified, "
            "checksums) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (upload_id, part_number) DO UPDATE SET etag = $3, size = $4, "
            "chunks = $5, last_modified = $6, checksums = $7",
            upload_id,
            number,
            entry.hash,
            entry.size,
            orjson.dumps(chunks).decode(),
            now,
            orjson.dumps(checksums).decode(),
        )

    async def parts(self, upload_id: str) -> dict[int, Any]:
        """Every part of the upload, by number (etag, size, chunks, checksums)."""
        rows = await self._pool.fetch(
            "SELECT part_number, etag, size, chunks, checksums FROM s3_parts WHERE upload_id = $1",
            upload_id,
        )
        return {r["part_number"]: r for r in rows}

    async def page_of_parts(self, upload_id: str, after: int, limit: int) -> list[Any]:
        """Up to ``limit`` parts numbered above ``after``, in order (ListParts)."""
        rows: list[Any] = await self._pool.fetch(
            "SELECT part_number, etag, size, last_modified, checksums FROM s3_parts "
            "WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3",
            upload_id,
            after,
            limit,
        )
        return rows

    async def complete(self, upload_id: str, result: dict[str, Any], now: float) -> None:
        """Mark the upload completed with its answer, drop its parts, and forget the uploads
        completed more than :data:`COMPLETED_KEPT_S` ago; in one transaction.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM s3_parts WHERE upload_id = $1", upload_id)
            await conn.execute(
                "UPDATE s3_uploads SET completed = $2, result = $3 WHERE upload_id = $1",
                upload_id,
                now,
                orjson.dumps(result).decode(),
            )
            await conn.execute(
                "DELETE FROM s3_uploads WHERE completed < $1", now - COMPLETED_KEPT_S
            )

    async def abort(self, upload_id: str, bucket: str) -> bool:
        """Drop an upload in progress of ``bucket`` and its parts; False when there is none."""
        done: str = await self._pool.execute(
            "DELETE FROM s3_uploads WHERE upload_id = $1 AND bucket = $2 AND completed IS NULL",
            upload_id,
            bucket,
        )
        return not done.endswith(" 0")

    async def in_progress(self, bucket: str) -> list[tuple[str, str, float]]:
        """(key, upload id, initiated) of the bucket's uploads in progress, by key and age."""
        rows = await self._pool.fetch(
            "SELECT key, upload_id, initiated FROM s3_uploads "
            "WHERE bucket = $1 AND completed IS NULL ORDER BY key, initiated",
            bucket,
        )
        return [(r["key"], r["upload_id"], r["initiated"]) for r in rows]

    async def forget_bucket(self, bucket: str) -> None:
        """Drop every upload of a deleted bucket."""
        await self._pool.execute("DELETE FROM s3_uploads WHERE bucket = $1", bucket)


__all__ = ["COMPLETED_KEPT_S", "Uploads"]
