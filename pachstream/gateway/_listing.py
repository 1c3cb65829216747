"""Pure pieces of the S3 gateway's reads: object listing, Range headers and chunk slicing.

Everything here is a pure function of its arguments (STYLE.md §1): the HTTP shell reads the
branch's tree, calls these, and writes the answer. Every refusal is an
:class:`~pachstream.gateway._errors.S3Error` with the S3 code a client expects.

Key order is UTF-8 byte order, as S3 lists keys. Python compares ``str`` by code point, and
UTF-8 byte order *is* code point order for every string UTF-8 can encode; the two differ only
for lone surrogates, which :mod:`pachstream.paths` refuses in file names. So plain ``str``
comparison gives S3's order here, with no ``encode()`` per comparison.

The gateway no longer builds the sorted list of a whole tree to list it (hundreds of MB at
1M files): :mod:`._pages` merges the tree's shards page by page in bounded memory, and
:func:`list_page` stays the reference its tests compare every page with.
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from pachstream.gateway._errors import S3Error
from pachstream.model import Chunk

__all__ = [
    "MAX_KEYS",
    "ListPage",
    "ObjectInfo",
    "decode_token",
    "encode_token",
    "list_page",
    "parse_copy_range",
    "parse_max_keys",
    "parse_range",
    "slice_chunks",
]

MAX_KEYS = 1000
"""Most keys (and common prefixes) one listing page holds, as in S3."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One object as a listing shows it."""

    key: str
    """Object key: the file path without its leading ``/``."""
    size: int
    """Bytes in the object."""
    etag: str
    """Bare ETag (no quotes): hex digest, or ``<hex>-<parts>`` for a multipart object."""
    last_modified: float
    """Epoch seconds of the commit that last wrote the object."""


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a listing: what ListObjects and ListObjectsV2 render."""

    contents: list[ObjectInfo]
    """Objects on this page, in key order."""
    common_prefixes: list[str]
    """Rolled-up prefixes on this page (with a delimiter), in order."""
    is_truncated: bool
    """Whether entries follow this page."""
    next_token: str | None
    """V2: opaque continuation token for the next page when truncated, else None."""
    next_marker: str | None
    """V1: the last key or common prefix of this page when truncated, else None."""


def _prefix_end(objects: Sequence[ObjectInfo], prefix: str, lo: int) -> int:
    """Return the index of the first object from ``lo`` on whose key lacks ``prefix``."""
    # Truncating sorted keys to a fixed length keeps them sorted, so the keys starting
    # with ``prefix`` are one run that bisect can step over without reading it.
    width = len(prefix)
    return bisect_right(objects, prefix, lo=lo, key=lambda o: o.key[:width])


def list_page(
    objects: Sequence[ObjectInfo],
    *,
    prefix: str = "",
    delimiter: str = "",
    after: str = "",
    max_keys: int = MAX_KEYS,
) -> ListPage:
    """Return one page of an S3 listing of ``objects``.

    Entries are the keys strictly greater than ``after`` that start with ``prefix``. With a
    delimiter, a key whose rest (after ``prefix``) holds the delimiter is rolled up into the
    common prefix ``prefix + rest[:index + len(delimiter)]``, which counts once toward
    ``max_keys``. A common prefix that is ``<= after`` is not returned again, so a page that
    continues after a common prefix skips all of its keys.

    Args:
        objects: Every object of the bucket, sorted by key (see the module docstring for the
            order). Only the keys at or after the start are read: the start is found by
            bisection, and the runs under a common prefix are skipped the same way.
        prefix: Only keys starting with this.
        delimiter: Roll keys up at the first occurrence of this after the prefix; ``""`` for
            no roll-up. It may be several characters long.
        after: Start strictly after this key: the decoded continuation token, else
            StartAfter (V2) or Marker (V1).
        max_keys: Most entries (keys plus common prefixes) on the page, capped at
            :data:`MAX_KEYS`; see :func:`parse_max_keys`. 0 gives an empty, untruncated page,
            as S3 does.

    Returns:
        The page; when truncated, ``next_token`` and ``next_marker`` point after its last
        entry.

    """
    if max_keys <= 0:
        return ListPage([], [], is_truncated=False, next_token=None, next_marker=None)
    max_keys = min(max_keys, MAX_KEYS)
    contents: list[ObjectInfo] = []
    prefixes: list[str] = []
    index = max(
        bisect_left(objects, prefix, key=lambda o: o.key),
        bisect_right(objects, after, key=lambda o: o.key),
    )
    last = ""
    truncated = False
    while index < len(objects):
        item = objects[index]
        if not item.key.startswith(prefix):
            break
        found = item.key.find(delimiter, len(prefix)) if delimiter else -1
        if found < 0:
            entry: str = item.key
            next_index = index + 1
        else:
            entry = item.key[: found + len(delimiter)]
            next_index = _prefix_end(objects, entry, index)
            if entry <= after:
                # Already returned by an earlier page (``after`` is inside or equal to it).
                index = next_index
                continue
        if len(contents) + len(prefixes) == max_keys:
            truncated = True
            break
        if found < 0:
            contents.append(item)
        else:
            prefixes.append(entry)
        last = entry
        index = next_index
    return ListPage(
        contents,
        prefixes,
        is_truncated=truncated,
        next_token=encode_token(last) if truncated else None,
        next_marker=last if truncated else None,
    )


def encode_token(last: str) -> str:
    """Return the continuation token of a page whose last entry (key or prefix) is ``last``.

    The token is URL-safe base64 of the UTF-8 text: opaque to clients, and free of the
    characters (``+``, ``/``) that query strings and XML would need to escape.
    """
    return base64.urlsafe_b64encode(last.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    """Return the key or prefix a token from :func:`encode_token` resumes after.

    Raises:
        S3Error: ``InvalidArgument`` when the token is not one this gateway issued.

    """
    invalid = S3Error(
        "InvalidArgument",
        f"the continuation token {token!r} is not valid; pass the NextContinuationToken of "
        f"the previous response unchanged",
        argument="continuation-token",
    )
    if not token:
        raise invalid
    try:
        raw = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
        return raw.decode("utf-8")
    except (UnicodeError, binascii.Error) as exc:
        raise invalid from exc


_DIGITS = re.compile(r"[0-9]+")


def parse_max_keys(value: str | None, name: str = "max-keys") -> int:
    """Return the page size a client asked for: 1000 when absent, capped at 1000, as S3 does.

    Args:
        value: The query parameter's text, or None when absent.
        name: The parameter's name for the error message (``max-keys``, ``max-parts``,
            ``max-uploads``).

    Raises:
        S3Error: ``InvalidArgument`` when the value is not a non-negative integer.

    """
    if value is None:
        return MAX_KEYS
    if not _DIGITS.fullmatch(value):
        raise S3Error(
            "InvalidArgument",
            f"the query parameter {name}={value!r} is not valid; give an integer from 0 to "
            f"{MAX_KEYS} (larger values are capped at {MAX_KEYS})",
            argument=name,
        )
    # Capping on the digit count first keeps a hostile 10,000-digit value away from int(),
    # which refuses strings over 4,300 digits.
    digits = value.lstrip("0") or "0"
    return MAX_KEYS if len(digits) > 4 else min(int(digits), MAX_KEYS)


_RANGE = re.compile(r"\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*", re.IGNORECASE)
_BIG = 30
"""Digits past which a range bound is larger than any object (and int() might refuse it)."""


def _bound(digits: str) -> tuple[int, str]:
    # A range bound as (length, digits) without leading zeros compares like the number it
    # writes, however many digits it has.
    digits = digits.lstrip("0") or "0"
    return len(digits), digits


def _value(bound: tuple[int, str]) -> int:
    length, digits = bound
    return 10**_BIG if length > _BIG else int(digits)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the byte range a GET asks for as ``(start, end_inclusive)``, None for all of it.

    Forms: ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` (the last n bytes; n larger than the
    object gives the whole object as ``(0, size - 1)``). An end past the object is cut to its
    last byte.

    A syntactically invalid header (another unit, garbage, ``b < a``, several ranges) is
    ignored, as RFC 9110 §14.2 allows and Amazon S3 does: the answer is the whole object
    with 200.

    Args:
        header: The ``Range`` header, or None when absent.
        size: Bytes in the object.

    Raises:
        S3Error: ``InvalidRange`` when the range is valid but unsatisfiable: it starts at or
            past the end, it is ``bytes=-0``, or the object is empty.

    """
    if header is None:
        return None
    match = _RANGE.fullmatch(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if first and last and _bound(last) < _bound(first):
        return None
    if not first:
        suffix = _value(_bound(last))
        if suffix == 0 or size == 0:
            raise _unsatisfiable(header, size)
        return max(size - suffix, 0), size - 1
    start = _value(_bound(first))
    if start >= size:
        raise _unsatisfiable(header, size)
    end = size - 1 if not last else min(_value(_bound(last)), size - 1)
    return start, end


_COPY_RANGE = re.compile(r"bytes=([0-9]{1,19})-([0-9]{1,19})")


def parse_copy_range(header: str | None, size: int) -> tuple[int, int]:
    """The bytes UploadPartCopy takes from its source, as ``(start, end_inclusive)``.

    ``x-amz-copy-source-range`` must be exactly ``bytes=a-b`` with ``a <= b`` (no suffix or
    open range, no list), unlike a GET's ``Range``; absent, it is the whole source.

    Raises:
        S3Error: ``InvalidArgument`` for any other form, ``InvalidRange`` when ``b`` is past
            the end of the source.

    """
    if header is None:
        if size == 0:
            return 0, -1
        return 0, size - 1
    match = _COPY_RANGE.fullmatch(header.strip())
    if match is None or int(match.group(2)) < int(match.group(1)):
        raise S3Error(
            "InvalidArgument",
            f"x-amz-copy-source-range {header!r} is not 'bytes=FIRST-LAST' with FIRST <= LAST "
            "(for example bytes=0-5242879)",
            argument="x-amz-copy-source-range",
        )
    start, end = int(match.group(1)), int(match.group(2))
    if end >= size:
        raise S3Error(
            "InvalidRange",
            f"x-amz-copy-source-range {header!r} ends past the source's {size} bytes; ask for "
            f"bytes up to {max(size - 1, 0)}",
            range=header,
        )
    return start, end


def _unsatisfiable(header: str, size: int) -> S3Error:
    if size == 0:
        fix = "the object is empty; get it without a Range header"
    else:
        fix = f"the object is {size} bytes long; ask for bytes 0-{size - 1} or fewer"
    return S3Error(
        "InvalidRange",
        f"the range {header.strip()!r} is not satisfiable: {fix}",
        range=header,
        size=size,
    )


def slice_chunks(chunks: Sequence[Chunk], start: int, end: int) -> list[tuple[Chunk, int, int]]:
    """Return the pieces of a file's chunks that hold bytes ``start`` to ``end`` inclusive.

    Args:
        chunks: The file's content, in order (empty chunks are allowed and skipped).
        start: First byte wanted, from 0.
        end: Last byte wanted (inclusive), as :func:`parse_range` gives it.

    Returns:
        ``(chunk, offset_within_chunk, length)`` for each chunk the range touches, in order;
        the lengths add up to ``end - start + 1``.

    Raises:
        S3Error: ``InternalError`` when the range is empty or outside the chunks: the caller's
            size disagrees with its chunks, which is a gateway bug rather than a bad request.

    """
    total = sum(chunk.size for chunk in chunks)
    if not 0 <= start <= end < total:
        raise S3Error(
            "InternalError",
            f"the byte range {start}-{end} is not inside the file's {total} bytes of chunks; "
            f"the object's recorded size and its chunks disagree",
            start=start,
            end=end,
            size=total,
        )
    pieces: list[tuple[Chunk, int, int]] = []
    position = 0
    for chunk in chunks:
        chunk_end = position + chunk.size
        if position > end:
            break
        low, high = max(start, position), min(end + 1, chunk_end)
        if low < high:
            pieces.append((chunk, low - position, high - low))
        position = chunk_end
    return pieces
