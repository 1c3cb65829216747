"""The S3 gateway's HTTP shell (``pachstream run s3gateway``): requests in, S3 answers out.

Reads go to the commit trees and the content store through a :class:`~pachstream.client.Client`
(its public verbs only); writes store content first, then become ``file.modify`` requests on
the requests topic, so an upload triggers pipelines through the same event path as ``put
file``. The gateway's own tables (object records, multipart uploads) are on its own pool. The
rules (bucket names, keys, routes, listing, ranges, XML, signatures, the open-commit state
machine) are pure functions in the sibling modules.

A request is routed by the route table (:mod:`~._routes`, whose default is a refusal) to an
operation, and the operation by :data:`HANDLERS` to its handler method, in :mod:`~._reads`,
:mod:`~._writes` or :mod:`~._multipart`.

Commits (see :mod:`~._open_commit`): a write to an idle branch is committed at once; writes
arriving while one is in flight go, together, into a commit the gateway holds open and
finishes by the repo's ingest policy or after a quiet spell. ``aws s3 sync`` of 1,000 files
thus makes a few commits, not 1,000. A read of a branch first finishes the gateway's open
commit there, so a client reads what it wrote. Open commits are marked by their description
and a restarted gateway finishes the ones left behind.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

from aiohttp import HttpVersion11, web

from pachstream.client import Client
from pachstream.errors import Conflict, InvalidInput, NotFound
from pachstream.gateway import _s3xml as xml
from pachstream.gateway._body import MAX_BODY
from pachstream.gateway._core import CommitTiming, key_to_path, parse_bucket
from pachstream.gateway._cors import CorsPolicy
from pachstream.gateway._errors import S3Error
from pachstream.gateway._http import Call, S3Runner, xml_response
from pachstream.gateway._lister import Lister
from pachstream.gateway._metadata import refuse_unsupported
from pachstream.gateway._multipart import MultipartVerbs
from pachstream.gateway._records import Records
from pachstream.gateway._routes import NONE_CONFIGURED, Target, route
from pachstream.gateway._schema import MIGRATIONS
from pachstream.gateway._sigv4 import SignedRequest, verify_request
from pachstream.gateway._singleflight import SingleFlight
from pachstream.gateway._uploads import Uploads
from pachstream.gateway._writer import Writer
from pachstream.ingest import parse_policies
from pachstream.metrics import PUT_STAGES, process_metrics
from pachstream.pg import connect_pool, migrate
from pachstream.security import check_gateway_bind
from pachstream.service import Service
from pachstream.settings import Settings

OPERATION = web.RequestKey("operation", str)
"""The S3 operation a request was routed to, kept on the request for its metrics."""
SIGNED = web.RequestKey[SignedRequest | None]("signed")
"""The verified signature of a request that sent ``Expect: 100-continue`` (checked once,
before its body, and not again when it is routed): a :class:`SignedRequest` or None."""

log = logging.getLogger("pachstream.s3gateway")

CLIENT_POOL = 16
"""Postgres connections of the gateway's client (lineage reads; every request makes some)."""
OWN_POOL = 8
"""Postgres connections of the gateway's own pool (object records, multipart uploads)."""

HANDLERS: Mapping[str, str] = MappingProxyType(
    {
        "ListBuckets": "_list_buckets",
        "HeadBucket": "_op_head_bucket",
        "ListObjects": "_list_objects",
        "ListObjectsV2": "_list_objects",
        "GetBucketLocation": "_op_location",
        "ListMultipartUploads": "_list_uploads",
        "GetBucketVersioning": "_op_versioning",
        "GetBucketAcl": "_op_bucket_acl",
        "CreateBucket": "_create_bucket",
        "DeleteBucket": "_delete_bucket",
        "DeleteObjects": "_delete_objects",
        "GetObject": "_get_object",
        "HeadObject": "_get_object",
        "PutObject": "_put_object",
        "CopyObject": "_copy_object",
        "DeleteObject": "_op_delete_object",
        "GetObjectTagging": "_op_object_tagging",
        "GetObjectAcl": "_op_object_acl",
        "GetObjectAttributes": "_op_object_attributes",
        "CreateMultipartUpload": "_create_upload",
        "UploadPart": "_upload_part",
        "UploadPartCopy": "_upload_part_copy",
        "CompleteMultipartUpload": "_complete_upload",
        "AbortMultipartUpload": "_abort_upload",
        "ListParts": "_list_parts",
        **{op: "_op_none_configured" for op in NONE_CONFIGURED},
    }
)
"""Operation (S3's name, as :func:`~._routes.route` gives it) → the name of the
:class:`S3Gateway` method that answers it, which takes the routed :class:`~._http.Call`."""

