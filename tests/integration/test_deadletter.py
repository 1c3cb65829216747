"""Garbage on each topic goes to the dead-letter topic with its reason; processors go on."""

from __future__ import annotations

import base64

import orjson

from pachstream.kafka import Producer, Topics
from pachstream.testing.services import read_dead_letters

GARBAGE = [
    (b"\x00\xffnot json at all", "not JSON"),
    (b"[1, 2, 3]", "expected an object"),
    (b'{"type": "no.such.type", "schema_version": 1}', "unknown event type"),
    (b'{"type": "repo.create", "schema_version": 1, "repo": "x"}', "missing field"),
    (
        b'{"type": "repo.create", "schema_version": 99, "request_id": "r", "repo": "x", "time": 1}',
        "schema_version",
    ),
    (
        b'{"type": "file.modify", "schema_version": 1, "request_id": "r", "repo": "x", '
        b'"branch": "m", "time": 1, "ops": [{"op": "put", "path": "/a", '
        b'"file": {"hash": "h", "size": "12", "chunks": []}}]}',
        "file.modify.ops.file.size: value '12' is not of type int",
    ),
    (  # version 2's compact rows: a pack index past the record's packs
        b'{"type": "file.modify", "schema_version": 2, "request_id": "r", "repo": "x", '
        b'"branch": "m", "time": 1, "packs": [], "ops": [["put", "/a", "h", 12, 0, 0]]}',
        "file.modify.ops.0.pack: value 0 is no index into packs (0)",
    ),
]


_dead_letters = read_dead_letters


async def test_garbage_on_every_topic_is_dead_lettered(stack, settings):
    c = stack.client
    topics = Topics(settings.namespace)
    kafka, _, _ = settings.require()
    await c.create_repo("before")
    producer = Producer(kafka)
    await producer.start()
    try:
        records = [
            (topic, "x", value)
            for topic in (topics.requests, topics.events)
            for value, _ in GARBAGE
        ]
        records.append((topics.requests, "x", None))  # a null record: no body at all
        # A valid request under the wrong key would break per-repo ordering: refused too.
        records.append(
            (
                topics.requests,
                "other",
                orjson.dumps(
                    {
                        "type": "repo.create",
                        "schema_version": 1,
                        "request_id": "k",
                        "repo": "x",
                        "time": 1.0,
                    }
                ),
            )
        )
        # A fact on the requests topic (and a request on the events topic) is not what they carry.
        records.append(
            (
                topics.requests,
                "x",
                orjson.dumps(
                    {
                        "type": "repo.deleted",
                        "schema_version": 1,
                        "event_id": "e",
                        "request_id": "q",
                        "repo": "x",
                        "time": 1.0,
                    }
                ),
            )
        )
        for topic, key, value in records:
            await (await producer.send(topic, key, value))
    finally:
        await producer.stop()

    # The events topic has two readers (materializer and dispatcher): each dead-letters what it
    # cannot read, naming itself, and goes on.
    expected = len(GARBAGE) * 3 + 3
    letters = await _dead_letters(settings, expected)
    assert len(letters) == expected
    by_dispatch = [d for d in letters if d["component"] == "dispatch"]
    assert len(by_dispatch) == len(GARBAGE) and {d["topic"] for d in by_dispatch} == {topics.events}
    letters = [d for d in letters if d["component"] != "dispatch"]
    by_topic = {
        t: [d for d in letters if d["topic"] == t] for t in (topics.requests, topics.events)
    }
    assert len(by_topic[topics.requests]) == len(GARBAGE) + 3
    assert len(by_topic[topics.events]) == len(GARBAGE)
    for topic in (topics.requests, topics.events):
        sent = [v for v, _ in GARBAGE]
        got = [
            base64.b64decode(d["value_b64"]) for d in by_topic[topic] if d["value_b64"] is not None
        ]
        for value, reason in GARBAGE:
            assert value in got, f"{value!r} was lost from {topic}"
            letter = next(
                d
                for d in by_topic[topic]
                if d["value_b64"] and base64.b64decode(d["value_b64"]) == value
            )
            assert reason in letter["reason"], (reason, letter["reason"])
            assert isinstance(letter["offset"], int)
        assert set(sent) <= set(got)
    reasons = " | ".join(d["reason"] for d in by_topic[topics.requests])
    assert "no value" in reasons
    assert "key by repo" in reasons or "is not the request's repo" in reasons
    assert "is not a request" in reasons

    # Both processors kept going: a write still round-trips and reads back.
    await c.put_file("before@master", "/after-garbage", b"ok")
    assert await c.get_file("before@master", "/after-garbage") == b"ok"
