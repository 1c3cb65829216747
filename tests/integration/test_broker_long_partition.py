"""A partition of thousands of batches on Tansu's S3 storage is read to its end.

Tansu lists every record object of a partition within the fetch's wait and answers with
nothing when the wait runs out first. With the 10 ms wait a caught-up reader uses, a reader
behind on ~3,000 objects received no record at all (the chaos campaign's stalled pipelines,
the soak's falling rate); :func:`pachstream.kafka.fetch_wait_ms` gives a reader that is behind
a deadline long enough to list.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaProducer

from pachstream.kafka import PartitionReader, ensure_topics
from pachstream.testing.embedded import EmbeddedServers

BATCHES = 3_000


async def _one_record_batches(bootstrap: str, topic: str, count: int, producers: int = 4) -> None:
    """``count`` records, each acknowledged before the next of its producer: one batch (one
    S3 object) each."""

    async def produce(first: int) -> None:
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        await p.start()
        try:
            for i in range(first, count, producers):
                await (await p.send(topic, str(i).encode(), partition=0))
        finally:
            await p.stop()

    await asyncio.gather(*(produce(i) for i in range(producers)))


async def _read(reader: PartitionReader, want: int, deadline_s: float) -> dict[int, int]:
    """Offset → value of what ``reader`` gives until ``want`` records or the deadline."""
    got: dict[int, int] = {}
    deadline = time.monotonic() + deadline_s
    while len(got) < want and time.monotonic() < deadline:
        got.update((r.offset, int(r.value or b"-1")) for r in await reader.read(timeout_ms=200))
    return got


async def test_a_reader_behind_thousands_of_s3_batches_reaches_the_end() -> None:
    with EmbeddedServers(kafka_storage="s3") as servers:
        kafka = servers.settings.kafka
        await ensure_topics(kafka, {"long": 1})
        await _one_record_batches(kafka.bootstrap, "long", BATCHES)

        # From the start (a replay), and from the middle (a restarted processor's offset).
        for start in (0, BATCHES - 200):
            reader = PartitionReader(kafka)
            await reader.start(["long"], {} if start == 0 else {("long", 0): start})
            try:
                got = await _read(reader, BATCHES - start, deadline_s=120)
            finally:
                await reader.stop()
            assert sorted(got) == list(range(start, BATCHES)), (start, len(got))
            if start == 0:
                assert sorted(got.values()) == list(range(BATCHES))
