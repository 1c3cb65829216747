"""The Kafka transport: the only module that imports aiokafka.

- :class:`Topics` names every topic of a namespace and its partition count.
- :func:`ensure_topics` creates them with explicit partition counts (a broker that
  auto-creates, as Tansu does, would otherwise make them with its own default).
- :class:`Producer` sends with ``acks=all``; keys are repo names so one repo is one ordered
  stream.
- :class:`PartitionReader` reads assigned partitions from offsets the caller keeps (in
  Postgres, next to the state they produced). It uses no consumer group: Tansu's group
  rebalances are slow, and the offsets live with the state anyway.
- :func:`dead_letter_value` builds the record that an undecodable event becomes.

Tansu gaps this layer respects (EMBEDDED-STACK.md): no idempotent or transactional producer
(so consumers are idempotent), ``end_offsets`` answers wrongly (readers use the fetch
``highwater``), a fetch beyond the end of the log blocks (offsets never run ahead), and on S3
storage a fetch answers nothing when listing the partition's objects outlasts the fetch's wait
(a reader behind its high watermark fetches with a long deadline: :func:`fetch_wait_ms`).

Where the broker gives it (Apache Kafka), producers are idempotent: a retried send is never
written twice. One capability check decides: the first producer of a process asks the broker
for a producer id (``InitProducerId``); Tansu answers with an error, and that process's
producers then run as before. Consumers stay idempotent either way: a processor killed between
producing and checkpointing still produces its batch again after the restart.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import logging
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from pachstream.errors import Unavailable
from pachstream.security import redact
from pachstream.settings import KafkaSettings

log = logging.getLogger("pachstream.kafka")

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest record pachstream produces; content above this travels through the object store."""


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is aiokafka's word for a broker that cannot be reached. Pure."""
    return isinstance(exc, KafkaConnectionError)


@dataclass(frozen=True, slots=True)
class Topics:
    """The topics of one namespace."""

    namespace: str
    """Prefix of every name."""

    @property
    def requests(self) -> str:
        """Writers' requests, keyed by repo."""
        return f"{self.namespace}.requests"

    @property
    def events(self) -> str:
        """The commit processor's facts, keyed by repo."""
        return f"{self.namespace}.events"

    @property
    def deadletter(self) -> str:
        """Records that could not be decoded or applied, with the reason."""
        return f"{self.namespace}.deadletter"

    @property
    def ingest(self) -> str:
        """Records any Kafka client produces to write files (see ``pachstream.ingest``)."""
        return f"{self.namespace}.ingest"

    def tasks(self, pipeline: str, version: int) -> str:
        """Datum tasks of one pipeline version, one partition per worker."""
        return f"{self.namespace}.tasks.{pipeline}.{version}"

    def all(self, keyed: int) -> dict[str, int]:
        """Every topic with its partition count: ``keyed`` for those keyed by repo or
        pipeline (a key always lands on the same partition), one for the dead letters.
        """
        return {
            self.requests: keyed,
            self.events: keyed,
            self.deadletter: 1,
            self.ingest: keyed,
        }


@dataclass(frozen=True, slots=True)
class Record:
    """A consumed record."""

    topic: str
    """Topic name."""
    partition: int
    """Partition number."""
    offset: int
    """Offset in the partition."""
    key: bytes | None
    """Record key."""
    value: bytes | None
    """Record value."""
    timestamp_ms: int
    """Broker or producer timestamp."""
    headers: tuple[tuple[str, bytes], ...] = ()
    """Record headers, as the producer set them."""


