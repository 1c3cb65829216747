"""Conditional requests of the S3 gateway: ``If-*`` headers on reads, writes and copies.

Reads (GetObject, HeadObject) follow RFC 9110 §13.2.2, as S3 does:

1. ``If-Match`` present and no tag matches → 412; absent: ``If-Unmodified-Since`` earlier
   than the object's Last-Modified → 412.
2. ``If-None-Match`` present and a tag matches → 304; absent: ``If-Modified-Since`` not
   earlier than Last-Modified → 304.

So when ``If-Match`` holds, ``If-Unmodified-Since`` is not looked at, and when
``If-None-Match`` fails (no match), ``If-Modified-Since`` is not either (S3's documented
pairs). A date that does not parse is ignored, as RFC 9110 says. Times compare at whole
seconds (HTTP dates have no fraction).

CopyObject's ``x-amz-copy-source-if-*`` headers are evaluated the same way on the source,
except that every failure is 412 (S3 never answers a copy with 304).

Writes (PutObject, CompleteMultipartUpload) take S3's conditional writes:
``If-None-Match: *`` (only when the key does not exist) and ``If-Match: "etag"`` (only
when it exists with that ETag; 404 NoSuchKey when it does not exist at all). Other
``If-None-Match`` values are refused with NotImplemented, as in S3.

Deletes (DeleteObject, and each entry of DeleteObjects) take S3's conditional deletes:
``If-Match`` (an ETag or ``*``), ``x-amz-if-match-size`` and
``x-amz-if-match-last-modified-time`` (in DeleteObjects: the entry's ``<ETag>``, ``<Size>``
and ``<LastModifiedTime>``). Each one given must hold, or the delete is refused with 412
PreconditionFailed and the object stays; on a missing key any of them is 404 NoSuchKey.
A size or time that does not parse is refused (400 InvalidArgument), never ignored.

Entity tags are compared leniently: quotes and a ``W/`` prefix are dropped before
comparing, since clients send the ETag as S3 printed it or bare.

Pure: values in, a verdict out.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

from pachstream.gateway._errors import S3Error

Verdict = Literal["ok", "not-modified", "failed"]


def _tags(header: str) -> list[str]:
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tags.append(tag.strip('"'))
    return [t for t in tags if t]


def _matches(header: str, etag: str | None) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` list names the object (``*``: any object)."""
    if etag is None:
        return False
    tags = _tags(header)
    return "*" in tags or etag.strip('"') in tags


def _date(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError, IndexError):
        return None  # RFC 9110: an invalid date is ignored


def evaluate(
    headers: Mapping[str, str],
    etag: str,
    last_modified: float,
    *,
    prefix: str = "",
) -> Verdict:
    """The verdict of a read's preconditions on an object with ``etag`` and ``last_modified``.

    Args:
        headers: The request headers (case-insensitive mapping).
        etag: The object's ETag, bare or quoted.
        last_modified: Its Last-Modified, epoch seconds.
        prefix: ``"x-amz-copy-source-"`` to read a copy's source conditions instead.

    """
    modified = math.floor(last_modified)  # as the Last-Modified header shows it
    if_match = headers.get(f"{prefix}if-match")
    if if_match is not None:
        if not _matches(if_match, etag):
            return "failed"
    else:
        since = _date(headers.get(f"{prefix}if-unmodified-since"))
        if since is not None and modified > since:
            return "failed"
    if_none = headers.get(f"{prefix}if-none-match")
    if if_none is not None:
        if _matches(if_none, etag):
            return "not-modified"
    else:
        since = _date(headers.get(f"{prefix}if-modified-since"))
        if since is not None and modified <= since:
            return "not-modified"
    return "ok"


def check_read(headers: Mapping[str, str], etag: str, last_modified: float, resource: str) -> bool:
    """Whether a GET/HEAD answers with the object (True) or 304 Not Modified (False).

    Raises:
        S3Error: PreconditionFailed (412) when ``If-Match``/``If-Unmodified-Since`` fail.

    """
    verdict = evaluate(headers, etag, last_modified)
    if verdict == "failed":
        raise S3Error(
            "PreconditionFailed",
            f"{resource}: the If-Match/If-Unmodified-Since precondition does not hold (the "
            f'object\'s ETag is "{etag.strip(chr(34))}"); read it again without the condition',
            resource=resource,
        )
    return verdict == "ok"


def check_copy_source(
    headers: Mapping[str, str], etag: str, last_modified: float, resource: str
) -> None:
    """Refuse a copy whose ``x-amz-copy-source-if-*`` conditions fail (412, never 304)."""
    if evaluate(headers, etag, last_modified, prefix="x-amz-copy-source-") != "ok":
        raise S3Error(
            "PreconditionFailed",
            f"copy source {resource}: an x-amz-copy-source-if-* precondition does not hold "
            f'(its ETag is "{etag.strip(chr(34))}"); nothing was copied',
            resource=resource,
        )


def has_write_condition(headers: Mapping[str, str]) -> bool:
    """Whether a write is conditional (If-Match or If-None-Match)."""
    return "if-match" in headers or "if-none-match" in headers


