"""Object metadata of the S3 gateway: what a write stores beside the bytes, what a read returns.

S3 keeps with each object its system metadata (``Content-Type``, ``Content-Encoding``,
``Content-Disposition``, ``Content-Language``, ``Cache-Control``, ``Expires``), its user
metadata (``x-amz-meta-*``, at most 2 KB), its checksum and, for a multipart object, its
parts. The gateway keeps them in an :class:`ObjectRecord`, stored in its own table keyed by
(repo, path, content hash), never in the commit tree: ``pachstream get file``, lineage and
the content hash stay those of the bytes.

Pure: parsing request headers, rendering answer headers, the stored form; no I/O.
"""

from __future__ import annotations

import os.path
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pachstream.gateway._checksums import Checksum
from pachstream.gateway._errors import S3Error

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "MAX_USER_METADATA",
    "RESPONSE_OVERRIDES",
    "SYSTEM_HEADERS",
    "UNSUPPORTED_HEADERS",
    "HeaderRule",
    "ObjectRecord",
    "Part",
    "metadata_directive",
    "parse_metadata",
    "parse_part_number",
    "part_range",
    "read_headers",
    "refuse_unsupported",
    "response_overrides",
]

SYSTEM_HEADERS = (
    "Content-Type",
    "Content-Encoding",
    "Content-Disposition",
    "Content-Language",
    "Cache-Control",
    "Expires",
)
"""The request headers a write stores and a read returns, as S3 does."""
USER_PREFIX = "x-amz-meta-"
MAX_USER_METADATA = 2048
"""Most bytes of user metadata (names without ``x-amz-meta-``, plus values, in UTF-8)."""
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
"""Content-Type of an object stored without one, as S3 answers."""
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
"""GetObject's query parameters that set a header of the answer."""
_TRANSFER_CODINGS = frozenset({"aws-chunked"})
"""Content-Encoding tokens that describe the request's framing, not the object (S3 drops them)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a multipart object."""

    size: int
    checksums: Mapping[str, str] = field(default_factory=dict)
    """Algorithm → base64 digest of the part's bytes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectRecord:
    """What the gateway keeps of an object beside its bytes."""

    headers: Mapping[str, str] = field(default_factory=dict)
    """System headers under their canonical names, user metadata as ``x-amz-meta-name``
    (lower case), in the order they came."""
    checksum: Checksum | None = None
    """The object's checksum (None: none known, e.g. a file written by ``put file``)."""
    parts: tuple[Part, ...] = ()
    """The parts of a multipart object, in order (empty: not multipart)."""

    def to_json(self) -> dict[str, Any]:
        """The stored form (columns ``meta``, ``checksum``, ``parts``)."""
        return {
            "meta": dict(self.headers),
            "checksum": None if self.checksum is None else self.checksum.to_json(),
            "parts": [[p.size, dict(p.checksums)] for p in self.parts] or None,
        }

    @classmethod
    def from_json(
        cls, meta: Mapping[str, str] | None, checksum: Mapping[str, str] | None, parts: Any
    ) -> ObjectRecord:
        """Read the stored form back."""
        return cls(
            headers=dict(meta or {}),
            checksum=None if checksum is None else Checksum.from_json(checksum),
            parts=tuple(Part(size, dict(sums)) for size, sums in parts or ()),
        )


