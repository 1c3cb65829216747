"""Which parser refusals the S3 gateway answers as ``RequestHeaderSectionTooLarge``."""

from __future__ import annotations

import pytest
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from pachstream.gateway._http import header_too_large


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (LineTooLong(b"hhhhhhhh...", 8190), True),  # a header value (C parser)
        (LineTooLong(b"X-Big: hhhh...", 8190), True),  # a header line (Python parser)
        (LineTooLong(b"/master.seen/kkkk...", 8190), False),  # the request line's target
        (LineTooLong(b"http://gw/master.seen/k...", 8190), False),  # absolute form
        (BadHttpMessage("bad"), False),
        (None, False),
    ],
)
def test_only_an_oversize_header_line_is_a_header_section_error(
    exc: BaseException | None, expected: bool
) -> None:
    assert header_too_large(exc) is expected
