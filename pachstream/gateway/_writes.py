"""The gateway's writes: create and delete buckets, put, copy and delete objects.

A write stores its content first, then its metadata record (the gateway's own table), then
sends its file op through the :class:`~._writer.Writer`, so a read that sees the file sees
its record. Conditional writes check and write under the branch's condition lock.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from pachstream.content import sha256
from pachstream.errors import BranchNotFound, CommitNotFound, RepoExists, RepoNotFound
from pachstream.gateway import _checksums as sums
from pachstream.gateway import _s3xml as xml
from pachstream.gateway._body import read_body, read_payload
from pachstream.gateway._checksums import Checksum
from pachstream.gateway._conditions import (
    DeleteCondition,
    check_copy_source,
    check_delete,
    check_write,
    delete_condition_of,
    has_write_condition,
)
from pachstream.gateway._core import (
    Bucket,
    key_to_path,
    no_bucket,
    parse_bucket,
    parse_copy_source,
    path_to_key,
    refuse_commit_bucket,
)
from pachstream.gateway._errors import S3Error
from pachstream.gateway._http import Call, xml_response
from pachstream.gateway._metadata import ObjectRecord, metadata_directive, parse_metadata
from pachstream.gateway._reads import Reads
from pachstream.gateway._writer import Put
from pachstream.model import FileOp


class Writes(Reads):
    """The write operations (and the reads they build on)."""

    async def _op_delete_object(self, call: Call) -> web.StreamResponse:
        condition = delete_condition_of(call.request.headers)
        errors = await self._delete_keys(call.bucket_, [(call.key, condition)])
        for _, code, message in errors:
            raise S3Error(code, message, resource=f"/{call.bucket_.name}/{call.key}")
        return web.Response(status=204)

    async def _create_bucket(self, call: Call) -> web.StreamResponse:
        """Create the branch (and the repo if needed).

        An existing bucket is S3's us-east-1 answer, the region GetBucketLocation names: 200
        and nothing changed, unless the request asks for another region's
        ``LocationConstraint`` (409 ``BucketAlreadyOwnedByYou``, as in every other region).
        """
        bucket, request = call.bucket_, call.request
        if bucket.commit is not None:
            raise S3Error(
                "InvalidBucketName", f"bucket '{bucket.name}' names a commit; create BRANCH.REPO"
            )
        # No body at all (curl -X PUT sends no Content-Length) is a CreateBucket without one.
        body = await read_body(request, call.signed) if request.body_exists else b""
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

    async def _delete_bucket(self, call: Call) -> web.StreamResponse:
        """Delete the branch, when it holds no file (S3: BucketNotEmpty otherwise). Its
        commits stay readable by id (commit buckets); the repo stays.
        """
        bucket = call.bucket_
        if bucket.commit is not None:
            raise S3Error(
                "MethodNotAllowed",
                f"bucket '{bucket.name}' names a commit, which cannot be deleted; delete the "
                f"branch bucket {bucket.branch}.{bucket.repo}",
                resource=bucket.name,
            )
        await self._bucket_head(bucket)
        await self.writer.settle(bucket.branch_ref)
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
        self.writer.forget(bucket.branch_ref)
        await self.uploads.forget_bucket(bucket.name)
        return web.Response(status=204)

    async def _put_object(self, call: Call) -> web.StreamResponse:
        started = time.monotonic()
        bucket, path, request = call.bucket_, call.path_, call.request
        # The body is read while the bucket is checked: a client that sent Expect:
        # 100-continue sends it only now, and the check's round trip to Postgres would
        # otherwise come before that one. The check still answers first: a PUT to a missing
        # bucket is NoSuchBucket, whatever its body.
        payload = asyncio.ensure_future(read_payload(request, call.signed))
        try:
            await self._writable(bucket, guarded=True)
            meta = parse_metadata(request.headers)
        except BaseException:
            _drop(payload)
            raise
        body, trailers = await payload
        declared = sums.declared(request.headers, trailers)
        algorithm = declared[0] if declared else sums.DEFAULT_ALGORITHM
        checksum = Checksum(
            algorithm, sums.FULL_OBJECT, sums.Hasher.of(body, [algorithm])[algorithm]
        )
        record = ObjectRecord(headers=meta, checksum=checksum)
        # A body of one chunk is stored under its sha256: its record is written while the
        # bytes are stored, so the PUT pays no extra round trip, and before the file op.
        content_hash = sha256(body)
        if not has_write_condition(request.headers):
            # Store, record and write in one step with the PUTs to the branch alongside.
            put = Put(path, body, lambda: self.records.put(bucket.repo, path, content_hash, record))
            self.writer.observe("received", time.monotonic() - started)
            try:
                entry, _ = await self.writer.put(bucket.branch_ref, put)
            except (RepoNotFound, BranchNotFound) as err:
                raise no_bucket(bucket) from err
            return web.Response(
                status=200, headers={"ETag": f'"{entry.hash}"', **checksum.headers()}
            )
        entry, _ = await asyncio.gather(
            self.writer.store(body), self.records.put(bucket.repo, path, content_hash, record)
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
        async with self.writer.conditional(bucket.branch_ref):
            _, root = await self._head(bucket)  # settles the branch's writes first
            entry = None if root is None else await self.client.trees.lookup(root, path)
            check_write(
                request.headers,
                None if entry is None else entry.hash,
                f"/{bucket.name}/{path_to_key(path)}",
            )
            await self._write_ops(bucket, [op])

    async def _writable(self, bucket: Bucket, *, guarded: bool = False) -> None:
        """Refuse a write to a commit's bucket or to a bucket that does not exist.

        ``guarded``: what the caller does before its write would not be wrong for a bucket
        deleted meanwhile (it stores content, keeps a record), and the write itself is
        refused then (:meth:`Writer.confirmed`): a bucket this gateway wrote to lately is not
        checked again. The check was a Postgres query per batch of PUTs.
        """
        refuse_commit_bucket(bucket)
        if guarded and self.writer.confirmed(bucket.branch_ref):
            return
        # Concurrent writes to one bucket share one check (see _singleflight).
        await self._checks.run(bucket.name, lambda: self._bucket_head(bucket))

    async def _write_ops(self, bucket: Bucket, ops: list[FileOp]) -> str:
        try:
            return await self.writer.write(bucket.branch_ref, ops)
        except (RepoNotFound, BranchNotFound) as err:
            raise no_bucket(bucket) from err

    async def _copy_object(self, call: Call) -> web.StreamResponse:
        bucket, key, path, request = call.bucket_, call.key, call.path_, call.request
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
        refuse_commit_bucket(bucket)  # the bucket's existence: checked by _head below
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
        async with self.writer.conditional(bucket.branch_ref):
            return errors + await self._delete_paths(bucket, paths)  # _head settles first

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
                    assert info is not None  # the file was found in it
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

    async def _delete_objects(self, call: Call) -> web.StreamResponse:
        bucket = call.bucket_
        entries, quiet = xml.parse_delete_entries(await read_body(call.request, call.signed))
        errors = await self._delete_keys(bucket, entries)
        failed = {k for k, _, _ in errors}
        return xml_response(
            xml.delete_result_xml([k for k, _ in entries if k not in failed], errors, quiet)
        )


def _drop(task: asyncio.Future[Any]) -> None:
    """Give up on ``task``: cancel it, or take its exception if it already failed (so that
    asyncio logs no "exception was never retrieved").
    """
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


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
