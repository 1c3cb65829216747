"""The S3 XML codec of the gateway: response documents out, request documents in.

A pure codec (STYLE.md §2): renderers turn values into the bytes of an S3 XML document and
parsers turn a client's body into values. Nothing here does I/O.

Renderers follow Amazon S3's documents element for element so that every client (botocore,
aws-cli, the Go and Java SDKs, s3fs) reads them. Every document starts with
``<?xml version="1.0" encoding="UTF-8"?>`` and, except ``<Error>``, carries S3's namespace.
ETags are passed bare (hex) and rendered inside double quotes, as S3 sends them.

Text is escaped by ElementTree. Characters an XML 1.0 document cannot carry at all (C0
controls except tab and line feed, lone surrogates, U+FFFE, U+FFFF) and carriage return
(which a parser reads back as line feed) are refused with ``InvalidArgument``: a listing
holding them needs ``encoding-type=url``, as S3's own documentation advises. Only
:func:`error_xml` replaces them instead, since an error document must always render.

Parsers read client bodies, which may be hostile: bodies over :data:`MAX_BODY` bytes, any
DOCTYPE (the door to entity expansion), non-UTF-8 and malformed XML are refused with
``MalformedXML`` before or while ElementTree parses. Elements are matched by local name, so
a body with or without S3's namespace reads the same.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import formatdate
from urllib.parse import quote

from pachstream.gateway._checksums import ALGORITHMS, Checksum
from pachstream.gateway._conditions import DeleteCondition, delete_condition
from pachstream.gateway._errors import S3Error
from pachstream.gateway._listing import ListPage

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

MAX_BODY = 2 * 1024 * 1024
"""Largest request body the parsers accept, in bytes (1000 keys of 1 KiB fit comfortably)."""

MAX_DELETE_OBJECTS = 1000
"""Most keys one DeleteObjects request may name, as in S3."""

MAX_PART_NUMBER = 10000
"""Highest part number of a multipart upload, as in S3."""

OWNER = "pachstream"
"""The one owner of every bucket and object (ACLs, listings): the gateway has one identity."""

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

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


def _add(parent: ET.Element, tag: str, text: str | int | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = _checked(tag, text) if isinstance(text, str) else str(text)
    return child


def _root(tag: str) -> ET.Element:
    # An xmlns attribute on the root instead of ET.register_namespace keeps the tags
    # unprefixed without touching ElementTree's process-wide prefix table.
    return ET.Element(tag, xmlns=NAMESPACE)


def _document(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return _DECLARATION + body


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


def _add_entries(root: ET.Element, page: ListPage, url: bool, owner: str | None) -> None:
    for item in page.contents:
        contents = _add(root, "Contents")
        _add(contents, "Key", _encoded("Key", item.key, url))
        _add(contents, "LastModified", iso8601(item.last_modified))
        _add(contents, "ETag", _quoted(item.etag))
        _add(contents, "Size", item.size)
        _add(contents, "StorageClass", "STANDARD")
        if owner is not None:
            _add_owner(contents, owner)
    for common in page.common_prefixes:
        _add(_add(root, "CommonPrefixes"), "Prefix", _encoded("Prefix", common, url))


def error_xml(code: str, message: str, resource: str, request_id: str) -> bytes:
    """Render an S3 ``<Error>`` document (without namespace, as S3 sends it).

    Characters XML cannot carry are replaced by U+FFFD rather than refused, so that an error
    about a bad value can always be reported.
    """
    root = ET.Element("Error")
    for tag, text in (
        ("Code", code),
        ("Message", message),
        ("Resource", resource),
        ("RequestId", request_id),
    ):
        _add(root, tag, _UNSAFE.sub("\ufffd", text))
    return _document(root)


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
    owner_element = _add(root, "Owner")
    _add(owner_element, "ID", owner)
    _add(owner_element, "DisplayName", owner)
    buckets_element = _add(root, "Buckets")
    for name, created in buckets:
        bucket = _add(buckets_element, "Bucket")
        _add(bucket, "Name", name)
        _add(bucket, "CreationDate", iso8601(created))
    if continuation_token:
        _add(root, "ContinuationToken", continuation_token)
    if prefix:
        _add(root, "Prefix", prefix)
    return _document(root)


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
    return _document(root)


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
    return _document(root)


def initiate_multipart_xml(bucket: str, key: str, upload_id: str) -> bytes:
    """Render a CreateMultipartUpload answer."""
    root = _root("InitiateMultipartUploadResult")
    _add(root, "Bucket", bucket)
    _add(root, "Key", key)
    _add(root, "UploadId", upload_id)
    return _document(root)


def _add_checksum(root: ET.Element, checksum: Checksum | None, *, with_type: bool = True) -> None:
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
    return _document(root)


def copy_object_xml(etag: str, last_modified: float, checksum: Checksum | None = None) -> bytes:
    """Render a CopyObject answer."""
    root = _root("CopyObjectResult")
    _add(root, "LastModified", iso8601(last_modified))
    _add(root, "ETag", _quoted(etag))
    _add_checksum(root, checksum)
    return _document(root)


def copy_part_xml(etag: str, last_modified: float, checksum: Checksum | None = None) -> bytes:
    """Render an UploadPartCopy answer (a part's checksum has no type)."""
    root = _root("CopyPartResult")
    _add(root, "LastModified", iso8601(last_modified))
    _add(root, "ETag", _quoted(etag))
    _add_checksum(root, checksum, with_type=False)
    return _document(root)


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
        part = _add(root, "Part")
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
    return _document(root)


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
        upload = _add(root, "Upload")
        _add(upload, "Key", key)
        _add(upload, "UploadId", upload_id)
        _add(upload, "Initiated", iso8601(initiated))
    return _document(root)


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
            _add(_add(root, "Deleted"), "Key", key)
    for key, code, message in errors:
        error = _add(root, "Error")
        _add(error, "Key", key)
        _add(error, "Code", code)
        _add(error, "Message", message)
    return _document(root)


def location_xml() -> bytes:
    """Render a GetBucketLocation answer: empty, which means ``us-east-1``."""
    return _document(_root("LocationConstraint"))


def _add_owner(parent: ET.Element, owner: str) -> None:
    element = _add(parent, "Owner")
    _add(element, "ID", owner)
    _add(element, "DisplayName", owner)


def acl_xml(owner: str = OWNER) -> bytes:
    """Render a GetBucketAcl/GetObjectAcl answer: the owner has FULL_CONTROL, no one else."""
    root = _root("AccessControlPolicy")
    _add_owner(root, owner)
    grant = _add(_add(root, "AccessControlList"), "Grant")
    grantee = ET.SubElement(
        grant,
        "Grantee",
        {
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsi:type": "CanonicalUser",
        },
    )
    _add(grantee, "ID", owner)
    _add(grantee, "DisplayName", owner)
    _add(grant, "Permission", "FULL_CONTROL")
    return _document(root)


def tagging_xml() -> bytes:
    """Render a GetObjectTagging answer with no tags (objects here carry none)."""
    root = _root("Tagging")
    _add(root, "TagSet")
    return _document(root)


def versioning_xml() -> bytes:
    """Render a GetBucketVersioning answer for a bucket that was never versioned (empty)."""
    return _document(_root("VersioningConfiguration"))


# ----------------------------------------------------------------------------- parsing

_DELETE_SHAPE = "<Delete><Object><Key>name</Key></Object>...<Quiet>true</Quiet></Delete>"
_COMPLETE_SHAPE = (
    "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;etag&quot;</ETag>"
    "</Part>...</CompleteMultipartUpload>"
)


class _DoctypeFound(Exception):
    """Raised by the parser's target on a DOCTYPE, before any entity is declared."""


class _NoDoctype(ET.TreeBuilder):
    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise _DoctypeFound(name)


def _malformed(document: str, problem: str, shape: str, fix: str = "") -> S3Error:
    return S3Error(
        "MalformedXML",
        f"the {document} body {problem}; {fix or 'send a UTF-8 XML document like ' + shape}",
    )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse(body: bytes, document: str, root_tag: str, shape: str) -> ET.Element:
    """Parse a client's XML body, refusing what could hurt or could not be meant."""
    if len(body) > MAX_BODY:
        raise _malformed(
            document,
            f"is {len(body)} bytes, over the limit of {MAX_BODY} bytes (2 MiB)",
            shape,
            "split it into several smaller requests",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _malformed(
            document, f"is not UTF-8 (byte {body[exc.start]:#04x} at offset {exc.start})", shape
        ) from exc
    # The text check gives the clear message; the parser hook below is the guarantee, in
    # case a DOCTYPE ever reaches expat in a form this search does not see.
    if "<!DOCTYPE" in text:
        raise _malformed(document, "holds a DOCTYPE, which is refused", shape)
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        # Feeding str makes expat read UTF-8 whatever encoding the declaration claims.
        parser.feed(text)
        root = parser.close()
    except _DoctypeFound as exc:
        raise _malformed(document, "holds a DOCTYPE, which is refused", shape) from exc
    except ET.ParseError as exc:
        raise _malformed(document, f"is not well-formed XML ({exc})", shape) from exc
    if _local(root.tag) != root_tag:
        raise _malformed(
            document, f"has the root element <{_local(root.tag)}> instead of <{root_tag}>", shape
        )
    return root


def _only_child(
    parent: ET.Element, tag: str, document: str, place: str, shape: str
) -> ET.Element | None:
    """Return the single child named ``tag`` of ``parent``, None when absent."""
    found = [child for child in parent if _local(child.tag) == tag]
    if len(found) > 1:
        raise _malformed(document, f"has {place} with {len(found)} <{tag}> elements", shape)
    return found[0] if found else None


_CREATE_BUCKET_SHAPE = (
    "<CreateBucketConfiguration><LocationConstraint>eu-west-3</LocationConstraint>"
    "</CreateBucketConfiguration>"
)


def parse_location_constraint(body: bytes) -> str | None:
    """Read a CreateBucket body's ``LocationConstraint`` (None: no body, or none given)."""
    if not body.strip():
        return None
    root = _parse(body, "CreateBucket", "CreateBucketConfiguration", _CREATE_BUCKET_SHAPE)
    found = _only_child(
        root, "LocationConstraint", "CreateBucket", "CreateBucketConfiguration",
        _CREATE_BUCKET_SHAPE,
    )  # fmt: skip
    return None if found is None else (found.text or "").strip()


def parse_delete(body: bytes) -> tuple[list[str], bool]:
    """Parse a DeleteObjects body into its keys and its quiet flag (see
    :func:`parse_delete_entries`, which also returns each entry's condition).
    """
    entries, quiet = parse_delete_entries(body)
    return [key for key, _ in entries], quiet


def parse_delete_entries(body: bytes) -> tuple[list[tuple[str, DeleteCondition | None]], bool]:
    """Parse a DeleteObjects body into its entries (key, condition) and its quiet flag.

    Keys keep their exact text (spaces included); ``<VersionId>`` and unknown elements are
    ignored. Duplicate keys are kept, in order. An entry's ``<ETag>``, ``<Size>`` and
    ``<LastModifiedTime>`` make its condition (S3's conditional deletes).

    Raises:
        S3Error: ``MalformedXML`` for a bad body: see the module docstring, plus no
            ``<Object>``, more than 1000, an ``<Object>`` without ``<Key>`` or with an empty
            one, and a ``<Quiet>`` other than ``true`` or ``false``; ``InvalidArgument`` for
            a ``<Size>`` or ``<LastModifiedTime>`` that does not parse.

    """
    root = _parse(body, "DeleteObjects", "Delete", _DELETE_SHAPE)
    entries: list[tuple[str, DeleteCondition | None]] = []
    quiet = False
    for child in root:
        name = _local(child.tag)
        if name == "Quiet":
            flag = (child.text or "").strip().lower()
            if flag not in ("true", "false"):
                raise _malformed("DeleteObjects", f"has <Quiet>{child.text}</Quiet>", _DELETE_SHAPE)
            quiet = flag == "true"
        elif name == "Object":
            place = f"object #{len(entries) + 1}"
            key = _only_child(child, "Key", "DeleteObjects", place, _DELETE_SHAPE)
            if key is None or not key.text:
                raise _malformed(
                    "DeleteObjects",
                    f"has {place} without a <Key> or with an empty one",
                    _DELETE_SHAPE,
                )
            texts = []
            for tag in ("ETag", "Size", "LastModifiedTime"):
                found = _only_child(child, tag, "DeleteObjects", place, _DELETE_SHAPE)
                texts.append(None if found is None else (found.text or ""))
            condition = delete_condition(
                *texts,
                names=(
                    f"{place}'s <ETag>",
                    f"{place}'s <Size>",
                    f"{place}'s <LastModifiedTime>",
                ),
            )
            entries.append((key.text, condition))
            if len(entries) > MAX_DELETE_OBJECTS:
                raise _malformed(
                    "DeleteObjects",
                    f"names more than {MAX_DELETE_OBJECTS} objects, S3's limit per request",
                    _DELETE_SHAPE,
                    f"split the keys over several requests of at most {MAX_DELETE_OBJECTS}",
                )
    if not entries:
        raise _malformed("DeleteObjects", "names no <Object>", _DELETE_SHAPE)
    return entries, quiet


_PART_NUMBER = re.compile(r"[+-]?[0-9]+")


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    """Parse a CompleteMultipartUpload body into its ``(part_number, etag)`` list.

    ETags come back without their surrounding quotes. Children of ``<Part>`` other than
    ``<PartNumber>`` and ``<ETag>`` (``<ChecksumCRC32>`` and the like) are ignored.

    Raises:
        S3Error: ``MalformedXML`` for a bad body (see the module docstring), no ``<Part>``, a
            part without ``<PartNumber>`` or ``<ETag>``, or a part number that is not an
            integer; ``InvalidArgument`` for a part number outside 1..10000;
            ``InvalidPartOrder`` when part numbers do not strictly ascend.

    """
    document = "CompleteMultipartUpload"
    root = _parse(body, document, "CompleteMultipartUpload", _COMPLETE_SHAPE)
    parts: list[tuple[int, str]] = []
    for child in root:
        if _local(child.tag) != "Part":
            continue
        place = f"part #{len(parts) + 1}"
        number_element = _only_child(child, "PartNumber", document, place, _COMPLETE_SHAPE)
        etag_element = _only_child(child, "ETag", document, place, _COMPLETE_SHAPE)
        if number_element is None or etag_element is None:
            raise _malformed(
                document, f"has {place} without <PartNumber> or <ETag>", _COMPLETE_SHAPE
            )
        text = (number_element.text or "").strip()
        if not _PART_NUMBER.fullmatch(text):
            raise _malformed(
                document,
                f"has {place} with <PartNumber>{text}</PartNumber>, which is not an integer",
                _COMPLETE_SHAPE,
            )
        # A long digit string is out of range whatever its value; int() is not asked to
        # convert thousands of digits.
        number = int(text) if len(text) <= 7 else MAX_PART_NUMBER + 1
        if not 1 <= number <= MAX_PART_NUMBER:
            raise S3Error(
                "InvalidArgument",
                f"the {document} body has {place} with part number {text}; part numbers are "
                f"integers from 1 to {MAX_PART_NUMBER}",
                argument="PartNumber",
            )
        etag = (etag_element.text or "").strip().strip('"')
        if not etag:
            raise _malformed(document, f"has {place} with an empty <ETag>", _COMPLETE_SHAPE)
        if parts and number <= parts[-1][0]:
            raise S3Error(
                "InvalidPartOrder",
                f"the {document} body lists part {number} after part {parts[-1][0]}; list "
                f"each part once, in ascending part-number order",
            )
        parts.append((number, etag))
    if not parts:
        raise _malformed(document, "lists no <Part>", _COMPLETE_SHAPE)
    return parts


def parse_complete_checksums(body: bytes) -> dict[int, dict[str, str]]:
    """The part checksums a CompleteMultipartUpload body lists: part number → algorithm →
    value (``<ChecksumCRC32C>`` and the like); call after :func:`parse_complete` accepted it.
    """
    root = _parse(body, "CompleteMultipartUpload", "CompleteMultipartUpload", _COMPLETE_SHAPE)
    out: dict[int, dict[str, str]] = {}
    for child in root:
        if _local(child.tag) != "Part":
            continue
        number = next((c.text for c in child if _local(c.tag) == "PartNumber"), None)
        found = {
            _local(c.tag)[len("Checksum") :].upper(): (c.text or "").strip()
            for c in child
            if _local(c.tag).startswith("Checksum")
            and _local(c.tag)[len("Checksum") :].upper() in ALGORITHMS
        }
        if number is not None and found:
            out[int(number.strip())] = found
    return out
