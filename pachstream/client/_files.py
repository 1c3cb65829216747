"""The SDK's file verbs beyond put/get: put from a URL, copy, and download a directory.

Mixed into :class:`~pachstream.client.Client`. Content is never copied when it is already
stored: ``copy_file`` sends the source's entries (the same chunks) as new puts.

URLs of ``put_url``:

- ``http://`` and ``https://``: one GET (aiohttp), streamed into the store in
  ``CHUNK_BYTES`` pieces.
- ``s3://bucket/key``: read from the stack's own S3 endpoint with its keys (the same place the
  ingest topic's ``s3-uri`` header reads), or from ``endpoint`` when given, with the AWS SDK's
  usual credentials (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_DEFAULT_REGION``,
  ``~/.aws``). With ``recursive``, every object under the key prefix, as a directory.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from pachstream.errors import FileNotFound, InvalidInput, NotFound
from pachstream.paths import basename, normalize_path, validate_file_path
from pachstream.refs import parse_branch_ref
from pachstream.settings import ObjectStoreSettings

if TYPE_CHECKING:
    from pachstream.client._info import CommitInfo
    from pachstream.content import ContentWriter
    from pachstream.model import FileEntry, FileOp
    from pachstream.objectstore import ObjectStore
    from pachstream.tree import Root, TreeStore

URL_SCHEMES = ("http://", "https://", "s3://")
"""What ``put file -f`` reads as a URL rather than a local path."""
OBJECTS_AT_ONCE = 16
"""Objects fetched concurrently by a recursive S3 put or a directory download."""
BATCH_OPS = 2000
"""File ops per request (as :mod:`pachstream.client._client`)."""
CHUNK_BYTES = 64 * 1024 * 1024
"""Largest piece of a file stored at once: ``pachstream.content.CHUNK_BYTES`` (not imported
here, so that the client's reads stay free of the content and commit modules)."""


def is_url(source: str) -> bool:
    """Whether ``put file -f`` names a URL (http, https or s3). Pure."""
    return source.startswith(URL_SCHEMES)


def url_target(path: str, url: str) -> str:
    """Where a URL's content goes: ``path``, or the URL's file name under ``path`` when
    ``path`` is the root or ends with ``/`` (pachctl's rule). Pure.
    """
    if path in ("", "/") or path.endswith("/"):
        name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
        if not name:
            raise InvalidInput(
                f"'{url}' names no file; give the target path, e.g. repo@master:/data.csv",
                url=url,
            )
        return validate_file_path(f"{path.rstrip('/')}/{name}")
    return validate_file_path(path)


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key). Pure."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise InvalidInput(f"'{url}' has no bucket; give s3://bucket/key", url=url)
    return bucket, key


def under_prefix(keys: list[str], prefix: str) -> list[tuple[str, str]]:
    """(key, path relative to the prefix) of each key below ``prefix``, a directory. Pure."""
    base = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    return [(k, k[len(base) :]) for k in keys if k.startswith(base) and k != base]


