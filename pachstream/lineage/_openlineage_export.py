"""The OpenLineage exporter: job facts of the events topic become OpenLineage RunEvents.

One batch at a time: read → decode (garbage → dead-letter) → :func:`run_events` → emit every
event of the batch → one transaction with the consumed offsets. Offsets are saved only after
the sink accepted every event, so delivery is at least once: a crash between the two emits
the batch again, and the repeats are the same events byte for byte (run ids and times come
from the facts), which an OpenLineage consumer stores as one.

Sinks (:class:`EventSink`): HTTP and file go through ``openlineage-python``'s own transports,
called in a thread because they block; Kafka goes through pachstream's producer (the
``openlineage-python`` Kafka transport needs confluent-kafka).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar, Protocol, cast

import attr
import requests
from openlineage.client.serde import Serde
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.transport.transport import Config, Transport

from pachstream.config import FileTarget, HttpTarget, KafkaTarget, Target, parse_target
from pachstream.errors import Unavailable
from pachstream.kafka import Producer, ensure_topics
from pachstream.lineage._openlineage_events import (
    run_events,
)
from pachstream.objectstore import ObjectStore
from pachstream.processor import LogProcessor, Outgoing, offsets_table
from pachstream.service import State
from pachstream.settings import Settings

log = logging.getLogger("pachstream.openlineage")

MIGRATIONS = [offsets_table("openlineage")]
"""The exporter keeps nothing but its offsets: the events are a function of the facts."""


def producer_uri() -> str:
    """Return the ``producer`` of every event: this software at its installed version."""
    try:
        release = version("pachstream")
    except PackageNotFoundError:  # a source tree that was never installed
        release = "main"
    return f"https://github.com/pachstream/pachstream/tree/v{release}"


def serialize(event: dict[str, Any]) -> str:
    """Serialize an event the same way for every sink.

    This is ``openlineage-python``'s serializer: keys sorted, so equal events are equal bytes.
    """
    return Serde.to_json(event)


class EventSink(Protocol):
    """Where the exporter's events go; ``emit_all`` returns once every event is accepted."""

    async def open(self) -> None:
        """Connect or prepare; called once before the first batch."""

    async def emit_all(self, events: Sequence[dict[str, Any]]) -> None:
        """Deliver ``events`` in order; raise :class:`Unavailable` when they may not be."""

    async def close(self) -> None:
        """Release connections; safe before ``open``."""


class TransportSink:
    """An ``openlineage-python`` transport (HTTP, file), run in a thread since it blocks."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def open(self) -> None:
        """Nothing to prepare (the HTTP transport connects on first use)."""
        if isinstance(self.transport, FileTransport):
            # The file transport opens the file per event but creates no folders.
            path = Path(self.transport.config.log_file_path)
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)

    async def emit_all(self, events: Sequence[dict[str, Any]]) -> None:
        """Emit one after another in a worker thread."""
        if events:
            await asyncio.to_thread(self._emit_all, events)

    def _emit_all(self, events: Sequence[dict[str, Any]]) -> None:
        for event in events:
            try:
                # The transports serialize with Serde, which takes dicts as well as the
                # client's event classes. The events bypass OpenLineageClient.emit on purpose:
                # it adds facets from the process environment, and then a replay on another
                # host would not give the same events.
                self.transport.emit(cast(Any, event))
            except (requests.RequestException, RuntimeError, OSError) as exc:
                raise Unavailable(
                    f"OpenLineage {self.transport.kind} transport refused an event: {exc}",
                    transport=self.transport.kind,
                ) from exc

    async def close(self) -> None:
        """Close the transport's session."""
        await asyncio.to_thread(self.transport.close)


@attr.define
class KafkaTopicConfig(Config):
    """Configuration of :class:`KafkaTopicTransport`."""

    topic: str
    """Topic the events go to."""

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> KafkaTopicConfig:
        """From ``{"topic": ...}`` (the transport factory's form)."""
        return cls(topic=params["topic"])


class KafkaTopicTransport(Transport):
    """An ``openlineage-python`` transport that turns events into Kafka records to send.

    The client's transports are synchronous and pachstream's producer is asynchronous, so
    :meth:`emit` only queues the record and :class:`KafkaSink` sends what :meth:`take` returns.
    Records are keyed by job, so one pipeline's events stay in order on one partition.
    """

    kind = "pachstream-kafka"
    config_class = KafkaTopicConfig

    def __init__(self, config: KafkaTopicConfig) -> None:
        self.config = config
        self._pending: list[tuple[str, str | None, bytes]] = []

    def emit(self, event: Any) -> None:
        """Queue the event as a record (``event``: a RunEvent dict or client object)."""
        body = Serde.to_dict(event)
        job = body["job"]
        key = f"{job['namespace']}/{job['name']}"
        self._pending.append((self.config.topic, key, serialize(body).encode()))

    def take(self) -> list[tuple[str, str | None, bytes]]:
        """Return the queued records, in emit order, and empty the queue."""
        out, self._pending = self._pending, []
        return out


