"""Object checksums of the S3 gateway: compute, compose, compare and render them.

S3's additional checksums are CRC32, CRC32C, CRC64NVME, SHA1 and SHA256, each the base64 of
the big-endian digest. An object's checksum has a type:

- ``FULL_OBJECT``: the digest of all its bytes. Every PutObject, and a multipart upload
  created with ``x-amz-checksum-type: FULL_OBJECT`` (CRC types only), whose value is the
  parts' CRCs combined as if computed over the whole object (no byte is read again).
- ``COMPOSITE``: the digest of the parts' digests, concatenated, followed by ``-N`` (the
  number of parts): the default of a multipart upload with CRC32, CRC32C, SHA1 or SHA256.
  CRC64NVME is FULL_OBJECT only, as in S3.

An object stored without a declared algorithm gets a CRC64NVME FULL_OBJECT checksum, as S3
gives every new object since 2025. CRC32C, CRC64NVME and combining CRCs come from ``awscrt``,
the AWS library botocore itself uses for them.

Pure: no I/O; table-tested in ``tests/unit/test_gateway_checksums.py``.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from awscrt import checksums as _crt  # type: ignore[import-untyped]

from pachstream.gateway._errors import S3Error

__all__ = [
    "ALGORITHMS",
    "COMPOSITE",
    "DEFAULT_ALGORITHM",
    "FULL_OBJECT",
    "Checksum",
    "Hasher",
    "composite",
    "declared",
    "digest",
    "full_object",
    "header_name",
    "parse_algorithm",
    "unb64",
    "upload_type",
]

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
"""S3's checksum algorithms, by the names its API uses."""
DEFAULT_ALGORITHM = "CRC64NVME"
"""The checksum of an object whose client declared none (S3's default since 2025)."""
FULL_OBJECT = "FULL_OBJECT"
COMPOSITE = "COMPOSITE"

SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
"""Digest size of each algorithm, in bytes."""

# A CRC is (update(data, previous) -> int, combine(crc1, crc2, len2) -> int).
_CRCS: dict[str, tuple[Callable[[bytes, int], int], Callable[[int, int, int], int]]] = {
    "CRC32": (zlib.crc32, _crt.combine_crc32),
    "CRC32C": (_crt.crc32c, _crt.combine_crc32c),
    "CRC64NVME": (_crt.crc64nvme, _crt.combine_crc64nvme),
}
_SHAS: dict[str, Callable[[], Any]] = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256}


def header_name(algorithm: str) -> str:
    """The header (and trailer) carrying a checksum: ``x-amz-checksum-crc32c``."""
    return f"x-amz-checksum-{algorithm.lower()}"


def parse_algorithm(value: str, where: str) -> str:
    """An algorithm named by a client (any case), or InvalidRequest naming ``where``."""
    name = value.strip().upper()
    if name not in ALGORITHMS:
        raise S3Error(
            "InvalidRequest",
            f"{where} '{value}' is not a checksum algorithm; use one of {', '.join(ALGORITHMS)}",
        )
    return name


class Hasher:
    """Digests of several algorithms over bytes fed in pieces."""

    def __init__(self, algorithms: Iterable[str]) -> None:
        self._crcs: dict[str, int] = {}
        self._shas: dict[str, Any] = {}
        for algorithm in algorithms:
            if algorithm in _CRCS:
                self._crcs[algorithm] = 0
            else:
                self._shas[algorithm] = _SHAS[algorithm]()

    def update(self, data: bytes) -> None:
        """Feed the next bytes."""
        for algorithm, crc in self._crcs.items():
            self._crcs[algorithm] = _CRCS[algorithm][0](data, crc)
        for sha in self._shas.values():
            sha.update(data)

    def digests(self) -> dict[str, bytes]:
        """Each algorithm's digest of the bytes fed so far."""
        out = {a: crc.to_bytes(SIZES[a], "big") for a, crc in self._crcs.items()}
        out.update({a: sha.digest() for a, sha in self._shas.items()})
        return out

    def values(self) -> dict[str, str]:
        """Each algorithm's digest as S3 writes it (base64)."""
        return {a: _b64(d) for a, d in self.digests().items()}

    @classmethod
    def of(cls, data: bytes, algorithms: Iterable[str]) -> dict[str, str]:
        """Each algorithm's digest of ``data``, as S3 writes it (base64)."""
        hasher = cls(algorithms)
        hasher.update(data)
        return hasher.values()


def digest(algorithm: str, data: bytes) -> bytes:
    """The digest of ``data`` by ``algorithm``."""
    hasher = Hasher([algorithm])
    hasher.update(data)
    return hasher.digests()[algorithm]