async def _rechunk(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Pieces of exactly ``CHUNK_BYTES`` (the last shorter): the same chunks, so the same
    hash, as a put of the same content from a local file.
    """
    buffer = bytearray()
    async for piece in pieces:
        buffer += piece
        while len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer[:CHUNK_BYTES])
            del buffer[:CHUNK_BYTES]
    if buffer:
        yield bytes(buffer)


class FileVerbs:
    """put_url, copy_file, download."""

    # Provided by Client.
    _s3: ObjectStoreSettings
    if TYPE_CHECKING:

        @property
        def objects(self) -> ObjectStore: ...

        @property
        def _writer(self) -> ContentWriter: ...

        @property
        def _trees(self) -> TreeStore: ...

        async def _root(self, commit_ref: str) -> tuple[CommitInfo, Root]: ...

        async def _put_batches(
            self, branch_ref: str, batches: AsyncIterator[list[FileOp]], progress: Any
        ) -> str: ...

        async def _need_repo(self, repo: str) -> None: ...

    # ------------------------------------------------------------------ put from a URL

    async def put_url(
        self,
        branch_ref: str,
        path: str,
        url: str,
        *,
        recursive: bool = False,
        append: bool = False,
        endpoint: str | None = None,
    ) -> str:
        """Put the content a URL names (http, https, s3) at ``path``; with ``recursive``, every
        object under an ``s3://`` prefix below ``path``. The commit id, once readable.
        """
        await self._need_repo(parse_branch_ref(branch_ref).repo)
        from pachstream.model import FileOp

        kind: Literal["put", "append"] = "append" if append else "put"
        if url.startswith("s3://"):
            return await self._put_s3(branch_ref, path, url, kind, recursive, endpoint)
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"'{url}' is not an http, https or s3 URL", url=url)
        if recursive:
            raise InvalidInput(
                f"-r reads every object under an s3:// prefix; '{url}' is one http resource",
                url=url,
            )
        target = url_target(path, url)
        entry = await self._writer.store_stream(_rechunk(_http_pieces(url)))

        async def one() -> AsyncIterator[list[FileOp]]:
            yield [FileOp(op=kind, path=target, file=entry)]

        return await self._put_batches(branch_ref, one(), None)

    def _bucket_store(self, bucket: str, endpoint: str | None) -> ObjectStore:
        from pachstream.objectstore import S3ObjectStore

        if endpoint is None:
            where = dataclasses.replace(self._s3, bucket=bucket)
        else:
            # Empty keys and region: botocore finds them (AWS_* variables, ~/.aws).
            where = ObjectStoreSettings(
                endpoint=endpoint, bucket=bucket, access_key="", secret_key="", region=""
            )
        return S3ObjectStore(where, "")

    async def _put_s3(
        self,
        branch_ref: str,
        path: str,
        url: str,
        kind: Literal["put", "append"],
        recursive: bool,
        endpoint: str | None,
    ) -> str:
        from pachstream.model import FileOp

        bucket, key = split_s3_url(url)
        store = self._bucket_store(bucket, endpoint)
        where = endpoint or self._s3.endpoint
        try:
            if recursive:
                listed = under_prefix(await store.list(key), key)
                if not listed:
                    raise FileNotFound(f"no objects under {url} at {where}", url=url)
                root = normalize_path(path)
                pairs = [(k, validate_file_path(f"{root}/{rel}")) for k, rel in listed]
            else:
                if not key or key.endswith("/"):
                    raise InvalidInput(
                        f"'{url}' names a prefix, not an object; pass -r to put every object "
                        "under it",
                        url=url,
                    )
                pairs = [(key, url_target(path, url))]

            async def batches() -> AsyncIterator[list[FileOp]]:
                for start in range(0, len(pairs), OBJECTS_AT_ONCE):
                    group = pairs[start : start + OBJECTS_AT_ONCE]
                    datas = await asyncio.gather(
                        *(_get_object(store, k, url, where) for k, _ in group)
                    )
                    entries = await asyncio.gather(*(self._store_bytes(d) for d in datas))
                    yield [
                        FileOp(op=kind, path=dest, file=e)
                        for (_, dest), e in zip(group, entries, strict=True)
                    ]

            return await self._put_batches(branch_ref, batches(), None)
        finally:
            await store.close()

    async def _store_bytes(self, data: bytes) -> FileEntry:
        if len(data) < CHUNK_BYTES:
            (entry,) = await self._writer.store_many([data])
            return entry

        async def pieces() -> AsyncIterator[bytes]:
            for start in range(0, len(data), CHUNK_BYTES):
                yield data[start : start + CHUNK_BYTES]

        return await self._writer.store_stream(pieces())

    # ------------------------------------------------------------------ copy

    async def copy_file(
        self,
        src_ref: str,
        src_path: str,
        dst_branch_ref: str,
        dst_path: str,
        *,
        append: bool = False,
    ) -> str:
        """Copy a file, or a directory with everything under it, from a commit to a branch.
        No bytes move: the destination gets the source's stored entries. The commit id.
        """
        from pachstream.model import FileOp

        await self._need_repo(parse_branch_ref(dst_branch_ref).repo)
        info, root = await self._root(src_ref)
        source = normalize_path(src_path)
        kind: Literal["put", "append"] = "append" if append else "put"
        entry = await self._trees.lookup(root, source) if source != "/" else None
        if entry is not None:
            # pachctl: a target ending in '/' is a directory that takes the source's name.
            into = dst_path in ("", "/") or dst_path.endswith("/")
            dest = validate_file_path(
                f"{dst_path.rstrip('/')}/{basename(source)}" if into else dst_path
            )
            ops = [FileOp(op=kind, path=dest, file=entry)]
        else:
            from pachstream.tree import raw_to_entry

            prefix = "/" if source == "/" else source + "/"
            base = normalize_path(dst_path)
            ops = sorted(
                [
                    FileOp(
                        op=kind,
                        path=validate_file_path(f"{base}/{p[len(prefix) :]}"),
                        file=raw_to_entry(raw),
                    )
                    async for p, raw in self._trees.under(root, prefix)
                ],
                key=lambda op: op.path,
            )
            if not ops:
                raise FileNotFound(
                    f"file '{source}' does not exist in {src_ref} (commit {info.id}); "
                    f"see 'pachstream list file {src_ref}:/'",
                    repo=info.repo,
                    commit_id=info.id,
                    path=source,
                )

        async def batches() -> AsyncIterator[list[FileOp]]:
            for start in range(0, len(ops), BATCH_OPS):
                yield ops[start : start + BATCH_OPS]

        return await self._put_batches(dst_branch_ref, batches(), None)

    # ------------------------------------------------------------------ download

    async def download(self, commit_ref: str, path: str, local: Path) -> list[Path]:
        """Write a file to ``local``, or a directory's files below the folder ``local``
        (created), keeping their relative paths. The files written.
        """
        info, root = await self._root(commit_ref)
        source = normalize_path(path)
        entry = await self._trees.lookup(root, source) if source != "/" else None
        if entry is not None:
            pairs = [(local, entry)]
        else:
            from pachstream.tree import raw_to_entry

            prefix = "/" if source == "/" else source + "/"
            pairs = sorted(
                [
                    (local.joinpath(*p[len(prefix) :].split("/")), raw_to_entry(raw))
                    async for p, raw in self._trees.under(root, prefix)
                ],
                key=lambda pair: pair[0],
            )
            if not pairs and source != "/":
                raise FileNotFound(
                    f"file '{source}' does not exist in {commit_ref} (commit {info.id}); "
                    f"see 'pachstream list file {commit_ref}:/'",
                    repo=info.repo,
                    commit_id=info.id,
                    path=source,
                )
            local.mkdir(parents=True, exist_ok=True)
        from pachstream.content import iter_file

        limit = asyncio.Semaphore(OBJECTS_AT_ONCE)

        async def write(dest: Path, e: FileEntry) -> None:
            async with limit:
                dest.parent.mkdir(parents=True, exist_ok=True)
                with dest.open("wb") as sink:
                    async for piece in iter_file(self.objects, e):
                        sink.write(piece)

        await asyncio.gather(*(write(d, e) for d, e in pairs))
        return [d for d, _ in pairs]


async def _get_object(store: ObjectStore, key: str, url: str, where: str) -> bytes:
    from pachstream.errors import ObjectMissing

    try:
        return await store.get(key)
    except ObjectMissing as exc:
        bucket = url.removeprefix("s3://").partition("/")[0]
        raise NotFound(f"s3://{bucket}/{key} does not exist at {where}", url=url) from exc


async def _http_pieces(url: str) -> AsyncIterator[bytes]:
    import aiohttp

    try:
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_read=300)
            ) as session,
            session.get(url) as resp,
        ):
            if resp.status != 200:
                error = NotFound if resp.status == 404 else InvalidInput
                raise error(f"GET {url} answered {resp.status} {resp.reason}", url=url)
            async for piece in resp.content.iter_chunked(1024 * 1024):
                yield piece
    except aiohttp.ClientError as exc:
        from pachstream.errors import Unavailable

        raise Unavailable(f"GET {url} failed: {exc}", url=url) from exc


__all__ = ["FileVerbs", "is_url", "split_s3_url", "under_prefix", "url_target"]
