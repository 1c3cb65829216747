"""Who may use the console, and CSRF protection of its forms. Pure.

Access: on a loopback address anyone on the machine may (as with ``pachstream`` itself);
beyond loopback ``PACHSTREAM_CONSOLE_TOKEN`` is required (checked by
:func:`pachstream.settings.check_console_address`), given once at ``/login`` (it becomes a
cookie) or on each request as ``Authorization: Bearer TOKEN`` (scripts, ``curl /metrics``).

CSRF: every mutating action is a POST whose form carries a token that only a page of the
console can know: the HMAC of the browser's ``ps_csrf`` cookie (a random nonce the console
sets) under a secret of the console process. A page on another site can make the browser send
the cookie, but cannot read it nor the token (double-submit, keyed). When the browser sends an
``Origin`` header, it must also be the console's own.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

CSRF_COOKIE = "ps_csrf"
"""The browser's nonce."""
CSRF_FIELD = "csrf"
"""The form field (or ``X-CSRF-Token`` header) with the token."""
TOKEN_COOKIE = "ps_console_token"
"""The access token, once given at ``/login``."""


def csrf_token(secret: bytes, nonce: str) -> str:
    """The token forms carry for a browser whose ``ps_csrf`` cookie is ``nonce``."""
    return hmac.new(secret, b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, nonce: str | None, token: str | None) -> bool:
    """Whether a POST's ``token`` matches the ``nonce`` of its cookie (both must be present)."""
    if not nonce or not token:
        return False
    return hmac.compare_digest(csrf_token(secret, nonce), token)


def same_origin(origin: str | None, host: str | None) -> bool:
    """Whether a request's ``Origin`` header names the console's own ``Host``.

    No ``Origin`` (a script, an older browser) passes: the CSRF token still has to match.
    ``null`` (a sandboxed frame, a redirect across sites) does not.
    """
    if origin is None:
        return True
    if not host or origin == "null":
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


def token_ok(expected: str | None, authorization: str | None, cookie: str | None) -> bool:
    """Whether a request may use the console: no token configured (loopback), or the token
    as ``Authorization: Bearer`` or as the login cookie.
    """
    if not expected:
        return True
    given = [cookie or ""]
    if authorization and authorization.lower().startswith("bearer "):
        given.append(authorization[7:].strip())
    # Compare every candidate, so timing does not tell which one was close.
    matches = [hmac.compare_digest(expected.encode(), g.encode()) for g in given]
    return any(matches)


def safe_next(target: str | None) -> str:
    """Where ``/login`` sends the browser afterwards: a path of the console only, never
    another site (an open redirect would let a link borrow the console's name).
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "TOKEN_COOKIE",
    "csrf_ok",
    "csrf_token",
    "safe_next",
    "same_origin",
    "token_ok",
]
