"""The console's Prometheus metrics (``GET /metrics``).

Each :class:`ConsoleMetrics` has a registry of its own, so two consoles in one process (tests)
do not collide in prometheus-client's global one. Besides the console's own requests it
reports what the query tables say at scrape time (pipelines by state, the datums of each
pipeline's newest job): a scrape costs one query per pipeline, which is cheap at the few
dozen pipelines a console draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from pachstream.client import Client

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The exposition format's content type."""


class ConsoleMetrics:
    """Counters of the console's requests and gauges of the pipelines."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pachstream_console_requests",
            "Console HTTP requests by route and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pachstream_console_request_seconds",
            "Console time to answer, by route.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.pipelines = Gauge(
            "pachstream_pipelines",
            "Pipelines by state.",
            ["state"],
            registry=self.registry,
        )
        self.last_job_datums = Gauge(
            "pachstream_last_job_datums",
            "Datums of each pipeline's newest job, by outcome (total, processed, skipped, failed).",
            ["pipeline", "outcome"],
            registry=self.registry,
        )
        self.repos = Gauge("pachstream_repos", "Repos.", registry=self.registry)

    def observe(self, route: str, method: str, status: int, seconds: float | None) -> None:
        """Count one answered request, and time it unless ``seconds`` is None (a streamed
        answer, whose life is its reader's: an event stream lasts as long as its page).
        """
        self.requests.labels(route, method, str(status)).inc()
        if seconds is not None:
            self.latency.labels(route).observe(seconds)

    async def scrape(self, client: Client) -> bytes:
        """Refresh the gauges from the query tables, then the exposition text."""
        pipelines = await client.list_pipeline()
        self.repos.set(len(await client.list_repo()))
        self.pipelines.clear()
        self.last_job_datums.clear()
        for state in ("running", "stopped"):
            self.pipelines.labels(state).set(0)
        for p in pipelines:
            self.pipelines.labels(p.state).inc()
            if p.last_job is None:
                continue
            job = await client.inspect_job(p.last_job)
            for outcome, n in (
                ("total", job.datums),
                ("processed", job.processed),
                ("skipped", job.skipped),
                ("failed", job.failed),
            ):
                self.last_job_datums.labels(p.name, outcome).set(n)
        return generate_latest(self.registry)


__all__ = ["CONTENT_TYPE", "ConsoleMetrics"]
