"""The S3 gateway's HTTP shell (``pachstream run s3gateway``): requests in, S3 answers out.

Reads go to the commit trees and the content store through a :class:`~pachstream.client.Client`;
writes store content first, then become ``file.modify`` requests on the requests topic, so an
upload triggers pipelines through the same event path as ``put file``. The rules (bucket names,
keys, listing, ranges, XML, signatures) are pure functions in the sibling modules.

Commits (see :class:`~pachstream.ingest.gateway._core.CommitTiming`): a write to an idle branch
is committed at once; writes arriving while one is in flight go, together, into a commit the
gateway holds open and finishes by the repo's ingest policy or after a quiet spell. ``aws s3
sync`` of 1,000 files thus makes a few commits, not 1,000. A read of a branch first finishes the
gateway's open commit there, so a client reads what it wrote. Open commits are marked by their
description and a restarted gateway finishes the ones left behind.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import mimetypes
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from pachstream.client import Client
from pachstream.commits.events import Chunk, FileEntry, FileOp
from pachstream.content import BLOB_MIN, CHUNK_BYTES, read_chunk
from pachstream.errors import (
    BranchNotFound,
    CommitAlreadyOpen,
    CommitNotFound,
    Conflict,
    InvalidInput,
    NoOpenCommit,
    NotFound,
    PachstreamError,
    RepoExists,
    RepoNotFound,
)
from pachstream.ingest._records import parse_policies
from pachstream.ingest.gateway import _s3xml as xml
from pachstream.ingest.gateway._batch import Batcher
from pachstream.ingest.gateway._core import (
    Bucket,
    CommitTiming,
    key_to_path,
    parse_bucket,
    parse_copy_source,
    path_to_key,
)
from pachstream.ingest.gateway._errors import S3Error
from pachstream.ingest.gateway._http import xml_response
from pachstream.ingest.gateway._listing import (
    ObjectInfo,
    decode_token,
    list_page,
    parse_max_keys,
    parse_range,
    slice_chunks,
)
from pachstream.ingest.gateway._multipart import MIGRATIONS, MultipartVerbs
from pachstream.ingest.gateway._sigv4 import (
    SignedRequest,
    check_checksums,
    check_payload,
    decode_aws_chunked,
    verify_request,
)
from pachstream.pg import migrate
from pachstream.service import Service
from pachstream.settings import Settings
from pachstream.tree import Root

log = logging.getLogger("pachstream.s3gateway")

GATEWAY_DESCRIPTION = "s3 gateway: uploads"
"""Description of the commits the gateway opens (and finishes again after a restart)."""
MAX_BODY = CHUNK_BYTES
"""Largest PUT or part body; bigger objects go by multipart upload (aws-cli does so above 8 MB)."""


@dataclass
class _Branch:
    """The gateway's writes to one branch: grouped ops, and the commit it holds open."""

    ref: str
    ops: Batcher[list[FileOp], str]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    commit: str | None = None
    """The open commit the gateway finishes (its own), when one is open."""
    foreign: bool = False
    """Writes go into a commit someone else opened: never finished by the gateway."""
    opened: float = 0.0
    files: int = 0
    last_write: float = 0.0
    retry_at: float = 0.0
    """After a failed finish: when to try again."""


