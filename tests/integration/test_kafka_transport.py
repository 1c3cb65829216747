"""The transport on each broker: what pachstream's topics must carry."""

from __future__ import annotations

import time
import uuid

import pachstream.kafka
from pachstream.kafka import (
    FETCH_WAIT_ASLEEP_MS,
    MAX_MESSAGE_BYTES,
    PartitionReader,
    Producer,
    Topics,
    ensure_topics,
)


async def test_a_record_over_a_mebibyte_travels_on_pachstreams_topics(settings) -> None:
    # A datum of a glob "/" over thousands of files is one task record of several MiB;
    # Apache Kafka refuses records over 1 MiB unless the topic allows them.
    kafka, _, _ = settings.require()
    topic = Topics(settings.namespace).tasks("wide", 1)
    await ensure_topics(kafka, {topic: 1})
    big = bytes(range(256)) * (3 * 1024 * 1024 // 256)
    assert 1024 * 1024 < len(big) < MAX_MESSAGE_BYTES
    producer = Producer(kafka)
    await producer.start()
    try:
        await producer.send_all([(topic, "k", big)])
    finally:
        await producer.stop()
    reader = PartitionReader(kafka)
    await reader.start([topic], {})
    try:
        got = []
        for _ in range(50):
            got += await reader.read(timeout_ms=200)
            if got:
                break
    finally:
        await reader.stop()
    assert [r.value for r in got] == [big]


async def test_a_caught_up_reader_is_answered_by_the_next_record_not_by_its_wait(
    settings, broker, monkeypatch
) -> None:
    # Apache Kafka answers a waiting fetch once records arrive, so a caught-up reader leaves
    # its fetch parked there (a wait far longer than this test's patience: only the broker's
    # answer can deliver in time). Tansu holds a fetch for its whole wait: the reader keeps
    # its short waits there.
    monkeypatch.setattr(pachstream.kafka, "FETCH_WAIT_PARKED_MS", 25_000)
    kafka, _, _ = settings.require()
    topic = Topics(settings.namespace).tasks(f"parked{uuid.uuid4().hex[:6]}", 1)
    await ensure_topics(kafka, {topic: 1})
    reader = PartitionReader(kafka)
    await reader.start([topic], {})
    producer = Producer(kafka)
    await producer.start()
    try:
        for _ in range(5):  # caught up on the empty topic: its fetch is out, waiting
            assert await reader.read(timeout_ms=100) == []
        wait = reader._consumer._fetcher._fetch_max_wait_ms
        if broker == "kafka":
            assert wait == 25_000
        else:
            assert wait <= FETCH_WAIT_ASLEEP_MS
        await producer.send_all([(topic, "k", b"wake")])
        sent = time.monotonic()
        got = []
        while not got and time.monotonic() - sent < 20:
            got = await reader.read(timeout_ms=200)
        took = time.monotonic() - sent
    finally:
        await producer.stop()
        await reader.stop()
    assert [r.value for r in got] == [b"wake"]
    assert took < 10, f"the record came {took:.1f} s after its ack: the fetch was not woken"


async def test_a_behind_fetch_that_brings_records_sizes_the_next_behind_wait(settings) -> None:
    # Tansu raises a partition's high watermark before it stores the batch: a reader told it
    # is behind fetches at once, and a fetch that finds nothing sleeps half its wait. The
    # reader times its behind fetches that bring records and waits a few of those round
    # trips, not the listing deadline (the pure rule: tests/unit/test_fetch_wait.py).
    kafka, _, _ = settings.require()
    topic = Topics(settings.namespace).tasks(f"behind{uuid.uuid4().hex[:6]}", 1)
    tp = pachstream.kafka.TopicPartition(topic, 0)
    await ensure_topics(kafka, {topic: 1})
    producer = Producer(kafka)
    await producer.start()
    reader = PartitionReader(kafka)
    await reader.start([topic], {})

    async def read(n: int) -> list[bytes]:
        got: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(got) < n and time.monotonic() < deadline:
            got += [r.value or b"" for r in await reader.read(timeout_ms=200)]
        return got

    try:
        await producer.send_all([(topic, "k", b"%d" % i) for i in range(10)])
        assert await read(10) == [b"%d" % i for i in range(10)]
        assert reader.behind_trip_s() is None  # caught up all along
        # Paused, no fetch of it is out; then as a response that saw a produce in flight
        # leaves it: behind, with the records there to bring.
        consumer, fetcher = reader._consumer, reader._consumer._fetcher
        consumer.pause(tp)
        deadline = time.monotonic() + 30
        while fetcher._in_flight and time.monotonic() < deadline:
            await reader.read(timeout_ms=50)
        await producer.send_all([(topic, "k", b"%d" % i) for i in range(10, 20)])
        consumer._subscription.subscription.assignment.state_value(tp).highwater = 10**9
        consumer.resume(tp)
        later = await read(10)
        trip = reader.behind_trip_s()
    finally:
        await producer.stop()
        await reader.stop()
    assert later == [b"%d" % i for i in range(10, 20)]
    assert trip is not None and 0 < trip < 30
    wait = pachstream.kafka.fetch_wait_ms(True, 0.0, behind_trip_s=trip)
    assert wait == max(
        pachstream.kafka.FETCH_WAIT_BEHIND_MIN_MS,
        min(pachstream.kafka.FETCH_WAIT_BEHIND_MS, round(4_000 * trip)),
    )