def check_write(headers: Mapping[str, str], current: str | None, resource: str) -> None:
    """Refuse a conditional write whose condition does not hold on the key's ``current``
    ETag (None: the key does not exist).

    ``If-None-Match: *`` writes only if the key does not exist (S3's conditional write);
    ``If-None-Match`` with ETags writes unless the key holds one of them, as RFC 9110 has it
    for any method (AWS answers 501 for that form; Ceph RGW and s3-tests apply it).

    Raises:
        S3Error: PreconditionFailed (412); NoSuchKey (404) for ``If-Match`` on a missing
            key.

    """
    if_none = headers.get("if-none-match")
    if if_none is not None and _matches(if_none, current):
        asked = "* asked that it not" if if_none.strip() == "*" else f"{if_none} asked not"
        raise S3Error(
            "PreconditionFailed",
            f'{resource} exists with ETag "{current}" (If-None-Match: {asked}); nothing '
            "was written",
            resource=resource,
        )
    if_match = headers.get("if-match")
    if if_match is not None:
        if current is None:
            raise S3Error(
                "NoSuchKey",
                f"{resource} does not exist (If-Match asked for ETag {if_match}); nothing was "
                "written",
                resource=resource,
            )
        if not _matches(if_match, current):
            raise S3Error(
                "PreconditionFailed",
                f'{resource} has ETag "{current}", not {if_match} (If-Match); nothing was '
                "written: read it again and retry",
                resource=resource,
            )


@dataclass(frozen=True, slots=True)
class DeleteCondition:
    """What a conditional delete asks of the object (None: not asked)."""

    etag: str | None = None
    """``If-Match`` / ``<ETag>``: an ETag list, or ``*``."""
    size: int | None = None
    """``x-amz-if-match-size`` / ``<Size>``: the object's size in bytes."""
    last_modified: float | None = None
    """``x-amz-if-match-last-modified-time`` / ``<LastModifiedTime>``: epoch seconds."""


def _exact_time(value: str, name: str) -> float:
    """An HTTP date or an ISO 8601 time, as epoch seconds; refused when it is neither."""
    text = value.strip()
    try:
        return parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        pass
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise S3Error(
            "InvalidArgument",
            f"{name} '{value}' is not a time; send an HTTP date "
            "('Wed, 21 Oct 2015 07:28:00 GMT') or ISO 8601 ('2015-10-21T07:28:00Z')",
            argument=name,
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def _size(value: str, name: str) -> int:
    text = value.strip()
    if not text.isdigit():
        raise S3Error(
            "InvalidArgument",
            f"{name} '{value}' is not a size; send the object's size in bytes",
            argument=name,
        )
    return int(text)


def delete_condition(
    etag: str | None,
    size: str | None,
    last_modified: str | None,
    *,
    names: tuple[str, str, str] = (
        "If-Match",
        "x-amz-if-match-size",
        "x-amz-if-match-last-modified-time",
    ),
) -> DeleteCondition | None:
    """The condition of a delete from its raw values (None: unconditional).

    Args:
        etag: ``If-Match`` (or an entry's ``<ETag>``).
        size: ``x-amz-if-match-size`` (or ``<Size>``).
        last_modified: ``x-amz-if-match-last-modified-time`` (or ``<LastModifiedTime>``).
        names: How the three are named in errors.

    Raises:
        S3Error: InvalidArgument for a size or time that does not parse.

    """
    if etag is None and size is None and last_modified is None:
        return None
    return DeleteCondition(
        etag=etag,
        size=None if size is None else _size(size, names[1]),
        last_modified=None if last_modified is None else _exact_time(last_modified, names[2]),
    )


def delete_condition_of(headers: Mapping[str, str]) -> DeleteCondition | None:
    """The condition of a DeleteObject, from its headers (None: unconditional)."""
    return delete_condition(
        headers.get("if-match"),
        headers.get("x-amz-if-match-size"),
        headers.get("x-amz-if-match-last-modified-time"),
    )


def check_delete(
    condition: DeleteCondition,
    current: tuple[str, int, float] | None,
    resource: str,
) -> None:
    """Refuse a conditional delete whose condition does not hold on the key's ``current``
    (ETag, size, Last-Modified epoch seconds; None: the key does not exist).

    Raises:
        S3Error: PreconditionFailed (412); NoSuchKey (404) on a missing key.

    """
    if current is None:
        raise S3Error(
            "NoSuchKey",
            f"{resource} does not exist, so the delete's condition cannot hold; nothing was "
            "deleted",
            resource=resource,
        )
    etag, size, modified = current
    failed = []
    if condition.etag is not None and not _matches(condition.etag, etag):
        failed.append(f'its ETag is "{etag.strip(chr(34))}", not {condition.etag}')
    if condition.size is not None and condition.size != size:
        failed.append(f"its size is {size}, not {condition.size}")
    if condition.last_modified is not None and math.floor(condition.last_modified) != (
        math.floor(modified)
    ):
        when = datetime.datetime.fromtimestamp(math.floor(modified), datetime.UTC)
        failed.append(f"its Last-Modified is {when:%Y-%m-%dT%H:%M:%SZ}")
    if failed:
        raise S3Error(
            "PreconditionFailed",
            f"{resource}: the delete's precondition does not hold ({'; '.join(failed)}); "
            "nothing was deleted: read it again and retry",
            resource=resource,
        )


__all__ = [
    "DeleteCondition",
    "Verdict",
    "check_copy_source",
    "check_delete",
    "delete_condition",
    "delete_condition_of",
    "check_read",
    "check_write",
    "evaluate",
    "has_write_condition",
]
