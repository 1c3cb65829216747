"""The S3 XML codec of the gateway: response documents out, request documents in.

A pure codec (STYLE.md §2): renderers (here) turn values into the bytes of an S3 XML
document and parsers (:mod:`~._s3xml_parse`, re-exported here) turn a client's body into
values. Nothing here does I/O.

Renderers follow Amazon S3's documents element for element so that every client (botocore,
aws-cli, the Go and Java SDKs, s3fs) reads them. Every document starts with
``<?xml version="1.0" encoding="UTF-8"?>`` and, except ``<Error>``, carries S3's namespace.
ETags are passed bare (hex) and rendered inside double quotes, as S3 sends them.

Documents are written by :mod:`~._xmlwrite` (the bytes ElementTree wrote, faster).
Characters an XML 1.0 document cannot carry at all (C0 controls except tab and line feed,
lone surrogates, U+FFFE, U+FFFF) and carriage return (which a parser reads back as line
feed) are refused with ``InvalidArgument``: a listing holding them needs
``encoding-type=url``, as S3's own documentation advises. Only :func:`error_xml` replaces
them instead, since an error document must always render.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import formatdate
from urllib.parse import quote

from pachstream.gateway._checksums import Checksum
from pachstream.gateway._errors import S3Error
from pachstream.gateway._listing import ListPage
from pachstream.gateway._s3xml_parse import (
    MAX_BODY,
    MAX_DELETE_OBJECTS,
    MAX_PART_NUMBER,
    parse_complete,
    parse_complete_checksums,
    parse_delete,
    parse_delete_entries,
    parse_location_constraint,
)
from pachstream.gateway._xmlwrite import Element, document, leaf

__all__ = [
    "MAX_BODY",
    "MAX_DELETE_OBJECTS",
    "MAX_PART_NUMBER",
    "NAMESPACE",
    "OWNER",
    "acl_xml",
    "complete_multipart_xml",
    "copy_object_xml",
    "copy_part_xml",
    "delete_result_xml",
    "error_xml",
    "http_date",
    "initiate_multipart_xml",
    "iso8601",
    "list_buckets_xml",
    "list_objects_v1_xml",
    "list_objects_v2_xml",
    "list_parts_xml",
    "list_uploads_xml",
    "location_xml",
    "parse_complete",
    "parse_complete_checksums",
    "parse_delete",
    "parse_delete_entries",
    "parse_location_constraint",
    "tagging_xml",
    "versioning_xml",
]

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
"""XML namespace of S3's response documents."""

