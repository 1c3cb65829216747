"""Security rules that are pure functions: what a secret looks like in text, and where an
unauthenticated server may listen.

- :func:`redact` masks secrets in any text pachstream shows or keeps: log lines (through
  :class:`RedactingFormatter`), ``pachstream status``, CLI error lines, dead-letter reasons
  and the reprs of the settings classes (:func:`redacted_repr`). It is the one place that
  knows what a secret looks like, so every output is masked the same way.
- :func:`check_gateway_bind` refuses an S3 gateway that would take unsigned requests on an
  address other hosts can reach.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable
from typing import Final, TypeVar

from pachstream.errors import ConfigError

REDACTED: Final = "***"
"""What a secret is replaced with."""

MIN_LITERAL: Final = 6
"""Known secret values shorter than this are not masked wherever they occur in a text (a
value like ``abc`` would mask parts of ordinary words); the shape rules still apply to them."""

# The password of a URL: scheme://user:PASSWORD@host (libpq, S3 and HTTP URLs alike). A
# password holding '@', '/' or a space must be percent-encoded in a URL, so it ends there.
# Both patterns start only at the start of a word and never backtrack into it (possessive
# quantifiers): a megabyte-long key in a log line costs linear time, not quadratic.
_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<head>[A-Za-z][A-Za-z0-9+.-]*+://[^:/?#@\s'\"]*+:)"
    r"[^@/?#\s'\"]++(?=@)"
)
# The value of a secret-named key, in every form our outputs use: NAME=value (environment,
# PACHSTREAM_NOTIFY, libpq keywords, query strings), name='value' (reprs), "name": "value"
# (JSON, also escaped inside another JSON string, where the quotes are \").
_KEY_VALUE = re.compile(
    r"""(?<![\w.-])(?P<head>(?=[\w.-]*?(?:secret|password|passwd|token))[\w.-]++"""
    r"""\\*['"]?\s*+[:=]\s*+)"""
    r"""(?:(?P<sq>\\*')[^'\\]*+(?:\\*')?|(?P<dq>\\*")(?:[^"\\]|\\(?!"))*+(?:\\*")?"""
    r"""|[^'"\s,;&)}\]\\]++)""",
    re.IGNORECASE,
)

T = TypeVar("T")


def _mask_value(m: re.Match[str]) -> str:
    quote = m["sq"] or m["dq"]
    if quote is None:
        if m[0].removeprefix(m["head"]) in ("None", "null"):  # no secret: say so
            return m[0]
        return m["head"] + REDACTED
    return m["head"] + quote + REDACTED + quote


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret in it replaced by :data:`REDACTED`.

    Masked: the password of any URL (``postgresql://user:***@host``), the value given to any
    key whose name holds ``secret``, ``password``, ``passwd`` or ``token`` (``secret_key='***'``,
    ``"s3_secret_key": "***"``, ``PACHSTREAM_GATEWAY_SECRET_KEY=***``, ``password=***``), and
    each of ``secrets`` (known values, e.g. :meth:`pachstream.settings.Settings.secrets`)
    wherever it occurs, when at least :data:`MIN_LITERAL` characters long.

    Pure; idempotent (``redact(redact(t)) == redact(t)``).
    """
    for value in sorted({s for s in secrets if len(s) >= MIN_LITERAL}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + REDACTED, text)
    return _KEY_VALUE.sub(_mask_value, text)


def redacted_repr(cls: type[T]) -> type[T]:
    """Class decorator (above ``@dataclass``): the generated ``repr`` with secrets masked."""
    generated: Callable[[object], str] = cls.__repr__

    def __repr__(self: object) -> str:
        return redact(generated(self))

    setattr(cls, "__repr__", __repr__)  # noqa: B010 - mypy refuses assigning a method
    return cls


class RedactingFormatter(logging.Formatter):
    """A log formatter whose every line, traceback included, goes through :func:`redact`.

    A process entry point installs it on its handlers (``pachstream run NAME``), with the
    secret values of its settings.
    """

    def __init__(self, fmt: str | None = None, *, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self._secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record, secrets masked."""
        return redact(super().format(record), self._secrets)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address, ``[v6]``, or a name) is only reachable from this
    machine: ``127.0.0.0/8``, ``::1`` or ``localhost``. Any other name is taken as reachable
    (what it resolves to can change); ``""`` and ``0.0.0.0`` are every interface.
    """
    host = host.strip().removeprefix("[").removesuffix("]")
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_gateway_bind(host: str, port: int | str, *, keyed: bool) -> None:
    """Refuse an S3 gateway without keys on an address other machines can reach.

    Without keys the gateway takes unsigned requests: anyone who can connect may read and
    write every repo. That is the user's own machine on loopback, and anyone on the network
    elsewhere.

    Raises:
        ConfigError: naming the address, the missing setting and both fixes.

    """
    if keyed or is_loopback(host):
        return
    shown = f"[{host}]" if ":" in host else host or "*"
    raise ConfigError(
        f"the S3 gateway would listen on {shown}:{port} (PACHSTREAM_GATEWAY_ADDRESS), which "
        "is not a loopback address, without keys, so anyone who can reach it could read and "
        "write every repo; set PACHSTREAM_GATEWAY_ACCESS_KEY and PACHSTREAM_GATEWAY_SECRET_KEY "
        "(every request must then be signed with them), or listen on 127.0.0.1",
        address=f"{host}:{port}",
    )


__all__ = [
    "MIN_LITERAL",
    "REDACTED",
    "RedactingFormatter",
    "check_gateway_bind",
    "is_loopback",
    "redact",
    "redacted_repr",
]