async def ensure_topics(settings: KafkaSettings, topics: dict[str, int]) -> None:
    """Create the topics that do not exist yet, each with its partition count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, request_timeout_ms=10000)
    try:
        await _retry_connect(admin.start, settings)
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=n,
                replication_factor=settings.replication,
                # Apache Kafka refuses records over 1 MiB unless the topic says otherwise.
                topic_configs={"max.message.bytes": str(MAX_MESSAGE_BYTES + 1024 * 1024)},
            )
            for name, n in topics.items()
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # created by a concurrent process: the same outcome
    finally:
        await admin.close()


async def partition_counts(
    settings: KafkaSettings, topics: list[str], wait_s: float = 15.0
) -> dict[str, int]:
    """Each topic's partition count, from a metadata request naming the topics.

    Asked of the broker, not of a consumer's cached metadata: Apache Kafka answers a
    consumer's first (topic-less) metadata request with no topics at all (Tansu with every
    topic, which the readers once relied on). A topic created a moment ago may have no
    partitions in metadata yet: asked again until ``wait_s``, then refused naming it.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, request_timeout_ms=10000)
    deadline = time.monotonic() + wait_s
    try:
        await _retry_connect(admin.start, settings)
        while True:
            found = {
                t["topic"]: len(t["partitions"])
                for t in await admin.describe_topics(topics)
                if t["error_code"] == 0
            }
            missing = [t for t in topics if not found.get(t)]
            if not missing:
                return found
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"topic {missing[0]!r} has no partitions at {settings.bootstrap} after "
                    f"{wait_s:.0f} s; pachstream creates its topics at start: is 'pachstream "
                    "up' running, and may it create topics there?"
                )
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _retry_connect(start: object, settings: KafkaSettings, attempts: int = 20) -> None:
    for i in range(attempts):
        try:
            await start()  # type: ignore[operator]
            return
        except KafkaConnectionError as exc:
            if i == attempts - 1:
                raise Unavailable(
                    f"Kafka broker at {settings.bootstrap} did not answer: {exc}; "
                    "is 'pachstream up' running?"
                ) from exc
            await asyncio.sleep(0.25)


def _quiet_probe(record: logging.LogRecord) -> bool:
    # aiokafka logs the capability check's expected refusal as an error; the refusal also
    # comes back as an exception, which start() reports in a line of its own.
    return not record.getMessage().startswith("Unexpected error during InitProducerIdRequest")


logging.getLogger("aiokafka.producer.sender").addFilter(_quiet_probe)

IDEMPOTENT: dict[str, bool] = {}
"""Bootstrap → whether its broker gave an idempotent producer (the capability check's answer,
once per process)."""


class Producer:
    """Sends records with ``acks=all``; started and stopped explicitly."""

    def __init__(self, settings: KafkaSettings, *, linger_ms: int = 0) -> None:
        # No linger by default: every topic hop of a job waits for a produce, and a linger of
        # 2 ms cost ~3 ms of each (produce ack 4.9 vs 1.9 ms on Apache Kafka, 9.3 vs 6.1 on
        # Tansu; bench latency p50 138 -> 97 ms). Records sent while a request is in flight
        # still go together in the next one, so batches form under load without it.
        self._settings = settings
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._started = False

    def _make(self, idempotent: bool) -> AIOKafkaProducer:
        # aiokafka binds to the running loop at construction: built in start, not in __init__.
        return AIOKafkaProducer(
            bootstrap_servers=self._settings.bootstrap,
            acks="all",
            enable_idempotence=idempotent,
            linger_ms=self._linger_ms,
            max_request_size=MAX_MESSAGE_BYTES + 1024 * 1024,
            max_batch_size=1024 * 1024,
            request_timeout_ms=30000,
        )

    async def start(self) -> None:
        """Connect to the broker (idempotent where it can be, see the module's notes)."""
        if self._started or self._producer is not None:
            raise RuntimeError("producer already started")
        if IDEMPOTENT.get(self._settings.bootstrap) is not False:
            self._producer = await self._start_idempotent()
        if self._producer is None:
            self._producer = self._make(idempotent=False)
            await _retry_connect(self._producer.start, self._settings)
        self._started = True

    async def _start_idempotent(self) -> AIOKafkaProducer | None:
        """An idempotent producer, started; None where the broker gives none (the capability
        check: its answer is kept in ``IDEMPOTENT``).
        """
        bootstrap = self._settings.bootstrap
        producer = self._make(idempotent=True)
        try:
            await _retry_connect(producer.start, self._settings)
        except KafkaError as exc:  # not a connection error: _retry_connect raised those
            if IDEMPOTENT.get(bootstrap):
                raise  # it worked before: this is an outage, not a missing capability
            IDEMPOTENT[bootstrap] = False
            log.info(
                "kafka: %s gives no idempotent producer (%s); producing without", bootstrap, exc
            )
            await producer.stop()
            return None
        IDEMPOTENT[bootstrap] = True
        return producer

    @property
    def idempotent(self) -> bool:
        """Whether this producer's sends are idempotent (Apache Kafka) or not (Tansu)."""
        return bool(self._producer is not None and IDEMPOTENT.get(self._settings.bootstrap))

    async def stop(self) -> None:
        """Flush and disconnect; safe to call twice or before start."""
        if self._started and self._producer is not None:
            self._started = False
            await self._producer.stop()

    async def send(
        self, topic: str, key: str | None, value: bytes | None, partition: int | None = None
    ) -> asyncio.Future[object]:
        """Queue a record; the returned future resolves when the broker acknowledged it."""
        if self._producer is None:
            raise RuntimeError("producer not started")
        try:
            fut: asyncio.Future[object] = await self._producer.send(
                topic,
                value=value,
                key=key.encode() if key is not None else None,
                partition=partition,
            )
            return fut
        except KafkaError as exc:
            raise Unavailable(f"could not send to {topic}: {exc}") from exc

    async def send_all(self, records: Iterable[tuple[str, str | None, bytes]]) -> None:
        """Send records and wait until every one is acknowledged."""
        futures = [await self.send(t, k, v) for t, k, v in records]
        if futures:
            try:
                await asyncio.gather(*futures)
            except KafkaError as exc:
                raise Unavailable(f"broker did not acknowledge: {exc}") from exc


