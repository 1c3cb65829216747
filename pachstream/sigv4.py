r"""AWS Signature Version 4 for S3: the canonical request and the signature, pure.

One definition for both sides: the object store signs its requests with :func:`sign_headers`,
and the S3 gateway (:mod:`pachstream.gateway._sigv4`) checks its clients' requests with the
same canonical forms and key derivation.

The signature covers the canonical request::

    method \n path \n query \n name:value\n per signed header \n signed names \n payload

hashed into the string to sign ``AWS4-HMAC-SHA256\n date \n scope \n hash`` and signed with
a key derived from the secret, the day, the region and the service ``s3``.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import urllib.parse
from collections.abc import Mapping

ALGORITHM = "AWS4-HMAC-SHA256"
"""The only algorithm S3 signs with in Version 4."""

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
"""The payload hash of a request without a body."""


def canonical_uri(path: str) -> str:
    """The path as signed: S3 signs it as sent, without normalising or double-encoding it;
    only characters left unencoded get the SigV4 encoding ('/' and %XX escapes stay).
    """
    return urllib.parse.quote(path, safe="/%") or "/"


def canonical_query(query: list[tuple[str, str]]) -> str:
    """The query as signed: names and values encoded, pairs sorted, joined with ``&``."""
    # quote() keeps exactly SigV4's unreserved set (A-Z a-z 0-9 - _ . ~) and writes
    # uppercase %XX of the UTF-8 bytes, space as %20.
    encoded = sorted(
        (urllib.parse.quote(name, safe=""), urllib.parse.quote(value, safe=""))
        for name, value in query
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def credential_scope(amz_date: str, region: str) -> str:
    """The credential scope of a request made at ``amz_date`` (``YYYYMMDDTHHMMSSZ``)."""
    return f"{amz_date[:8]}/{region}/s3/aws4_request"


@functools.lru_cache(maxsize=64)
def signing_key(secret: str, date: str, region: str) -> bytes:
    """The key that signs a day's requests in ``region`` (``date``: ``YYYYMMDD``)."""
    # Cached: the key depends only on the secret, the day and the region, so one derivation
    # (four HMACs) serves every request of a client that day.
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def signature(key: bytes, amz_date: str, scope: str, canonical_request: str) -> str:
    """The hex signature of a canonical request, signed with ``key`` for ``scope``."""
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"
    return hmac.digest(key, string_to_sign.encode(), "sha256").hex()


def sign_headers(
    method: str,
    host: str,
    path: str,
    headers: Mapping[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    now: datetime.datetime,
) -> dict[str, str]:
    """The headers of a request signed with an ``Authorization`` header.

    Args:
        method: The HTTP method.
        host: The ``Host`` header the request is sent with (``host:port`` as in the URL).
        path: The path as sent, percent-encoded; no query (the object store sends none).
        headers: Headers to send and sign besides ``host`` and the ``x-amz-*`` ones added.
        payload_sha256: The hex sha256 of the body (:data:`EMPTY_SHA256` without one).
        access_key: The access key id.
        secret_key: The secret access key.
        region: The signing region.
        now: The time of signing (a naive value is taken as UTC).

    Returns:
        ``headers`` with ``x-amz-date``, ``x-amz-content-sha256`` and ``Authorization``.
    """
    if now.tzinfo is not None:
        now = now.astimezone(datetime.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    signed = {name.lower(): " ".join(str(value).split()) for name, value in headers.items()}
    signed.update({"host": host, "x-amz-content-sha256": payload_sha256, "x-amz-date": amz_date})
    names = sorted(signed)
    canonical = "\n".join(
        (
            method,
            canonical_uri(path),
            "",
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            payload_sha256,
        )
    )
    scope = credential_scope(amz_date, region)
    sig = signature(signing_key(secret_key, amz_date[:8], region), amz_date, scope, canonical)
    out = dict(headers)
    out["x-amz-content-sha256"] = payload_sha256
    out["x-amz-date"] = amz_date
    out["Authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={sig}"
    )
    return out
