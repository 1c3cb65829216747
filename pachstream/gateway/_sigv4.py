r"""AWS Signature Version 4 for the S3 gateway: verify a request and its signed payload hash.

Pure functions (the body's aws-chunked framing and checksums are in :mod:`~._chunked`); the
server drives them in this order::

    signed = verify_request(method, raw_path, query, headers, keys, now)   # on the head
    if is_aws_chunked(headers):                                # a STREAMING-* payload hash
        payload, trailers = decode_aws_chunked(body, signed)   # checks chunk signatures
    else:
        check_payload(signed, body)                           # checks x-amz-content-sha256
        payload, trailers = body, {}
    check_checksums(payload, headers, trailers)   # Content-MD5, x-amz-checksum-*

A request proves its key in one of two ways (S3 "Authenticating Requests (AWS Signature
Version 4)"):

- the ``Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`` header,
  with ``X-Amz-Date`` and ``X-Amz-Content-SHA256`` headers;
- a presigned URL: ``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``,
  ``X-Amz-Expires``, ``X-Amz-SignedHeaders`` and ``X-Amz-Signature`` query parameters, with
  the payload unsigned.

The canonical request, the string to sign and the key derivation are
:mod:`pachstream.sigv4`'s, which the object store signs with. Every failure raises
:class:`S3Error` with the code Amazon S3 answers in that case.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pachstream.gateway._errors import S3Error
from pachstream.sigv4 import (
    ALGORITHM,
    canonical_query,
    canonical_uri,
    credential_scope,
    signature,
    signing_key,
)

__all__ = [
    "ALGORITHM",
    "MAX_EXPIRES_S",
    "MAX_SKEW",
    "STREAMING_SIGNED",
    "STREAMING_SIGNED_TRAILER",
    "STREAMING_UNSIGNED_TRAILER",
    "UNSIGNED_PAYLOAD",
    "SignedRequest",
    "check_payload",
    "verify_request",
]

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
"""Payload hash of a request whose body is not signed (every presigned URL)."""
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
"""Payload hash of an aws-chunked body with a signature on each chunk."""
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
"""As :data:`STREAMING_SIGNED`, plus signed trailers (a checksum) after the last chunk."""
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
"""Payload hash of an aws-chunked body without chunk signatures, with a checksum trailer;
what boto3 and the aws-cli send over https."""
_PAYLOAD_CONSTANTS = (
    UNSIGNED_PAYLOAD,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
)

MAX_SKEW = datetime.timedelta(minutes=15)
"""How far a request's X-Amz-Date may be from the gateway's clock, as on Amazon S3."""

MAX_EXPIRES_S = 604_800
"""Longest validity of a presigned URL (7 days), as on Amazon S3."""

_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AMZ_DATE_DIGITS = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", re.ASCII)
"""The X-Amz-Date every client sends (``strptime`` takes other spellings too, and is slow)."""
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_HEX = frozenset("0123456789abcdefABCDEF")
_FIX_SIGNING = "check your secret access key and signing method"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a verified request was signed with; the body checks need it."""

    access_key: str
    """The access key id that signed the request."""
    payload: str
    """The payload hash as signed: 64 hex of sha256(body), ``UNSIGNED-PAYLOAD`` (always for a
    presigned URL) or one of the ``STREAMING-…`` values of an aws-chunked body."""
    amz_date: str
    """The request time, ``YYYYMMDDTHHMMSSZ``."""
    scope: str
    """The credential scope, ``date/region/s3/aws4_request``."""
    signing_key: bytes
    """The key derived from the secret for this scope; signs the chunks of a streaming body."""
    seed_signature: str
    """The request's signature; the first chunk signature chains from it."""


@dataclass(frozen=True, slots=True)
class _Claim:
    """The signature claim of a request, before checking it."""

    access_key: str
    amz_date: str
    region: str
    signed_headers: tuple[str, ...]
    signature: str
    payload: str
    malformed_code: str
    """The code for a malformed claim: the header's or the query's."""


