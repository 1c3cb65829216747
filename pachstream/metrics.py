"""Prometheus metrics of every pachstream process, and the small server that exposes them.

Each process has one registry (:func:`process_metrics`) holding the metrics below; the names
are fixed, the console's sparklines and ``pachstream status`` rely on them:

- ``pachstream_records_consumed_total{processor,topic}``: records read from a topic;
- ``pachstream_consumer_lag{processor,topic,partition}``: the partition's highwater as last
  seen in a fetch minus the next offset to read (Tansu's ``end_offsets`` is wrong);
- ``pachstream_batch_seconds{processor}``: time to handle one batch of records;
- ``pachstream_dead_letters_total{processor}``;
- ``pachstream_datums_total{pipeline,outcome}`` (processed, failed, skipped);
- ``pachstream_datum_seconds{pipeline}``: one datum's run in a worker;
- ``pachstream_job_seconds{pipeline}``: a job from start to finish;
- ``pachstream_gateway_requests_total{operation,status}`` and
  ``pachstream_gateway_request_seconds{operation}``: S3 gateway requests;
- ``pachstream_gateway_put_stage_seconds{stage}``: where a PutObject's time goes, by stage of
  :data:`PUT_STAGES` (``bench s3-put`` prints their means).

A process without an HTTP server of its own serves ``GET /metrics`` with
:class:`MetricsServer` on ``PACHSTREAM_METRICS_ADDRESS`` (``pachstream up`` gives each
processor a free loopback port and records it in ``stack.json`` under ``"metrics"``). The
local workers are processes of the worker pool: they write their metrics to files of
prometheus-client's multiprocess mode (:data:`MULTIPROC_ENV`), which the pool's server adds to
its own.

The reading side is here too: :func:`metrics_addresses`, :func:`scrape` and the pure
:func:`parse_samples` and :func:`summarize`.
"""

from __future__ import annotations

import asyncio
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiohttp
import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.parser import text_string_to_metric_families

from pachstream.errors import ConfigError, InvalidInput, Unavailable
from pachstream.settings import STACK_FILE, Settings, join_host_port, parse_host_port

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's variable: a child process started with it writes its metrics to files
in that folder (read at import time, so it must be in the child's environment from the start)."""

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The exposition format's content type."""

PUT_STAGE_SECONDS = "pachstream_gateway_put_stage_seconds"
"""The name of the gateway's histogram of :data:`PUT_STAGES` (``bench s3-put`` reads it)."""

PUT_STAGES = ("received", "sent", "applied")
"""The stages of a PutObject through the gateway's batches, in order: ``received``, its body
read and its bucket checked (a client sending ``Expect: 100-continue`` sends the body only
once the gateway has answered the headers); ``sent``, its batch's bodies stored, records
written and request on the broker (waiting first for the batch before it); ``applied``, the
request applied by the commit processor and its answer materialized and seen. A PUT is answered
after the last."""

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LONG_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)


class ProcessMetrics:
    """The metrics of one process, in a registry of their own (two in one process, as in
    tests, do not collide in prometheus-client's global registry).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.records_consumed = Counter(
            "pachstream_records_consumed",
            "Records consumed, by processor and topic.",
            ["processor", "topic"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "pachstream_consumer_lag",
            "Records behind the partition's end as of the last fetch.",
            ["processor", "topic", "partition"],
            registry=r,
            # Workers write files (multiprocess mode); each reads its own partition.
            multiprocess_mode="livesum",
        )
        self.batch_seconds = Histogram(
            "pachstream_batch_seconds",
            "Time to handle one batch of records.",
            ["processor"],
            buckets=_SECONDS,
            registry=r,
        )
        self.dead_letters = Counter(
            "pachstream_dead_letters",
            "Records sent to the dead-letter topic.",
            ["processor"],
            registry=r,
        )
        self.datums = Counter(
            "pachstream_datums",
            "Datums by pipeline and outcome (processed, failed, skipped).",
            ["pipeline", "outcome"],
            registry=r,
        )
        self.datum_seconds = Histogram(
            "pachstream_datum_seconds",
            "One datum's run in a worker.",
            ["pipeline"],
            buckets=_LONG_SECONDS,
            registry=r,
        )
        self.job_seconds = Histogram(
            "pachstream_job_seconds",
            "A job from its start to its end.",
            ["pipeline"],
            buckets=_LONG_SECONDS,
            registry=r,
        )
        self.gateway_requests = Counter(
            "pachstream_gateway_requests",
            "S3 gateway requests by operation and HTTP status.",
            ["operation", "status"],
            registry=r,
        )
        self.gateway_seconds = Histogram(
            "pachstream_gateway_request_seconds",
            "S3 gateway time to answer, by operation.",
            ["operation"],
            buckets=_SECONDS,
            registry=r,
        )
        self.gateway_put_stages = Histogram(
            PUT_STAGE_SECONDS,
            "Where a PutObject's time goes in the S3 gateway, by stage (received, sent, applied).",
            ["stage"],
            buckets=_SECONDS,
            registry=r,
        )

    def observe_batch(
        self,
        processor: str,
        records: Iterable[Positioned],
        offsets: Mapping[tuple[str, int], int],
        highwater: Callable[[str, int], int | None],
        seconds: float,
    ) -> None:
        """Count one handled batch: its records per topic, the lag of each partition in
        ``offsets`` (next offset to read) and the batch's duration.
        """
        for topic, n in Tally(r.topic for r in records).items():
            self.records_consumed.labels(processor, topic).inc(n)
        for (topic, partition), next_offset in offsets.items():
            end = highwater(topic, partition)
            if end is not None:
                self.consumer_lag.labels(processor, topic, str(partition)).set(
                    max(0, end - next_offset)
                )
        self.batch_seconds.labels(processor).observe(seconds)

    def exposition(self) -> bytes:
        """The registry in Prometheus's text format."""
        return generate_latest(self.registry)


