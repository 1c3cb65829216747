"""GetObjectAttributes of the S3 gateway: which attributes a request asks for, and the answer.

``GET /BUCKET/KEY?attributes`` names what it wants in ``x-amz-object-attributes`` (a comma
list of ``ETag``, ``Checksum``, ``ObjectParts``, ``StorageClass``, ``ObjectSize``) and pages
the parts with ``x-amz-max-parts`` and ``x-amz-part-number-marker``. Everything comes from
what the gateway already keeps: the tree's entry (hash = ETag, size) and the object's record
in ``s3_objects`` (checksum, and each part's size and checksums for a multipart object).

As in S3: ``ObjectParts`` is answered only for an object made by a multipart upload (one
stored in one piece has no parts to list); the ETag is bare (no quotes); ``Checksum`` is
left out when the object has none stored (written around the gateway, or before it kept
them); the storage class is always ``STANDARD``.

Pure: no I/O; table-tested in ``tests/unit/test_gateway_attributes.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pachstream.gateway._errors import S3Error
from pachstream.gateway._metadata import ObjectRecord
from pachstream.gateway._xmlwrite import Element, document

__all__ = [
    "ATTRIBUTES",
    "MAX_PARTS",
    "PartsPage",
    "attributes_xml",
    "parse_attributes",
    "parse_parts_page",
]

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
"""The attributes S3 answers, in the order of its answer."""
MAX_PARTS = 1000
"""Most parts one answer lists (the default of ``x-amz-max-parts``), as in S3."""

_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
_BY_LOWER = {a.lower(): a for a in ATTRIBUTES}


@dataclass(frozen=True, slots=True)
class PartsPage:
    """Which parts an answer lists: those numbered above ``marker``, at most ``max_parts``."""

    max_parts: int = MAX_PARTS
    """``x-amz-max-parts``."""
    marker: int = 0
    """``x-amz-part-number-marker``: list the parts after this number."""


def parse_attributes(headers: Mapping[str, str]) -> frozenset[str]:
    """Read the attributes ``x-amz-object-attributes`` asks for (names in any case).

    Raises:
        S3Error: ``InvalidArgument`` when the header is missing or empty, or names an
            attribute S3 does not have.

    """
    raw = headers.get("x-amz-object-attributes", "")
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if not names:
        raise S3Error(
            "InvalidArgument",
            "GetObjectAttributes needs the x-amz-object-attributes header naming what to "
            f"return: one or more of {', '.join(ATTRIBUTES)}",
            argument="x-amz-object-attributes",
        )
    unknown = [n for n in names if n.lower() not in _BY_LOWER]
    if unknown:
        raise S3Error(
            "InvalidArgument",
            f"x-amz-object-attributes names {', '.join(repr(n) for n in unknown)}; the "
            f"attributes are {', '.join(ATTRIBUTES)}",
            argument="x-amz-object-attributes",
        )
    return frozenset(_BY_LOWER[n.lower()] for n in names)


def _int_header(headers: Mapping[str, str], name: str, default: int, most: int) -> int:
    value = headers.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) > most:
        raise S3Error(
            "InvalidArgument",
            f"{name} '{value}' is not an integer from 0 to {most}",
            argument=name,
        )
    return int(value)


def parse_parts_page(headers: Mapping[str, str]) -> PartsPage:
    """Read the page of parts asked for (``x-amz-max-parts``, ``x-amz-part-number-marker``).

    Raises:
        S3Error: ``InvalidArgument`` when either is not a number in range.

    """
    return PartsPage(
        max_parts=_int_header(headers, "x-amz-max-parts", MAX_PARTS, MAX_PARTS),
        marker=_int_header(headers, "x-amz-part-number-marker", 0, 10000),
    )


def attributes_xml(
    wanted: frozenset[str],
    *,
    etag: str,
    size: int,
    record: ObjectRecord | None,
    page: PartsPage = PartsPage(),  # noqa: B008 - frozen, never mutated
) -> bytes:
    """Render a GetObjectAttributes answer.

    Args:
        wanted: The attributes asked for (:func:`parse_attributes`).
        etag: The object's ETag, bare.
        size: The object's size in bytes.
        record: The object's stored record (checksum, parts); None when it has none.
        page: Which parts to list.

    """
    root = Element("GetObjectAttributesResponse", {"xmlns": _NAMESPACE})
    checksum = record.checksum if record is not None else None
    if "ETag" in wanted:
        root.text("ETag", etag)
    if "Checksum" in wanted and checksum is not None:
        element = root.child("Checksum")
        element.text(f"Checksum{checksum.algorithm}", checksum.value)
        element.text("ChecksumType", checksum.type)
    if "ObjectParts" in wanted and record is not None and record.parts:
        numbered = list(enumerate(record.parts, start=1))
        listed = [(n, p) for n, p in numbered if n > page.marker][: page.max_parts]
        truncated = bool(listed) and listed[-1][0] < len(numbered)
        element = root.child("ObjectParts")
        element.text("PartsCount", len(numbered))
        element.text("PartNumberMarker", page.marker)
        if truncated:
            element.text("NextPartNumberMarker", listed[-1][0])
        element.text("MaxParts", page.max_parts)
        element.text("IsTruncated", "true" if truncated else "false")
        for number, part in listed:
            item = element.child("Part")
            item.text("PartNumber", number)
            item.text("Size", part.size)
            # The part's checksum in the object's algorithm, as S3 lists it.
            value = part.checksums.get(checksum.algorithm) if checksum is not None else None
            if value is not None and checksum is not None:
                item.text(f"Checksum{checksum.algorithm}", value)
    if "StorageClass" in wanted:
        root.text("StorageClass", "STANDARD")
    if "ObjectSize" in wanted:
        root.text("ObjectSize", size)
    return document(root)