class KafkaSink:
    """Events as records of a topic on pachstream's broker, through the exporter's producer."""

    def __init__(self, producer: Producer, settings: Settings, topic: str) -> None:
        self.transport = KafkaTopicTransport(KafkaTopicConfig(topic=topic))
        self._producer = producer
        self._settings = settings

    async def open(self) -> None:
        """Create the topic (one partition: every event in one order) unless it exists."""
        kafka, _, _ = self._settings.require()
        await ensure_topics(kafka, {self.transport.config.topic: 1})

    async def emit_all(self, events: Sequence[dict[str, Any]]) -> None:
        """Send every event and wait for the broker's acknowledgements."""
        for event in events:
            self.transport.emit(event)
        await self._producer.send_all(self.transport.take())

    async def close(self) -> None:
        """Do nothing: the producer belongs to the exporter, which stops it."""


def make_sink(target: Target, producer: Producer, settings: Settings) -> EventSink:
    """Build the sink for a configured target."""
    match target:
        case HttpTarget(url=url, endpoint=endpoint):
            return TransportSink(HttpTransport(HttpConfig(url=url, endpoint=endpoint)))
        case FileTarget(path=path):
            return TransportSink(FileTransport(FileConfig(log_file_path=path, append=True)))
        case KafkaTarget(topic=topic):
            return KafkaSink(producer, settings, topic)
    raise AssertionError(f"unknown target {target!r}")  # pragma: no cover - Target is closed


class OpenLineageExporter(LogProcessor):
    """Consumes the events topic and emits OpenLineage RunEvents for every job.

    ``settings.openlineage`` (``PACHSTREAM_OPENLINEAGE``) names the destination; a missing or
    malformed value fails the construction with :class:`~pachstream.errors.InvalidInput`.
    """

    name = "openlineage"
    migrations = MIGRATIONS
    max_records = 2000
    retry_max_s: ClassVar[float] = 30.0
    """Longest wait between two attempts to deliver a batch the sink refused."""

    def __init__(
        self,
        settings: Settings,
        *,
        objects: ObjectStore | None = None,
        sink: EventSink | None = None,
        producer: str | None = None,
    ) -> None:
        target = parse_target(settings.openlineage)
        super().__init__(settings, objects=objects)
        self._sink = sink or make_sink(target, self._producer, settings)
        self._producer_uri = producer or producer_uri()
        self.emitted = 0
        """Events the sink accepted since start (repeats after a retry included)."""

    def input_topic(self) -> str:
        """Return the events topic: job facts are there."""
        return self._topics.events

    def caught_up(self) -> bool:
        """Tell whether the events topic is consumed and its events accepted.

        "As far as the last fetch saw": a burst-mode check for tests and benches.
        """
        topic = self._topics.events
        ends = {p: self._reader.highwater(topic, p) for p in self._reader.partitions(topic)}
        return bool(ends) and all(
            end is not None and self._offsets.get((topic, p), 0) >= end for p, end in ends.items()
        )

    async def _open(self) -> None:
        await super()._open()
        await self._sink.open()

    async def _close(self) -> None:
        try:
            await self._sink.close()
        finally:
            await super()._close()

    async def _step(self) -> None:
        records = await self._reader.read(timeout_ms=200)
        if not records:
            return
        started = time.monotonic()
        dead: Outgoing = []
        offsets = dict(self._offsets)
        events: list[dict[str, Any]] = []
        for rec in records:
            offsets[(rec.topic, rec.partition)] = rec.offset + 1
            fact = self.decode_or_dead_letter(rec, dead)
            if fact is not None:
                events.extend(
                    run_events(
                        fact, namespace=self._settings.namespace, producer=self._producer_uri
                    )
                )
        if not await self._deliver(events):
            return  # stopping: the offsets stay where they were, the next start sends again
        async with self._pool.acquire() as conn, conn.transaction():
            # Dead letters before the offsets commit: otherwise the record would be lost.
            await self._producer.send_all(dead)
            await self.save_offsets(conn, offsets)
        self._offsets = offsets
        self.emitted += len(events)
        self.observe_batch(records, offsets, started)

    async def _deliver(self, events: list[dict[str, Any]]) -> bool:
        """Emit the batch, retrying while the sink is unavailable; False if asked to stop first.

        A retry sends the whole batch again: the repeats are identical events.
        """
        wait = 0.5
        while True:
            try:
                await self._sink.emit_all(events)
                return True
            except Unavailable as exc:
                if self.state is not State.RUNNING:
                    return False
                log.warning("openlineage: %s; trying again in %.1fs", exc.message, wait)
                loop = asyncio.get_running_loop()
                until = loop.time() + wait
                # Short naps, so that a stop does not wait for the whole back-off.
                while self.state is State.RUNNING and loop.time() < until:
                    await asyncio.sleep(min(0.2, until - loop.time()))
                wait = min(wait * 2, self.retry_max_s)
