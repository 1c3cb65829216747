"""The request body's framing and integrity: aws-chunked decoding with its chunk and trailer
signatures (AWS Signature Version 4, see :mod:`~._sigv4`), and the checksum headers and
trailers (``Content-MD5``, ``x-amz-checksum-*``) checked against the decoded payload.

Pure functions; :func:`~._body.read_payload` drives them after :func:`~._sigv4.verify_request`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from functools import partial

from pachstream.gateway import _checksums as sums
from pachstream.gateway._errors import S3Error
from pachstream.gateway._sigv4 import (
    _FIX_SIGNING,
    _HEX,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    SignedRequest,
    _lower_headers,
)
from pachstream.sigv4 import EMPTY_SHA256

__all__ = ["check_checksums", "decode_aws_chunked", "is_aws_chunked"]


def is_aws_chunked(headers: Mapping[str, str]) -> bool:
    """Tell whether a request's body is aws-chunked framed: a ``STREAMING-…`` payload hash.

    That is, its ``x-amz-content-sha256`` is one of the ``STREAMING-…`` values.
    ``Content-Encoding: aws-chunked`` alone does not say so: S3 takes it as metadata to drop
    (a PUT with ``Content-Encoding: gzip, aws-chunked`` and the body's own sha256 stores the
    body as sent, with ``Content-Encoding: gzip``), and the payload hash is the part of the
    request that the signature covers and that names the framing.
    """
    return headers.get("x-amz-content-sha256", "").startswith("STREAMING-")


def decode_aws_chunked(body: bytes, signed: SignedRequest | None) -> tuple[bytes, dict[str, str]]:
    r"""Decode a ``Content-Encoding: aws-chunked`` body, checking chunk signatures if signed.

    The body is ``hex-size[;chunk-signature=sig]\r\n data \r\n`` per chunk, a zero-size
    chunk, then trailer lines ``name:value\r\n`` (an optional ``x-amz-trailer-signature``
    last) and an empty line. When ``signed.payload`` is ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``
    or its ``-TRAILER`` variant, each chunk signature chains from the previous one, starting
    at the request's signature; the trailer signature chains from the zero chunk's.

    Args:
        body: The raw request body.
        signed: The verified request; None (or an unsigned payload) decodes without checks.

    Returns:
        The decoded payload and the trailers (names lower-cased, without the signature).

    Raises:
        S3Error: ``IncompleteBody`` when the body ends early, ``InvalidArgument`` when its
            framing is malformed, ``SignatureDoesNotMatch`` when a signature is wrong or
            missing.

    """
    verifier = signed if signed and signed.payload.startswith(STREAMING_SIGNED) else None
    previous = verifier.seed_signature if verifier else ""
    chunks: list[bytes] = []
    pos = 0
    while True:
        index = len(chunks)
        line, pos = _read_line(body, pos, f"the header of chunk {index}")
        size, signature = _parse_chunk_header(line, index)
        if len(body) - pos < size:
            raise S3Error(
                "IncompleteBody",
                f"chunk {index} declares {size} bytes but the body has only {len(body) - pos} "
                "left; the upload was cut short, so send it again",
            )
        data = body[pos : pos + size]
        pos += size
        # Framing first, so a broken body gets the same answer whether it is signed or not.
        if size and body[pos : pos + 2] != b"\r\n":
            raise _framing(body, pos, f"after the data of chunk {index}")
        if verifier:
            previous = _check_chunk(verifier, previous, index, signature, data)
        if size == 0:
            break
        pos += 2
        chunks.append(data)
    trailers, trailer_signature, canonical = _read_trailers(body, pos)
    if verifier and verifier.payload == STREAMING_SIGNED_TRAILER:
        _check_trailer(verifier, previous, trailer_signature, canonical)
    return b"".join(chunks), trailers


def _read_line(body: bytes, pos: int, what: str) -> tuple[bytes, int]:
    end = body.find(b"\r\n", pos)
    if end < 0:
        raise S3Error(
            "IncompleteBody",
            f"the aws-chunked body ends inside {what} (no CRLF after byte {pos}); the upload "
            "was cut short, so send it again",
        )
    return body[pos:end], end + 2


def _parse_chunk_header(line: bytes, index: int) -> tuple[int, str | None]:
    size_text, *extensions = line.split(b";")
    size_text = size_text.strip()
    # int(x, 16) would also take '0x1f', '1_f' and signs, none of which is a chunk size.
    if not 0 < len(size_text) <= 16 or not all(chr(c) in _HEX for c in size_text):
        raise S3Error(
            "InvalidArgument",
            f"chunk {index} of the aws-chunked body has the header {line[:80]!r}; it must "
            "start with the chunk size in hex",
        )
    signature = None
    for extension in extensions:
        name, _, value = extension.strip().partition(b"=")
        if name == b"chunk-signature":
            signature = value.decode("ascii", "replace")
    return int(size_text, 16), signature


def _framing(body: bytes, pos: int, where: str) -> S3Error:
    if len(body) - pos < 2:
        return S3Error(
            "IncompleteBody",
            f"the aws-chunked body ends {where}; the upload was cut short, so send it again",
        )
    return S3Error(
        "InvalidArgument",
        f"the aws-chunked body has {body[pos : pos + 8]!r} {where} where CRLF belongs; the "
        "chunk is longer than its declared size or the framing is broken",
    )


def _read_trailers(body: bytes, pos: int) -> tuple[dict[str, str], str | None, str]:
    trailers: dict[str, str] = {}
    signature = None
    canonical: list[tuple[str, str]] = []
    while True:
        if pos == len(body) and (trailers or signature):
            # Tolerate a body that ends right after its last trailer, without the empty line:
            # the data and its checksum are complete by then, so nothing is lost.
            break
        line, pos = _read_line(body, pos, "the trailers")
        if not line:
            break
        name_bytes, sep, value_bytes = line.partition(b":")
        name = name_bytes.decode("latin-1").strip().lower()
        if not sep or not name:
            raise S3Error(
                "InvalidArgument",
                f"the aws-chunked trailer line {line[:80]!r} is not 'name:value'",
            )
        value = value_bytes.decode("latin-1").strip()
        if name == "x-amz-trailer-signature":
            signature = value
        else:
            trailers[name] = value
            canonical.append((name, value))
    if pos != len(body):
        raise S3Error(
            "InvalidArgument",
            f"the aws-chunked body has {len(body) - pos} bytes after its final empty line; "
            "it must end there",
        )
    # Signers canonicalise trailers as they do headers: sorted, one "name:value\n" each.
    return trailers, signature, "".join(f"{name}:{value}\n" for name, value in sorted(canonical))


def _check_chunk(
    signed: SignedRequest, previous: str, index: int, signature: str | None, data: bytes
) -> str:
    string_to_sign = "\n".join(
        (
            "AWS4-HMAC-SHA256-PAYLOAD",
            signed.amz_date,
            signed.scope,
            previous,
            EMPTY_SHA256,
            hashlib.sha256(data).hexdigest(),
        )
    )
    return _check_signature(signed, string_to_sign, signature, f"chunk {index}")


def _check_trailer(
    signed: SignedRequest, previous: str, signature: str | None, canonical: str
) -> None:
    # botocore cannot sign trailers, so this follows AWS "Signature calculations for trailing
    # headers"; the tests check it against that page's worked example.
    string_to_sign = "\n".join(
        (
            "AWS4-HMAC-SHA256-TRAILER",
            signed.amz_date,
            signed.scope,
            previous,
            hashlib.sha256(canonical.encode()).hexdigest(),
        )
    )
    _check_signature(signed, string_to_sign, signature, "the trailers")


def _check_signature(
    signed: SignedRequest, string_to_sign: str, signature: str | None, what: str
) -> str:
    expected = hmac.new(signed.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if signature is None:
        raise S3Error(
            "SignatureDoesNotMatch",
            f"{what} of the aws-chunked body carries no signature although X-Amz-Content-SHA256 "
            f"is {signed.payload}; {_FIX_SIGNING} (access key {signed.access_key!r})",
        )
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise S3Error(
            "SignatureDoesNotMatch",
            f"the signature of {what} of the aws-chunked body does not match the one we "
            f"calculated; the body was changed in transit, or {_FIX_SIGNING} "
            f"(access key {signed.access_key!r})",
        )
    return expected


_DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    **{sums.header_name(a): partial(sums.digest, a) for a in sums.ALGORITHMS},
    "content-md5": lambda data: hashlib.md5(data, usedforsecurity=False).digest(),
}
_DIGEST_SIZES = {**{sums.header_name(a): sums.SIZES[a] for a in sums.ALGORITHMS}, "content-md5": 16}


def check_checksums(
    payload: bytes, headers: Mapping[str, str], trailers: Mapping[str, str]
) -> None:
    """Check the body's integrity headers and trailers against the decoded payload.

    Checks ``Content-MD5`` and ``x-amz-checksum-crc32``, ``-crc32c``, ``-crc64nvme``,
    ``-sha1``, ``-sha256`` wherever present, that every trailer named in ``x-amz-trailer``
    arrived, and that ``x-amz-decoded-content-length`` matches. Call it only where these
    headers describe the request body: on CompleteMultipartUpload, ``x-amz-checksum-*``
    describe the whole object.

    Raises:
        S3Error: ``BadDigest`` on a mismatch or a malformed checksum, ``InvalidDigest``
            when ``Content-MD5`` is not the base64 of 16 bytes, ``IncompleteBody`` when a
            declared trailer or length does not match.

    """
    lowered_headers = _lower_headers(headers)
    lowered_trailers = {name.lower(): value for name, value in trailers.items()}
    declared = lowered_headers.get("x-amz-trailer", "")
    for name in (n.strip().lower() for n in declared.split(",") if n.strip()):
        if name not in lowered_trailers:
            raise S3Error(
                "IncompleteBody",
                f"x-amz-trailer announces the trailer {name!r} but the body does not end with "
                "it; the upload was cut short or the client is broken",
            )
    length = lowered_headers.get("x-amz-decoded-content-length")
    if length is not None and length.strip() != str(len(payload)):
        raise S3Error(
            "IncompleteBody",
            f"x-amz-decoded-content-length is {length} but the decoded body has "
            f"{len(payload)} bytes; the upload was cut short, so send it again",
        )
    for source, values in (("header", lowered_headers), ("trailer", lowered_trailers)):
        for name, digest in _DIGESTS.items():
            if name in values:
                _check_digest(name, source, values[name], digest(payload))


def _check_digest(name: str, source: str, value: str, actual: bytes) -> None:
    # A malformed Content-MD5 is S3's InvalidDigest; a malformed x-amz-checksum-* value
    # cannot match the body either, and is BadDigest (what Ceph's s3-tests expect of S3).
    malformed = "InvalidDigest" if name == "content-md5" else "BadDigest"
    try:
        claimed = base64.b64decode(value.strip(), validate=True)
    except ValueError as exc:
        raise S3Error(
            malformed,
            f"the {name} {source} {value!r} is not base64; send the base64 of the "
            f"{_DIGEST_SIZES[name]}-byte digest",
        ) from exc
    if len(claimed) != _DIGEST_SIZES[name]:
        raise S3Error(
            malformed,
            f"the {name} {source} {value!r} decodes to {len(claimed)} bytes; send the base64 "
            f"of the {_DIGEST_SIZES[name]}-byte digest",
        )
    if not hmac.compare_digest(claimed, actual):
        raise S3Error(
            "BadDigest",
            f"the {name} {source} is {value} but the body's is "
            f"{base64.b64encode(actual).decode()}; the body was changed or cut in transit, so "
            "send it again",
        )