class Positioned(Protocol):
    """A consumed record, as far as metrics care."""

    @property
    def topic(self) -> str:
        """The record's topic."""
        ...


_PROCESS: ProcessMetrics | None = None


def process_metrics() -> ProcessMetrics:
    """This process's metrics (made on first use)."""
    global _PROCESS
    if _PROCESS is None:
        _PROCESS = ProcessMetrics()
    return _PROCESS


def collect_children(folder: Path) -> CollectorRegistry:
    """A registry of the metrics that child processes write to ``folder`` (multiprocess
    mode, see :data:`MULTIPROC_ENV`); files left by an earlier run are removed first, so
    counts start again with the parent.

    A registry of its own, not this process's: the same family twice in one exposition (an
    empty one here, the children's there) is refused by Prometheus.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink(missing_ok=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    return registry


def child_exited(folder: Path, pid: int) -> None:
    """Forget the live gauges (lag) of a child that wrote to ``folder`` and has ended; its
    counters stay counted.
    """
    mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]


class MetricsServer:
    """``GET /metrics`` of this process on ``address`` (aiohttp).

    ``start`` refuses a second call; ``stop`` is idempotent and safe before start.
    """

    def __init__(self, address: str, registry: CollectorRegistry | None = None) -> None:
        self._host, self._port = parse_host_port(
            address, "PACHSTREAM_METRICS_ADDRESS", "127.0.0.1:9464"
        )
        self._registry = registry or process_metrics().registry
        self._runner: web.AppRunner | None = None
        self._started = False

    @property
    def url(self) -> str:
        """Where the metrics are, once started (the bound port, if 0 was asked)."""
        return f"http://{join_host_port(self._host, self._port)}/metrics"

    async def _handle(self, _: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def start(self) -> None:
        """Bind and serve."""
        if self._started:
            raise RuntimeError("metrics server already started")
        self._started = True
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise ConfigError(
                f"the metrics server cannot listen on {self._host}:{self._port} ({exc}); "
                "set PACHSTREAM_METRICS_ADDRESS to a free host:port (or port 0)",
                address=f"{self._host}:{self._port}",
            ) from exc
        server = site._server  # the bound socket tells which port 0 became
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self._port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop serving."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


# --- the reading side -----------------------------------------------------------------------


def metrics_addresses(home_or_settings: Path | Settings) -> dict[str, str]:
    """Each process's metrics URL as ``pachstream up`` recorded it in ``stack.json``
    (process name → ``http://127.0.0.1:PORT/metrics``); empty when no stack is recorded.
    """
    home = home_or_settings.home if isinstance(home_or_settings, Settings) else home_or_settings
    try:
        data = orjson.loads((home / STACK_FILE).read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}
    found = data.get("metrics", {}) if isinstance(data, dict) else {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


async def scrape(url: str, timeout_s: float = 2.0) -> str:
    """The exposition text at ``url``.

    Raises:
        Unavailable: No answer within ``timeout_s``, a refused connection or a status other
            than 200; the message says which.
    """
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.get(url) as resp,
        ):
            text = await resp.text()
            if resp.status != 200:
                raise Unavailable(f"{url} answered HTTP {resp.status}: {text[:200]!r}", url=url)
            return text
    except TimeoutError as exc:
        raise Unavailable(f"{url} did not answer within {timeout_s:g} s", url=url) from exc
    except aiohttp.ClientError as exc:
        raise Unavailable(f"{url} did not answer: {exc}", url=url) from exc


@dataclass(frozen=True, slots=True)
class Sample:
    """One line of an exposition: ``name{labels} value``."""

    name: str
    """The sample's name, with its suffix (``_total``, ``_bucket``, ``_sum``, ``_count``)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Label names to values."""
    value: float = 0.0
    """The value (NaN and ±Inf included)."""


def parse_samples(text: str) -> list[Sample]:
    """Every sample of a Prometheus text exposition, in order. Pure.

    Raises:
        InvalidInput: The text is not the exposition format (the message quotes the reason).
    """
    try:
        return [
            Sample(s.name, dict(s.labels), float(s.value))
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]
    except (ValueError, TypeError, IndexError) as exc:
        raise InvalidInput(
            f"not a Prometheus text exposition ({exc}); scrape a /metrics URL", reason=str(exc)
        ) from exc


@dataclass(frozen=True, slots=True)
class Load:
    """What one processor consumed and how far behind it is."""

    consumed: float = 0.0
    """Records consumed since the process started, all topics."""
    lag: float | None = None
    """Records behind, summed over partitions; None when no lag was reported yet."""


def summarize(samples: Iterable[Sample]) -> dict[str, Load]:
    """Records consumed and lag per ``processor`` label. Pure."""
    consumed: dict[str, float] = {}
    lag: dict[str, float] = {}
    for s in samples:
        proc = s.labels.get("processor")
        if proc is None:
            continue
        if s.name == "pachstream_records_consumed_total":
            consumed[proc] = consumed.get(proc, 0.0) + s.value
        elif s.name == "pachstream_consumer_lag":
            lag[proc] = lag.get(proc, 0.0) + s.value
    return {p: Load(consumed.get(p, 0.0), lag.get(p)) for p in sorted({*consumed, *lag})}


async def scrape_results(
    addresses: Mapping[str, str], timeout_s: float = 2.0
) -> dict[str, str | Unavailable]:
    """Scrape every address at once: name → exposition text, or the :class:`Unavailable`
    that says why it did not answer.
    """
    names = list(addresses)
    answers = await asyncio.gather(
        *(scrape(addresses[n], timeout_s) for n in names), return_exceptions=True
    )
    out: dict[str, str | Unavailable] = {}
    for name, answer in zip(names, answers, strict=True):
        if isinstance(answer, str | Unavailable):
            out[name] = answer
        elif isinstance(answer, BaseException):
            raise answer
    return out


@dataclass(frozen=True, slots=True)
class ProcessReport:
    """One process's line in ``pachstream status``."""

    url: str
    """Where its metrics are."""
    lag: float | None = None
    """Records behind, all its partitions; None when it reports none (or did not answer)."""
    consumed: float | None = None
    """Records consumed since it started; None when it consumes nothing (or did not answer)."""
    error: str | None = None
    """Why it could not be read; None when it answered."""


def process_report(url: str, answer: str | Unavailable) -> ProcessReport:
    """A process's lag and records consumed, from its scrape (text, or why it failed). Pure."""
    if isinstance(answer, Unavailable):
        return ProcessReport(url, error=answer.message)
    try:
        loads = summarize(parse_samples(answer)).values()
    except InvalidInput as exc:
        return ProcessReport(url, error=exc.message)
    if not loads:
        return ProcessReport(url)
    lags = [load.lag for load in loads if load.lag is not None]
    return ProcessReport(
        url, sum(lags) if lags else None, sum(load.consumed for load in loads), None
    )


async def report_all(
    addresses: Mapping[str, str], timeout_s: float = 2.0
) -> dict[str, ProcessReport]:
    """Scrape every process at once: name → its :class:`ProcessReport`, never an exception
    for a process that does not answer.
    """
    answers = await scrape_results(addresses, timeout_s)
    return {name: process_report(addresses[name], answers[name]) for name in addresses}


__all__ = [
    "CONTENT_TYPE",
    "MULTIPROC_ENV",
    "Load",
    "MetricsServer",
    "Positioned",
    "ProcessReport",
    "ProcessMetrics",
    "Sample",
    "child_exited",
    "collect_children",
    "metrics_addresses",
    "parse_samples",
    "process_metrics",
    "process_report",
    "report_all",
    "scrape",
    "scrape_results",
    "summarize",
]
