"""The console's HTML: escaping, the page frame, tables, forms, and the small decisions pages
share (a commit's origin, a job's progress, whether a file previews as text). Pure.

Every value that comes from a user (repo, path, file content, stderr) goes through
:func:`esc`; helpers that take ``html`` arguments expect markup built here.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import quote, urlencode

from pachstream.console._access import CSRF_FIELD
from pachstream.lineage.queries import CommitInfo, JobInfo
from pachstream.units import human_bytes  # re-exported: the pages show sizes as the CLI does

PREVIEW_BYTES = 64 * 1024
"""Files up to this size are shown inline when they are text (larger: download only)."""

# Commit descriptions the writers give (gateway/_open_commit.py GATEWAY_DESCRIPTION,
# ingest/_consumer.py, dispatch/_jobs.py): the console may not import those packages, and a
# description is all a commit row says about who made it.
_ORIGINS = (("s3 gateway:", "gateway"), ("ingest:", "ingest"), ("output of ", "pipeline"))

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#233;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#cfe;text-decoration:none}header form{margin-left:auto}
main{padding:12px 16px}h1{font-size:20px;margin:8px 0}h2{font-size:16px;margin:16px 0 6px}
table{border-collapse:collapse;background:#fff;margin:4px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef}code,pre{font:12px/1.3 ui-monospace,monospace}
pre{background:#fff;border:1px solid #ddd;padding:8px;overflow:auto;max-height:480px}
.bar{width:420px;height:16px;background:#eee;border:1px solid #bbb;display:flex}
.bar span{display:block;height:100%}.ok{background:#4a4}.skip{background:#9cd}.bad{background:#d44}
.state-success,.state-running{color:#282}.state-failure,.state-killed{color:#b22}
.state-stopped{color:#a60}.muted{color:#777}button{cursor:pointer}
svg.spark{vertical-align:middle;background:#fff;border:1px solid #e4e4e4}
"""


def esc(value: object) -> str:
    """``value`` as text safe inside HTML (and inside quoted attributes)."""
    return html.escape(str(value), quote=True)


def url(base: str, /, **params: str | int | None) -> str:
    """A console URL: ``base`` with the non-None ``params`` as its query string."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return base + ("?" + query if query else "")


def seg(name: str) -> str:
    """One path segment of a URL (a repo, pipeline or job name)."""
    return quote(name, safe="")


def link(href: str, text: object) -> str:
    """An ``<a>``."""
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def page(title: str, body: str, *, search: str = "") -> str:
    """A whole page: the header (links, search box) and ``body``."""
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{esc(title)} · pachstream</title><style>{CSS}</style></head><body>"
        '<header><b>pachstream</b><a href="/">home</a><a href="/dag">DAG</a>'
        '<form action="/search" method="get"><input name="q" placeholder="search by path" '
        f'value="{esc(search)}"><button>search</button></form></header>'
        f"<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str = "none") -> str:
    """A table of already-built cells (escape values with :func:`esc` first)."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="muted">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f"<table><tr>{head}</tr>{body}</table>"


def state(value: str | None) -> str:
    """A pipeline or job state, coloured."""
    if value is None:
        return '<span class="muted">-</span>'
    return f'<span class="state-{esc(value)}">{esc(value)}</span>'


def post_button(action: str, label: str, csrf: str, **fields: str) -> str:
    """A one-button form that POSTs to ``action`` with the CSRF token and ``fields``."""
    hidden = "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">'
        for k, v in {CSRF_FIELD: csrf, **fields}.items()
    )
    return (
        f'<form method="post" action="{esc(action)}">{hidden}<button>{esc(label)}</button></form>'
    )


def human_duration(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 5 s``, ``2 h 4 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def when(epoch: float | None) -> str:
    """An epoch time as UTC ``YYYY-MM-DD HH:MM:SS``; ``-`` for None."""
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def commit_origin(commit: CommitInfo, pipelines: Iterable[str]) -> str:
    """Who made a commit: ``pipeline`` (an output repo's commits), ``gateway``, ``ingest`` or
    ``user`` (the SDK or CLI), from its repo and description.
    """
    if commit.repo in set(pipelines):
        return "pipeline"
    for prefix, origin in _ORIGINS:
        if commit.description.startswith(prefix):
            return origin
    return "user"


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a job is, as the job page and its JSON endpoint show it."""

    state: str
    """The job's state."""
    total: int
    """Datums of the job."""
    processed: int
    """Run successfully (recovered ones included)."""
    skipped: int
    """Kept from earlier jobs."""
    failed: int
    """Failed every try."""
    done: int
    """processed + skipped + failed."""
    percent: float
    """done of total, 0-100 (100 for a job with no datums)."""
    elapsed_s: float
    """Since it started, until it finished (or now)."""
    rate: float
    """Datums run (processed + failed) per second of elapsed time."""
    finished: bool
    """Whether the job has ended."""


def progress(job: JobInfo, now: float, datum_states: Iterable[str] = ()) -> Progress:
    """A job's :class:`Progress` at time ``now``.

    The job's counts are written when it ends; while it runs, ``datum_states`` (the states
    of the datums that have reported, :meth:`Client.list_datum`) give the counts so far.
    """
    states = list(datum_states)
    ok = sum(1 for s in states if s in ("success", "recovered"))
    bad = sum(1 for s in states if s == "failed")
    job = replace(job, processed=max(job.processed, ok), failed=max(job.failed, bad))
    done = job.processed + job.skipped + job.failed
    total = max(job.datums, done)
    end = job.finished if job.finished is not None else now
    elapsed = max(0.0, end - job.started)
    ran = job.processed + job.failed
    return Progress(
        state=job.state,
        total=total,
        processed=job.processed,
        skipped=job.skipped,
        failed=job.failed,
        done=done,
        percent=100.0 if total == 0 else round(100.0 * done / total, 1),
        elapsed_s=round(elapsed, 3),
        rate=round(ran / elapsed, 2) if elapsed > 0 else 0.0,
        finished=job.finished is not None or job.state != "running",
    )


def progress_bar(p: Progress) -> str:
    """The bar: processed (green), skipped (blue), failed (red) of the total."""

    def part(n: int, cls: str) -> str:
        width = 0.0 if p.total == 0 else 100.0 * n / p.total
        return f'<span class="{cls}" id="bar-{cls}" style="width:{width:.2f}%"></span>'

    return (
        f'<div class="bar" title="{p.done} of {p.total}">'
        + part(p.processed, "ok")
        + part(p.skipped, "skip")
        + part(p.failed, "bad")
        + "</div>"
    )


def is_text(data: bytes) -> bool:
    """Whether ``data`` previews as text: UTF-8 without NUL bytes."""
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_GLOB_SPECIAL = set("*?[]{}()!@+\\|,")


def search_pattern(query: str) -> str:
    """The glob a search runs: a pattern starting with ``/`` as given; other text matches
    paths that contain it anywhere (its glob characters escaped).
    """
    query = query.strip()
    if query.startswith("/"):
        return query
    literal = "".join("\\" + ch if ch in _GLOB_SPECIAL else ch for ch in query)
    return f"/**{literal}**"


__all__ = [
    "PREVIEW_BYTES",
    "Progress",
    "commit_origin",
    "esc",
    "human_bytes",
    "human_duration",
    "is_text",
    "link",
    "page",
    "post_button",
    "progress",
    "progress_bar",
    "search_pattern",
    "seg",
    "state",
    "table",
    "url",
    "when",
]
