"""Multipart uploads of the S3 gateway: create, upload part (or copy one), complete, abort, list.

Uploads in progress live in the gateway's own tables (:mod:`~._uploads`), so they survive a
restart of the gateway and any replica can take the next part. A part's bytes are stored as
content at once; completing joins the parts' chunks into one file entry, copying no bytes,
and writes it like any PUT, with the metadata given at creation and the checksum composed
from the parts' (:mod:`~._checksums`). A completed upload keeps its row (marked
``completed`` with its result) for a day, so that a client repeating CompleteMultipartUpload
after a lost answer gets the same answer while the key still holds that object, as in S3.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from pachstream.gateway import _checksums as sums
from pachstream.gateway import _s3xml as xml
from pachstream.gateway._body import read_body, read_payload
from pachstream.gateway._checksums import Checksum
from pachstream.gateway._conditions import check_copy_source
from pachstream.gateway._core import Bucket, key_to_path, parse_bucket, parse_copy_source
from pachstream.gateway._errors import S3Error
from pachstream.gateway._http import Call, xml_response
from pachstream.gateway._listing import parse_copy_range, parse_max_keys, slice_chunks
from pachstream.gateway._metadata import ObjectRecord, Part, parse_metadata
from pachstream.gateway._writes import Writes
from pachstream.model import Chunk, FileEntry, FileOp, file_hash

MIN_PART = 5 * 1024 * 1024
"""Smallest part but the last, as in S3."""
MAX_PARTS = 10000


def _part_number(value: str | None) -> int:
    number = int(value) if value is not None and value.isdigit() and len(value) <= 5 else 0
    if not 1 <= number <= MAX_PARTS:
        raise S3Error(
            "InvalidArgument",
            f"partNumber '{value}' is not an integer from 1 to {MAX_PARTS}",
            argument="partNumber",
        )
    return number


class MultipartVerbs(Writes):
    """The multipart operations (and the reads and writes they build on)."""

    async def _upload(
        self, bucket: Bucket, key: str, upload_id: str, *, completed: bool = False
    ) -> Any:
        """The upload's row, or NoSuchUpload; a completed upload only when ``completed``."""
        row = await self.uploads.get(upload_id)
        if (
            row is None
            or row["bucket"] != bucket.name
            or row["key"] != key
            or (row["completed"] is not None and not completed)
        ):
            raise S3Error(
                "NoSuchUpload",
                f"upload '{upload_id}' of /{bucket.name}/{key} does not exist (completed, aborted, "
                "or never created); start one with CreateMultipartUpload",
                resource=f"/{bucket.name}/{key}",
            )
        return row

    async def _create_upload(self, call: Call) -> web.StreamResponse:
        bucket, key, request = call.bucket_, call.key, call.request
        await self._writable(bucket)
        key_to_path(bucket.name, key)
        meta = parse_metadata(request.headers)
        wanted = request.headers.get("x-amz-checksum-algorithm")
        algorithm = sums.parse_algorithm(wanted, "x-amz-checksum-algorithm") if wanted else None
        kind = sums.upload_type(algorithm, request.headers.get("x-amz-checksum-type"))
        upload_id = uuid.uuid4().hex
        await self.uploads.create(
            upload_id,
            bucket.name,
            key,
            initiated=time.time(),
            meta=meta,
            algorithm=algorithm,
            kind=kind,
        )
        headers = {}
        if algorithm is not None and kind is not None:
            headers = {"x-amz-checksum-algorithm": algorithm, "x-amz-checksum-type": kind}
        return xml_response(
            xml.initiate_multipart_xml(bucket.name, key, upload_id), headers=headers
        )

    async def _upload_part(self, call: Call) -> web.StreamResponse:
        bucket, key, request = call.bucket_, call.key, call.request
        upload_id = request.query.get("uploadId", "")
        number = _part_number(request.query.get("partNumber"))
        upload = await self._upload(bucket, key, upload_id)
        body, trailers = await read_payload(request, call.signed)
        declared = sums.declared(request.headers, trailers)
        algorithm = upload["checksum_algorithm"]
        if algorithm is not None and declared and algorithm not in declared:
            raise S3Error(
                "InvalidRequest",
                f"the upload was created with {algorithm} checksums but part {number} carries "
                f"{', '.join(declared)}; send x-amz-checksum-{algorithm.lower()}",
            )
        checksums = sums.Hasher.of(body, _part_algorithms(algorithm, declared))
        entry = await self.writer.store(body)
        await self.uploads.save_part(upload_id, number, entry, checksums, time.time())
        headers = {"ETag": f'"{entry.hash}"'}
        shown = algorithm or (declared[0] if declared else None)
        if shown is not None:
            headers[sums.header_name(shown)] = checksums[shown]
        return web.Response(status=200, headers=headers)

    async def _upload_part_copy(self, call: Call) -> web.StreamResponse:
        """UploadPartCopy: a part made of a byte range of an existing object. Whole chunks of
        the source are reused as they are; only the slices at the range's ends are stored
        anew. The bytes are read once, for the part's checksums.
        """
        bucket, key, request = call.bucket_, call.key, call.request
        upload_id = request.query.get("uploadId", "")
        number = _part_number(request.query.get("partNumber"))
        upload = await self._upload(bucket, key, upload_id)
        src_name, src_key = parse_copy_source(request.headers["x-amz-copy-source"])
        src = parse_bucket(src_name)
        info, source = await self._entry(src, src_key, key_to_path(src_name, src_key))
        if any(h.startswith("x-amz-copy-source-if-") for h in map(str.lower, request.headers)):
            modified = await self._last_modified(info, key_to_path(src_name, src_key))
            check_copy_source(request.headers, source.hash, modified, f"/{src_name}/{src_key}")
        start, end = parse_copy_range(request.headers.get("x-amz-copy-source-range"), source.size)
        algorithm = upload["checksum_algorithm"]
        hasher = sums.Hasher(_part_algorithms(algorithm, []))
        chunks: list[Chunk] = []
        pos = start
        for chunk, offset, size in slice_chunks(source.chunks, start, end) if end >= start else ():
            data = b"".join([piece async for piece in self._read(source, pos, pos + size - 1)])
            pos += size
            hasher.update(data)
            if offset == 0 and size == chunk.size:
                chunks.append(chunk)  # a whole chunk of the source: shared, not stored again
            else:
                chunks.extend((await self.writer.store(data)).chunks)
        if not chunks:
            chunks = list((await self.writer.store(b"")).chunks)
        joined = tuple(chunks)
        entry = FileEntry(hash=file_hash(joined), size=end - start + 1, chunks=joined)
        checksums = hasher.values()
        await self.uploads.save_part(upload_id, number, entry, checksums, time.time())
        shown = (
            None
            if algorithm is None
            else Checksum(algorithm, sums.FULL_OBJECT, checksums[algorithm])
        )
        return xml_response(xml.copy_part_xml(entry.hash, time.time(), shown))

    async def _complete_upload(self, call: Call) -> web.StreamResponse:
        bucket, key, path, request = call.bucket_, call.key, call.path_, call.request
        # The branch may have been deleted since the upload began: completing must not
        # create it anew, holding only this object (a PutObject there is NoSuchBucket too).
        await self._writable(bucket)
        upload_id = request.query["uploadId"]
        upload = await self._upload(bucket, key, upload_id, completed=True)
        body = await read_body(request, call.signed, checksums=False)
        wanted = xml.parse_complete(body)
        if upload["completed"] is not None:
            return await self._completed_again(bucket, key, path, upload)
        claimed = xml.parse_complete_checksums(body)
        rows = await self.uploads.parts(upload_id)
        chunks: list[Chunk] = []
        parts: list[Part] = []
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
            parts.append(Part(row["size"], orjson.loads(row["checksums"])))
        checksum = _object_checksum(upload["checksum_algorithm"], upload["checksum_type"], parts)
        _check_claims(
            checksum, request.headers, claimed, wanted, parts, upload["checksum_algorithm"]
        )
        joined = tuple(c for c in chunks if c.size) or tuple(chunks[:1])
        entry = FileEntry(hash=file_hash(joined), size=sum(c.size for c in joined), chunks=joined)
        record = ObjectRecord(
            headers=orjson.loads(upload["meta"]), checksum=checksum, parts=tuple(parts)
        )
        await self.records.put(bucket.repo, path, entry.hash, record)
        # If-None-Match / If-Match: S3's conditional writes apply to completing an upload too.
        await self._write_checked(bucket, path, FileOp(op="put", path=path, file=entry), request)
        result = {"hash": entry.hash, "checksum": None if checksum is None else checksum.to_json()}
        await self.uploads.complete(upload_id, result, time.time())
        # The ETag is the file's hash, as HEAD and listings give it later (not S3's md5-of-md5s).
        return xml_response(
            xml.complete_multipart_xml(
                f"/{bucket.name}/{key}", bucket.name, key, entry.hash, checksum
            )
        )

    async def _completed_again(
        self, bucket: Bucket, key: str, path: str, upload: Any
    ) -> web.Response:
        """A repeated CompleteMultipartUpload: the same answer while the key still holds the
        object it made (its answer was lost, say), NoSuchUpload once the key changed.
        """
        result = orjson.loads(upload["result"])
        _, root = await self._head(bucket)
        entry = None if root is None else await self.client.trees.lookup(root, path)
        if entry is None or entry.hash != result["hash"]:
            raise S3Error(
                "NoSuchUpload",
                f"upload of /{bucket.name}/{key} was completed and the key has changed since; "
                "start a new upload with CreateMultipartUpload",
                resource=f"/{bucket.name}/{key}",
            )
        raw = result.get("checksum")
        checksum = None if raw is None else Checksum.from_json(raw)
        return xml_response(
            xml.complete_multipart_xml(
                f"/{bucket.name}/{key}", bucket.name, key, result["hash"], checksum
            )
        )

    async def _abort_upload(self, call: Call) -> web.StreamResponse:
        bucket, upload_id = call.bucket_, call.request.query["uploadId"]
        if not await self.uploads.abort(upload_id, bucket.name):
            raise S3Error(
                "NoSuchUpload", f"upload '{upload_id}' does not exist in bucket '{bucket.name}'"
            )
        return web.Response(status=204)

    async def _list_parts(self, call: Call) -> web.StreamResponse:
        bucket, key, request = call.bucket_, call.key, call.request
        upload_id = request.query["uploadId"]
        upload = await self._upload(bucket, key, upload_id)
        max_parts = parse_max_keys(request.query.get("max-parts"), "max-parts")
        try:
            marker = int(request.query.get("part-number-marker", "0") or 0)
        except ValueError as exc:
            raise S3Error("InvalidArgument", "part-number-marker must be an integer") from exc
        rows = await self.uploads.page_of_parts(upload_id, marker, max_parts + 1)
        truncated = len(rows) > max_parts
        rows = rows[:max_parts]
        parts = [(r["part_number"], r["etag"], r["size"], r["last_modified"]) for r in rows]
        algorithm = upload["checksum_algorithm"]
        # Each part's checksum in the upload's algorithm, for a client to put in its
        # CompleteMultipartUpload (which requires them when the upload has an algorithm).
        sums_by_part = {
            r["part_number"]: value
            for r in rows
            if algorithm is not None
            and (value := orjson.loads(r["checksums"]).get(algorithm)) is not None
        }
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
                checksum_algorithm=algorithm,
                checksum_type=upload["checksum_type"],
                part_checksums=sums_by_part,
            )
        )

    async def _list_uploads(self, call: Call) -> web.StreamResponse:
        bucket = call.bucket_
        await self._bucket_head(bucket)
        uploads = await self.uploads.in_progress(bucket.name)
        return xml_response(xml.list_uploads_xml(bucket=bucket.name, uploads=uploads))