def parse_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """The metadata a write (PutObject, CreateMultipartUpload, CopyObject with REPLACE)
    stores, from its request headers.

    ``Content-Encoding`` loses its ``aws-chunked`` token (the request's framing); user
    metadata names are lower-cased, as S3 returns them.

    Raises:
        S3Error: ``MetadataTooLarge`` when the user metadata passes 2 KB.

    """
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        lowered.setdefault(name.lower(), value)
    out: dict[str, str] = {}
    for name in SYSTEM_HEADERS:
        found = lowered.get(name.lower())
        if found is None:
            continue
        value = found
        if name == "Content-Encoding":
            tokens = [t.strip() for t in value.split(",")]
            value = ", ".join(t for t in tokens if t and t.lower() not in _TRANSFER_CODINGS)
            if not value:
                continue
        out[name] = value
    size = 0
    for name, value in lowered.items():
        if name.startswith(USER_PREFIX) and len(name) > len(USER_PREFIX):
            if not _is_utf8(value):
                raise S3Error(
                    "InvalidArgument",
                    f"header {name}: its value is not UTF-8 (the gateway stores and returns "
                    "metadata as the UTF-8 bytes sent); send UTF-8, or RFC 2047-encode it",
                    argument=name,
                )
            out[name] = value.strip()
            size += len(name[len(USER_PREFIX) :].encode()) + len(out[name].encode())
    if size > MAX_USER_METADATA:
        raise S3Error(
            "MetadataTooLarge",
            f"the x-amz-meta-* headers hold {size} bytes of user metadata (names and values); "
            f"at most {MAX_USER_METADATA} are allowed, so store larger data in the object",
            size=size,
        )
    return out


def _is_utf8(value: str) -> bool:
    """Whether a header value came as UTF-8 (aiohttp decodes the bytes as UTF-8 with
    ``surrogateescape``, so any other byte shows as a lone surrogate).
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def metadata_directive(headers: Mapping[str, str]) -> str:
    """CopyObject's ``x-amz-metadata-directive``: ``COPY`` (the default) or ``REPLACE``."""
    value = next((v for k, v in headers.items() if k.lower() == "x-amz-metadata-directive"), None)
    directive = (value or "COPY").strip().upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error(
            "InvalidArgument",
            f"x-amz-metadata-directive '{value}' is not COPY or REPLACE",
            argument="x-amz-metadata-directive",
        )
    return directive


def read_headers(record: ObjectRecord | None) -> dict[str, str]:
    """The metadata headers of a GET or HEAD answer (Content-Type at least)."""
    headers = {"Content-Type": DEFAULT_CONTENT_TYPE}
    if record is not None:
        headers.update(record.headers)
    return headers


def response_overrides(query: Mapping[str, str], signed: bool) -> dict[str, str]:
    """The headers GetObject's ``response-*`` parameters set.

    S3 honours them only on signed requests (an ``Authorization`` header or a presigned
    URL); an anonymous request that uses them is refused with ``InvalidRequest``.
    """
    found = {RESPONSE_OVERRIDES[p]: v for p, v in query.items() if p in RESPONSE_OVERRIDES}
    if found and not signed:
        raise S3Error(
            "InvalidRequest",
            f"{', '.join(p for p in query if p in RESPONSE_OVERRIDES)}: request-specific "
            "response headers cannot be used on anonymous requests; sign the request or use "
            "a presigned URL",
        )
    return found


def parse_part_number(value: str | None) -> int | None:
    """GetObject's and HeadObject's ``partNumber`` (None when absent)."""
    if value is None:
        return None
    number = int(value) if value.isdigit() and len(value) <= 5 else 0
    if not 1 <= number <= 10000:
        raise S3Error(
            "InvalidArgument",
            f"partNumber '{value}' is not an integer from 1 to 10000",
            argument="partNumber",
        )
    return number


def part_range(record: ObjectRecord | None, size: int, number: int) -> tuple[int, int, int]:
    """The bytes of part ``number`` of an object, as ``(start, end_inclusive, parts)``.

    An object stored in one piece has one part, itself.

    Raises:
        S3Error: ``InvalidPart`` when the object has no such part.

    """
    parts = [p.size for p in record.parts] if record is not None and record.parts else [size]
    if number > len(parts):
        raise S3Error(
            "InvalidPart",
            f"the object has {len(parts)} part{'s' if len(parts) > 1 else ''}, so part "
            f"{number} does not exist; ask for a partNumber from 1 to {len(parts)}",
            argument="partNumber",
        )
    start = sum(parts[: number - 1])
    return start, start + parts[number - 1] - 1, len(parts)


