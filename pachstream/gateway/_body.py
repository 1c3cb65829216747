"""Reading a request's body as the client meant it: unframed, its signature and checksums
checked, within the size a single request may carry.
"""

from __future__ import annotations

from aiohttp import web

from pachstream.content import CHUNK_BYTES
from pachstream.gateway._chunked import check_checksums, decode_aws_chunked, is_aws_chunked
from pachstream.gateway._errors import S3Error
from pachstream.gateway._sigv4 import SignedRequest, check_payload

MAX_BODY = CHUNK_BYTES
"""Largest PUT or part body; bigger objects go by multipart upload (aws-cli does so above 8 MB)."""


async def read_payload(
    request: web.Request, signed: SignedRequest | None, *, checksums: bool = True
) -> tuple[bytes, dict[str, str]]:
    """The request body as the client meant it, and its trailers.

    The aws-chunked framing is removed and the signature checked; with ``checksums``, the
    body's checksum headers and trailers too (CompleteMultipartUpload's describe the whole
    object, not its body).
    """
    framed = is_aws_chunked(request.headers)
    if request.content_length is None and not framed:
        if request.headers.get("Transfer-Encoding", "").lower() != "chunked":
            raise S3Error("MissingContentLength", "send a Content-Length header with the body")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise S3Error(
            "EntityTooLarge",
            f"a body over {MAX_BODY // 2**20} MiB must go by multipart upload "
            "(aws s3 cp and boto3's upload_file do so on their own)",
            resource=request.path,
        ) from exc
    trailers: dict[str, str] = {}
    if framed:
        body, trailers = decode_aws_chunked(body, signed)
    elif signed is not None:
        check_payload(signed, body)
    if len(body) > MAX_BODY:
        raise S3Error(
            "EntityTooLarge", f"a body over {MAX_BODY // 2**20} MiB must go by multipart upload"
        )
    if checksums:
        check_checksums(body, request.headers, trailers)
    return body, trailers


async def read_body(
    request: web.Request, signed: SignedRequest | None, *, checksums: bool = True
) -> bytes:
    """The request body as the client meant it (see :func:`read_payload`)."""
    body, _ = await read_payload(request, signed, checksums=checksums)
    return body


__all__ = ["MAX_BODY", "read_body", "read_payload"]
