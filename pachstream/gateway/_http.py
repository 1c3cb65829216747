"""HTTP answers shared by the gateway's handlers."""

from __future__ import annotations

from aiohttp import web


def xml_response(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """An S3 XML document as the answer."""
    return web.Response(status=status, body=body, content_type="application/xml", headers=headers)
