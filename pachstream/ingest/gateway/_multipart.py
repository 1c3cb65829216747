"""Multipart uploads of the S3 gateway: create, upload part, complete, abort, list.

Uploads in progress live in Postgres (``s3_uploads``, ``s3_parts``), so they survive a restart
of the gateway and any replica can take the next part. A part's bytes are stored as content at
once; completing joins the parts' chunks into one file entry, copying no bytes, and writes it
like any PUT.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from pachstream.commits.events import Chunk, FileEntry, FileOp, file_hash
from pachstream.ingest.gateway import _s3xml as xml
from pachstream.ingest.gateway._core import Bucket, key_to_path
from pachstream.ingest.gateway._errors import S3Error
from pachstream.ingest.gateway._http import xml_response
from pachstream.ingest.gateway._listing import parse_max_keys
from pachstream.ingest.gateway._sigv4 import SignedRequest

MIN_PART = 5 * 1024 * 1024
"""Smallest part but the last, as in S3."""
MAX_PARTS = 10000

MIGRATIONS = [
    """
    CREATE TABLE s3_uploads (
        upload_id text PRIMARY KEY, bucket text NOT NULL, key text NOT NULL,
        initiated double precision NOT NULL);
    CREATE TABLE s3_parts (
        upload_id text NOT NULL REFERENCES s3_uploads ON DELETE CASCADE,
        part_number integer NOT NULL, etag text NOT NULL, size bigint NOT NULL,
        chunks jsonb NOT NULL, last_modified double precision NOT NULL,
        PRIMARY KEY (upload_id, part_number));
    """,
]


class MultipartVerbs:
    """The multipart operations; :class:`~._server.S3Gateway` provides the rest."""

    # Provided by S3Gateway.
    client: Any
    if TYPE_CHECKING:

        async def _writable(self, bucket: Bucket) -> None: ...

        async def _bucket_head(self, bucket: Bucket) -> None: ...

        async def _body(
            self, request: web.Request, signed: SignedRequest | None, *, checksums: bool = True
        ) -> bytes: ...

        async def _store(self, body: bytes) -> FileEntry: ...

        async def _write_ops(self, bucket: Bucket, ops: list[FileOp]) -> str: ...

    async def _upload(self, bucket: Bucket, key: str, upload_id: str) -> None:
        row = await self.client._pool.fetchrow(
            "SELECT bucket, key FROM s3_uploads WHERE upload_id = $1", upload_id
        )
        if row is None or row["bucket"] != bucket.name or row["key"] != key:
            raise S3Error(
                "NoSuchUpload",
                f"upload '{upload_id}' of /{bucket.name}/{key} does not exist (completed, aborted, "
                "or never created); start one with CreateMultipartUpload",
                resource=f"/{bucket.name}/{key}",
            )

    async def _create_upload(self, bucket: Bucket, key: str) -> web.Response:
        await self._writable(bucket)
        key_to_path(bucket.name, key)
        upload_id = uuid.uuid4().hex
        await self.client._pool.execute(
            "INSERT INTO s3_uploads VALUES ($1, $2, $3, $4)",
            upload_id,
            bucket.name,
            key,
            time.time(),
        )
        return xml_response(xml.initiate_multipart_xml(bucket.name, key, upload_id))

    async def _upload_part(
        self, bucket: Bucket, key: str, request: web.Request, signed: SignedRequest | None
    ) -> web.Response:
        q = request.query
        upload_id = q.get("uploadId", "")
        try:
            number = int(q.get("partNumber", ""))
        except ValueError:
            number = 0
        if not 1 <= number <= MAX_PARTS:
            raise S3Error(
                "InvalidArgument",
                f"partNumber '{q.get('partNumber')}' is not an integer from 1 to {MAX_PARTS}",
            )
        if "x-amz-copy-source" in request.headers:
            raise S3Error(
                "NotImplemented", "UploadPartCopy is not supported; upload the part's bytes"
            )
        await self._upload(bucket, key, upload_id)
        body = await self._body(request, signed)
        entry = await self._store(body)
        chunks = [[c.hash, c.size, c.pack, c.offset] for c in entry.chunks]
        await self.client._pool.execute(
            "INSERT INTO s3_parts VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (upload_id, part_number) "
            "DO UPDATE SET etag = $3, size = $4, chunks = $5, last_modified = $6",
            upload_id,
            number,
            entry.hash,
            entry.size,
            orjson.dumps(chunks).decode(),
            time.time(),
        )
        return web.Response(status=200, headers={"ETag": f'"{entry.hash}"'})

    async def _complete_upload(
        self,
        bucket: Bucket,
        key: str,
        path: str,
        request: web.Request,
        signed: SignedRequest | None,
    ) -> web.Response:
        upload_id = request.query["uploadId"]
        await self._upload(bucket, key, upload_id)
        wanted = xml.parse_complete(await self._body(request, signed, checksums=False))
        rows = {
            r["part_number"]: r
            for r in await self.client._pool.fetch(
                "SELECT part_number, etag, size, chunks FROM s3_parts WHERE upload_id = $1",
                upload_id,
            )
        }
        chunks: list[Chunk] = []
        for i, (number, etag) in enumerate(wanted):
            row = rows.get(number)
            if row is None or row["etag"] != etag:
                raise S3Error(
                    "InvalidPart",
                    f"part {number} with ETag '{etag}' was not uploaded to upload '{upload_id}'; "
                    "list the parts with ListParts",
                    resource=f"/{bucket.name}/{key}",
                )
            if i < len(wanted) - 1 and row["size"] < MIN_PART:
                raise S3Error(
                    "EntityTooSmall",
                    f"part {number} is {row['size']} bytes; every part but the last must be at "
                    f"least {MIN_PART // 2**20} MiB",
                    resource=f"/{bucket.name}/{key}",
                )
            chunks.extend(
                Chunk(hash=h, size=s, pack=p, offset=o)
                for h, s, p, o in orjson.loads(row["chunks"])
            )
        joined = tuple(c for c in chunks if c.size) or tuple(chunks[:1])
        entry = FileEntry(hash=file_hash(joined), size=sum(c.size for c in joined), chunks=joined)
        await self._write_ops(bucket, [FileOp(op="put", path=path, file=entry)])
        await self.client._pool.execute("DELETE FROM s3_uploads WHERE upload_id = $1", upload_id)
        # The ETag is the file's hash, as HEAD and listings give it later (not S3's md5-of-md5s).
        return xml_response(
            xml.complete_multipart_xml(f"/{bucket.name}/{key}", bucket.name, key, entry.hash)
        )

    async def _abort_upload(self, bucket: Bucket, upload_id: str) -> web.Response:
        done = await self.client._pool.execute(
            "DELETE FROM s3_uploads WHERE upload_id = $1 AND bucket = $2", upload_id, bucket.name
        )
        if done.endswith(" 0"):
            raise S3Error(
                "NoSuchUpload", f"upload '{upload_id}' does not exist in bucket '{bucket.name}'"
            )
        return web.Response(status=204)

    async def _list_parts(self, bucket: Bucket, key: str, request: web.Request) -> web.Response:
        upload_id = request.query["uploadId"]
        await self._upload(bucket, key, upload_id)
        max_parts = parse_max_keys(request.query.get("max-parts"), "max-parts")
        try:
            marker = int(request.query.get("part-number-marker", "0") or 0)
        except ValueError as exc:
            raise S3Error("InvalidArgument", "part-number-marker must be an integer") from exc
        rows = await self.client._pool.fetch(
            "SELECT part_number, etag, size, last_modified FROM s3_parts "
            "WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3",
            upload_id,
            marker,
            max_parts + 1,
        )
        truncated = len(rows) > max_parts
        rows = rows[:max_parts]
        parts = [(r["part_number"], r["etag"], r["size"], r["last_modified"]) for r in rows]
        return xml_response(
            xml.list_parts_xml(
                bucket=bucket.name,
                key=key,
                upload_id=upload_id,
                parts=parts,
                max_parts=max_parts,
                part_number_marker=marker,
                is_truncated=truncated,
                next_marker=parts[-1][0] if truncated and parts else None,
            )
        )

    async def _list_uploads(self, bucket: Bucket) -> web.Response:
        await self._bucket_head(bucket)
        rows = await self.client._pool.fetch(
            "SELECT key, upload_id, initiated FROM s3_uploads WHERE bucket = $1 "
            "ORDER BY key, initiated",
            bucket.name,
        )
        return xml_response(
            xml.list_uploads_xml(
                bucket=bucket.name,
                uploads=[(r["key"], r["upload_id"], r["initiated"]) for r in rows],
            )
        )