def verify_request(
    method: str,
    raw_path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    keys: Mapping[str, str],
    now: datetime.datetime,
) -> SignedRequest:
    """Check the SigV4 signature of a request's head.

    Args:
        method: The HTTP method.
        raw_path: The path as sent, still percent-encoded, without the query.
        query: The decoded query pairs in the order received (``?uploads`` is
            ``("uploads", "")``).
        headers: The request headers; names in any case, repeated names allowed.
        keys: Access key id to secret access key.
        now: The gateway's clock (a naive value is taken as UTC).

    Returns:
        What the request was signed with, for :func:`check_payload` and
        :func:`decode_aws_chunked`.

    Raises:
        S3Error: ``AccessDenied`` (unsigned, expired or with unsigned x-amz-* headers),
            ``AuthorizationHeaderMalformed``, ``AuthorizationQueryParametersError``,
            ``InvalidArgument``, ``InvalidAccessKeyId``, ``RequestTimeTooSkewed`` or
            ``SignatureDoesNotMatch``.

    """
    path = raw_path.partition("?")[0]  # aiohttp's raw_path carries the query; tolerate it
    lowered = _lower_headers(headers)
    presigned = any(name.lower() in _QUERY_AUTH for name, _ in query)
    if "authorization" in lowered and presigned:
        raise S3Error(
            "InvalidArgument",
            "the request carries both an Authorization header and X-Amz-* signature query "
            "parameters; sign it one way only",
            resource=path,
        )
    if now.tzinfo is None:
        now = now.replace(tzinfo=datetime.UTC)
    if presigned:
        claim = _presigned_claim(query, lowered, now, path)
        signed_query = [(n, v) for n, v in query if n.lower() != "x-amz-signature"]
    elif "authorization" in lowered:
        claim = _header_claim(lowered, now, path)
        signed_query = query
    elif {"awsaccesskeyid", "signature"} <= {n.lower() for n, _ in query}:
        raise S3Error(
            "AuthorizationQueryParametersError",
            "this URL is presigned with AWS Signature Version 2 (AWSAccessKeyId, Signature, "
            "Expires); the gateway accepts only Version 4: presign with a client configured "
            "for it, e.g. boto3.client('s3', config=Config(signature_version='s3v4'))",
            resource=path,
        )
    else:
        raise S3Error(
            "AccessDenied",
            "the request is not signed, but this gateway has access keys configured and every "
            "request must be signed with AWS Signature Version 4; give the client a key, e.g. "
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            resource=path,
        )
    secret = keys.get(claim.access_key)
    if secret is None:
        raise S3Error(
            "InvalidAccessKeyId",
            f"access key {claim.access_key!r} is not configured on this gateway; use one of "
            "the gateway's access keys (AWS_ACCESS_KEY_ID)",
            resource=path,
        )
    scope = credential_scope(claim.amz_date, claim.region)
    canonical = "\n".join(
        (
            method,
            canonical_uri(path),
            canonical_query(signed_query),
            _canonical_headers(claim.signed_headers, lowered, claim.malformed_code, path),
            ";".join(claim.signed_headers),
            claim.payload,
        )
    )
    key = signing_key(secret, claim.amz_date[:8], claim.region)
    expected = signature(key, claim.amz_date, scope, canonical)
    if not hmac.compare_digest(expected.encode(), claim.signature.encode()):
        raise S3Error(
            "SignatureDoesNotMatch",
            "the request signature we calculated does not match the signature you provided; "
            f"{_FIX_SIGNING} (access key {claim.access_key!r})",
            resource=path,
        )
    return SignedRequest(
        access_key=claim.access_key,
        payload=claim.payload,
        amz_date=claim.amz_date,
        scope=scope,
        signing_key=key,
        seed_signature=expected,
    )


_QUERY_AUTH = frozenset(
    ("x-amz-algorithm", "x-amz-credential", "x-amz-signature", "x-amz-signedheaders")
)