OWNER = "pachstream"
"""The one owner of every bucket and object (ACLs, listings): the gateway has one identity."""

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters an XML 1.0 text cannot carry, plus CR (which parsers read back as LF)."""


# ----------------------------------------------------------------------------- times


def iso8601(epoch: float) -> str:
    """Write an instant as S3 does in XML: ISO 8601 UTC with milliseconds and ``Z``.

    Example: ``2026-11-29T12:00:00.000Z``. Sub-millisecond digits are dropped.
    """
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


def http_date(epoch: float) -> str:
    """Write an instant as an RFC 7231 HTTP date, for ``Last-Modified``.

    Example: ``Sun, 29 Nov 2026 12:00:00 GMT``. Fractions of a second are dropped. Day and
    month names are English whatever the locale.
    """
    return formatdate(epoch, usegmt=True)


# ----------------------------------------------------------------------------- rendering


def _checked(tag: str, value: str) -> str:
    found = _UNSAFE.search(value)
    if found is not None:
        raise S3Error(
            "InvalidArgument",
            f"the {tag} {value!r} holds U+{ord(found.group()):04X} at position "
            f"{found.start()}, which an XML 1.0 document cannot carry; list with "
            f"encoding-type=url, or rename the object",
            value=value,
        )
    return value


def _add(parent: Element, tag: str, text: str | int) -> None:
    parent.text(tag, _checked(tag, text) if isinstance(text, str) else text)


def _root(tag: str) -> Element:
    return Element(tag, {"xmlns": NAMESPACE})


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _quoted(etag: str) -> str:
    return f'"{etag}"'


def _url_encoding(encoding_type: str | None) -> bool:
    if not encoding_type:
        return False
    if encoding_type == "url":
        return True
    raise S3Error(
        "InvalidArgument",
        f"the query parameter encoding-type={encoding_type!r} is not valid; the only "
        f"encoding is 'url', or leave the parameter out",
        argument="encoding-type",
    )


def _encoded(tag: str, value: str, url: bool) -> str:
    """Return a key-like value as a listing shows it: as is, or percent-encoded for ``url``.

    Percent-encoding uses ``%20`` for a space and ``%2B`` for ``+`` (``quote`` with
    ``safe="/"``): botocore decodes with ``unquote_plus``, other SDKs with plain
    percent-decoding or ``QueryUnescape``, and all of them read ``%20`` and ``%2B`` back
    exactly, whereas S3's own ``+`` for a space would break plain percent-decoders.
    """
    if not url:
        return value
    try:
        return quote(value, safe="/")
    except UnicodeEncodeError as exc:
        raise S3Error(
            "InvalidArgument",
            f"the {tag} {value!r} is not valid UTF-8 text (it holds a lone surrogate); "
            f"send the value as UTF-8",
            value=value,
        ) from exc


def _add_entries(root: Element, page: ListPage, url: bool, owner: str | None) -> None:
    # The hot loop of a listing: each entry is written as one string (a page of 1,000 keys
    # was ~14 ms with an element per field), and the objects of one commit share a time.
    times: dict[float, str] = {}
    tail = leaf("StorageClass", "STANDARD")
    if owner is not None:
        tail += _owner_xml(owner)
    tail += "</Contents>"
    for item in page.contents:
        key = _encoded("Key", item.key, url) if url else _checked("Key", item.key)
        modified = times.get(item.last_modified)
        if modified is None:
            modified = times[item.last_modified] = iso8601(item.last_modified)
        root.written(
            "<Contents>"
            + leaf("Key", key)
            + leaf("LastModified", modified)
            + leaf("ETag", _checked("ETag", _quoted(item.etag)))
            + leaf("Size", item.size)
            + tail
        )
    for common in page.common_prefixes:
        _add(root.child("CommonPrefixes"), "Prefix", _encoded("Prefix", common, url))


def error_xml(code: str, message: str, resource: str, request_id: str) -> bytes:
    """Render an S3 ``<Error>`` document (without namespace, as S3 sends it).

    Characters XML cannot carry are replaced by U+FFFD rather than refused, so that an error
    about a bad value can always be reported.
    """
    root = Element("Error")
    for tag, text in (
        ("Code", code),
        ("Message", message),
        ("Resource", resource),
        ("RequestId", request_id),
    ):
        _add(root, tag, _UNSAFE.sub("\ufffd", text))
    return document(root)


def list_buckets_xml(
    buckets: list[tuple[str, float]],
    owner: str = "pachstream",
    *,
    prefix: str | None = None,
    continuation_token: str | None = None,
) -> bytes:
    """Render a ListBuckets answer.

    Args:
        buckets: ``(name, creation_time)`` of each bucket, in the order to show.
        owner: ID and display name of the owner.
        prefix: The request's ``prefix``, echoed when given.
        continuation_token: The token of the next page when the list is cut short.

    """
    root = _root("ListAllMyBucketsResult")
    _add_owner(root, owner)
    buckets_element = root.child("Buckets")
    for name, created in buckets:
        bucket = buckets_element.child("Bucket")
        _add(bucket, "Name", name)
        _add(bucket, "CreationDate", iso8601(created))
    if continuation_token:
        _add(root, "ContinuationToken", continuation_token)
    if prefix:
        _add(root, "Prefix", prefix)
    return document(root)


def list_objects_v2_xml(
    *,
    bucket: str,
    prefix: str = "",
    delimiter: str | None = None,
    max_keys: int = 1000,
    start_after: str | None = None,
    continuation_token: str | None = None,
    encoding_type: str | None = None,
    fetch_owner: bool = False,
    page: ListPage,
) -> bytes:
    """Render a ListObjectsV2 answer for one page from :func:`~._listing.list_page`.

    Args:
        bucket: Bucket name.
        prefix: The request's ``prefix``.
        delimiter: The request's ``delimiter``; None or ``""`` when absent.
        max_keys: The page size in effect (after :func:`~._listing.parse_max_keys`).
        start_after: The request's ``start-after``; None or ``""`` when absent.
        continuation_token: The request's ``continuation-token``, echoed as sent (an empty
            one too, as S3 does); None when absent.
        encoding_type: ``"url"`` to percent-encode Key, Prefix, Delimiter, StartAfter and
            CommonPrefixes (aws-cli and boto3 always ask for it); None when absent.
        fetch_owner: The request's ``fetch-owner=true``: each entry carries its Owner.
        page: The entries.

    Raises:
        S3Error: ``InvalidArgument`` for an encoding type other than ``url``, or for a value
            XML cannot carry without ``url`` encoding.

    """
    url = _url_encoding(encoding_type)
    root = _root("ListBucketResult")
    _add(root, "Name", bucket)
    _add(root, "Prefix", _encoded("Prefix", prefix, url))
    if delimiter:
        _add(root, "Delimiter", _encoded("Delimiter", delimiter, url))
    _add(root, "MaxKeys", max_keys)
    _add(root, "KeyCount", len(page.contents) + len(page.common_prefixes))
    _add(root, "IsTruncated", _bool(page.is_truncated))
    if continuation_token is not None:
        _add(root, "ContinuationToken", continuation_token)
    if page.is_truncated and page.next_token is not None:
        _add(root, "NextContinuationToken", page.next_token)
    if start_after:
        _add(root, "StartAfter", _encoded("StartAfter", start_after, url))
    if url:
        _add(root, "EncodingType", "url")
    _add_entries(root, page, url, OWNER if fetch_owner else None)
    return document(root)


def list_objects_v1_xml(
    *,
    bucket: str,
    prefix: str = "",
    delimiter: str | None = None,
    max_keys: int = 1000,
    marker: str | None = None,
    encoding_type: str | None = None,
    page: ListPage,
) -> bytes:
    """Render a ListObjects (version 1) answer for one page from :func:`~._listing.list_page`.

    ``NextMarker`` is sent only when the page is truncated and a delimiter was given, as S3
    does; without a delimiter, clients continue from the last key of the page.

    Args:
        bucket: Bucket name.
        prefix: The request's ``prefix``.
        delimiter: The request's ``delimiter``; None or ``""`` when absent.
        max_keys: The page size in effect (after :func:`~._listing.parse_max_keys`).
        marker: The request's ``marker``; None or ``""`` when absent.
        encoding_type: ``"url"`` to percent-encode Key, Prefix, Delimiter, Marker,
            NextMarker and CommonPrefixes; None when absent.
        page: The entries.

    Raises:
        S3Error: ``InvalidArgument`` for an encoding type other than ``url``, or for a value
            XML cannot carry without ``url`` encoding.

    """
    url = _url_encoding(encoding_type)
    root = _root("ListBucketResult")
    _add(root, "Name", bucket)
    _add(root, "Prefix", _encoded("Prefix", prefix, url))
    _add(root, "Marker", _encoded("Marker", marker or "", url))
    if page.is_truncated and delimiter and page.next_marker is not None:
        _add(root, "NextMarker", _encoded("NextMarker", page.next_marker, url))
    _add(root, "MaxKeys", max_keys)
    if delimiter:
        _add(root, "Delimiter", _encoded("Delimiter", delimiter, url))
    _add(root, "IsTruncated", _bool(page.is_truncated))
    if url:
        _add(root, "EncodingType", "url")
    _add_entries(root, page, url, OWNER)  # V1 entries always carry it, as in S3
    return document(root)


def initiate_multipart_xml(bucket: str, key: str, upload_id: str) -> bytes:
    """Render a CreateMultipartUpload answer."""
    root = _root("InitiateMultipartUploadResult")
    _add(root, "Bucket", bucket)
    _add(root, "Key", key)
    _add(root, "UploadId", upload_id)
    return document(root)


def _add_checksum(root: Element, checksum: Checksum | None, *, with_type: bool = True) -> None:
    if checksum is not None:
        _add(root, f"Checksum{checksum.algorithm}", checksum.value)
        if with_type:
            _add(root, "ChecksumType", checksum.type)


def complete_multipart_xml(
    location: str, bucket: str, key: str, etag: str, checksum: Checksum | None = None
) -> bytes:
    """Render a CompleteMultipartUpload answer; ``etag`` is bare, without quotes."""
    root = _root("CompleteMultipartUploadResult")
    _add(root, "Location", location)
    _add(root, "Bucket", bucket)
    _add(root, "Key", key)
    _add(root, "ETag", _quoted(etag))
    _add_checksum(root, checksum)
    return document(root)


def copy_object_xml(etag: str, last_modified: float, checksum: Checksum | None = None) -> bytes:
    """Render a CopyObject answer."""
    root = _root("CopyObjectResult")
    _add(root, "LastModified", iso8601(last_modified))
    _add(root, "ETag", _quoted(etag))
    _add_checksum(root, checksum)
    return document(root)


def copy_part_xml(etag: str, last_modified: float, checksum: Checksum | None = None) -> bytes:
    """Render an UploadPartCopy answer (a part's checksum has no type)."""
    root = _root("CopyPartResult")
    _add(root, "LastModified", iso8601(last_modified))
    _add(root, "ETag", _quoted(etag))
    _add_checksum(root, checksum, with_type=False)
    return document(root)


def list_parts_xml(
    *,
    bucket: str,
    key: str,
    upload_id: str,
    parts: list[tuple[int, str, int, float]],
    max_parts: int,
    part_number_marker: int,
    is_truncated: bool,
    next_marker: int | None,
    checksum_algorithm: str | None = None,
    checksum_type: str | None = None,
    part_checksums: Mapping[int, str] | None = None,
) -> bytes:
    """Render a ListParts answer.

    Args:
        bucket: Bucket name.
        key: Object key of the upload.
        upload_id: The upload.
        parts: ``(part_number, etag, size, last_modified)`` of the parts on this page, in
            part-number order.
        max_parts: The page size in effect.
        part_number_marker: The request's ``part-number-marker`` (0 when absent).
        is_truncated: Whether parts follow this page.
        next_marker: Part number to continue after when truncated.
        checksum_algorithm: The upload's checksum algorithm (None: created without one).
        checksum_type: The upload's checksum type, ``COMPOSITE`` or ``FULL_OBJECT``.
        part_checksums: Part number → the part's checksum in ``checksum_algorithm``.

    """
    root = _root("ListPartsResult")
    _add(root, "Bucket", bucket)
    _add(root, "Key", key)
    _add(root, "UploadId", upload_id)
    _add(root, "PartNumberMarker", part_number_marker)
    if is_truncated and next_marker is not None:
        _add(root, "NextPartNumberMarker", next_marker)
    _add(root, "MaxParts", max_parts)
    _add(root, "IsTruncated", _bool(is_truncated))
    for number, etag, size, modified in parts:
        part = root.child("Part")
        _add(part, "PartNumber", number)
        _add(part, "LastModified", iso8601(modified))
        _add(part, "ETag", _quoted(etag))
        _add(part, "Size", size)
        value = (part_checksums or {}).get(number)
        if checksum_algorithm is not None and value is not None:
            _add(part, f"Checksum{checksum_algorithm}", value)
    _add(root, "StorageClass", "STANDARD")
    if checksum_algorithm is not None:
        _add(root, "ChecksumAlgorithm", checksum_algorithm)
        if checksum_type is not None:
            _add(root, "ChecksumType", checksum_type)
    return document(root)


def list_uploads_xml(*, bucket: str, uploads: list[tuple[str, str, float]]) -> bytes:
    """Render a ListMultipartUploads answer: every upload on one untruncated page.

    Args:
        bucket: Bucket name.
        uploads: ``(key, upload_id, initiated)`` of each upload in progress.

    """
    root = _root("ListMultipartUploadsResult")
    _add(root, "Bucket", bucket)
    _add(root, "KeyMarker", "")
    _add(root, "UploadIdMarker", "")
    _add(root, "MaxUploads", 1000)
    _add(root, "IsTruncated", "false")
    for key, upload_id, initiated in uploads:
        upload = root.child("Upload")
        _add(upload, "Key", key)
        _add(upload, "UploadId", upload_id)
        _add(upload, "Initiated", iso8601(initiated))
    return document(root)


def delete_result_xml(deleted: list[str], errors: list[tuple[str, str, str]], quiet: bool) -> bytes:
    """Render a DeleteObjects answer.

    Args:
        deleted: Keys deleted (or already absent, which S3 also reports as deleted).
        errors: ``(key, s3_code, message)`` of each key that could not be deleted.
        quiet: The request's ``<Quiet>``: when true only the errors are listed.

    """
    root = _root("DeleteResult")
    if not quiet:
        for key in deleted:
            _add(root.child("Deleted"), "Key", key)
    for key, code, message in errors:
        error = root.child("Error")
        _add(error, "Key", key)
        _add(error, "Code", code)
        _add(error, "Message", message)
    return document(root)


def location_xml() -> bytes:
    """Render a GetBucketLocation answer: empty, which means ``us-east-1``."""
    return document(_root("LocationConstraint"))


def _owner_xml(owner: str) -> str:
    owner = _checked("ID", owner)
    return "<Owner>" + leaf("ID", owner) + leaf("DisplayName", owner) + "</Owner>"


def _add_owner(parent: Element, owner: str) -> None:
    parent.written(_owner_xml(owner))


def acl_xml(owner: str = OWNER) -> bytes:
    """Render a GetBucketAcl/GetObjectAcl answer: the owner has FULL_CONTROL, no one else."""
    root = _root("AccessControlPolicy")
    _add_owner(root, owner)
    grant = root.child("AccessControlList").child("Grant")
    grantee = grant.child(
        "Grantee",
        {
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsi:type": "CanonicalUser",
        },
    )
    _add(grantee, "ID", owner)
    _add(grantee, "DisplayName", owner)
    _add(grant, "Permission", "FULL_CONTROL")
    return document(root)


def tagging_xml() -> bytes:
    """Render a GetObjectTagging answer with no tags (objects here carry none)."""
    root = _root("Tagging")
    root.text("TagSet")
    return document(root)


def versioning_xml() -> bytes:
    """Render a GetBucketVersioning answer for a bucket that was never versioned (empty)."""
    return document(_root("VersioningConfiguration"))