async def broker_idempotent(settings: KafkaSettings) -> bool:
    """Whether the broker gives idempotent producers: the capability check of the module's
    notes, made by a producer started and stopped here when no producer of this process made
    it yet (an ``InitProducerId`` round trip, once per process and broker).
    """
    known = IDEMPOTENT.get(settings.bootstrap)
    if known is None:
        probe = await Producer(settings)._start_idempotent()
        if probe is not None:
            await probe.stop()
        known = IDEMPOTENT[settings.bootstrap]
    return known


FETCH_WAIT_IDLE_MS = 10
"""Fetch wait when every partition is caught up. Tansu holds an empty fetch for the whole
wait, so this bounds each topic hop (bench latency p50: 301 ms at 100, 226 ms at 10, memory
broker); the price is more empty fetches on an idle stack."""

FETCH_WAIT_HOT_MS = 2
"""Fetch wait when caught up and records came a moment ago (it grows from here, see
``HOT_DECAY``): a job's next record is likely on its way. A record produced to Tansu
(memory) was consumed 4.4 ms after its acknowledgement at a 10 ms wait, 1.3 ms at 2 ms;
each empty fetch at 2 ms costs ~5 % of a core in the reader and ~4 % in the broker, paid
only while the wait is this short."""

HOT_WINDOW_S = 0.5
"""How long after its last records a reader's wait follows ``HOT_DECAY`` (a job's hops come
every few tens of milliseconds; an idle stack goes back to the idle wait). The decay reaches
the idle wait after 40 ms, well inside the window, so the wait never steps back down."""

HOT_DECAY = 4
"""Inside the hot window the wait grows with the quiet: a quarter of the time since the last
records, from ``FETCH_WAIT_HOT_MS`` up to ``FETCH_WAIT_IDLE_MS`` (2 ms right after a record,
the idle wait after 40 ms). A record due in a few milliseconds is still fetched at once,
while a reader whose next record is a job's length away stops polling at 2 ms for the whole
window. bench incremental (10,000 datums, memory stacks, alternating): 37.2, 38.2 s -> 33.9,
33.9 s, CPU per datum 5.2 -> 4.7 ms; bench latency p50 unchanged within noise (66-72 ms
both); a divisor of 8 gave 34.7, 35.2 s."""

FETCH_WAIT_ASLEEP_MS = 50
"""Fetch wait when caught up and quiet for ``ASLEEP_AFTER_S``. At the idle wait, a stack at
rest kept 0.77 of this box's 2 cores busy (each processor ~100 empty fetches a second, the
broker ~0.4 core answering them); at this one, 0.26. The price is the first hops after a
quiet spell: put file -> output commit after 15 s of quiet, 300-330 ms -> 320-360 ms (100 ms
here gave 0.18 core and 420-470 ms). Records flowing, the hot wait is unchanged."""

ASLEEP_AFTER_S = 10.0
"""How long without records before a caught-up reader fetches at the asleep wait."""

FETCH_WAIT_BEHIND_MS = 2_000
"""Fetch wait when a partition is behind its high watermark: the broker answers as soon as it
has read data, so this is a deadline, not a hold. Tansu on S3 lists every record object of
the partition within the fetch's wait and drops what it has not listed when the wait runs
out: at 10 ms a partition of ~3,000 batch objects (SeaweedFS, quiet) never returned a record."""

FETCH_WAIT_MAX_MS = 30_000
"""The wait never grows past this (aiokafka's request timeout is 40 s)."""