def _header_claim(headers: dict[str, str], now: datetime.datetime, path: str) -> _Claim:
    code = "AuthorizationHeaderMalformed"
    authorization = headers["authorization"]
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise S3Error(
            code,
            f"the Authorization header uses the algorithm {algorithm!r}; this gateway accepts "
            f"only {ALGORITHM} (AWS Signature Version 4), so configure the client for it",
            resource=path,
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name not in ("Credential", "SignedHeaders", "Signature") or name in fields:
            raise S3Error(
                code,
                f"the Authorization header has a malformed or repeated component {part!r}; "
                "expected 'Credential=…, SignedHeaders=…, Signature=…'",
                resource=path,
            )
        fields[name] = value.strip()
    missing = [n for n in ("Credential", "SignedHeaders", "Signature") if n not in fields]
    if missing:
        raise S3Error(
            code,
            f"the Authorization header lacks {', '.join(missing)}; expected "
            "'Credential=…, SignedHeaders=…, Signature=…'",
            resource=path,
        )
    amz_date = headers.get("x-amz-date")
    if amz_date is None:
        # Clients that sign a Date header instead are rare for S3; requiring X-Amz-Date keeps
        # one date format and one parser.
        raise S3Error(
            "AccessDenied",
            "the request has no X-Amz-Date header; this gateway requires it for "
            "Authorization-header signatures (a Date header alone is not accepted)",
            resource=path,
        )
    when = _parse_amz_date(amz_date, "AccessDenied", "the X-Amz-Date header", path)
    access_key, region = _parse_credential(fields["Credential"], amz_date, code, path)
    signed_headers = _parse_signed_headers(fields["SignedHeaders"], code, path)
    payload = headers.get("x-amz-content-sha256")
    if payload is None:
        raise S3Error(
            "InvalidArgument",
            "the request has no X-Amz-Content-SHA256 header, which S3 requires with "
            "Authorization-header signatures; send the body's sha256 hex or UNSIGNED-PAYLOAD",
            resource=path,
        )
    if payload not in _PAYLOAD_CONSTANTS and not _is_sha256_hex(payload):
        raise S3Error(
            "InvalidArgument",
            f"X-Amz-Content-SHA256 is {payload!r}; send the body's sha256 in 64 hex digits or "
            f"one of {', '.join(_PAYLOAD_CONSTANTS)}",
            resource=path,
        )
    if abs(now - when) > MAX_SKEW:
        raise _skewed(amz_date, now, path)
    return _Claim(access_key, amz_date, region, signed_headers, fields["Signature"], payload, code)


def _presigned_claim(
    query: list[tuple[str, str]], headers: dict[str, str], now: datetime.datetime, path: str
) -> _Claim:
    code = "AuthorizationQueryParametersError"
    params: dict[str, str] = {}
    for name, value in query:
        lowered = name.lower()
        if lowered.startswith("x-amz-"):
            if lowered in params:
                raise S3Error(
                    code, f"the query parameter {name} appears twice; send it once", resource=path
                )
            params[lowered] = value
    wanted = ("Algorithm", "Credential", "Date", "Expires", "SignedHeaders", "Signature")
    missing = [f"X-Amz-{n}" for n in wanted if f"x-amz-{n.lower()}" not in params]
    if missing:
        raise S3Error(
            code,
            f"the presigned URL lacks the query parameters {', '.join(missing)}; presign it "
            "again with an S3 client",
            resource=path,
        )
    if params["x-amz-algorithm"] != ALGORITHM:
        raise S3Error(
            code,
            f"X-Amz-Algorithm is {params['x-amz-algorithm']!r}; this gateway accepts only "
            f"{ALGORITHM}",
            resource=path,
        )
    amz_date = params["x-amz-date"]
    when = _parse_amz_date(amz_date, code, "the X-Amz-Date query parameter", path)
    access_key, region = _parse_credential(params["x-amz-credential"], amz_date, code, path)
    signed_headers = _parse_signed_headers(params["x-amz-signedheaders"], code, path)
    expires = params["x-amz-expires"]
    if not (expires.isascii() and expires.isdigit() and 1 <= int(expires) <= MAX_EXPIRES_S):
        raise S3Error(
            code,
            f"X-Amz-Expires is {expires!r}; it must be a number of seconds from 1 to "
            f"{MAX_EXPIRES_S} (7 days)",
            resource=path,
        )
    if when - now > MAX_SKEW:
        raise _skewed(amz_date, now, path)
    until = when + datetime.timedelta(seconds=int(expires))
    if now > until:
        raise S3Error(
            "AccessDenied",
            f"Request has expired: the URL was signed at {amz_date} for {expires} s, so it "
            f"expired at {until.strftime(_AMZ_DATE)}, and it is now {now.strftime(_AMZ_DATE)}; "
            "presign a new URL",
            resource=path,
        )
    # A URL holder could otherwise add x-amz-* headers (x-amz-copy-source, say) that change
    # what the request does without invalidating the signature; S3 refuses them too.
    unsigned = sorted(
        name for name in headers if name.startswith("x-amz-") and name not in signed_headers
    )
    if unsigned:
        raise S3Error(
            "AccessDenied",
            f"there were headers present in the request which were not signed: "
            f"{', '.join(unsigned)}; drop them or include them when presigning the URL",
            resource=path,
        )
    return _Claim(
        access_key,
        amz_date,
        region,
        signed_headers,
        params["x-amz-signature"],
        UNSIGNED_PAYLOAD,
        code,
    )


def _parse_amz_date(value: str, code: str, where: str, path: str) -> datetime.datetime:
    digits = _AMZ_DATE_DIGITS.fullmatch(value)
    try:
        if digits is not None:  # what every client sends: 16 characters, no strptime
            year, month, day, hour, minute, second = map(int, digits.groups())
            return datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.UTC)
        parsed = datetime.datetime.strptime(value, _AMZ_DATE)
    except ValueError as exc:
        raise S3Error(
            code,
            f"{where} is {value!r}; it must be a UTC time like 20261129T120000Z",
            resource=path,
        ) from exc
    return parsed.replace(tzinfo=datetime.UTC)


