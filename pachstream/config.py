"""The configuration strings the processors read, parsed: pure, below every processor.

:meth:`pachstream.settings.Settings.from_env` parses each of them at once, so a bad value
fails the process that reads the environment (``pachstream up`` first of all) with a message
naming the variable, not the processor that meets it later (which would exit and be
restarted forever). The processors take the parsed values from their ``Settings``.

- ``PACHSTREAM_INGEST_POLICY``: when ingest records become commits (:func:`parse_policies`);
- ``PACHSTREAM_NOTIFY``: bucket notifications to follow (:func:`parse_notify_config`);
- ``PACHSTREAM_OPENLINEAGE``: where OpenLineage events go (:func:`parse_target`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final, TypeAlias
from urllib.parse import urlsplit

from pachstream.errors import InvalidInput, PachstreamError
from pachstream.names import validate_branch_name, validate_repo_name
from pachstream.security import redacted_repr

# ----------------------------------------------------------------------------- ingest policy


@dataclass(frozen=True, slots=True)
class CommitPolicy:
    """When the records gathered for one branch become a commit."""

    records: int = 1000
    """At most this many records per commit."""
    seconds: float = 5.0
    """At most this long between a branch's first pending record and its commit."""

    def due(self, pending: int, age_s: float) -> bool:
        """Whether a batch of ``pending`` records, the oldest ``age_s`` old, commits now."""
        return pending >= self.records or (pending > 0 and age_s >= self.seconds)


_POLICY = re.compile(r"^(?P<n>\d+)/(?P<t>\d+(?:\.\d+)?)s$")


def parse_policies(text: str | None) -> tuple[CommitPolicy, dict[str, CommitPolicy]]:
    """``PACHSTREAM_INGEST_POLICY``: ``N/Ts`` for every repo, and ``repo=N/Ts`` per repo,
    separated by commas; e.g. ``1000/5s,logs=100/0.5s``. Returns (default, per repo).
    """
    default = CommitPolicy()
    per_repo: dict[str, CommitPolicy] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        repo, _, rule = part.rpartition("=")
        m = _POLICY.match(rule)
        if m is None or int(m["n"]) < 1 or float(m["t"]) <= 0:
            raise InvalidInput(
                f"PACHSTREAM_INGEST_POLICY: {part!r} is not N/Ts or repo=N/Ts with N ≥ 1 and "
                "T > 0 (e.g. 1000/5s,logs=100/0.5s)",
                policy=part,
            )
        policy = CommitPolicy(int(m["n"]), float(m["t"]))
        if repo:
            per_repo[validate_repo_name(repo)] = policy
        else:
            default = policy
    return default, per_repo


# ----------------------------------------------------------------------------- notifications


@redacted_repr
@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """``PACHSTREAM_NOTIFY``: where S3 event notifications come from and where objects go."""

    topic: str
    """The Kafka topic the bucket's notifications are produced to."""
    repo: str
    branch: str = "master"
    prefix: str = "/"
    """Folder in the repo under which an object's key becomes the path."""
    endpoint: str | None = None
    """The external S3 endpoint to fetch objects from (None: the stack's own)."""
    access_key: str | None = None
    secret_key: str | None = None


NOTIFY_FIELDS = ("topic", "repo", "branch", "prefix", "endpoint", "access_key", "secret_key")


def parse_notify_config(text: str | None) -> NotifyConfig | None:
    """``topic=T,repo=R[,branch=B][,prefix=/P][,endpoint=URL][,access_key=K,secret_key=S]``;
    None when unset.
    """
    if not text:
        return None
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name not in NOTIFY_FIELDS or not value:
            raise InvalidInput(
                f"PACHSTREAM_NOTIFY: {part!r} is not one of {', '.join(NOTIFY_FIELDS)} "
                "given as name=value (e.g. topic=s3-events,repo=raw)",
                part=part,
            )
        fields[name] = value
    for required in ("topic", "repo"):
        if required not in fields:
            raise InvalidInput(
                f"PACHSTREAM_NOTIFY needs {required}=... (e.g. topic=s3-events,repo=raw)"
            )
    try:
        validate_repo_name(fields["repo"])
        validate_branch_name(fields.get("branch", "master"))
        prefix = "/" + fields.get("prefix", "/").strip("/")
    except PachstreamError as err:
        raise InvalidInput(f"PACHSTREAM_NOTIFY: {err.message}") from None
    return NotifyConfig(**{**fields, "prefix": prefix})


# ----------------------------------------------------------------------------- openlineage

ENV_VAR: Final = "PACHSTREAM_OPENLINEAGE"
ACCEPTED_FORMS: Final = (
    "http(s)://host:port[/path] (Marquez), file:///absolute/path.jsonl or kafka:TOPIC"
)
_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpTarget:
    """POST each event to an OpenLineage HTTP endpoint (Marquez: ``/api/v1/lineage``)."""

    url: str
    """``scheme://host:port`` of the server."""
    endpoint: str
    """Path the events are posted to, relative to ``url``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FileTarget:
    """Append each event to a local file, one JSON document a line."""

    path: str
    """Absolute path of the file."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaTarget:
    """Produce each event to a topic of pachstream's own broker."""

    topic: str
    """Topic name."""


Target: TypeAlias = HttpTarget | FileTarget | KafkaTarget
"""Where OpenLineage events go."""


def parse_target(value: str | None) -> Target:
    """Read a ``PACHSTREAM_OPENLINEAGE`` value.

    Accepted: ``http(s)://host:port`` (events go to ``/api/v1/lineage``, Marquez's endpoint),
    ``http(s)://host:port/some/path`` (events go to that path), ``file:///abs/path.jsonl``
    and ``kafka:TOPIC``.

    Raises:
        InvalidInput: naming the variable, the value and the accepted forms.

    """
    if not value:
        raise _invalid(value, "it is not set")
    if value.startswith(("http://", "https://")):
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 - urlsplit checks the port only when asked
        except ValueError as exc:
            raise _invalid(value, f"the port is not a number from 0 to 65535 ({exc})") from exc
        if not parts.hostname:
            raise _invalid(value, "the URL has no host")
        if parts.fragment:
            raise _invalid(value, "the URL has a '#fragment'")
        path = parts.path if parts.path not in ("", "/") else ""
        query = f"?{parts.query}" if parts.query else ""
        return HttpTarget(
            url=f"{parts.scheme}://{parts.netloc}",
            endpoint=(path + query) if path or query else "api/v1/lineage",
        )
    if value.startswith("file:"):
        parts = urlsplit(value)
        if not value.startswith("file://") or parts.netloc not in ("", "localhost"):
            raise _invalid(value, "a file URL is file:// followed by an absolute path")
        if not parts.path.startswith("/") or parts.path.endswith("/"):
            raise _invalid(value, "the path must be absolute and name a file")
        if parts.query or parts.fragment:
            raise _invalid(value, "a file URL takes no '?query' or '#fragment'")
        return FileTarget(path=str(PurePosixPath(parts.path)))
    if value.startswith("kafka:"):
        topic = value.removeprefix("kafka:")
        if not _TOPIC_RE.match(topic) or topic in (".", ".."):
            raise _invalid(
                value, "a topic name is 1-249 letters, digits, '.', '_' or '-' (not '.' or '..')"
            )
        return KafkaTarget(topic=topic)
    raise _invalid(value, "the scheme is not one of http, https, file or kafka")


def _invalid(value: str | None, why: str) -> InvalidInput:
    return InvalidInput(
        f"{ENV_VAR}={value!r} is invalid: {why}; use {ACCEPTED_FORMS}",
        variable=ENV_VAR,
        value=value,
    )
