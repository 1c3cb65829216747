"""What the gateway's handlers share: the routed request they take, and the XML answer."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from pachstream.gateway._core import Bucket
from pachstream.gateway._sigv4 import SignedRequest


@dataclass
class Call:
    """One routed request: its operation and what its path names."""

    request: web.Request
    signed: SignedRequest | None
    """The verified signature (None: the gateway takes unsigned requests)."""
    operation: str
    """S3's name of the operation (:data:`~._routes.ROUTES`)."""
    bucket: Bucket | None = None
    key: str = ""
    path: str | None = None

    @property
    def bucket_(self) -> Bucket:
        """The bucket (for a bucket or object operation, which the route table guarantees)."""
        assert self.bucket is not None
        return self.bucket

    @property
    def path_(self) -> str:
        """The file path of the key (for an object operation)."""
        assert self.path is not None
        return self.path


def xml_response(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """An S3 XML document as the answer."""
    return web.Response(status=status, body=body, content_type="application/xml", headers=headers)


__all__ = ["Call", "xml_response"]
