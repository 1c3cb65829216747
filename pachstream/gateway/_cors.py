"""CORS of the S3 gateway: which web pages may call it from a browser.

One policy for the whole gateway (S3 keeps one per bucket; here buckets are branches and
their configuration is not writable, see PutBucketCors in docs/s3-gateway.md). A preflight
(``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered from it
without a signature, as S3 does; an actual request from an allowed origin gets
``Access-Control-Allow-Origin`` and ``Access-Control-Expose-Headers`` on its answer, errors
included, so that a page reads the ETag of its upload and the code of a refusal.

The default is permissive but safe: any origin when the gateway checks signatures (a page
must still sign each request with the gateway's keys, so CORS only decides whether it may
read the answers), no origin when it does not (otherwise any web site a local user visits
could read and write the repos of a gateway listening on loopback).

Pure: request headers in, response headers out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pachstream.gateway._errors import S3Error
from pachstream.settings import parse_cors_origins

EXPOSED = (
    "ETag",
    "Last-Modified",
    "Content-Length",
    "Content-Range",
    "Content-Type",
    "Accept-Ranges",
    "x-amz-request-id",
    "x-amz-version-id",
    "x-pachstream-commit",
    "x-amz-mp-parts-count",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-checksum-type",
)
"""Answer headers a page may read: what browser upload libraries look for (ETag of each part)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CorsPolicy:
    """Which origins may call the gateway from a browser, with which methods and headers."""

    origins: tuple[str, ...] = ()
    """Allowed origins (``https://app.example``), or ``("*",)`` for any; empty: CORS off."""
    methods: tuple[str, ...] = ("GET", "HEAD", "PUT", "POST", "DELETE")
    """Methods a page may use."""
    headers: tuple[str, ...] = ("*",)
    """Request headers a page may send (lower case), ``*`` for any."""
    expose: tuple[str, ...] = EXPOSED
    """Answer headers a page may read."""
    max_age_s: int = 3000
    """How long a browser may cache a preflight's answer."""

    @classmethod
    def parse(cls, text: str) -> CorsPolicy:
        """A policy from a comma-separated list of origins (``*`` for any; empty for none).

        This is the form of the setting that carries it, e.g. ``https://a.example,
        https://b.example``.
        """
        return cls(origins=parse_cors_origins(text))

    @classmethod
    def default(cls, *, signed: bool) -> CorsPolicy:
        """Any origin when requests must be signed; none otherwise."""
        return cls(origins=("*",) if signed else ())

    def _origin_allowed(self, origin: str) -> bool:
        return "*" in self.origins or origin.rstrip("/") in self.origins

    def _allow_origin(self, origin: str) -> str:
        return "*" if "*" in self.origins else origin

    def preflight(self, headers: Mapping[str, str], resource: str) -> dict[str, str]:
        """The headers of the answer to an ``OPTIONS`` preflight.

        Raises:
            S3Error: AccessForbidden (403) when the origin, method or a header is not allowed,
                or when the request is no preflight.

        """
        origin = headers.get("Origin")
        method = headers.get("Access-Control-Request-Method")
        if not origin or not method:
            raise S3Error(
                "AccessForbidden" if origin else "InvalidRequest",
                "an OPTIONS request is a CORS preflight: it needs Origin and "
                "Access-Control-Request-Method headers",
                resource=resource,
            )
        asked = [
            h.strip().lower()
            for h in headers.get("Access-Control-Request-Headers", "").split(",")
            if h.strip()
        ]
        bad_header = next(
            (h for h in asked if "*" not in self.headers and h not in self.headers), None
        )
        if not self._origin_allowed(origin) or method not in self.methods or bad_header:
            what = (
                f"origin '{origin}'"
                if not self._origin_allowed(origin)
                else f"method {method}"
                if method not in self.methods
                else f"header '{bad_header}'"
            )
            raise S3Error(
                "AccessForbidden",
                f"CORSResponse: this CORS request is not allowed: {what} is not in the "
                "gateway's CORS policy (set with PACHSTREAM_GATEWAY_CORS_ORIGINS; see "
                "docs/s3-gateway.md)",
                resource=resource,
            )
        out = {
            "Access-Control-Allow-Origin": self._allow_origin(origin),
            "Access-Control-Allow-Methods": ", ".join(self.methods),
            "Access-Control-Max-Age": str(self.max_age_s),
            "Access-Control-Expose-Headers": ", ".join(self.expose),
            "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        }
        if asked:
            out["Access-Control-Allow-Headers"] = ", ".join(asked)
        return out

    def actual(self, headers: Mapping[str, str], method: str) -> dict[str, str]:
        """The CORS headers of the answer to an actual request (none when not allowed)."""
        origin = headers.get("Origin")
        if not origin or not self._origin_allowed(origin) or method not in self.methods:
            return {}
        return {
            "Access-Control-Allow-Origin": self._allow_origin(origin),
            "Access-Control-Expose-Headers": ", ".join(self.expose),
            "Vary": "Origin",
        }


__all__ = ["EXPOSED", "CorsPolicy"]
