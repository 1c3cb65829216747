"""The job page's server-sent events: when an event is due, and its wire format. Pure."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from pachstream.console._html import Progress
from pachstream.console._sse import changed, event, progress_doc

RUNNING = Progress(
    state="running",
    total=3,
    processed=0,
    skipped=0,
    failed=0,
    done=0,
    percent=0.0,
    elapsed_s=1.0,
    rate=0.0,
    finished=False,
)


def at(**kw) -> Progress:
    return dataclasses.replace(RUNNING, **kw)


@pytest.mark.parametrize(
    ("previous", "current", "due"),
    [
        (None, RUNNING, True),  # the first state is always sent
        (RUNNING, RUNNING, False),
        # Time passing alone is no event: the page counts elapsed time itself.
        (RUNNING, at(elapsed_s=9.0, rate=0.1), False),
        (RUNNING, at(processed=1, done=1), True),
        (RUNNING, at(skipped=2, done=2), True),
        (RUNNING, at(failed=1, done=1), True),
        (RUNNING, at(total=4), True),  # more datums were planned
        (RUNNING, at(state="failure", finished=True), True),
        (RUNNING, at(finished=True), True),
    ],
)
def test_an_event_is_due_when_the_counts_change(previous, current, due):
    assert changed(previous, current) is due


def test_a_run_of_states_gives_one_event_per_change():
    states = [
        RUNNING,
        at(elapsed_s=2.0),
        at(processed=1, done=1, elapsed_s=3.0),
        at(processed=1, done=1, elapsed_s=4.0),
        at(processed=3, done=3, state="success", finished=True),
    ]
    sent = None
    events = []
    for p in states:
        if changed(sent, p):
            events.append(p.done)
            sent = p
    assert events == [0, 1, 3]


def test_the_wire_format():
    doc = progress_doc("j1", at(processed=1, done=1, elapsed_s=75.0))
    assert doc["elapsed"] == "1 min 15 s" and doc["id"] == "j1" and doc["finished"] is False
    raw = event("progress", doc, event_id=3, retry_ms=2000)
    head, data = raw.split(b"data: ")
    assert head == b"event: progress\nid: 3\nretry: 2000\n"
    assert data.endswith(b"\n\n") and b"\n" not in data[:-2]  # one line of JSON
    assert orjson.loads(data) == doc
    assert event("end", {"x": "a\nb"}) == b'event: end\ndata: {"x":"a\\nb"}\n\n'
