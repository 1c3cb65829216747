"""The object store transport: the only module that imports aiobotocore.

:class:`ObjectStore` is the protocol callers depend on; :class:`S3ObjectStore` speaks to any
S3-compatible server (SeaweedFS, MinIO, AWS) and :class:`MemoryObjectStore` keeps objects in a
dict for pure tests. Keys are relative to the store's prefix (the namespace), so tests and
tenants sharing a bucket never see each other's objects.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError, EndpointConnectionError

from pachstream.errors import ObjectMissing, Unavailable
from pachstream.settings import ObjectStoreSettings


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


class S3ObjectStore:
    """An S3-compatible bucket, keys under ``<prefix>/``."""

    def __init__(self, settings: ObjectStoreSettings, prefix: str) -> None:
        self._settings = settings
        # An empty prefix is the bucket's root: keys as given (another bucket's objects).
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client: Any = None
        self._ctx: Any = None
        self._lock = asyncio.Lock()

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
        s3 = await self._s3()
        try:
            await s3.put_object(Bucket=self._settings.bucket, Key=self._key(key), Body=data)
        except EndpointConnectionError as exc:
            raise Unavailable(
                f"object store at {self._settings.endpoint} did not answer: {exc}"
            ) from exc

    async def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """The object's bytes or a byte range of them."""
        s3 = await self._s3()
        kwargs: dict[str, Any] = {"Bucket": self._settings.bucket, "Key": self._key(key)}
        if offset or length is not None:
            if length == 0:
                return b""
            end = "" if length is None else str(offset + length - 1)
            kwargs["Range"] = f"bytes={offset}-{end}"
        try:
            resp = await s3.get_object(**kwargs)
            async with resp["Body"] as body:
                data: bytes = await body.read()
                return data
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectMissing(f"object {key!r} does not exist", key=key) from exc
            raise
        except EndpointConnectionError as exc:
            raise Unavailable(
                f"object store at {self._settings.endpoint} did not answer: {exc}"
            ) from exc

    async def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self._settings.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise

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
        """Close the HTTP pool."""
        if self._ctx is not None:
            ctx, self._ctx, self._client = self._ctx, None, None
            await ctx.__aexit__(None, None, None)