class S3Gateway(MultipartVerbs, Service):
    """An S3-compatible HTTP endpoint over one namespace's repos."""

    name = "s3gateway"

    def __init__(self, settings: Settings, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self._settings = settings
        self._host, self._port = host, port
        self._keys = dict(settings.gateway_keys)
        self._policy_default, self._policies = parse_policies(settings.ingest_policy)
        self.client: Client
        self._runner: web.AppRunner | None = None
        self._branches: dict[str, _Branch] = {}
        self._listings: OrderedDict[str, list[ObjectInfo]] = OrderedDict()
        self._contents: Batcher[bytes, FileEntry] = Batcher(self._store_batch, "s3gw-content")

    @property
    def port(self) -> int:
        """The port it listens on (the one bound when asked for port 0)."""
        return self._port

    @property
    def endpoint(self) -> str:
        """``http://host:port`` for ``--endpoint-url``."""
        return f"http://{self._host}:{self._port}"

    def timing(self, repo: str) -> CommitTiming:
        """When the gateway's open commit on a branch of ``repo`` finishes."""
        policy = self._policies.get(repo, self._policy_default)
        return CommitTiming(
            files=policy.records, seconds=policy.seconds, quiet=min(0.5, policy.seconds)
        )

    def _due(self, branch: _Branch, idle_s: float) -> bool:
        """Whether the branch's open commit finishes now, ``idle_s`` after its last write."""
        timing = self.timing(branch.ref.partition("@")[0])
        return timing.due(branch.files, time.monotonic() - branch.opened, idle_s)

    # ------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        self.client = await Client.connect(self._settings, pool_size=16)
        await migrate(self.client._pool, self.name, MIGRATIONS)
        await self._finish_left_behind()
        app = web.Application(client_max_size=MAX_BODY + 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        self._port = self._runner.addresses[0][1]  # the port bound when asked for port 0
        log.info("S3 gateway listening on %s", self.endpoint)

    async def _step(self) -> None:
        await asyncio.sleep(0.1)
        now = time.monotonic()
        for branch in list(self._branches.values()):
            if branch.commit is None or branch.ops.busy or branch.lock.locked():
                continue
            if branch.retry_at > now:
                continue  # backing off after a failed finish
            if self._due(branch, now - branch.last_write):
                try:
                    await self._finish(branch)
                except NotFound:
                    branch.commit = None  # the repo or branch is gone, and the commit with it
                except PachstreamError as err:
                    # Tried again in a while (a restart would finish it too); the gateway
                    # keeps serving meanwhile.
                    branch.retry_at = now + 5.0
                    log.warning("could not finish the commit on %s: %s", branch.ref, err.message)

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if hasattr(self, "client"):
            for branch in list(self._branches.values()):
                try:
                    await self._settle(branch)
                except PachstreamError as err:
                    log.warning(
                        "could not finish the open commit on %s: %s", branch.ref, err.message
                    )
            await self.client.close()

    async def _finish_left_behind(self) -> None:
        """Finish the open commits a previous gateway process left (it died holding them)."""
        rows = await self.client._pool.fetch(
            "SELECT repo, branch FROM commits WHERE finished IS NULL AND description = $1",
            GATEWAY_DESCRIPTION,
        )
        for r in rows:
            try:
                await self.client.finish_commit(f"{r['repo']}@{r['branch']}")
                log.info("finished the gateway commit left open on %s@%s", r["repo"], r["branch"])
            except PachstreamError as err:
                log.warning("left-behind commit on %s@%s: %s", r["repo"], r["branch"], err.message)

    # ------------------------------------------------------------------ writes and commits

    def _branch(self, bucket: Bucket) -> _Branch:
        ref = bucket.branch_ref
        branch = self._branches.get(ref)
        if branch is None:
            branch = _Branch(
                ref, Batcher(lambda batch: self._send(self._branches[ref], batch), f"s3gw-{ref}")
            )
            self._branches[ref] = branch
        return branch

    async def _store(self, body: bytes) -> FileEntry:
        """Store one body; small ones arriving together share one pack object."""
        if len(body) >= BLOB_MIN:
            [entry] = await self.client.store_contents([body])  # its own object anyway
            return entry
        return await self._contents.submit(body)

    async def _store_batch(self, bodies: list[bytes]) -> list[FileEntry]:
        return await self.client.store_contents(bodies)

    async def _send(self, branch: _Branch, batch: list[list[FileOp]]) -> list[str]:
        """One request for the ops of concurrent writes. A lone write to a branch with no
        open commit is a commit of its own; writes that arrive together (load) go into the
        commit the gateway opens and finishes later.
        """
        ops = [op for group in batch for op in group]
        async with branch.lock:
            if len(batch) > 1 and branch.commit is None and not branch.foreign:
                await self._open_commit(branch)
            cid = await self.client.modify_files(branch.ref, ops)
            branch.last_write = time.monotonic()
            if branch.commit is not None or branch.foreign:
                branch.files += len(ops)
            if branch.commit is not None and self._due(branch, 0.0):  # full or old
                await self._finish(branch, locked=True)
        return [cid] * len(batch)

    async def _open_commit(self, branch: _Branch) -> None:
        try:
            branch.commit = await self.client.start_commit(branch.ref, GATEWAY_DESCRIPTION)
        except CommitAlreadyOpen:
            info = await self.client.inspect_commit(branch.ref)
            if info.description == GATEWAY_DESCRIPTION:
                branch.commit = info.id  # ours, from before a restart
            else:
                branch.foreign = True  # a user's commit: it takes the writes, the user finishes it
        branch.opened = time.monotonic()
        branch.files = 0

    async def _finish(self, branch: _Branch, *, locked: bool = False) -> None:
        if not locked:
            async with branch.lock:
                await self._finish(branch, locked=True)
            return
        if branch.commit is None:
            return
        try:
            await self.client.finish_commit(branch.ref)
        except NoOpenCommit:
            pass  # finished by someone else; the writes are in it
        branch.commit = None
        branch.files = 0

    async def _settle(self, branch: _Branch) -> None:
        """Wait for the branch's queued writes and finish its open commit: a read that
        follows sees every write answered before it.
        """
        await branch.ops.idle()
        await self._finish(branch)
        branch.foreign = False  # the next write looks again

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rid = uuid.uuid4().hex[:16].upper()
        try:
            signed = self._authenticate(request)
            response = await self._route(request, signed)
        except S3Error as err:
            response = _error(err, rid, request)
        except web.HTTPException:
            raise
        except NotFound as err:
            response = _error(
                S3Error("NoSuchKey", err.message, resource=request.path), rid, request
            )
        except (InvalidInput, Conflict) as err:
            response = _error(
                S3Error("InvalidRequest", err.message, resource=request.path), rid, request
            )
        except Exception as err:  # noqa: BLE001 - one bad request must not stop the gateway
            log.exception("%s %s failed", request.method, request.path)
            response = _error(
                S3Error("InternalError", f"{type(err).__name__}: {err}", resource=request.path),
                rid,
                request,
            )
        if not response.prepared:
            response.headers["x-amz-request-id"] = rid
        return response

    def _authenticate(self, request: web.Request) -> SignedRequest | None:
        if not self._keys:
            return None
        raw_path = request.raw_path.partition("?")[0]
        return verify_request(
            request.method,
            raw_path,
            list(request.query.items()),
            request.headers,
            self._keys,
            datetime.datetime.now(datetime.UTC),
        )

    async def _route(
        self, request: web.Request, signed: SignedRequest | None
    ) -> web.StreamResponse:
        # From the raw path: a router's normalization would turn the key 'a/../b' into 'b'.
        bucket_name, _, key = unquote(request.raw_path.partition("?")[0].lstrip("/")).partition("/")
        q = request.query
        m = request.method
        if not bucket_name:
            if m == "GET":
                return await self._list_buckets()
            raise S3Error("MethodNotAllowed", f"{m} / is not an S3 operation; GET / lists buckets")
        bucket = parse_bucket(bucket_name)
        if not key:
            if m == "HEAD":
                await self._bucket_head(bucket)
                return web.Response(status=200)
            if m == "GET":
                if "location" in q:
                    await self._bucket_head(bucket)
                    return xml_response(xml.location_xml())
                if "uploads" in q:
                    return await self._list_uploads(bucket)
                if set(q) & {
                    "acl",
                    "policy",
                    "versioning",
                    "tagging",
                    "cors",
                    "lifecycle",
                    "website",
                }:
                    raise S3Error(
                        "NotImplemented", f"bucket sub-resource {sorted(q)} is not supported"
                    )
                return await self._list_objects(bucket, request)
            if m == "PUT":
                return await self._create_bucket(bucket)
            if m == "POST" and "delete" in q:
                return await self._delete_objects(bucket, request, signed)
            raise S3Error("MethodNotAllowed", f"{m} on bucket '{bucket.name}' is not supported")
        path = key_to_path(bucket.name, key)
        if m in ("GET", "HEAD"):
            if "uploadId" in q and m == "GET":
                return await self._list_parts(bucket, key, request)
            return await self._get_object(bucket, key, path, request)
        if m == "PUT":
            if "uploadId" in q or "partNumber" in q:
                return await self._upload_part(bucket, key, request, signed)
            if "x-amz-copy-source" in request.headers:
                return await self._copy_object(bucket, path, request)
            return await self._put_object(bucket, path, request, signed)
        if m == "DELETE":
            if "uploadId" in q:
                return await self._abort_upload(bucket, q["uploadId"])
            await self._delete_keys(bucket, [key])
            return web.Response(status=204)
        if m == "POST":
            if "uploads" in q:
                return await self._create_upload(bucket, key)
            if "uploadId" in q:
                return await self._complete_upload(bucket, key, path, request, signed)
        raise S3Error(
            "MethodNotAllowed", f"{m} on an object is not supported here", resource=request.path
        )

    # ------------------------------------------------------------------ buckets

    async def _list_buckets(self) -> web.Response:
        rows = await self.client._pool.fetch(
            "SELECT b.repo, b.name, r.created FROM branches b JOIN repos r ON r.name = b.repo "
            "ORDER BY b.repo, b.name"
        )
        buckets = sorted((f"{r['name']}.{r['repo']}", float(r["created"] or 0)) for r in rows)
        return xml_response(xml.list_buckets_xml(buckets))

    async def _bucket_head(self, bucket: Bucket) -> None:
        # A repo's master is a bucket before its first commit, as 'put file repo@master'
        # writes there without creating the branch first; other branches must exist.
        found = await self.client._pool.fetchval(
            "SELECT 1 FROM branches WHERE repo = $1 AND name = $2 UNION ALL "
            "SELECT 1 FROM repos WHERE name = $1 AND $2 = 'master' LIMIT 1",
            bucket.repo,
            bucket.branch,
        )
        if found is None:
            raise _no_bucket(bucket)
        if bucket.commit is not None:
            found = await self.client._pool.fetchval(
                "SELECT 1 FROM commits WHERE repo = $1 AND id = $2", bucket.repo, bucket.commit
            )
            if found is None:
                raise _no_bucket(bucket)

    async def _create_bucket(self, bucket: Bucket) -> web.Response:
        if bucket.commit is not None:
            raise S3Error(
                "InvalidBucketName", f"bucket '{bucket.name}' names a commit; create BRANCH.REPO"
            )
        try:
            await self.client.create_repo(bucket.repo)
        except RepoExists:
            pass
        try:
            await self.client.inspect_branch(bucket.branch_ref)
            raise S3Error(
                "BucketAlreadyOwnedByYou", f"bucket '{bucket.name}' exists", resource=bucket.name
            )
        except BranchNotFound:
            await self.client.create_branch(bucket.branch_ref)
        return web.Response(status=200, headers={"Location": f"/{bucket.name}"})

    async def _head(self, bucket: Bucket) -> tuple[Any, Root | None]:
        """The commit a read of ``bucket`` sees and its tree (None: the branch has no commit)."""
        await self._bucket_head(bucket)
        if bucket.commit is None:
            branch = self._branches.get(bucket.branch_ref)
            if branch is not None:
                await self._settle(branch)
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

    async def _objects(self, info: Any, root: Root | None) -> list[ObjectInfo]:
        if info is None or root is None:
            return []
        cached = self._listings.get(info.id)
        if cached is not None:
            self._listings.move_to_end(info.id)
            return cached
        finished = float(info.finished)
        items = [
            ObjectInfo(path_to_key(p), raw[1], raw[0], finished)
            async for p, raw in self.client.trees.walk(root)
        ]
        items.sort(key=lambda o: o.key.encode())
        self._listings[info.id] = items
        while len(self._listings) > 8:
            self._listings.popitem(last=False)
        return items

    async def _list_objects(self, bucket: Bucket, request: web.Request) -> web.Response:
        q = request.query
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        max_keys = parse_max_keys(q.get("max-keys"))
        encoding = q.get("encoding-type") or None
        if encoding not in (None, "url"):
            raise S3Error(
                "InvalidArgument", f"encoding-type '{encoding}' is not supported; use 'url'"
            )
        info, root = await self._head(bucket)
        objects = await self._objects(info, root)
        v2 = q.get("list-type") == "2"
        token = q.get("continuation-token", "") if v2 else ""
        start = q.get("start-after", "") if v2 else q.get("marker", "")
        after = decode_token(token) if token else start
        page = list_page(
            objects, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
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
            body = xml.list_objects_v2_xml(start_after=start, continuation_token=token, **common)
        else:
            body = xml.list_objects_v1_xml(marker=start, **common)
        return xml_response(body)

    # ------------------------------------------------------------------ objects

    async def _entry(self, bucket: Bucket, key: str, path: str) -> tuple[Any, FileEntry]:
        info, root = await self._head(bucket)
        entry = None if root is None else await self.client.trees.lookup(root, path)
        if entry is None:
            raise S3Error(
                "NoSuchKey",
                f"key '{key}' does not exist in bucket '{bucket.name}'"
                + (f" (commit {info.id})" if info is not None else " (the branch has no commits)"),
                resource=f"/{bucket.name}/{key}",
            )
        return info, entry

    async def _get_object(
        self, bucket: Bucket, key: str, path: str, request: web.Request
    ) -> web.StreamResponse:
        info, entry = await self._entry(bucket, key, path)
        headers = {
            "ETag": f'"{entry.hash}"',
            "Last-Modified": xml.http_date(float(info.finished)),
            "Accept-Ranges": "bytes",
            "Content-Type": mimetypes.guess_type(key)[0] or "application/octet-stream",
            "x-amz-meta-pachstream-commit": info.id,
        }
        rng = parse_range(request.headers.get("Range"), entry.size)
        start, end = rng if rng is not None else (0, entry.size - 1)
        length = end - start + 1 if entry.size else 0
        status = 206 if rng is not None else 200
        if rng is not None:
            headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            return web.Response(status=status, headers=headers)
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        if length:
            for chunk, offset, size in slice_chunks(entry.chunks, start, end):
                await response.write(await _read_slice(self.client, chunk, offset, size))
        await response.write_eof()
        return response

    async def _body(
        self, request: web.Request, signed: SignedRequest | None, *, checksums: bool = True
    ) -> bytes:
        """Read the request body as the client meant it.

        The aws-chunked framing is removed and the signature checked; with ``checksums``, the
        body's checksum headers and trailers too (CompleteMultipartUpload's describe the whole
        object, not its body).
        """
        if request.content_length is None and "aws-chunked" not in request.headers.get(
            "Content-Encoding", ""
        ):
            if request.headers.get("Transfer-Encoding", "").lower() != "chunked":
                raise S3Error("MissingContentLength", "send a Content-Length header with the body")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            raise S3Error(
                "EntityTooLarge",
                f"a body over {MAX_BODY // 2**20} MiB must go by multipart upload "
                "(aws s3 cp and boto3's upload_file do so on their own)",
                resource=request.path,
            ) from exc
        sha = request.headers.get("x-amz-content-sha256", "")
        trailers: dict[str, str] = {}
        if sha.startswith("STREAMING-") or "aws-chunked" in request.headers.get(
            "Content-Encoding", ""
        ):
            body, trailers = decode_aws_chunked(body, signed)
        elif signed is not None:
            check_payload(signed, body)
        if len(body) > MAX_BODY:
            raise S3Error(
                "EntityTooLarge", f"a body over {MAX_BODY // 2**20} MiB must go by multipart upload"
            )
        if checksums:
            check_checksums(body, request.headers, trailers)
        return body

    async def _put_object(
        self, bucket: Bucket, path: str, request: web.Request, signed: SignedRequest | None
    ) -> web.Response:
        await self._writable(bucket)
        body = await self._body(request, signed)
        entry = await self._store(body)
        await self._write_ops(bucket, [FileOp(op="put", path=path, file=entry)])
        return web.Response(status=200, headers={"ETag": f'"{entry.hash}"'})

    async def _writable(self, bucket: Bucket) -> None:
        _refuse_commit_bucket(bucket)
        await self._bucket_head(bucket)

    async def _write_ops(self, bucket: Bucket, ops: list[FileOp]) -> str:
        try:
            return await self._branch(bucket).ops.submit(ops)
        except (RepoNotFound, BranchNotFound) as err:
            raise _no_bucket(bucket) from err

    async def _copy_object(self, bucket: Bucket, path: str, request: web.Request) -> web.Response:
        await self._writable(bucket)
        if "x-amz-copy-source-range" in request.headers:
            raise S3Error(
                "NotImplemented", "x-amz-copy-source-range is not supported; copy whole objects"
            )
        src_name, src_key = parse_copy_source(request.headers["x-amz-copy-source"])
        src = parse_bucket(src_name)
        _, entry = await self._entry(src, src_key, key_to_path(src_name, src_key))
        await self._write_ops(bucket, [FileOp(op="put", path=path, file=entry)])
        return xml_response(xml.copy_object_xml(entry.hash, time.time()))

    async def _delete_keys(self, bucket: Bucket, keys: list[str]) -> list[tuple[str, str, str]]:
        """Delete the files the keys name; a key naming nothing is no error (as in S3). Only
        files are deleted: a key that is a directory of the branch deletes nothing under it.
        """
        _refuse_commit_bucket(bucket)  # the bucket's existence: checked by _head below
        errors: list[tuple[str, str, str]] = []
        paths: list[str] = []
        for key in keys:
            try:
                paths.append(key_to_path(bucket.name, key))
            except S3Error as err:
                errors.append((key, err.s3_code, err.message))
        _, root = await self._head(bucket)
        ops = []
        for p in paths:
            if root is not None and await self.client.trees.lookup(root, p) is not None:
                ops.append(FileOp(op="delete", path=p))
        if ops:
            await self._write_ops(bucket, ops)
        return errors

    async def _delete_objects(
        self, bucket: Bucket, request: web.Request, signed: SignedRequest | None
    ) -> web.Response:
        keys, quiet = xml.parse_delete(await self._body(request, signed))
        errors = await self._delete_keys(bucket, keys)
        failed = {k for k, _, _ in errors}
        return xml_response(
            xml.delete_result_xml([k for k in keys if k not in failed], errors, quiet)
        )


async def _read_slice(client: Client, chunk: Chunk, offset: int, size: int) -> bytes:
    """``size`` bytes at ``offset`` inside one chunk, read as a range of its object."""
    if offset == 0 and size == chunk.size:
        return await read_chunk(client.objects, chunk)
    if chunk.pack is None:
        return await client.objects.get(f"blobs/{chunk.hash}", offset, size)
    return await client.objects.get(chunk.pack, chunk.offset + offset, size)


def _refuse_commit_bucket(bucket: Bucket) -> None:
    if bucket.commit is not None:
        raise S3Error(
            "MethodNotAllowed",
            f"bucket '{bucket.name}' names a commit and is read-only; "
            f"write to {bucket.branch}.{bucket.repo}",
            resource=bucket.name,
        )


def _no_bucket(bucket: Bucket) -> S3Error:
    what = f"commit {bucket.commit} of " if bucket.commit else ""
    return S3Error(
        "NoSuchBucket",
        f"bucket '{bucket.name}' does not exist: no {what}branch '{bucket.branch}' in repo "
        f"'{bucket.repo}'; create it with 'aws s3 mb s3://{bucket.branch}.{bucket.repo}' or "
        f"'pachstream create branch {bucket.branch_ref}'",
        resource=bucket.name,
    )


def _error(err: S3Error, rid: str, request: web.Request) -> web.Response:
    if err.status >= 500:
        log.warning("%s %s: %s", request.method, request.path, err.message)
    body = xml.error_xml(err.s3_code, err.message, err.resource or request.path, rid)
    if request.method == "HEAD":
        return web.Response(status=err.status, headers={"x-amz-error-code": err.s3_code})
    return xml_response(body, err.status)


__all__ = ["GATEWAY_DESCRIPTION", "S3Gateway"]