FETCH_WAIT_BEHIND_MIN_MS = 20
"""The least behind-wait, on a broker whose behind fetches come back at once (Tansu in memory:
1-5 ms). Tansu bumps a partition's high watermark before it stores the batch, and a fetch
answers with the high watermark of that moment: a reader told it is behind fetches at once,
sometimes before the batch is there, and Tansu, finding nothing, sleeps half the wait before
it looks again. At the 2 s listing deadline that was a second of stall for every partition of
the reader (seen, sporadically, as stalls of exactly 1.005 s of the dispatcher and the
materializer on a memory stack); at this wait, 10 ms."""

BEHIND_MARGIN = 4
"""The behind-wait is this many times a behind fetch's usual round trip (the median of the
last ``BEHIND_SAMPLES``): room for the listing of a partition that grew, while a fetch that
found nothing yet sleeps half of it, not half of the listing deadline."""

BEHIND_SAMPLES = 16
"""Behind fetches that brought records, whose round trips size the behind-wait."""

FETCH_WAIT_PARKED_MS = 500
"""Fetch wait when caught up on a broker that answers a waiting fetch as soon as records
arrive, as the Fetch API says (``min_bytes`` reached) and Apache Kafka does: the wait then
costs no hop anything, and a caught-up reader asks twice a second instead of polling at the
short waits above, which exist for Tansu (it looks again only at half the remaining wait).
Apache Kafka 4.4, throwaway stacks, old and new alternated: ``bench s3-put`` 348-407 ->
480-530 gateway PUTs/s, the stack's CPU per PUT 2.98-3.35 -> 2.42-2.67 ms, the broker's CPU
over the run 9.9-12.3 -> 3.2-3.6 s; ``bench latency`` p50 48.8 -> 42.5-46.7 ms; a stack at
rest with the broker 0.12 -> 0.05 core. As long as the Java client's default; a reader only
assigns and seeks at its start, so nothing it asks for later waits behind a parked fetch."""


def fetch_wait_ms(
    behind: bool,
    stalled_s: float,
    quiet_s: float = float("inf"),
    *,
    parks: bool = False,
    behind_trip_s: float | None = None,
) -> int:
    """The fetch wait for the next fetch request. Pure.

    ``behind``: some partition of the request has records past its position; ``stalled_s``:
    seconds since such a partition last moved; ``quiet_s``: seconds since the reader last
    got records; ``parks``: the broker answers a waiting fetch when records arrive. Caught
    up, on such a broker the reader leaves its fetch parked there (``FETCH_WAIT_PARKED_MS``);
    on one that holds a fetch for its whole wait, a short wait keeps hops fast, shorter still
    while records are flowing (shortest right after them, growing with the quiet), longer
    after a quiet spell (an idle stack's polling). Behind, the wait is the broker's listing
    deadline, and it grows by twice the time stalled, so no log is too long to read.
    ``behind_trip_s``: the usual round trip of a behind fetch that brought records on this
    broker, when known; the deadline is then ``BEHIND_MARGIN`` times it, between
    ``FETCH_WAIT_BEHIND_MIN_MS`` and ``FETCH_WAIT_BEHIND_MS`` (see the former).
    """
    if not behind:
        if parks:
            return FETCH_WAIT_PARKED_MS
        if 0.0 <= quiet_s < HOT_WINDOW_S:
            grown = int(quiet_s * 1000 / HOT_DECAY)
            return max(FETCH_WAIT_HOT_MS, min(FETCH_WAIT_IDLE_MS, grown))
        return FETCH_WAIT_ASLEEP_MS if quiet_s >= ASLEEP_AFTER_S else FETCH_WAIT_IDLE_MS
    base = FETCH_WAIT_BEHIND_MS
    if behind_trip_s is not None:
        margin = round(BEHIND_MARGIN * 1000 * max(0.0, behind_trip_s))
        base = max(FETCH_WAIT_BEHIND_MIN_MS, min(FETCH_WAIT_BEHIND_MS, margin))
    return int(min(FETCH_WAIT_MAX_MS, base + 2_000 * max(0.0, stalled_s)))


