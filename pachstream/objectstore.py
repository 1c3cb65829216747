"""The object store transport: the only module that imports aiobotocore.

:class:`ObjectStore` is the protocol callers depend on; :class:`S3ObjectStore` speaks to any
S3-compatible server (SeaweedFS, MinIO, AWS) and :class:`MemoryObjectStore` keeps objects in a
dict for pure tests. Keys are relative to the store's prefix (the namespace), so tests and
tenants sharing a bucket never see each other's objects.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import io
import random
import re
import urllib.parse
from collections.abc import Sequence
from typing import Any, Protocol

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError, EndpointConnectionError
from yarl import URL

from pachstream.aio import wait_all
from pachstream.errors import ObjectMissing, ObjectStoreRefused, Unavailable
from pachstream.settings import ObjectStoreSettings
from pachstream.sigv4 import EMPTY_SHA256, sign_headers


class ObjectStore(Protocol):
    """What pachstream needs of an object store."""

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (overwrite)."""

    async def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """The object's bytes, or a byte range of them; ObjectMissing when absent."""

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    async def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix``, sorted."""

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove these objects; a key already absent is no error (deletes are retried)."""

    async def close(self) -> None:
        """Release connections."""


class MemoryObjectStore:
    """Objects in a dict: for pure tests of the code above the transport."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``."""
        self.objects[key] = bytes(data)

    async def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """The object's bytes or a range of them."""
        try:
            data = self.objects[key]
        except KeyError:
            raise ObjectMissing(f"object {key!r} does not exist", key=key) from None
        end = len(data) if length is None else offset + length
        return data[offset:end]

    async def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return key in self.objects

    async def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix``."""
        return sorted(k for k in self.objects if k.startswith(prefix))

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove these keys, those present."""
        for key in keys:
            self.objects.pop(key, None)

    async def close(self) -> None:
        """Nothing to release."""


_SESSION: Any = None


def _session() -> Any:
    """The process's one aiobotocore session: its loader keeps the S3 service model, endpoint
    rules and partitions it decoded, which a session of its own per client decodes again
    (~100 ms of JSON per client: a worker's whole first batch waited on it).
    """
    global _SESSION
    if _SESSION is None:
        _SESSION = get_session()
    return _SESSION


def preload_s3() -> None:
    """Decode what an S3 client needs (and import what it imports) now, by making and closing
    one in a loop of its own, so that this process's first real client costs ~5 ms instead of
    ~130 (a standby worker calls this before it is given a shard). Sends no request.
    """

    async def make_one() -> None:
        client = _session().create_client(
            "s3",
            endpoint_url="http://127.0.0.1:9",
            aws_access_key_id="preload",
            aws_secret_access_key="preload",
            region_name="us-east-1",
            config=AioConfig(s3={"addressing_style": "path"}),
        )
        async with client:
            pass

    asyncio.run(make_one())


ATTEMPTS = 5
"""Tries of one request to the object store before it fails (botocore's standard mode)."""

_RETRIED_STATUS = frozenset((429, 500, 502, 503, 504))

CONTENT_TYPE = "binary/octet-stream"
"""The type every object is stored with (what S3 itself gives an object put without one).

Packs are read by byte range, and a store may not compress them at rest: SeaweedFS gzips
an object whose type it guesses as text (JSON tree nodes, text files' packs), and then
answers each ranged read by unzipping the whole chunk it falls in. A 2 KiB read of an 8 MiB
JSON pack cost 34 ms there against 0.6 ms stored as this type, and a ``/`` job over 200,000
files read its tree for 70 s with SeaweedFS at 1.7 cores. SeaweedFS decides without a type,
and takes ``application/octet-stream`` as none; a binary type it knows no rule for keeps the
bytes as they are. Other stores keep the type as a label."""

DELETES_AT_ONCE = 16
"""Object DELETEs sent together by :meth:`S3ObjectStore.delete` (garbage, off any reader's
path: enough to overlap the round trips, not to crowd out the store's other clients)."""
_ERROR_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_ERROR_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")


