"""What the gateway's handlers share: the routed request they take, and the XML answer."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from pachstream.gateway._core import Bucket
from pachstream.gateway._s3xml import error_xml
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


HEADERS_TOO_LARGE = "RequestHeaderSectionTooLarge"
"""S3's code for a request whose header section is over the limit (8 KB a line here)."""


def header_too_large(exc: BaseException | None) -> bool:
    """Whether aiohttp's parser refused the request for a header line over its limit. Pure.

    Its ``LineTooLong`` holds the line's first bytes: a request line's target starts with
    ``/`` (or names a scheme), a header's name or value does not. An over-long request line
    keeps aiohttp's own answer (the 10 MB key row of the bad-input table).
    """
    if not isinstance(exc, LineTooLong) or not exc.args:
        return False
    line = exc.args[0]
    head = line.encode() if isinstance(line, str) else bytes(line)
    return not (head.startswith(b"/") or b"://" in head[:16])


class _S3RequestHandler(RequestHandler):
    """aiohttp's connection handler, answering an oversize header section in S3's XML:
    aiohttp refuses it in its parser, before any route or middleware, in plain text that S3
    clients cannot read.
    """

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status != 400 or not header_too_large(exc):
            return super().handle_error(request, status, exc, message)
        body = error_xml(
            HEADERS_TOO_LARGE,
            "Your request header section exceeds the maximum allowed size (8190 bytes a "
            "line); send large values in the body or as object metadata under 2 KB",
            "/",
            uuid.uuid4().hex.upper()[:16],
        )
        resp = xml_response(body, 400)
        resp.force_close()  # the rest of the request was never read
        return resp


class _S3Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _S3RequestHandler(self, loop=self._loop, **self._kwargs)


class S3Runner(web.AppRunner):
    """``web.AppRunner`` whose connections answer header-section errors in S3 XML."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        kwargs: dict[str, Any] = dict(server._kwargs)
        return _S3Server(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **kwargs,
        )


__all__ = ["HEADERS_TOO_LARGE", "Call", "S3Runner", "header_too_large", "xml_response"]