class _FetchWaitPolicy:
    """Sets the consumer's fetch wait each time aiokafka plans its fetch requests.

    aiokafka reads one ``fetch_max_wait_ms`` for every request; the wait wanted depends on
    whether a partition is behind when the request is built, so the policy wraps the
    fetcher's request planning (a private method of aiokafka 0.11 to 0.14; if it is missing,
    the reader uses the behind-wait for every fetch: slower hops, never a stall). It also times
    the behind fetches that bring records (wrapping the fetcher's request task, as private;
    without it the behind-wait stays the listing deadline).
    """

    def __init__(self, consumer: AIOKafkaConsumer, *, parks: bool) -> None:
        fetcher: Any = getattr(consumer, "_fetcher", None)
        self._fetcher = fetcher
        self._parks = parks
        self._positions: dict[TopicPartition, int] = {}
        self._moved_at = time.monotonic()
        self._read: dict[TopicPartition, int] = {}
        # Started as if records came just before the hot window: idle, not asleep, at first
        # (a new pipeline's worker is started for the task about to come).
        self._got_at = time.monotonic() - HOT_WINDOW_S
        self._behind = False
        """Whether the last plan had a partition behind (the fetch it sends is timed)."""
        self._trips: collections.deque[float] = collections.deque(maxlen=BEHIND_SAMPLES)
        plan = getattr(fetcher, "_get_actions_per_node", None)
        if plan is None or not hasattr(fetcher, "_fetch_max_wait_ms"):
            log.warning(
                "kafka: aiokafka's fetcher changed; fetching with a %d ms wait",
                FETCH_WAIT_BEHIND_MS,
            )
            if fetcher is not None:
                fetcher._fetch_max_wait_ms = FETCH_WAIT_BEHIND_MS
            return
        self._plan = plan
        fetcher._get_actions_per_node = self._plan_with_wait
        send = getattr(fetcher, "_proc_fetch_request", None)
        if send is not None:
            self._send = send
            fetcher._proc_fetch_request = self._timed_fetch

    def _timed_fetch(self, *args: Any) -> Any:
        """The fetcher's request task, timed when it was planned behind and brought records.

        Called when the task is made, right after the plan that built its request.
        """
        if not self._behind:
            return self._send(*args)
        began = time.monotonic()

        async def timed() -> Any:
            got = await self._send(*args)
            if got:
                self._trips.append(time.monotonic() - began)
            return got

        return timed()

    def behind_trip_s(self) -> float | None:
        """The median round trip of the last behind fetches that brought records, if any."""
        return statistics.median(self._trips) if self._trips else None

    def _plan_with_wait(self, assignment: Any) -> Any:
        behind: dict[TopicPartition, int] = {}
        buffered = self._fetcher._records
        now = time.monotonic()
        for tp in assignment.tps:
            state = assignment.state_value(tp)
            if tp in buffered or not state.has_valid_position:
                continue
            if self._read.get(tp, state.position) != state.position:
                self._got_at = now  # the reader consumed records of tp since the last plan
            self._read[tp] = state.position
            if state.highwater is not None and state.position < state.highwater:
                behind[tp] = state.position
        if not behind or any(self._positions.get(tp) != at for tp, at in behind.items()):
            self._moved_at = now
        self._positions = behind
        self._behind = bool(behind)
        self._fetcher._fetch_max_wait_ms = fetch_wait_ms(
            bool(behind),
            now - self._moved_at,
            now - self._got_at,
            parks=self._parks,
            behind_trip_s=self.behind_trip_s() if behind else None,
        )
        return self._plan(assignment)