def backoff_s(attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1`` (``attempt`` ≥ 1): up to 1, 2, 4, 8 s,
    jittered, as botocore's standard retry mode waits (a restarting SeaweedFS is back within
    a few seconds).
    """
    return random.random() * min(20.0, 2.0 ** (attempt - 1))


def signed_host(scheme: str, netloc: str) -> str:
    """The ``Host`` a request to ``scheme://netloc`` is sent and signed with: a default port
    (80 for http, 443 for https) is left out, as aiohttp sends it and botocore signs it.
    """
    default = {"http": ":80", "https": ":443"}.get(scheme.lower())
    if default and netloc.endswith(default):
        return netloc[: -len(default)]
    return netloc


class _Http:
    """GET, PUT and HEAD of single objects as plain HTTP requests (aiohttp), tried
    :data:`ATTEMPTS` times while the store is unreachable or answers 429/5xx.
    """

    where: str
    """The store, as messages name it."""
    trust_env: bool = True
    """Whether proxies named in the environment apply (not to a unix socket)."""

    def __init__(self, bucket: str) -> None:
        self._bucket = bucket
        self._session: aiohttp.ClientSession | None = None

    def _connector(self) -> aiohttp.BaseConnector:
        return aiohttp.TCPConnector(limit=64)

    def _prepare(
        self, method: str, key: str, body: bytes, headers: dict[str, str]
    ) -> tuple[URL, dict[str, str]]:
        """The URL and headers of one try (a signature is of its moment)."""
        raise NotImplementedError

    async def request(
        self, method: str, key: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one request; its status (a created object's 201 as 200) and body."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=self._connector(),
                timeout=aiohttp.ClientTimeout(sock_connect=60, sock_read=60),
                # No "Content-Type" guessed, no "Accept-Encoding" added to what is signed.
                skip_auto_headers=("Content-Type", "Accept-Encoding"),
                trust_env=self.trust_env,
            )
        failure = ""
        for attempt in range(1, ATTEMPTS + 1):
            url, sent = self._prepare(method, key, body, headers or {})
            try:
                async with self._session.request(
                    method, url, data=_body(body) if method == "PUT" else None, headers=sent
                ) as resp:
                    data = await resp.read()
                    if resp.status not in _RETRIED_STATUS:
                        return (200 if resp.status == 201 else resp.status), data
                    failure = f"HTTP {resp.status} {_error_text(data)}"
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                failure = f"{type(exc).__name__}: {exc}"
            if attempt < ATTEMPTS:
                await asyncio.sleep(backoff_s(attempt))
        raise Unavailable(
            f"object store at {self.where} did not take {method} {key!r} after "
            f"{ATTEMPTS} tries: {failure}",
            key=key,
        )

    def refused(self, method: str, key: str, status: int, body: bytes) -> ObjectStoreRefused:
        """The error for an answer that is neither success nor a missing key."""
        return _refused(self.where, self._bucket, method, key, status, _error_text(body))

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


class _SignedHttp(_Http):
    """Requests to an S3 endpoint, signed with SigV4.

    The hot path of every processor: a small object through aiobotocore cost 3.9 ms of CPU per
    PUT and 2.9 per GET on this 2-core box, and answered in 7.3 and 4.6 ms (p50 of 200 to
    the embedded SeaweedFS); signed here, 1.0 and 0.7 ms of CPU, answered in 3.4 and 1.8 ms.
    Only for an endpoint named with its keys (the embedded stack, MinIO, any configured
    S3); without keys, botocore's credential chain is needed and aiobotocore does it all.
    """

    def __init__(self, settings: ObjectStoreSettings) -> None:
        super().__init__(settings.bucket)
        endpoint = urllib.parse.urlsplit(settings.endpoint.rstrip("/"))
        self._origin = f"{endpoint.scheme}://{endpoint.netloc}"
        self._host = signed_host(endpoint.scheme, endpoint.netloc)
        self._base_path = endpoint.path
        self._access_key = settings.access_key
        self._secret_key = settings.secret_key
        self._region = settings.region or "us-east-1"
        self.where = settings.endpoint

    def _prepare(
        self, method: str, key: str, body: bytes, headers: dict[str, str]
    ) -> tuple[URL, dict[str, str]]:
        # Path-style, every byte of the key but '/' and the unreserved set escaped: the path is
        # sent and signed exactly so (yarl told not to encode it again).
        path = f"{self._base_path}/{self._bucket}/{urllib.parse.quote(key, safe='/~')}"
        signed = sign_headers(
            method,
            self._host,
            path,
            headers,
            _payload_sha256(body),
            self._access_key,
            self._secret_key,
            self._region,
            datetime.datetime.now(datetime.UTC),
        )
        return URL(self._origin + path, encoded=True), signed


class _FilerHttp(_Http):
    """Requests to the embedded SeaweedFS's filer over its unix socket: the objects S3 shows as
    ``bucket/key`` are the filer's ``/buckets/<bucket>/<key>``, so both see the same bytes.

    SeaweedFS's S3 gateway costs ~5 ms per request here on top of its filer (a small PUT ~7 ms
    against ~0.8, a GET ~5 against ~0.5, p50 of 200 on this 2-core box), on every object
    operation of every processor. Only for keys the stack itself names (under a namespace):
    the filer answers a folder's path with its listing, where S3 would say no such key.
    """

    trust_env = False

    def __init__(self, settings: ObjectStoreSettings) -> None:
        super().__init__(settings.bucket)
        self._socket = settings.filer_socket
        self.where = f"{settings.endpoint} (its filer at unix:{settings.filer_socket})"

    def _connector(self) -> aiohttp.BaseConnector:
        return aiohttp.UnixConnector(path=self._socket, limit=64)

    def _prepare(
        self, method: str, key: str, body: bytes, headers: dict[str, str]
    ) -> tuple[URL, dict[str, str]]:
        # Unsigned: no hash of the body either (~2 ms of CPU for a 4 MiB pack).
        path = f"/buckets/{self._bucket}/{urllib.parse.quote(key, safe='/~')}"
        return URL("http://filer" + path, encoded=True), headers


def _refused(
    endpoint: str, bucket: str, method: str, key: str, status: int, text: str
) -> ObjectStoreRefused:
    """The refusal of ``method`` on ``key``, whichever client was refused; ``answer`` holds the
    store's own words, for callers whose fix is not the stack's settings (an ingest record's
    ``s3://`` URI names its own bucket).
    """
    fix = {
        403: "check the access keys (PACHSTREAM_S3_ACCESS_KEY, PACHSTREAM_S3_SECRET_KEY, "
        "PACHSTREAM_S3_REGION)",
        404: "check the bucket (PACHSTREAM_S3_BUCKET) exists",
        416: "the range asked for starts past the object's end; read within its size",
    }.get(status, "the object store's log says why it refused")
    answer = f"HTTP {status} {text}"
    return ObjectStoreRefused(
        f"object store at {endpoint} refused {method} {key!r} in bucket {bucket!r}: "
        f"{answer}; {fix}",
        key=key,
        bucket=bucket,
        status=status,
        answer=answer,
    )


def _payload_sha256(body: bytes) -> str:
    # Hashed again on a retry (rare): kept, the hash would hold the body past its request.
    return hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256


def _body(data: bytes) -> bytes | io.BytesIO:
    """A PUT's body as aiohttp takes it: bytes up to 1 MiB; above, a stream it sends in chunks
    (given bytes that large, it warns that the loop may block, and a warning is an error in
    the tests). A new stream for each try: a stream is read once.
    """
    return data if len(data) <= 1 << 20 else io.BytesIO(data)


def _error_text(body: bytes) -> str:
    """The S3 error code and message of an error body (what there is of them)."""
    code = _ERROR_CODE.search(body)
    message = _ERROR_MESSAGE.search(body)
    parts = [m.group(1).decode(errors="replace") for m in (code, message) if m]
    # Not S3's XML (the filer answers in plain text): its first 200 bytes, on one line.
    return ": ".join(parts) if parts else " ".join(body[:200].decode(errors="replace").split())


def _is_missing(status: int, body: bytes) -> bool:
    # 404 for a key; a missing bucket is a 404 too, with its own code, and is no missing key.
    code = _ERROR_CODE.search(body)
    return status == 404 and (code is None or code.group(1) in (b"NoSuchKey", b"404"))


class S3ObjectStore:
    """An S3-compatible bucket, keys under ``<prefix>/``."""

    def __init__(self, settings: ObjectStoreSettings, prefix: str) -> None:
        self._settings = settings
        # An empty prefix is the bucket's root: keys as given (another bucket's objects).
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client: Any = None
        self._ctx: Any = None
        self._lock = asyncio.Lock()
        self._http: _Http | None = None
        if settings.filer_socket and self._prefix:
            self._http = _FilerHttp(settings)
        elif settings.endpoint and settings.access_key and settings.secret_key:
            self._http = _SignedHttp(settings)

    async def _s3(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    s = self._settings
                    self._ctx = _session().create_client(
                        "s3",
                        endpoint_url=s.endpoint,
                        # Empty keys or region: botocore's own chain (AWS_* variables,
                        # ~/.aws), for objects read from a user's own S3 endpoint.
                        aws_access_key_id=s.access_key or None,
                        aws_secret_access_key=s.secret_key or None,
                        region_name=s.region or None,
                        config=AioConfig(
                            max_pool_connections=64,
                            retries={"max_attempts": 5, "mode": "standard"},
                            s3={"addressing_style": "path"},
                        ),
                    )
                    self._client = await self._ctx.__aenter__()
        return self._client

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``."""
        full = self._key(key)
        if self._http is not None:
            status, body = await self._http.request(
                "PUT", full, bytes(data), {"Content-Type": CONTENT_TYPE}
            )
            if status != 200:
                raise self._http.refused("PUT", full, status, body)
            return
        s3 = await self._s3()
        try:
            await s3.put_object(
                Bucket=self._settings.bucket, Key=full, Body=data, ContentType=CONTENT_TYPE
            )
        except ClientError as exc:
            raise self._botocore_refused("PUT", full, exc) from exc
        except EndpointConnectionError as exc:
            raise self._unanswered(exc) from exc

    async def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """The object's bytes or a byte range of them."""
        if length == 0:
            return b""
        full = self._key(key)
        ranged: dict[str, str] = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            ranged["Range"] = f"bytes={offset}-{end}"
        if self._http is not None:
            status, body = await self._http.request("GET", full, headers=ranged)
            if status in (200, 206):
                return body
            if _is_missing(status, body):
                raise ObjectMissing(f"object {key!r} does not exist", key=key)
            raise self._http.refused("GET", full, status, body)
        s3 = await self._s3()
        try:
            resp = await s3.get_object(Bucket=self._settings.bucket, Key=full, **ranged)
            async with resp["Body"] as stream:
                data: bytes = await stream.read()
                return data
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectMissing(f"object {key!r} does not exist", key=key) from exc
            raise self._botocore_refused("GET", full, exc) from exc
        except EndpointConnectionError as exc:
            raise self._unanswered(exc) from exc

    async def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        full = self._key(key)
        if self._http is not None:
            status, body = await self._http.request("HEAD", full)
            if status == 200:
                return True
            if status == 404:  # HEAD answers carry no body: no code tells key from bucket
                return False
            raise self._http.refused("HEAD", full, status, body)
        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self._settings.bucket, Key=full)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise self._botocore_refused("HEAD", full, exc) from exc

    def _botocore_refused(self, method: str, key: str, exc: ClientError) -> ObjectStoreRefused:
        """A refusal botocore raised, as the signed client's: one error, whichever client."""
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        text = ": ".join(str(error[k]) for k in ("Code", "Message") if error.get(k))
        endpoint = self._settings.endpoint or "AWS"
        return _refused(endpoint, self._settings.bucket, method, key, status, text)

    def _unanswered(self, exc: Exception) -> Unavailable:
        return Unavailable(f"object store at {self._settings.endpoint} did not answer: {exc}")

    async def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix``."""
        s3 = await self._s3()
        out: list[str] = []
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(
            Bucket=self._settings.bucket, Prefix=self._key(prefix)
        ):
            out.extend(obj["Key"][len(self._prefix) :] for obj in page.get("Contents", []))
        return sorted(out)

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove these objects: a DELETE each, :data:`DELETES_AT_ONCE` at a time (through
        botocore, DeleteObjects of up to 1,000 keys). An absent key is no error, as in S3.
        """
        if not keys:
            return
        if self._http is not None:
            http = self._http

            async def delete_one(key: str) -> None:
                status, body = await http.request("DELETE", self._key(key))
                # 204 from S3; the filer says 404 of a key already gone (a retried delete).
                if status not in (200, 204, 404):
                    raise http.refused("DELETE", self._key(key), status, body)

            for lo in range(0, len(keys), DELETES_AT_ONCE):
                # Every delete of the batch ended before the first failure is raised.
                await wait_all(map(delete_one, keys[lo : lo + DELETES_AT_ONCE]))
            return
        s3 = await self._s3()
        for lo in range(0, len(keys), 1000):
            chunk = [{"Key": self._key(key)} for key in keys[lo : lo + 1000]]
            try:
                answer = await s3.delete_objects(
                    Bucket=self._settings.bucket, Delete={"Objects": chunk, "Quiet": True}
                )
            except ClientError as exc:
                raise self._botocore_refused("DELETE", chunk[0]["Key"], exc) from exc
            except EndpointConnectionError as exc:
                raise self._unanswered(exc) from exc
            for error in answer.get("Errors", []):
                if error.get("Code") != "NoSuchKey":
                    text = f"{error.get('Code')}: {error.get('Message')}"
                    endpoint = self._settings.endpoint or "AWS"
                    raise _refused(
                        endpoint, self._settings.bucket, "DELETE", error.get("Key", ""), 0, text
                    )

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist yet."""
        s3 = await self._s3()
        try:
            await s3.head_bucket(Bucket=self._settings.bucket)
        except ClientError:
            try:
                await s3.create_bucket(Bucket=self._settings.bucket)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    async def close(self) -> None:
        """Close the HTTP pools."""
        if self._http is not None:
            await self._http.close()
        if self._ctx is not None:
            ctx, self._ctx, self._client = self._ctx, None, None
            await ctx.__aexit__(None, None, None)
