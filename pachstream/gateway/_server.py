"""The S3 gateway's HTTP shell (``pachstream run s3gateway``): requests in, S3 answers out.

Reads go to the commit trees and the content store through a :class:`~pachstream.client.Client`;
writes store content first, then become ``file.modify`` requests on the requests topic, so an
upload triggers pipelines through the same event path as ``put file``. The rules (bucket names,
keys, listing, ranges, XML, signatures) are pure functions in the sibling modules.

Commits (see :class:`~pachstream.gateway._core.CommitTiming`): a write to an idle branch
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
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import HttpVersion11, web

from pachstream.client import Client
from pachstream.content import BLOB_MIN, CHUNK_BYTES, read_chunk, sha256
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
from pachstream.gateway import _checksums as sums
from pachstream.gateway import _s3xml as xml
from pachstream.gateway._attributes import (
    attributes_xml,
    parse_attributes,
    parse_parts_page,
)
from pachstream.gateway._batch import Batcher
from pachstream.gateway._checksums import Checksum
from pachstream.gateway._conditions import (
    DeleteCondition,
    check_copy_source,
    check_delete,
    check_read,
    check_write,
    delete_condition_of,
    has_write_condition,
)
from pachstream.gateway._core import (
    Bucket,
    CommitTiming,
    key_to_path,
    parse_bucket,
    parse_copy_source,
    path_to_key,
)
from pachstream.gateway._cors import CorsPolicy
from pachstream.gateway._errors import S3Error
from pachstream.gateway._http import xml_response
from pachstream.gateway._listing import (
    ObjectInfo,
    decode_token,
    encode_token,
    list_page,
    parse_max_keys,
    parse_range,
    slice_chunks,
)
from pachstream.gateway._metadata import (
    ObjectRecord,
    metadata_directive,
    parse_metadata,
    parse_part_number,
    part_range,
    read_headers,
    refuse_unsupported,
    response_overrides,
)
from pachstream.gateway._multipart import MIGRATIONS, MultipartVerbs
from pachstream.gateway._records import Records
from pachstream.gateway._routes import NONE_CONFIGURED, Target, route
from pachstream.gateway._sigv4 import (
    SignedRequest,
    check_checksums,
    check_payload,
    decode_aws_chunked,
    is_aws_chunked,
    verify_request,
)
from pachstream.ingest._records import parse_policies
from pachstream.model import Chunk, FileEntry, FileOp
from pachstream.pg import migrate
from pachstream.service import Service
from pachstream.settings import Settings
from pachstream.tree import Root

log = logging.getLogger("pachstream.s3gateway")

GATEWAY_DESCRIPTION = "s3 gateway: uploads"
"""Description of the commits the gateway opens (and finishes again after a restart)."""
# The commit in which a path last changed: the commits' diffs are materialized in
# commit_files (by the lineage consumer, in the transaction that records the commit).
_LAST_CHANGED_ONE = """
WITH RECURSIVE chain AS (
    SELECT c.id, c.parent, c.finished,
           EXISTS (SELECT 1 FROM commit_files f WHERE f.commit_id = c.id AND f.path = $2) AS hit
    FROM commits c WHERE c.id = $1
  UNION ALL
    SELECT c.id, c.parent, c.finished,
           EXISTS (SELECT 1 FROM commit_files f WHERE f.commit_id = c.id AND f.path = $2)
    FROM commits c JOIN chain ON c.id = chain.parent WHERE NOT chain.hit
)
SELECT finished FROM chain WHERE hit LIMIT 1
"""
_LAST_CHANGED_ALL = """
WITH RECURSIVE chain AS (
    SELECT id, parent, finished, 0 AS depth FROM commits WHERE id = $1
  UNION ALL
    SELECT c.id, c.parent, c.finished, chain.depth + 1
    FROM commits c JOIN chain ON c.id = chain.parent
)
SELECT DISTINCT ON (f.path) f.path, chain.finished
FROM chain JOIN commit_files f ON f.commit_id = chain.id
ORDER BY f.path, chain.depth
"""
MAX_BODY = CHUNK_BYTES
"""Largest PUT or part body; bigger objects go by multipart upload (aws-cli does so above 8 MB)."""


@dataclass
class _Branch:
    """The gateway's writes to one branch: grouped ops, and the commit it holds open."""

    ref: str
    ops: Batcher[list[FileOp], str]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    conditional: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held across the check and the write of a conditional write."""
    commit: str | None = None
    """The open commit the gateway finishes (its own), when one is open."""
    foreign: bool = False
    """Writes go into a commit someone else opened: never finished by the gateway."""
    opened: float = 0.0
    files: int = 0
    last_write: float = float("-inf")
    retry_at: float = 0.0
    """After a failed finish: when to try again."""


@dataclass
class _Call:
    """One routed request: its operation and what its path names."""

    request: web.Request
    signed: SignedRequest | None
    operation: str
    bucket: Bucket | None = None
    key: str = ""
    path: str | None = None

    @property
    def bucket_(self) -> Bucket:
        """The bucket (for a bucket or object operation, which the route table guarantees)."""
        assert self.bucket is not None
        return self.bucket

    @property
    def path_(self) -> str:
        """The file path of the key (for an object operation)."""
        assert self.path is not None
        return self.path


class S3Gateway(MultipartVerbs, Service):
    """An S3-compatible HTTP endpoint over one namespace's repos."""

    name = "s3gateway"

    def __init__(
        self,
        settings: Settings,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cors: CorsPolicy | None = None,
    ) -> None:
        """Serve ``settings``' namespace on ``host:port`` (0: any free port).

        ``cors``: which web pages may call the gateway from a browser; by default any
        origin when requests must be signed, none when they need not be (see ``_cors``).
        """
        super().__init__()
        self._settings = settings
        self._host, self._port = host, port
        self._keys = dict(settings.gateway_keys)
        if cors is None and settings.gateway_cors_origins is not None:
            cors = CorsPolicy(origins=settings.gateway_cors_origins)
        self._cors = cors if cors is not None else CorsPolicy.default(signed=bool(self._keys))
        self._handlers = self._handler_table()
        self._policy_default, self._policies = parse_policies(settings.ingest_policy)
        self.client: Client
        self.records: Records
        self._runner: web.AppRunner | None = None
        self._branches: dict[str, _Branch] = {}
        self._listings: OrderedDict[str, list[ObjectInfo]] = OrderedDict()
        self._mtimes: OrderedDict[tuple[str, str], float] = OrderedDict()
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
        self.records = Records(self.client._pool)
        await self._finish_left_behind()
        app = web.Application(client_max_size=MAX_BODY + 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle, expect_handler=self._expect)
        # auto_decompress=False: a body sent with Content-Encoding: gzip is the object's bytes,
        # stored as sent (S3 keeps the encoding as metadata); aiohttp would inflate it.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, auto_decompress=False
        )
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
            if branch.commit is None and not branch.foreign and self._busy(branch, len(batch)):
                await self._open_commit(branch)
            cid = await self.client.modify_files(branch.ref, ops)
            branch.last_write = time.monotonic()
            if branch.commit is not None or branch.foreign:
                branch.files += len(ops)
            if branch.commit is not None and self._due(branch, 0.0):  # full or old
                await self._finish(branch, locked=True)
        return [cid] * len(batch)

    def _busy(self, branch: _Branch, writes: int) -> bool:
        """Whether writes go into a commit the gateway holds open rather than one of their
        own: several arrived together, or the branch took a write less than the quiet spell
        ago (a client PUTting one key after another). A write to an idle branch is
        committed at once.
        """
        quiet = self.timing(branch.ref.partition("@")[0]).quiet
        return writes > 1 or time.monotonic() - branch.last_write < quiet

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
            response = await self._route(request)
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
            if isinstance(err, ConnectionError) and _client_gone(request):
                # The client hung up (an upload cut short, say): nothing failed here, and
                # there is no one to answer. A lost connection to a backend is logged below.
                log.debug("%s %s: the client hung up", request.method, request.path)
                return web.Response(status=400)
            log.exception("%s %s failed", request.method, request.path)
            response = _error(
                S3Error("InternalError", f"{type(err).__name__}: {err}", resource=request.path),
                rid,
                request,
            )
        if not response.prepared:
            response.headers["x-amz-request-id"] = rid
            if request.method != "OPTIONS":
                response.headers.update(self._cors.actual(request.headers, request.method))
        return response

    async def _expect(self, request: web.Request) -> web.StreamResponse | None:
        """Answer ``Expect: 100-continue`` only once the request's signature holds.

        So an unsigned or badly signed upload is refused before its body is sent (S3: a 403
        at once, not a ``100 Continue`` and the refusal after the body). Another
        expectation is 417.
        """
        expect = request.headers.get("Expect", "")
        if request.version == HttpVersion11 and expect.lower() == "100-continue":
            try:
                self._authenticate(request)
            except S3Error as err:
                rid = uuid.uuid4().hex[:16].upper()
                response = _error(err, rid, request)
                response.headers["x-amz-request-id"] = rid
                response.headers.update(self._cors.actual(request.headers, request.method))
                return response
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # the answer's own size starts after this line
        elif request.version == HttpVersion11:
            raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
        return None

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

    async def _route(self, request: web.Request) -> web.StreamResponse:
        """Authenticate, find the operation in the route table, run its handler. A request
        the table does not know is refused there (501), before anything is read or written.
        """
        # From the raw path: a router's normalization would turn the key 'a/../b' into 'b'.
        bucket_name, _, key = unquote(request.raw_path.partition("?")[0].lstrip("/")).partition("/")
        target: Target = "object" if key else "bucket" if bucket_name else "service"
        if request.method == "OPTIONS":  # a preflight carries no signature
            return web.Response(
                status=200, headers=self._cors.preflight(request.headers, request.path)
            )
        signed = self._authenticate(request)
        op = route(
            request.method,
            target,
            request.query,
            copy_source="x-amz-copy-source" in request.headers,
        ).operation
        refuse_unsupported(request.headers, op)
        call = _Call(request, signed, op)
        if target != "service":
            call.bucket = parse_bucket(bucket_name)
        if target == "object":
            call.key = key
            call.path = key_to_path(bucket_name, key)
        handler = self._handlers.get(op)
        if handler is not None:
            return await handler(call)
        if op in NONE_CONFIGURED:
            code, what = NONE_CONFIGURED[op]
            await self._bucket_head(call.bucket_)
            raise S3Error(
                code,
                f"bucket '{bucket_name}' has no {what}: pachstream buckets carry none, and "
                "setting one is not supported",
                resource=f"/{bucket_name}",
            )
        raise AssertionError(f"operation {op} is routed but has no handler")

    def _handler_table(self) -> dict[str, Callable[[_Call], Awaitable[web.StreamResponse]]]:
        """Operation name (see :data:`~._routes.ROUTES`) → handler."""
        return {
            "ListBuckets": lambda c: self._list_buckets(c.request),
            "HeadBucket": self._op_head_bucket,
            "ListObjects": lambda c: self._list_objects(c.bucket_, c.request),
            "ListObjectsV2": lambda c: self._list_objects(c.bucket_, c.request),
            "GetBucketLocation": self._op_location,
            "ListMultipartUploads": lambda c: self._list_uploads(c.bucket_),
            "GetBucketVersioning": self._op_versioning,
            "GetBucketAcl": self._op_bucket_acl,
            "CreateBucket": lambda c: self._create_bucket(c.bucket_, c.request, c.signed),
            "DeleteBucket": lambda c: self._delete_bucket(c.bucket_),
            "DeleteObjects": lambda c: self._delete_objects(c.bucket_, c.request, c.signed),
            "GetObject": lambda c: self._get_object(c.bucket_, c.key, c.path_, c.request),
            "HeadObject": lambda c: self._get_object(c.bucket_, c.key, c.path_, c.request),
            "PutObject": lambda c: self._put_object(c.bucket_, c.path_, c.request, c.signed),
            "CopyObject": lambda c: self._copy_object(c.bucket_, c.key, c.path_, c.request),
            "DeleteObject": self._op_delete_object,
            "GetObjectTagging": self._op_object_tagging,
            "GetObjectAcl": self._op_object_acl,
            "GetObjectAttributes": self._op_object_attributes,
            "CreateMultipartUpload": lambda c: self._create_upload(c.bucket_, c.key, c.request),
            "UploadPart": lambda c: self._upload_part(c.bucket_, c.key, c.request, c.signed),
            "UploadPartCopy": lambda c: self._upload_part_copy(c.bucket_, c.key, c.request),
            "CompleteMultipartUpload": lambda c: self._complete_upload(
                c.bucket_, c.key, c.path_, c.request, c.signed
            ),
            "AbortMultipartUpload": lambda c: self._abort_upload(
                c.bucket_, c.request.query["uploadId"]
            ),
            "ListParts": lambda c: self._list_parts(c.bucket_, c.key, c.request),
        }

    async def _op_head_bucket(self, call: _Call) -> web.StreamResponse:
        await self._bucket_head(call.bucket_)
        return web.Response(status=200)

    async def _op_location(self, call: _Call) -> web.StreamResponse:
        await self._bucket_head(call.bucket_)
        return xml_response(xml.location_xml())

    async def _op_versioning(self, call: _Call) -> web.StreamResponse:
        await self._bucket_head(call.bucket_)
        return xml_response(xml.versioning_xml())

    async def _op_bucket_acl(self, call: _Call) -> web.StreamResponse:
        await self._bucket_head(call.bucket_)
        return xml_response(xml.acl_xml())

    async def _op_object_tagging(self, call: _Call) -> web.StreamResponse:
        await self._entry(call.bucket_, call.key, call.path_)
        return xml_response(xml.tagging_xml())

    async def _op_object_acl(self, call: _Call) -> web.StreamResponse:
        await self._entry(call.bucket_, call.key, call.path_)
        return xml_response(xml.acl_xml())

    async def _op_object_attributes(self, call: _Call) -> web.StreamResponse:
        wanted = parse_attributes(call.request.headers)
        page = parse_parts_page(call.request.headers)
        info, entry = await self._entry(call.bucket_, call.key, call.path_)
        modified = await self._last_modified(info, call.path_)
        record = await self.records.get(call.bucket_.repo, call.path_, entry.hash)
        body = attributes_xml(wanted, etag=entry.hash, size=entry.size, record=record, page=page)
        return xml_response(body, headers={"Last-Modified": xml.http_date(modified)})

    async def _op_delete_object(self, call: _Call) -> web.StreamResponse:
        condition = delete_condition_of(call.request.headers)
        errors = await self._delete_keys(call.bucket_, [(call.key, condition)])
        for _, code, message in errors:
            raise S3Error(code, message, resource=f"/{call.bucket_.name}/{call.key}")
        return web.Response(status=204)

    # ------------------------------------------------------------------ buckets

    async def _list_buckets(self, request: web.Request) -> web.Response:
        q = request.query
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
        rows = await self.client._pool.fetch(
            "SELECT b.repo, b.name, r.created FROM branches b JOIN repos r ON r.name = b.repo "
            "ORDER BY b.repo, b.name"
        )
        buckets = sorted(
            (name, float(r["created"] or 0))
            for r in rows
            if (name := f"{r['name']}.{r['repo']}").startswith(prefix) and name > after
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

    async def _create_bucket(
        self, bucket: Bucket, request: web.Request, signed: SignedRequest | None
    ) -> web.Response:
        """Create the branch (and the repo if needed).

        An existing bucket is S3's us-east-1 answer, the region GetBucketLocation names: 200
        and nothing changed, unless the request asks for another region's
        ``LocationConstraint`` (409 ``BucketAlreadyOwnedByYou``, as in every other region).
        """
        if bucket.commit is not None:
            raise S3Error(
                "InvalidBucketName", f"bucket '{bucket.name}' names a commit; create BRANCH.REPO"
            )
        # No body at all (curl -X PUT sends no Content-Length) is a CreateBucket without one.
        body = await self._body(request, signed) if request.body_exists else b""
        location = xml.parse_location_constraint(body)
        try:
            await self.client.create_repo(bucket.repo)
        except RepoExists:
            pass
        try:
            await self.client.inspect_branch(bucket.branch_ref)
        except BranchNotFound:
            await self.client.create_branch(bucket.branch_ref)
        else:
            if location not in (None, "", "us-east-1"):
                raise S3Error(
                    "BucketAlreadyOwnedByYou",
                    f"bucket '{bucket.name}' exists; a CreateBucket of it with "
                    f"LocationConstraint '{location}' is refused (without one, or with "
                    "us-east-1, it is answered 200 and changes nothing)",
                    resource=bucket.name,
                )
        return web.Response(status=200, headers={"Location": f"/{bucket.name}"})

    async def _delete_bucket(self, bucket: Bucket) -> web.Response:
        """Delete the branch, when it holds no file (S3: BucketNotEmpty otherwise). Its
        commits stay readable by id (commit buckets); the repo stays.
        """
        if bucket.commit is not None:
            raise S3Error(
                "MethodNotAllowed",
                f"bucket '{bucket.name}' names a commit, which cannot be deleted; delete the "
                f"branch bucket {bucket.branch}.{bucket.repo}",
                resource=bucket.name,
            )
        await self._bucket_head(bucket)
        branch = self._branches.get(bucket.branch_ref)
        if branch is not None:
            await self._settle(branch)
        try:
            info = await self.client.inspect_commit(bucket.ref)
        except CommitNotFound:
            info = None
        if info is not None and info.finished is None:
            raise S3Error(
                "OperationAborted",
                f"bucket '{bucket.name}': commit {info.id} is open on the branch; finish it "
                f"('pachstream finish commit {bucket.branch_ref}') before deleting the bucket",
                resource=bucket.name,
            )
        if info is not None and info.file_count:
            raise S3Error(
                "BucketNotEmpty",
                f"bucket '{bucket.name}' holds {info.file_count} files; delete them first "
                f"('aws s3 rm --recursive s3://{bucket.name}/')",
                resource=bucket.name,
            )
        try:
            await self.client.delete_branch(bucket.branch_ref)
        except BranchNotFound:
            pass  # a repo's master before its first commit: no branch row to delete
        self._branches.pop(bucket.branch_ref, None)
        await self.client._pool.execute("DELETE FROM s3_uploads WHERE bucket = $1", bucket.name)
        return web.Response(status=204)

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
        parent = self._listings.get(info.parent) if info.parent else None
        if parent is not None:
            # The usual case on a branch taking writes: the parent's times, and this
            # commit's time for what it changed.
            changed = {
                r["path"]
                for r in await self.client._pool.fetch(
                    "SELECT path FROM commit_files WHERE commit_id = $1", info.id
                )
            }
            before = {o.key: o.last_modified for o in parent}
            times = {k: t for k, t in before.items() if "/" + k not in changed}
        else:
            rows = await self.client._pool.fetch(_LAST_CHANGED_ALL, info.id)
            times = {path_to_key(r["path"]): float(r["finished"]) for r in rows}
        items = [
            ObjectInfo(key, raw[1], raw[0], times.get(key, finished))
            async for p, raw in self.client.trees.walk(root)
            if (key := path_to_key(p)) is not None
        ]
        items.sort(key=lambda o: o.key.encode())
        self._listings[info.id] = items
        while len(self._listings) > 8:
            self._listings.popitem(last=False)
        return items

    async def _last_modified(self, info: Any, path: str) -> float:
        """When ``path`` last changed: the finish time of the nearest commit, from ``info``
        back through its parents, whose diff names it (``info``'s own time if none does).
        """
        cache_key = (info.id, path)
        found = self._mtimes.get(cache_key)
        if found is None:
            value = await self.client._pool.fetchval(_LAST_CHANGED_ONE, info.id, path)
            found = float(value) if value is not None else float(info.finished)
            self._mtimes[cache_key] = found
            while len(self._mtimes) > 10000:
                self._mtimes.popitem(last=False)
        return found

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
        token = q.get("continuation-token") if v2 else None
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
            body = xml.list_objects_v2_xml(
                start_after=start,
                continuation_token=token,
                fetch_owner=q.get("fetch-owner", "").lower() == "true",
                **common,
            )
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

    async def _body(
        self, request: web.Request, signed: SignedRequest | None, *, checksums: bool = True
    ) -> bytes:
        """Read the request body as the client meant it (see :meth:`_payload`)."""
        body, _ = await self._payload(request, signed, checksums=checksums)
        return body

    async def _payload(
        self, request: web.Request, signed: SignedRequest | None, *, checksums: bool = True
    ) -> tuple[bytes, dict[str, str]]:
        """Read the request body as the client meant it, and its trailers.

        The aws-chunked framing is removed and the signature checked; with ``checksums``, the
        body's checksum headers and trailers too (CompleteMultipartUpload's describe the whole
        object, not its body).
        """
        framed = is_aws_chunked(request.headers)
        if request.content_length is None and not framed:
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
        trailers: dict[str, str] = {}
        if framed:
            body, trailers = decode_aws_chunked(body, signed)
        elif signed is not None:
            check_payload(signed, body)
        if len(body) > MAX_BODY:
            raise S3Error(
                "EntityTooLarge", f"a body over {MAX_BODY // 2**20} MiB must go by multipart upload"
            )
        if checksums:
            check_checksums(body, request.headers, trailers)
        return body, trailers

    async def _put_object(
        self, bucket: Bucket, path: str, request: web.Request, signed: SignedRequest | None
    ) -> web.Response:
        await self._writable(bucket)
        meta = parse_metadata(request.headers)
        body, trailers = await self._payload(request, signed)
        declared = sums.declared(request.headers, trailers)
        algorithm = declared[0] if declared else sums.DEFAULT_ALGORITHM
        checksum = Checksum(
            algorithm, sums.FULL_OBJECT, sums.Hasher.of(body, [algorithm])[algorithm]
        )
        record = ObjectRecord(headers=meta, checksum=checksum)
        # A body of one chunk is stored under its sha256: its record is written while the
        # bytes are stored, so the PUT pays no extra round trip, and before the file op.
        content_hash = sha256(body)
        entry, _ = await asyncio.gather(
            self._store(body), self.records.put(bucket.repo, path, content_hash, record)
        )
        if entry.hash != content_hash:
            await self.records.put(bucket.repo, path, entry.hash, record)
        op = FileOp(op="put", path=path, file=entry)
        await self._write_checked(bucket, path, op, request)
        return web.Response(status=200, headers={"ETag": f'"{entry.hash}"', **checksum.headers()})

    async def _write_checked(
        self, bucket: Bucket, path: str, op: FileOp, request: web.Request
    ) -> None:
        """Write one file, first checking an ``If-Match``/``If-None-Match`` condition.

        A conditional write waits for the branch's earlier writes through this gateway to be
        committed, checks the condition on the head, and writes, while holding the branch's
        condition lock: two conditional writes to one branch through this gateway never
        interleave, so exactly one of two ``If-None-Match: *`` PUTs of a key wins. Writes that
        do not go through the lock (unconditional ones, other gateways, ``put file``) may
        still land between the check and the write.
        """
        if not has_write_condition(request.headers):
            await self._write_ops(bucket, [op])
            return
        branch = self._branch(bucket)
        async with branch.conditional:
            await self._settle(branch)
            _, root = await self._head(bucket)
            entry = None if root is None else await self.client.trees.lookup(root, path)
            check_write(
                request.headers,
                None if entry is None else entry.hash,
                f"/{bucket.name}/{path_to_key(path)}",
            )
            await self._write_ops(bucket, [op])

    async def _writable(self, bucket: Bucket) -> None:
        _refuse_commit_bucket(bucket)
        await self._bucket_head(bucket)

    async def _write_ops(self, bucket: Bucket, ops: list[FileOp]) -> str:
        try:
            return await self._branch(bucket).ops.submit(ops)
        except (RepoNotFound, BranchNotFound) as err:
            raise _no_bucket(bucket) from err

    async def _copy_object(
        self, bucket: Bucket, key: str, path: str, request: web.Request
    ) -> web.Response:
        await self._writable(bucket)
        if "x-amz-copy-source-range" in request.headers:
            raise S3Error(
                "InvalidArgument",
                "x-amz-copy-source-range belongs to UploadPartCopy; CopyObject copies whole "
                "objects",
                argument="x-amz-copy-source-range",
            )
        directive = metadata_directive(request.headers)
        replaced = parse_metadata(request.headers) if directive == "REPLACE" else None
        wanted = request.headers.get("x-amz-checksum-algorithm")
        algorithm = sums.parse_algorithm(wanted, "x-amz-checksum-algorithm") if wanted else None
        src_name, src_key = parse_copy_source(request.headers["x-amz-copy-source"])
        src = parse_bucket(src_name)
        src_path = key_to_path(src_name, src_key)
        if src == bucket and src_key == key and replaced is None and algorithm is None:
            raise S3Error(
                "InvalidRequest",
                f"copying /{bucket.name}/{key} onto itself changes nothing; send "
                "x-amz-metadata-directive: REPLACE with the new metadata",
                resource=f"/{bucket.name}/{key}",
            )
        info, entry = await self._entry(src, src_key, src_path)
        if any(h.startswith("x-amz-copy-source-if-") for h in map(str.lower, request.headers)):
            modified = await self._last_modified(info, src_path)
            check_copy_source(request.headers, entry.hash, modified, f"/{src_name}/{src_key}")
        source = await self.records.get(src.repo, src_path, entry.hash)
        checksum = _copied_checksum(source, algorithm)
        if checksum is None and algorithm is not None:
            value = (await self._digests(entry, 0, entry.size - 1, [algorithm]))[algorithm]
            checksum = Checksum(algorithm, sums.FULL_OBJECT, value)
        meta = replaced if replaced is not None else dict(source.headers if source else {})
        record = ObjectRecord(headers=meta, checksum=checksum)
        await self.records.put(bucket.repo, path, entry.hash, record)
        op = FileOp(op="put", path=path, file=entry)
        await self._write_checked(bucket, path, op, request)
        return xml_response(xml.copy_object_xml(entry.hash, time.time(), checksum))

    async def _delete_keys(
        self, bucket: Bucket, entries: list[tuple[str, DeleteCondition | None]]
    ) -> list[tuple[str, str, str]]:
        """Delete the files the keys name, each whose condition holds; return the errors
        ``(key, code, message)`` of the others. A key naming nothing is no error (as in S3)
        unless it has a condition. Only files are deleted: a key that is a directory of the
        branch deletes nothing under it.

        Conditional deletes are checked and written under the branch's condition lock, after
        its earlier writes through this gateway are committed (see :meth:`_write_checked`).
        """
        _refuse_commit_bucket(bucket)  # the bucket's existence: checked by _head below
        errors: list[tuple[str, str, str]] = []
        paths: list[tuple[str, str, DeleteCondition | None]] = []
        for key, condition in entries:
            try:
                paths.append((key, key_to_path(bucket.name, key), condition))
            except S3Error as err:
                errors.append((key, err.s3_code, err.message))
        if all(condition is None for _, _, condition in paths):
            return errors + await self._delete_paths(bucket, paths)
        await self._bucket_head(bucket)
        branch = self._branch(bucket)
        async with branch.conditional:
            await self._settle(branch)
            return errors + await self._delete_paths(bucket, paths)

    async def _delete_paths(
        self, bucket: Bucket, paths: list[tuple[str, str, DeleteCondition | None]]
    ) -> list[tuple[str, str, str]]:
        info, root = await self._head(bucket)
        errors: list[tuple[str, str, str]] = []
        ops: list[FileOp] = []
        deleting: set[str] = set()
        for key, p, condition in paths:
            entry = None if root is None else await self.client.trees.lookup(root, p)
            if condition is not None:
                current = None
                if entry is not None:
                    current = (entry.hash, entry.size, await self._last_modified(info, p))
                try:
                    check_delete(condition, current, f"/{bucket.name}/{key}")
                except S3Error as err:
                    errors.append((key, err.s3_code, err.message))
                    continue
            if entry is not None and p not in deleting:
                deleting.add(p)
                ops.append(FileOp(op="delete", path=p))
        if ops:
            await self._write_ops(bucket, ops)
        return errors

    async def _delete_objects(
        self, bucket: Bucket, request: web.Request, signed: SignedRequest | None
    ) -> web.Response:
        entries, quiet = xml.parse_delete_entries(await self._body(request, signed))
        errors = await self._delete_keys(bucket, entries)
        failed = {k for k, _, _ in errors}
        return xml_response(
            xml.delete_result_xml([k for k, _ in entries if k not in failed], errors, quiet)
        )


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


def _copied_checksum(source: ObjectRecord | None, algorithm: str | None) -> Checksum | None:
    """The checksum a copy keeps from its source without reading the bytes (None: none).

    A copy is one piece: a FULL_OBJECT checksum carries over; a COMPOSITE CRC becomes the
    FULL_OBJECT one, combined from the parts' CRCs; a COMPOSITE SHA cannot, so the copy
    keeps none unless asked for an algorithm.
    """
    if source is None or source.checksum is None:
        return None
    have = source.checksum
    if algorithm not in (None, have.algorithm):
        return None
    if have.type == sums.FULL_OBJECT:
        return have
    parts = [(p.checksums.get(have.algorithm), p.size) for p in source.parts]
    if have.algorithm not in ("CRC32", "CRC32C") or any(v is None for v, _ in parts):
        return None
    return sums.full_object(have.algorithm, [(sums.unb64(v or ""), n) for v, n in parts])


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


def _client_gone(request: web.Request) -> bool:
    """Whether the client's connection is closed or closing."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _error(err: S3Error, rid: str, request: web.Request) -> web.Response:
    if err.status >= 500 and err.s3_code != "NotImplemented":  # a refusal is no fault
        log.warning("%s %s: %s", request.method, request.path, err.message)
    body = xml.error_xml(err.s3_code, err.message, err.resource or request.path, rid)
    if request.method == "HEAD":
        return web.Response(status=err.status, headers={"x-amz-error-code": err.s3_code})
    return xml_response(body, err.status)


__all__ = ["GATEWAY_DESCRIPTION", "S3Gateway"]
