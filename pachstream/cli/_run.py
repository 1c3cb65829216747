"""``pachstream run NAME``: one processor in the foreground, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import typer

from pachstream.cli._app import run_app
from pachstream.errors import Unavailable
from pachstream.security import RedactingFormatter
from pachstream.service import Service, run_until_stopped
from pachstream.settings import Settings, parse_host_port

DEFAULT_GATEWAY = "127.0.0.1:1600"
"""Where ``pachstream run s3gateway`` listens without PACHSTREAM_GATEWAY_ADDRESS."""


def _make(name: str, settings: Settings) -> Service:
    cls = _service_class(name, settings)
    if name == "s3gateway":
        address = settings.gateway_address or DEFAULT_GATEWAY
        host, port = parse_host_port(address, "PACHSTREAM_GATEWAY_ADDRESS", DEFAULT_GATEWAY)
        service: Service = cls(settings, host=host, port=port)
        return service
    made: Service = cls(settings)
    return made


async def run_service(
    service: Service,
    metrics_address: str | None = None,
    again: Callable[[], Service] | None = None,
) -> None:
    """Run until the loop dies (re-raised) or a stop signal arrives (graceful stop);
    with ``metrics_address``, serve ``GET /metrics`` there meanwhile. With ``again``, a
    failure because a server went away starts a fresh service in this process instead
    (:func:`~pachstream.service.run_until_stopped`).
    """
    from pachstream.metrics import MetricsServer

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics = None
    if metrics_address is not None:
        # The local worker pool serves what its worker processes write (multiprocess files).
        metrics = MetricsServer(metrics_address, getattr(service, "metrics_registry", None))
        await metrics.start()
    try:
        await run_until_stopped(service, stop, again=again, transient=_server_gone)
    finally:
        if metrics is not None:
            await metrics.stop()
    logging.getLogger("pachstream").info("%s stopped", service.name)


def _server_gone(exc: BaseException) -> bool:
    """Whether ``exc`` says a server the service needs went away or is still restarting."""
    from pachstream import kafka, pg

    return isinstance(exc, Unavailable) or pg.connection_lost(exc) or kafka.connection_lost(exc)


_CODE = {
    "commits": ("pachstream.commits", "CommitProcessor"),
    "lineage": ("pachstream.lineage", "Materializer"),
    "dispatch": ("pachstream.dispatch", "Dispatcher"),
    "workers": ("pachstream.worker", "WorkerPool"),
    "ingest": ("pachstream.ingest", "IngestConsumer"),
    "s3gateway": ("pachstream.gateway", "S3Gateway"),
    "console": ("pachstream.console", "Console"),
    "openlineage": ("pachstream.lineage.openlineage", "OpenLineageExporter"),
    "worker": ("pachstream.worker", "Worker"),  # started by its pool, made by run_worker
}
"""Where each processor's class is: by name, imported when asked for (some packages import
their classes only then), and before its servers answer (see :func:`_released`)."""


def _service_class(name: str, settings: Settings | None = None) -> Any:
    """Processor ``name``'s class (the pool of Kubernetes workers with
    ``PACHSTREAM_WORKERS=kubernetes``).
    """
    module, cls = _CODE[name]
    if name == "workers" and settings is not None and settings.workers == "kubernetes":
        cls = "KubernetesWorkerPool"
    return getattr(importlib.import_module(module), cls)


def _released(name: str) -> bool:
    """True once this processor may read its settings: at once, unless ``up`` started it
    with its servers, to import its code meanwhile (pachstream.stack._release); then when
    the supervisor sent the servers' addresses. False: the supervisor stopped first.
    """
    from pachstream.stack import await_release, waits_for_release

    if not waits_for_release():
        return True
    _service_class(name)
    for other in ("pachstream.metrics", "pachstream.pg", "pachstream.kafka"):
        importlib.import_module(other)
    return await_release()


def _run(
    name: str, service: Service | None = None, make: Callable[[], Service] | None = None
) -> None:
    if not _released(name):
        return
    settings = Settings.from_env()
    # Every line of a processor's log, tracebacks included, with its secrets masked; an
    # exception that ends the process goes through the same handler.
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(
            "%(asctime)s %(name)s %(levelname)s %(message)s", secrets=settings.secrets()
        )
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    sys.excepthook = lambda *exc: logging.getLogger("pachstream").critical(
        "%s exited", name, exc_info=exc
    )
    # A worker's metrics go to its pool (a port each would be one per shard to find); the
    # console serves its own /metrics.
    metrics = None if name in ("worker", "console") else settings.metrics_address
    # A processor made here is made again when a server it needs goes away (a Postgres
    # restart cut its connections): in this process, at once, not by the supervisor.
    again = make or (None if service is not None else lambda: _make(name, settings))
    asyncio.run(run_service(service or _make(name, settings), metrics, again))


@run_app.command("commits")
def run_commits() -> None:
    """Run the commit processor in the foreground."""
    _run("commits")


@run_app.command("lineage")
def run_lineage() -> None:
    """Run the lineage materializer in the foreground."""
    _run("lineage")


@run_app.command("ingest")
def run_ingest() -> None:
    """Run the ingest consumer (records of the ingest topic become commits) in the foreground."""
    _run("ingest")


@run_app.command("s3gateway")
def run_s3gateway() -> None:
    """Run the S3 gateway (buckets BRANCH.REPO) on PACHSTREAM_GATEWAY_ADDRESS in the foreground."""
    _run("s3gateway")


@run_app.command("console")
def run_console() -> None:
    """Run the web console on PACHSTREAM_CONSOLE_ADDRESS (default 127.0.0.1:1700) in the
    foreground; beyond loopback it needs PACHSTREAM_CONSOLE_TOKEN.
    """
    _run("console")


@run_app.command("openlineage")
def run_openlineage() -> None:
    """Run the OpenLineage exporter (events to PACHSTREAM_OPENLINEAGE) in the foreground."""
    _run("openlineage")


@run_app.command("dispatch")
def run_dispatch() -> None:
    """Run the dispatcher (pipelines, jobs, output commits) in the foreground."""
    _run("dispatch")


@run_app.command("workers")
def run_workers() -> None:
    """Run the worker pool in the foreground: local processes, one per pipeline shard, or
    StatefulSets with PACHSTREAM_WORKERS=kubernetes.
    """
    _run("workers")


@run_app.command("worker", hidden=True)
def run_worker(
    pipeline: str = typer.Argument(..., help="Pipeline name."),
    version: int = typer.Argument(..., help="Spec version."),
    shard: int = typer.Argument(..., help="Task topic partition."),
    folder: Path = typer.Argument(..., help="Scratch folder (sandbox, inputs, outputs)."),
    agent: str = typer.Option(
        "sandbox",
        help="Where commands run: 'sandbox' (a bubblewrap agent this worker starts) or 'pod' "
        "(the agent of the pod's user container, sharing FOLDER/box).",
    ),
) -> None:
    """Run one worker of a pipeline (the pool starts these)."""
    from pachstream.worker import Worker

    if agent not in ("sandbox", "pod"):
        raise typer.BadParameter(
            f"{agent!r} is no agent; use 'sandbox' or 'pod'", param_hint="--agent"
        )
    kind: Literal["sandbox", "pod"] = "pod" if agent == "pod" else "sandbox"

    def make() -> Service:
        return Worker(Settings.from_env(), pipeline, version, shard, folder, agent=kind)

    _run("worker", make(), make)