_WRITES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})
_SSE_C_OPS = _WRITES | {
    "GetObject",
    "HeadObject",
    "GetObjectAttributes",
    "UploadPart",
    "UploadPartCopy",
}


@dataclass(frozen=True, slots=True)
class HeaderRule:
    """A request header the gateway does not implement, and when it is refused."""

    name: str
    """The header, lower case; with ``prefix`` every header starting with it."""
    operations: frozenset[str]
    """The operations it is refused on."""
    why: str
    """What pachstream does instead, or the fix: the end of the refusal's message."""
    accepted: frozenset[str] = frozenset()
    """Values taken as a no-op (they ask for what the gateway does anyway)."""
    prefix: bool = False


UNSUPPORTED_HEADERS: tuple[HeaderRule, ...] = (
    HeaderRule(
        "x-amz-server-side-encryption-customer-",
        _SSE_C_OPS,
        "server-side encryption with customer keys (SSE-C) is not supported; encrypt on "
        "the client, or send the request without it",
        prefix=True,
    ),
    HeaderRule(
        "x-amz-copy-source-server-side-encryption-customer-",
        frozenset({"CopyObject", "UploadPartCopy"}),
        "copy sources are never SSE-C encrypted in pachstream; send the copy without it",
        prefix=True,
    ),
    HeaderRule(
        "x-amz-server-side-encryption",
        _WRITES,
        "server-side encryption is not supported (the gateway stores what it is sent); "
        "encrypt on the client, or send the request without it",
        prefix=True,
    ),
    HeaderRule(
        "x-amz-object-lock-",
        _WRITES,
        "object lock (retention, legal hold) is not supported: pachstream keeps every "
        "commit, so read the past through a commit bucket instead",
        prefix=True,
    ),
    HeaderRule(
        "x-amz-tagging",
        _WRITES,
        "object tags are not supported; keep them in x-amz-meta-* metadata",
        accepted=frozenset({""}),
    ),
    HeaderRule(
        "x-amz-tagging-directive",
        frozenset({"CopyObject"}),
        "object tags are not supported; send the copy without it",
        accepted=frozenset({"COPY"}),
    ),
    HeaderRule(
        "x-amz-acl",
        _WRITES,
        "the gateway has one owner and no ACLs; only 'private' and "
        "'bucket-owner-full-control' (what every object has) are accepted",
        accepted=frozenset({"private", "bucket-owner-full-control"}),
    ),
    HeaderRule(
        "x-amz-grant-",
        _WRITES,
        "the gateway has one owner and no ACLs; send the request without grants",
        prefix=True,
    ),
    HeaderRule(
        "x-amz-storage-class",
        _WRITES,
        "the gateway has one storage class; send STANDARD or nothing",
        accepted=frozenset({"STANDARD"}),
    ),
    HeaderRule(
        "x-amz-website-redirect-location",
        _WRITES,
        "buckets are not websites; send the request without it",
    ),
)
"""Request headers the gateway refuses (501 NotImplemented) rather than ignore."""
_UNSUPPORTED_PREFIX = os.path.commonprefix([rule.name for rule in UNSUPPORTED_HEADERS])
"""What every refused header starts with (``x-amz-``): the rest are passed at a glance."""


def refuse_unsupported(headers: Mapping[str, str], operation: str) -> None:
    """Refuse a request that carries a header of :data:`UNSUPPORTED_HEADERS` for its
    operation, with a value it does not accept.

    Raises:
        S3Error: ``NotImplemented`` (501) naming the header.

    """
    for name, value in headers.items():
        lowered = name.lower()
        if not lowered.startswith(_UNSUPPORTED_PREFIX):
            continue
        for rule in UNSUPPORTED_HEADERS:
            if operation not in rule.operations:
                continue
            if not (lowered.startswith(rule.name) if rule.prefix else lowered == rule.name):
                continue
            if value.strip() in rule.accepted:
                break
            raise S3Error(
                "NotImplemented",
                f"{operation}: header {lowered}: {value!r} is not implemented: {rule.why}",
                header=lowered,
            )