def _part_algorithms(upload: str | None, declared: Iterable[str]) -> list[str]:
    """What a part's checksums are computed for: the upload's algorithm, what the part's
    request declares, and the default CRC64NVME (the object's checksum when the upload
    declared none).
    """
    out = [sums.DEFAULT_ALGORITHM]
    for algorithm in (upload, *declared):
        if algorithm is not None and algorithm not in out:
            out.append(algorithm)
    return out


def _object_checksum(algorithm: str | None, kind: str | None, parts: list[Part]) -> Checksum | None:
    """The checksum of a completed upload, from its parts' (None: a part has none, e.g. it
    was uploaded before the gateway kept them).
    """
    algorithm = algorithm or sums.DEFAULT_ALGORITHM
    kind = kind or sums.FULL_OBJECT
    values = [p.checksums.get(algorithm) for p in parts]
    if any(v is None for v in values):
        return None
    digests = [sums.unb64(v or "") for v in values]
    if kind == sums.COMPOSITE:
        return sums.composite(algorithm, digests)
    return sums.full_object(algorithm, list(zip(digests, (p.size for p in parts), strict=True)))


def _check_claims(
    checksum: Checksum | None,
    headers: Any,
    claimed: dict[int, dict[str, str]],
    wanted: list[tuple[int, str]],
    parts: list[Part],
    algorithm: str | None,
) -> None:
    """Check CompleteMultipartUpload's checksums: the object's (a header) against the one
    composed from the parts, then each part's (in the body) against the stored part's.
    """
    for name in sums.ALGORITHMS:
        value = headers.get(sums.header_name(name))
        if value is None:
            continue
        if checksum is None or checksum.algorithm != name or not checksum.matches(value):
            have = "none" if checksum is None else f"{checksum.algorithm} {checksum.value}"
            raise S3Error(
                "BadDigest",
                f"{sums.header_name(name)} is {value} but the object's checksum, composed from "
                f"its parts, is {have}; a part was changed, or the client computed another "
                "checksum",
            )
    for (number, _), part in zip(wanted, parts, strict=True):
        given = claimed.get(number, {})
        for name, value in given.items():
            stored = part.checksums.get(name)
            if stored is not None and stored != value:
                raise S3Error(
                    "InvalidPart",
                    f"part {number}: Checksum{name} is {value} but the part uploaded has "
                    f"{stored}; list the parts with ListParts and send their checksums",
                    argument="PartNumber",
                )
        if algorithm is not None and algorithm not in given:
            raise S3Error(
                "InvalidRequest",
                f"the upload was created with {algorithm} checksums, so each part of "
                f"CompleteMultipartUpload needs its Checksum{algorithm}; part {number} has none",
            )
