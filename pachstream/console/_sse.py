"""Server-sent events for the job page (``GET /jobs/<id>/events``). Pure.

The stream sends one ``progress`` event each time the job's counts or state change (never
for time passing alone: the page counts elapsed time itself), then one ``end`` event when
the job has ended, and the server closes it. Between events a comment line keeps proxies
from timing the connection out. See https://html.spec.whatwg.org/multipage/server-sent-events.html
for the wire format: ``field: value`` lines, an event ends with a blank line.
"""

from __future__ import annotations

from typing import Any

import orjson

from pachstream.console._html import Progress, human_duration

KEEPALIVE = b": keepalive\n\n"
"""A comment line: the browser ignores it, the connection stays in use."""
RETRY_MS = 2000
"""How long a browser waits before it reconnects (sent once, with the first event)."""


def counts(p: Progress) -> tuple[str, int, int, int, int, bool]:
    """What an event is sent for a change of: state, total and the three outcomes, ended."""
    return (p.state, p.total, p.processed, p.skipped, p.failed, p.finished)


def changed(previous: Progress | None, current: Progress) -> bool:
    """Whether ``current`` is worth an event after ``previous`` (None: nothing sent yet)."""
    return previous is None or counts(previous) != counts(current)


def progress_doc(job_id: str, p: Progress) -> dict[str, Any]:
    """The JSON of a job's progress (the ``progress`` event's data, and ``progress.json``)."""
    return {
        "id": job_id,
        "state": p.state,
        "total": p.total,
        "processed": p.processed,
        "skipped": p.skipped,
        "failed": p.failed,
        "done": p.done,
        "percent": p.percent,
        "elapsed_s": p.elapsed_s,
        "elapsed": human_duration(p.elapsed_s),
        "rate": p.rate,
        "finished": p.finished,
    }


def event(
    name: str, data: Any, *, event_id: int | None = None, retry_ms: int | None = None
) -> bytes:
    """One event on the wire: ``data`` as one line of JSON (JSON has no raw newlines)."""
    head = f"event: {name}\n"
    if event_id is not None:
        head += f"id: {event_id}\n"
    if retry_ms is not None:
        head += f"retry: {retry_ms}\n"
    return head.encode() + b"data: " + orjson.dumps(data) + b"\n\n"


__all__ = ["KEEPALIVE", "RETRY_MS", "changed", "counts", "event", "progress_doc"]
