"""``pachstream run NAME``: one processor in the foreground, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from pachstream.cli._app import run_app
from pachstream.service import Service
from pachstream.settings import Settings

PROCESSORS = ("commits", "lineage")


def _make(name: str, settings: Settings) -> Service:
    if name == "commits":
        from pachstream.commits import CommitProcessor

        return CommitProcessor(settings)
    from pachstream.lineage import Materializer

    return Materializer(settings)


async def run_service(service: Service) -> None:
    """Run until the loop dies (re-raised) or a stop signal arrives (graceful stop)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    waiter = asyncio.create_task(service.wait(), name=f"{service.name}-wait")
    stopper = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        await service.stop()
    if waiter.done() and waiter.exception() is not None:
        raise waiter.exception()  # type: ignore[misc]
    logging.getLogger("pachstream").info("%s stopped", service.name)


def _run(name: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings.from_env()
    asyncio.run(run_service(_make(name, settings)))


@run_app.command("commits")
def run_commits() -> None:
    """Run the commit processor in the foreground."""
    _run("commits")


@run_app.command("lineage")
def run_lineage() -> None:
    """Run the lineage materializer in the foreground."""
    _run("lineage")