class PartitionReader:
    """Reads every partition of some topics from caller-kept offsets (no consumer group).

    Its fetch wait adapts (:func:`fetch_wait_ms`): caught up, parked at the broker where the
    broker answers it when records arrive (one that gives idempotent producers: Apache Kafka),
    else short (Tansu); a generous deadline while behind (Tansu on S3 needs it to list a long
    partition).
    """

    def __init__(self, settings: KafkaSettings, *, max_records: int = 2000) -> None:
        self._settings = settings
        self._max_records = max_records
        self._consumer_obj: AIOKafkaConsumer | None = None
        self._started = False
        self._next: dict[TopicPartition, int] = {}
        """Per partition, the offset a read should start at (where known)."""
        self._policy: _FetchWaitPolicy | None = None

    @property
    def _consumer(self) -> AIOKafkaConsumer:
        if self._consumer_obj is None:
            raise RuntimeError("reader not started")
        return self._consumer_obj

    async def start(
        self,
        topics: Iterable[str],
        offsets: dict[tuple[str, int], int],
        partitions: Iterable[int] | None = None,
    ) -> None:
        """Assign every partition of ``topics`` (or only ``partitions``); resume at ``offsets``
        (next offset to read).
        """
        if self._started or self._consumer_obj is not None:
            raise RuntimeError("reader already started")
        self._consumer_obj = AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=MAX_MESSAGE_BYTES + 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            fetch_max_wait_ms=FETCH_WAIT_IDLE_MS,
        )
        await _retry_connect(self._consumer.start, self._settings)
        # Tansu is the one broker known to hold a waiting fetch for its whole wait, and it
        # also gives no idempotent producer: that one check tells the two kinds apart.
        self._policy = _FetchWaitPolicy(
            self._consumer, parks=await broker_idempotent(self._settings)
        )
        self._started = True
        topics = list(topics)
        counts = await partition_counts(self._settings, topics)
        wanted = None if partitions is None else set(partitions)
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in range(counts[t])
            if wanted is None or p in wanted
        ]
        self._consumer.assign(tps)
        for tp in tps:
            next_offset = offsets.get((tp.topic, tp.partition))
            if next_offset is None:
                await self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, next_offset)
                self._next[tp] = next_offset

    async def read(self, timeout_ms: int = 500) -> list[Record]:
        """The next records of all partitions (possibly none), in offset order per partition."""
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=self._max_records)
        out: list[Record] = []
        for tp, msgs in batches.items():
            if msgs:
                self._check_dense(tp, msgs[0].offset, msgs[-1].offset, len(msgs))
            out.extend(
                Record(
                    tp.topic,
                    tp.partition,
                    m.offset,
                    m.key,
                    m.value,
                    m.timestamp,
                    tuple((k, v or b"") for k, v in (m.headers or ())),
                )
                for m in msgs
            )
        return out

    def _check_dense(self, tp: TopicPartition, first: int, last: int, count: int) -> None:
        """Warn when a read did not continue where the last one ended. Our topics are
        neither compacted nor transactional, so a skip is either a hole the broker left
        (Tansu on S3 gives a write that failed its storage offsets no record holds: seen
        after a SeaweedFS restart, three offsets of the events topic, for good) or records
        this reader never sees (aiokafka takes a later first offset, as a compacted topic
        has); a step back is records read again (a reset after an out-of-range offset).
        Said with the range, so tables short of a replay can be traced to it.
        """
        want = self._next.get(tp, first)
        if first != want or last - first + 1 != count:
            log.warning(
                "kafka: a read of %s[%d] did not continue at offset %d: %d records from "
                "%d to %d (a hole in the log, records not seen, or records read again)",
                tp.topic, tp.partition, want, count, first, last,
            )  # fmt: skip
        self._next[tp] = last + 1

    def behind_trip_s(self) -> float | None:
        """The usual round trip of this reader's behind fetches that brought records (None
        before the first), which sizes its behind-wait (:func:`fetch_wait_ms`).
        """
        return None if self._policy is None else self._policy.behind_trip_s()

    def partitions(self, topic: str) -> list[int]:
        """The partitions of ``topic`` this reader was assigned, in order."""
        return sorted(tp.partition for tp in self._consumer.assignment() if tp.topic == topic)

    def highwater(self, topic: str, partition: int) -> int | None:
        """The log end offset last seen in a fetch (Tansu's ``end_offsets`` is wrong)."""
        offset: int | None = self._consumer.highwater(TopicPartition(topic, partition))
        return offset

    async def stop(self) -> None:
        """Disconnect; safe to call twice or before start."""
        if self._started:
            self._started = False
            await self._consumer.stop()


def dead_letter_value(record: Record, reason: str, component: str) -> bytes:
    """The dead-letter record for ``record``: the reason and the original bytes, never lost.

    The reason is redacted (:func:`~pachstream.security.redact`): it may quote a setting.
    """
    return orjson.dumps(
        {
            "reason": redact(reason),
            "component": component,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "key_b64": base64.b64encode(record.key).decode() if record.key is not None else None,
            "value_b64": (
                base64.b64encode(record.value).decode() if record.value is not None else None
            ),
            "time": time.time(),
        }
    )


async def raw_produce_rate(settings: KafkaSettings, topic: str, count: int, size: int) -> float:
    """Messages/s of plain aiokafka producing ``count`` messages of ``size`` bytes (a baseline
    for benchmarks): default batching, acks=all, every ack awaited.
    """
    await ensure_topics(settings, {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", linger_ms=5)
    await _retry_connect(producer.start, settings)
    payload = b"x" * size
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, payload) for _ in range(count)]
        await asyncio.gather(*futures)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()