@dataclass(frozen=True, slots=True)
class Checksum:
    """An object's (or a part's) checksum, as stored and returned."""

    algorithm: str
    """One of :data:`ALGORITHMS`."""
    type: str
    """:data:`FULL_OBJECT` or :data:`COMPOSITE`."""
    value: str
    """Base64 of the digest; a COMPOSITE one ends with ``-N``, the number of parts."""

    def headers(self) -> dict[str, str]:
        """The answer's headers: ``x-amz-checksum-ALG`` and ``x-amz-checksum-type``."""
        return {header_name(self.algorithm): self.value, "x-amz-checksum-type": self.type}

    def matches(self, claimed: str) -> bool:
        """Whether a client's value is this checksum (a composite one with or without -N)."""
        claimed = claimed.strip()
        return claimed == self.value or (
            self.type == COMPOSITE and claimed == self.value.rpartition("-")[0]
        )

    def to_json(self) -> dict[str, str]:
        """The stored form."""
        return {"algorithm": self.algorithm, "type": self.type, "value": self.value}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Checksum:
        """Read the stored form back."""
        return cls(algorithm=data["algorithm"], type=data["type"], value=data["value"])


def declared(headers: Mapping[str, str], trailers: Mapping[str, str]) -> list[str]:
    """The algorithms a request's body declares, in the order S3 lists them.

    A value header or trailer (``x-amz-checksum-crc32c``), the trailer announced by
    ``x-amz-trailer``, and ``x-amz-sdk-checksum-algorithm`` each declare one.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    names = set(lowered) | {k.lower() for k in trailers}
    names |= {n.strip().lower() for n in lowered.get("x-amz-trailer", "").split(",")}
    found = [a for a in ALGORITHMS if header_name(a) in names]
    sdk = lowered.get("x-amz-sdk-checksum-algorithm")
    if sdk:
        algorithm = parse_algorithm(sdk, "x-amz-sdk-checksum-algorithm")
        if algorithm not in found:
            found.append(algorithm)
    return found


def upload_type(algorithm: str | None, requested: str | None) -> str | None:
    """The checksum type of a multipart upload created with ``algorithm`` and
    ``x-amz-checksum-type`` ``requested`` (None: no algorithm, so no declared type).

    Raises:
        S3Error: ``InvalidRequest`` for a type without an algorithm, an unknown type, or a
            combination S3 refuses (CRC64NVME composite, SHA full-object).

    """
    kind = requested.strip().upper() if requested else None
    if kind is not None and kind not in (FULL_OBJECT, COMPOSITE):
        raise S3Error(
            "InvalidRequest",
            f"x-amz-checksum-type '{requested}' is not a checksum type; use FULL_OBJECT or "
            "COMPOSITE",
        )
    if algorithm is None:
        if kind is not None:
            raise S3Error(
                "InvalidRequest",
                f"x-amz-checksum-type {kind} needs x-amz-checksum-algorithm too",
            )
        return None
    if kind is None:
        return FULL_OBJECT if algorithm == "CRC64NVME" else COMPOSITE
    if kind == COMPOSITE and algorithm == "CRC64NVME":
        raise S3Error(
            "InvalidRequest",
            "CRC64NVME checksums are FULL_OBJECT only; drop x-amz-checksum-type or ask for "
            "FULL_OBJECT",
        )
    if kind == FULL_OBJECT and algorithm not in _CRCS:
        raise S3Error(
            "InvalidRequest",
            f"{algorithm} cannot be a FULL_OBJECT checksum of a multipart upload (the parts' "
            "digests cannot be combined); use COMPOSITE, or a CRC algorithm",
        )
    return kind


def composite(algorithm: str, parts: list[bytes]) -> Checksum:
    """The COMPOSITE checksum of an object from its parts' digests, in part order."""
    return Checksum(
        algorithm=algorithm,
        type=COMPOSITE,
        value=f"{_b64(digest(algorithm, b''.join(parts)))}-{len(parts)}",
    )


def full_object(algorithm: str, parts: list[tuple[bytes, int]]) -> Checksum:
    """The FULL_OBJECT CRC of an object from its parts' (digest, size), in part order: the
    CRC of all the bytes, combined from the parts' without reading them again.
    """
    combine = _CRCS[algorithm][1]
    crc = 0
    for i, (part, size) in enumerate(parts):
        value = int.from_bytes(part, "big")
        crc = value if i == 0 else combine(crc, value, size)
    return Checksum(
        algorithm=algorithm, type=FULL_OBJECT, value=_b64(crc.to_bytes(SIZES[algorithm], "big"))
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(value: str) -> bytes:
    """The digest a base64 checksum value holds (a composite's ``-N`` dropped)."""
    return base64.b64decode(value.partition("-")[0])
