"""Ingest records → file writes, and the commit policy: the pure core of the ingest topic.

A record on ``<ns>.ingest`` (any Kafka client can produce it) names a file and carries its
content:

- **where**: headers ``repo``, ``branch`` (default ``master``) and ``path``; or, without
  headers, the key ``repo@branch:/path`` (pachctl's file reference; ``repo:/path`` means
  ``master``). Headers win over the key.
- **what**: the value is the content. For large content, header ``s3-uri: s3://bucket/key``
  names an object to copy instead (the value is then ignored).
- **how**: header ``op``: ``put`` (default: replace), ``append`` or ``delete``.

Records are grouped per (repo, branch) into commits by a :class:`CommitPolicy`: every N
records or T seconds, whichever comes first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pachstream.config import NotifyConfig
from pachstream.errors import InvalidInput, PachstreamError
from pachstream.names import validate_branch_name, validate_repo_name
from pachstream.paths import validate_file_path

Op = Literal["put", "append", "delete"]


@dataclass(frozen=True, slots=True)
class IngestItem:
    """One file write asked for by one record."""

    repo: str
    branch: str
    path: str
    op: Op
    data: bytes
    """Inline content (empty for a delete or an S3 reference)."""
    s3_bucket: str | None = None
    s3_key: str | None = None


def _header(headers: list[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            try:
                return value.decode()
            except UnicodeDecodeError:
                raise InvalidInput(
                    f"header '{name}' is not UTF-8 text; send its value encoded as UTF-8",
                    header=name,
                ) from None
    return None


_KEY = re.compile(r"^(?P<repo>[^@:]+)(?:@(?P<branch>[^:]+))?:(?P<path>/.*)$")


def parse_record(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> IngestItem:
    """The file write a record asks for; InvalidInput naming what is wrong and how to fix it."""
    repo, branch, path = (_header(headers, h) for h in ("repo", "branch", "path"))
    if repo is None and path is None:
        if key is None:
            raise InvalidInput(
                "an ingest record needs headers 'repo' and 'path', or the key "
                "'repo@branch:/path'; it has neither"
            )
        text = key.decode(errors="replace")
        m = _KEY.match(text)
        if m is None:
            raise InvalidInput(
                f"key {text[:80]!r} is not 'repo@branch:/path' (e.g. raw@master:/data.csv)",
                key=text[:80],
            )
        repo, branch, path = m["repo"], m["branch"], m["path"]
    if repo is None or path is None:
        missing = "repo" if repo is None else "path"
        raise InvalidInput(f"an ingest record with headers needs header '{missing}' too")
    try:
        repo = validate_repo_name(repo)
        branch = validate_branch_name(branch or "master")
        path = validate_file_path(path)
    except PachstreamError as err:
        # The path cut short: the reason of a 10 MB key must not be 10 MB itself.
        where = f"{repo}@{branch}:{path[:80]}"
        raise InvalidInput(f"ingest record for {where}: {err.message}") from None
    op = _header(headers, "op") or "put"
    if op not in ("put", "append", "delete"):
        raise InvalidInput(f"header 'op' is {op!r}; use put, append or delete", op=op)
    uri = _header(headers, "s3-uri")
    if uri is None or op == "delete":
        return IngestItem(repo, branch, path, op, b"" if op == "delete" else value or b"")  # type: ignore[arg-type]
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc or len(parts.path) < 2:
        raise InvalidInput(
            f"header 's3-uri' is {uri[:80]!r}; give s3://bucket/key", s3_uri=uri[:80]
        )
    return IngestItem(repo, branch, path, op, b"", parts.netloc, parts.path[1:])  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Notification:
    """One object event of a bucket notification."""

    item: IngestItem
    seen_key: str
    """The same event, delivered twice, has the same key: bucket, key, version (or eTag),
    sequencer."""


def parse_notification(value: bytes | None, config: NotifyConfig) -> list[Notification]:
    """The object events of one notification record, AWS's shape (``{"Records": [...]}``) or
    MinIO's (``{"EventName", "Key", "Records": [one]}``); InvalidInput when it is neither.
    Events other than created/removed (e.g. ``s3:TestEvent``) give nothing.
    """
    import orjson

    try:
        body = orjson.loads(value or b"")
    except orjson.JSONDecodeError as err:
        raise InvalidInput(f"a notification record is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise InvalidInput("a notification record must be a JSON object with 'Records'")
    if "Records" not in body:
        if body.get("Event") == "s3:TestEvent" or body.get("EventName") == "s3:TestEvent":
            return []
        raise InvalidInput("a notification record has no 'Records' (AWS or MinIO shape)")
    records = body["Records"]
    if not isinstance(records, list):
        raise InvalidInput("'Records' of a notification record must be a list")
    return [n for i, r in enumerate(records) if (n := _event(r, i, config)) is not None]


def _event(record: object, index: int, config: NotifyConfig) -> Notification | None:
    from urllib.parse import unquote_plus

    where = f"Records[{index}]"
    try:
        name = record["eventName"]  # type: ignore[index]
        bucket = record["s3"]["bucket"]["name"]  # type: ignore[index]
        obj = record["s3"]["object"]  # type: ignore[index]
        raw_key = obj["key"]
    except (KeyError, TypeError):
        raise InvalidInput(
            f"{where} lacks eventName, s3.bucket.name or s3.object.key", record=where
        ) from None
    if not all(isinstance(v, str) for v in (name, bucket, raw_key)):
        raise InvalidInput(f"{where}: eventName, bucket and key must be strings", record=where)
    key = unquote_plus(raw_key)  # S3 notifications URL-encode keys ('+' is a space)
    created, removed = "ObjectCreated" in name, "ObjectRemoved" in name
    if not (created or removed):
        return None
    target = config.prefix.rstrip("/") + "/" + key
    try:
        path = validate_file_path(target)
    except PachstreamError as err:
        raise InvalidInput(f"{where}: key {key[:80]!r} cannot be a path: {err.message}") from None
    version = obj.get("versionId") or obj.get("eTag") or ""
    seen = "\x1f".join((bucket, key, str(version), str(obj.get("sequencer", "")), name))
    if removed:
        item = IngestItem(config.repo, config.branch, path, "delete", b"")
    else:
        item = IngestItem(config.repo, config.branch, path, "put", b"", bucket, key)
    return Notification(item, seen)
