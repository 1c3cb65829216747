"""The request documents of S3's API, parsed: DeleteObjects, CompleteMultipartUpload,
CreateBucket's configuration.

Parsers read client bodies, which may be hostile: bodies over :data:`MAX_BODY` bytes, any
DOCTYPE (the door to entity expansion), non-UTF-8 and malformed XML are refused with
``MalformedXML`` before or while ElementTree parses. Elements are matched by local name, so
a body with or without S3's namespace reads the same. Pure: no I/O.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from pachstream.gateway._checksums import ALGORITHMS
from pachstream.gateway._conditions import DeleteCondition, delete_condition
from pachstream.gateway._errors import S3Error

__all__ = [
    "MAX_BODY",
    "MAX_DELETE_OBJECTS",
    "MAX_PART_NUMBER",
    "parse_complete",
    "parse_complete_checksums",
    "parse_delete",
    "parse_delete_entries",
    "parse_location_constraint",
]

MAX_BODY = 2 * 1024 * 1024
"""Largest request body the parsers accept, in bytes (1000 keys of 1 KiB fit comfortably)."""

MAX_DELETE_OBJECTS = 1000
"""Most keys one DeleteObjects request may name, as in S3."""

MAX_PART_NUMBER = 10000
"""Highest part number of a multipart upload, as in S3."""


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