def _parse_credential(value: str, amz_date: str, code: str, path: str) -> tuple[str, str]:
    parts = value.split("/")
    shape = "access-key/YYYYMMDD/region/s3/aws4_request"
    if len(parts) != 5 or not all(parts):
        raise S3Error(code, f"the credential {value!r} is not {shape}", resource=path)
    access_key, date, region, service, terminator = parts
    if service != "s3" or terminator != "aws4_request":
        raise S3Error(
            code,
            f"the credential {value!r} names service {service!r} and terminator "
            f"{terminator!r}; this gateway expects {shape}, so sign for the service 's3'",
            resource=path,
        )
    if date != amz_date[:8]:
        raise S3Error(
            code,
            f"the credential date {date!r} is not the day of X-Amz-Date {amz_date!r}; sign "
            "the scope with the request's own date",
            resource=path,
        )
    return access_key, region


def _parse_signed_headers(value: str, code: str, path: str) -> tuple[str, ...]:
    names = tuple(name.strip().lower() for name in value.split(";"))
    if not all(names) or "host" not in names:
        raise S3Error(
            code,
            f"SignedHeaders is {value!r}; it must be a ';'-separated list of header names "
            "that includes 'host'",
            resource=path,
        )
    return names


def _skewed(amz_date: str, now: datetime.datetime, path: str) -> S3Error:
    return S3Error(
        "RequestTimeTooSkewed",
        f"the request time {amz_date} differs from the gateway's time "
        f"{now.strftime(_AMZ_DATE)} by more than {MAX_SKEW.seconds // 60} minutes; fix the "
        "clock of the client or the gateway host",
        resource=path,
    )


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    # items() of a multidict yields each repeated header; SigV4 joins them with commas.
    for name, value in headers.items():
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    return lowered


def _canonical_headers(
    names: tuple[str, ...], headers: dict[str, str], code: str, path: str
) -> str:
    lines = []
    for name in names:
        value = headers.get(name)
        if value is None:
            raise S3Error(
                code,
                f"the header {name!r} is listed in SignedHeaders but the request does not "
                "carry it; send it or sign without it",
                resource=path,
            )
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(lines)


def _is_sha256_hex(value: str) -> bool:
    return _SHA256_HEX.fullmatch(value) is not None


def check_payload(signed: SignedRequest, body: bytes) -> None:
    """Check a whole body against the sha256 the request signed.

    Nothing to check when the payload is unsigned or streamed (aws-chunked bodies are checked
    chunk by chunk in :func:`decode_aws_chunked`).

    Raises:
        S3Error: ``XAmzContentSHA256Mismatch`` when the body's sha256 differs.

    """
    if not _is_sha256_hex(signed.payload):
        return
    actual = hashlib.sha256(body).hexdigest()
    if not hmac.compare_digest(actual, signed.payload.lower()):
        raise S3Error(
            "XAmzContentSHA256Mismatch",
            f"the body's sha256 is {actual} but X-Amz-Content-SHA256 says {signed.payload}; "
            "the body was changed or cut in transit, or the client hashed another body",
        )
