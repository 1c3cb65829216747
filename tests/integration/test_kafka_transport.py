"""The transport on each broker: what pachstream's topics must carry."""

from __future__ import annotations

from pachstream.kafka import MAX_MESSAGE_BYTES, PartitionReader, Producer, Topics, ensure_topics


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