Handler = Callable[[Call], Awaitable[web.StreamResponse]]


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

        Raises:
            ConfigError: ``host`` is not loopback and ``settings`` has no gateway keys
                (unsigned requests would be taken from the network).

        """
        super().__init__()
        self._settings = settings
        self._host, self._port = host, port
        self._keys = dict(settings.gateway_keys)
        check_gateway_bind(host, port, keyed=bool(self._keys))
        if cors is None and settings.gateway_cors_origins is not None:
            cors = CorsPolicy(origins=settings.gateway_cors_origins)
        self._cors = cors if cors is not None else CorsPolicy.default(signed=bool(self._keys))
        # Bound once: a name missing from the class fails here, not on a request.
        self._handlers: dict[str, Handler] = {op: getattr(self, n) for op, n in HANDLERS.items()}
        self._policy_default, self._policies = parse_policies(settings.ingest_policy)
        self._pool: Any = None
        self._runner: web.AppRunner | None = None
        self._mtimes = OrderedDict()
        self._checks = SingleFlight()
        self._metrics: dict[tuple[str, int], tuple[Any, Any]] = {}

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

    async def settle(self, branch_ref: str) -> None:
        """Commit every write to ``repo@branch`` answered so far: wait for the queued ones
        and finish the commit the gateway holds open there (as a read of the branch does).
        """
        await self.writer.settle(branch_ref)

    # ------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        self.client = await Client.connect(self._settings, pool_size=CLIENT_POOL)
        # The gateway's own tables on its own pool, in the namespace's schema.
        _, postgres, _ = self._settings.require()
        self._pool = await connect_pool(postgres, self._settings.namespace, max_size=OWN_POOL)
        await migrate(self._pool, self.name, MIGRATIONS)
        self.records = Records(self._pool)
        self.uploads = Uploads(self._pool)
        stages = process_metrics().gateway_put_stages
        by_stage = {stage: stages.labels(stage) for stage in PUT_STAGES}  # looked up once
        self.writer = Writer(self.client, self.timing, lambda stage, s: by_stage[stage].observe(s))
        self._lister = Lister(self.client)
        await self.writer.finish_left_behind()
        app = web.Application(client_max_size=MAX_BODY + 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle, expect_handler=self._expect)
        # auto_decompress=False: a body sent with Content-Encoding: gzip is the object's bytes,
        # stored as sent (S3 keeps the encoding as metadata); aiohttp would inflate it.
        # S3Runner: an oversize header section is answered in S3 XML, not aiohttp's text.
        self._runner = S3Runner(app, access_log=None, handle_signals=False, auto_decompress=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        self._port = self._runner.addresses[0][1]  # the port bound when asked for port 0
        log.info("S3 gateway listening on %s", self.endpoint)

    async def _step(self) -> None:
        await asyncio.sleep(0.1)
        await self.writer.tick()

    async def _close(self) -> None:
        # Reverse order: stop taking requests, finish the open commits, then the pools.
        if self._runner is not None:
            await self._runner.cleanup()
        if hasattr(self, "writer"):
            await self.writer.settle_all()
        if hasattr(self, "client"):
            await self.client.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rid = _request_id()
        started = time.monotonic()
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
        # "Unrouted": refused before an operation was found (an unknown route, a preflight).
        op = request.get(OPERATION, "Unrouted")
        count, seconds = self._metrics_of(op, response.status)
        count.inc()
        seconds.observe(time.monotonic() - started)
        return response

    def _metrics_of(self, op: str, status: int) -> tuple[Any, Any]:
        """The request counter and the latency histogram of ``op`` answered ``status``
        (looked up once per pair: a label lookup costs as much as the rest of the count).
        """
        found = self._metrics.get((op, status))
        if found is None:
            metrics = process_metrics()
            found = (
                metrics.gateway_requests.labels(op, str(status)),
                metrics.gateway_seconds.labels(op),
            )
            self._metrics[(op, status)] = found
        return found

    async def _expect(self, request: web.Request) -> web.StreamResponse | None:
        """Answer ``Expect: 100-continue`` only once the request's signature holds.

        So an unsigned or badly signed upload is refused before its body is sent (S3: a 403
        at once, not a ``100 Continue`` and the refusal after the body). Another
        expectation is 417.
        """
        expect = request.headers.get("Expect", "")
        if request.version == HttpVersion11 and expect.lower() == "100-continue":
            try:
                request[SIGNED] = self._authenticate(request)
            except S3Error as err:
                rid = _request_id()
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
        signed = request[SIGNED] if SIGNED in request else self._authenticate(request)
        op = route(
            request.method,
            target,
            request.query,
            copy_source="x-amz-copy-source" in request.headers,
        ).operation
        request[OPERATION] = op  # for the metrics, whatever the answer
        refuse_unsupported(request.headers, op)
        call = Call(request, signed, op)
        if target != "service":
            call.bucket = parse_bucket(bucket_name)
        if target == "object":
            call.key = key
            call.path = key_to_path(bucket_name, key)
        handler = self._handlers.get(op)
        if handler is None:
            raise AssertionError(f"operation {op} is routed but has no handler")
        return await handler(call)

    async def _op_head_bucket(self, call: Call) -> web.StreamResponse:
        await self._bucket_head(call.bucket_)
        return web.Response(status=200)

    async def _op_location(self, call: Call) -> web.StreamResponse:
        await self._bucket_head(call.bucket_)
        return xml_response(xml.location_xml())

    async def _op_versioning(self, call: Call) -> web.StreamResponse:
        await self._bucket_head(call.bucket_)
        return xml_response(xml.versioning_xml())

    async def _op_bucket_acl(self, call: Call) -> web.StreamResponse:
        await self._bucket_head(call.bucket_)
        return xml_response(xml.acl_xml())

    async def _op_none_configured(self, call: Call) -> web.StreamResponse:
        """A read of a bucket configuration pachstream buckets never have: S3's "none"."""
        code, what = NONE_CONFIGURED[call.operation]
        bucket = call.bucket_
        await self._bucket_head(bucket)
        raise S3Error(
            code,
            f"bucket '{bucket.name}' has no {what}: pachstream buckets carry none, and "
            "setting one is not supported",
            resource=f"/{bucket.name}",
        )


def _request_id() -> str:
    """A request id as S3 writes them: 16 upper-case hex digits."""
    return os.urandom(8).hex().upper()


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


__all__ = ["HANDLERS", "S3Gateway"]
