"""The gateway's reads: buckets, listings, objects and their attributes.

A read of a branch bucket first settles the gateway's open commit there
(:meth:`~._writer.Writer.settle`), so a client reads what it wrote; a commit still open by
someone else is not read, its parent is. Repos, branches and commits are read through the
client's public verbs; the gateway's own tables (object records) through its own pool.
:class:`Reads` is the base of the gateway's handler classes and declares what they share.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiohttp import web

from pachstream.client import Client, CommitInfo
from pachstream.content import read_chunk
from pachstream.errors import BranchNotFound, CommitNotFound, RepoNotFound
from pachstream.gateway import _checksums as sums
from pachstream.gateway import _s3xml as xml
from pachstream.gateway._attributes import attributes_xml, parse_attributes, parse_parts_page
from pachstream.gateway._checksums import Checksum
from pachstream.gateway._conditions import check_read
from pachstream.gateway._core import Bucket, branch_required, no_bucket
from pachstream.gateway._cors import CorsPolicy
from pachstream.gateway._errors import S3Error
from pachstream.gateway._http import Call, xml_response
from pachstream.gateway._lister import Lister
from pachstream.gateway._listing import (
    decode_token,
    encode_token,
    parse_max_keys,
    parse_range,
    slice_chunks,
)
from pachstream.gateway._metadata import (
    parse_part_number,
    part_range,
    read_headers,
    response_overrides,
)
from pachstream.gateway._records import Records
from pachstream.gateway._singleflight import SingleFlight
from pachstream.gateway._uploads import Uploads
from pachstream.gateway._writer import Writer
from pachstream.model import Chunk, FileEntry
from pachstream.tree import Root

log = logging.getLogger("pachstream.s3gateway")

MTIMES_KEPT = 10000
"""(commit, path) → last-modified times kept."""


class Reads:
    """The read operations; the base of the gateway's handlers (what they share is here)."""

    client: Client
    """Repos, branches, commits, trees and content (public verbs only)."""
    records: Records
    """Object metadata and checksums (the gateway's own table)."""
    uploads: Uploads
    """Multipart uploads in progress (the gateway's own tables)."""
    writer: Writer
    """Content and file ops, and the commits the gateway holds open."""
    _cors: CorsPolicy
    _lister: Lister
    _checks: SingleFlight
    """Bucket checks in flight, shared by the writes that arrive meanwhile."""
    _mtimes: OrderedDict[tuple[str, str], float]

    async def _op_object_tagging(self, call: Call) -> web.StreamResponse:
        await self._entry(call.bucket_, call.key, call.path_)
        return xml_response(xml.tagging_xml())

    async def _op_object_acl(self, call: Call) -> web.StreamResponse:
        await self._entry(call.bucket_, call.key, call.path_)
        return xml_response(xml.acl_xml())

    async def _op_object_attributes(self, call: Call) -> web.StreamResponse:
        wanted = parse_attributes(call.request.headers)
        page = parse_parts_page(call.request.headers)
        info, entry = await self._entry(call.bucket_, call.key, call.path_)
        modified = await self._last_modified(info, call.path_)
        record = await self.records.get(call.bucket_.repo, call.path_, entry.hash)
        body = attributes_xml(wanted, etag=entry.hash, size=entry.size, record=record, page=page)
        return xml_response(body, headers={"Last-Modified": xml.http_date(modified)})

    async def _list_buckets(self, call: Call) -> web.StreamResponse:
        q = call.request.query
        prefix = q.get("prefix", "")
        raw_max = q.get("max-buckets")
        limit = 10000
        if raw_max is not None:
            if not raw_max.isdigit() or not 1 <= int(raw_max) <= 10000:
                raise S3Error(
                    "InvalidArgument",
                    f"max-buckets '{raw_max}' is not an integer from 1 to 10000",
                )
            limit = int(raw_max)
        token = q.get("continuation-token")
        after = decode_token(token) if token is not None else ""
        buckets = sorted(
            (name, created)
            for name, created in await self._all_buckets()
            if name.startswith(prefix) and name > after
        )
        page = buckets[:limit]
        more = len(buckets) > limit
        return xml_response(
            xml.list_buckets_xml(
                page,
                prefix=prefix or None,
                continuation_token=encode_token(page[-1][0]) if more else None,
            )
        )

    async def _all_buckets(self) -> list[tuple[str, float]]:
        """Every branch of every repo as (bucket name, the repo's creation time)."""
        out: list[tuple[str, float]] = []
        for repo in await self.client.list_repo():
            if not repo.branch_count:
                continue
            try:
                branches = await self.client.list_branch(repo.name)
            except RepoNotFound:
                continue  # deleted meanwhile
            out.extend((f"{b.name}.{b.repo}", float(repo.created or 0)) for b in branches)
        return out

    async def _bucket_head(self, bucket: Bucket) -> None:
        """NoSuchBucket unless the bucket's branch (and commit) exist."""
        try:
            await self.client.inspect_branch(bucket.branch_ref)
        except RepoNotFound as err:
            raise no_bucket(bucket) from err
        except BranchNotFound as err:
            if branch_required(bucket.branch):
                raise no_bucket(bucket) from err
        if bucket.commit is not None:
            try:
                info = await self.client.inspect_commit(f"{bucket.repo}@{bucket.commit}")
            except (BranchNotFound, CommitNotFound) as err:
                raise no_bucket(bucket) from err
            if info.id != bucket.commit:  # a commit set id: not a commit of the repo
                raise no_bucket(bucket)

    async def _head(self, bucket: Bucket) -> tuple[CommitInfo | None, Root | None]:
        """The commit a read of ``bucket`` sees and its tree (None: the branch has no commit)."""
        await self._bucket_head(bucket)
        if bucket.commit is None:
            await self.writer.settle(bucket.branch_ref)
        try:
            info = await self.client.inspect_commit(bucket.ref)
        except CommitNotFound:
            return None, None
        if info.finished is None:
            # Someone's commit is open on the branch: read the last finished one.
            if info.parent is None:
                return None, None
            info = await self.client.inspect_commit(f"{bucket.repo}@{info.parent}")
        return info, await self.client.trees.root(info.root)

    async def _last_modified(self, info: CommitInfo, path: str) -> float:
        """When ``path`` last changed: the finish time of the nearest commit, from ``info``
        back through its parents, whose diff names it (``info``'s own time if none does).
        """
        cache_key = (info.id, path)
        found = self._mtimes.get(cache_key)
        if found is None:
            times = await self.client.last_changed(info.id, path)
            found = times.get(path, float(info.finished or 0))
            self._mtimes[cache_key] = found
            while len(self._mtimes) > MTIMES_KEPT:
                self._mtimes.popitem(last=False)
        return found

    async def _list_objects(self, call: Call) -> web.StreamResponse:
        bucket, q = call.bucket_, call.request.query
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        max_keys = parse_max_keys(q.get("max-keys"))
        encoding = q.get("encoding-type") or None
        if encoding not in (None, "url"):
            raise S3Error(
                "InvalidArgument", f"encoding-type '{encoding}' is not supported; use 'url'"
            )
        info, root = await self._head(bucket)
        v2 = q.get("list-type") == "2"
        token = q.get("continuation-token") if v2 else None
        start = q.get("start-after", "") if v2 else q.get("marker", "")
        after = decode_token(token) if token else start
        page = await self._lister.page(
            info, root, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
        )
        common: dict[str, Any] = {
            "bucket": bucket.name,
            "prefix": prefix,
            "delimiter": delimiter,
            "max_keys": max_keys,
            "encoding_type": encoding or "",
            "page": page,
        }
        if v2:
            body = xml.list_objects_v2_xml(
                start_after=start,
                continuation_token=token,
                fetch_owner=q.get("fetch-owner", "").lower() == "true",
                **common,
            )
        else:
            body = xml.list_objects_v1_xml(marker=start, **common)
        return xml_response(body)

    async def _entry(self, bucket: Bucket, key: str, path: str) -> tuple[CommitInfo, FileEntry]:
        info, root = await self._head(bucket)
        entry = None if root is None else await self.client.trees.lookup(root, path)
        if entry is None:
            raise S3Error(
                "NoSuchKey",
                f"key '{key}' does not exist in bucket '{bucket.name}'"
                + (f" (commit {info.id})" if info is not None else " (the branch has no commits)"),
                resource=f"/{bucket.name}/{key}",
            )
        assert info is not None  # a tree was read, so a commit was
        return info, entry

    async def _get_object(self, call: Call) -> web.StreamResponse:
        bucket, key, path, request = call.bucket_, call.key, call.path_, call.request
        info, entry = await self._entry(bucket, key, path)
        modified = await self._last_modified(info, path)
        record = await self.records.get(bucket.repo, path, entry.hash)
        headers = {
            "ETag": f'"{entry.hash}"',
            "Last-Modified": xml.http_date(modified),
            "Accept-Ranges": "bytes",
            **read_headers(record),
            "x-pachstream-commit": info.id,
        }
        if not check_read(request.headers, entry.hash, modified, f"/{bucket.name}/{key}"):
            return web.Response(status=304, headers=headers)
        headers.update(response_overrides(request.query, _is_signed(request)))
        number = parse_part_number(request.query.get("partNumber"))
        checksum = record.checksum if record is not None else None
        if number is not None:
            if "Range" in request.headers:
                raise S3Error(
                    "InvalidRequest",
                    "cannot specify both a Range header and the partNumber query parameter; "
                    "ask for one of them",
                )
            start, end, count = part_range(record, entry.size, number)
            rng: tuple[int, int] | None = (start, end) if entry.size else None
            if record is not None and record.parts:
                headers["x-amz-mp-parts-count"] = str(count)
                part_sum = record.parts[number - 1].checksums.get(
                    checksum.algorithm if checksum else ""
                )
                checksum = None
                if part_sum is not None and record.checksum is not None:
                    # The part's value under the object's type, as S3 answers (and s3-tests'
                    # multipart_checksum_3parts_helper expects).
                    checksum = Checksum(record.checksum.algorithm, record.checksum.type, part_sum)
        else:
            rng = parse_range(request.headers.get("Range"), entry.size)
            if rng is not None:
                checksum = None  # S3 gives no checksum for a range of the object
        if checksum is not None and _checksum_mode(request):
            headers.update(checksum.headers())
        start, end = rng if rng is not None else (0, entry.size - 1)
        length = end - start + 1 if entry.size else 0
        status = 206 if rng is not None else 200
        if rng is not None:
            headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            return web.Response(status=status, headers=headers)
        response = web.StreamResponse(status=status, headers=headers)
        response.headers["x-amz-request-id"] = uuid.uuid4().hex[:16].upper()
        response.headers.update(self._cors.actual(request.headers, request.method))
        await response.prepare(request)
        try:
            if length:
                async for data in self._read(entry, start, end):
                    await response.write(data)
            await response.write_eof()
        except ConnectionError:
            # The client hung up mid-body (it read what it wanted, or gave up): no fault of
            # the gateway, and nothing left to answer.
            log.debug("%s %s: the client hung up during the body", request.method, request.path)
        return response

    async def _read(self, entry: FileEntry, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` (inclusive) of a file, a chunk's slice at a time."""
        for chunk, offset, size in slice_chunks(entry.chunks, start, end):
            yield await _read_slice(self.client, chunk, offset, size)

    async def _digests(
        self, entry: FileEntry, start: int, end: int, algorithms: Iterable[str]
    ) -> dict[str, str]:
        """Checksums of bytes ``start`` to ``end`` of a file, reading them."""
        hasher = sums.Hasher(algorithms)
        if end >= start:
            async for data in self._read(entry, start, end):
                hasher.update(data)
        return hasher.values()


async def _read_slice(client: Client, chunk: Chunk, offset: int, size: int) -> bytes:
    """``size`` bytes at ``offset`` inside one chunk, read as a range of its object."""
    if offset == 0 and size == chunk.size:
        return await read_chunk(client.objects, chunk)
    if chunk.pack is None:
        return await client.objects.get(f"blobs/{chunk.hash}", offset, size)
    return await client.objects.get(chunk.pack, chunk.offset + offset, size)


def _is_signed(request: web.Request) -> bool:
    """Whether a request carries a signature (header or presigned URL), i.e. is not anonymous."""
    return "Authorization" in request.headers or "X-Amz-Signature" in request.query


def _checksum_mode(request: web.Request) -> bool:
    """Whether a GET or HEAD asks for the object's checksum (``x-amz-checksum-mode``)."""
    mode = request.headers.get("x-amz-checksum-mode") or request.query.get(
        "x-amz-checksum-mode", ""
    )
    return mode.upper() == "ENABLED"
