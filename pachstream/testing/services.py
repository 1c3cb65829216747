"""Processors and a client for one namespace, in-process: the harness tests and benches share.

``async with RunningStack(settings) as stack:`` starts the commit processor and the
materializer on the servers ``settings`` names, under its namespace, with a connected
:class:`~pachstream.client.Client` as ``stack.client``; leaving stops all three.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from pachstream.client import Client
from pachstream.commits import CommitProcessor
from pachstream.dispatch import Dispatcher
from pachstream.lineage import Materializer
from pachstream.objectstore import S3ObjectStore
from pachstream.service import own_command
from pachstream.settings import Settings
from pachstream.worker import IDLE_WORKERS_KEPT_S, WorkerPool


class RunningStack:
    """The processors of one namespace plus a client."""

    def __init__(
        self,
        settings: Settings,
        *,
        timeout_s: float = 60.0,
        pipelines: bool = True,
        idle_kept_s: float = IDLE_WORKERS_KEPT_S,
    ) -> None:
        self.settings = settings
        self.commits = CommitProcessor(settings)
        self.lineage = Materializer(settings)
        self._pipelines = pipelines
        self.dispatch = Dispatcher(settings)
        self.workers = WorkerPool(
            settings,
            folder=settings.home / "workers" / settings.namespace,
            poll_s=0.2,
            idle_kept_s=idle_kept_s,
        )
        self.client: Client
        self._timeout_s = timeout_s

    async def __aenter__(self) -> RunningStack:
        _, _, s3 = self.settings.require()
        store = S3ObjectStore(s3, self.settings.namespace)
        await store.ensure_bucket()
        await store.close()
        await self.commits.start()
        await self.lineage.start()
        if self._pipelines:
            await self.dispatch.start()
            await self.workers.start()
        self.client = await Client.connect(self.settings, timeout_s=self._timeout_s)
        return self

    async def restart_processors(self) -> None:
        """Stop the processors and start fresh ones: their state comes back from storage."""
        if self._pipelines:
            await self.dispatch.stop()
        await self.commits.stop()
        await self.lineage.stop()
        self.commits = CommitProcessor(self.settings)
        self.lineage = Materializer(self.settings)
        await self.commits.start()
        await self.lineage.start()
        if self._pipelines:
            self.dispatch = Dispatcher(self.settings)
            await self.dispatch.start()

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.client.close()
        if self._pipelines:
            await self.workers.stop()
            await self.dispatch.stop()
        await self.lineage.stop()
        await self.commits.stop()


async def run_cli(
    settings: Settings, *args: str, stdin: bytes | None = None, timeout_s: float = 120
) -> tuple[int, str, str]:
    """``pachstream ARGS`` as a user runs it, against ``settings``' servers and namespace:
    (exit code, stdout, stderr).
    """
    import asyncio
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHSTREAM_")}
    env.update(settings.child_env())
    proc = await asyncio.create_subprocess_exec(
        *own_command("pachstream", *args),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=timeout_s)
    return proc.returncode or 0, out.decode(), err.decode()


async def produce_events(settings: Settings, facts: list[Any], key: str = "raw") -> None:
    """Put ``facts`` on the namespace's events topic, in order, under one key (one partition),
    as the processors would: for tests that feed the materializer facts of their making.
    """
    from pachstream.codec import encode
    from pachstream.kafka import Producer, Topics

    producer = Producer(settings.require()[0])
    await producer.start()
    try:
        events = Topics(settings.namespace).events
        await producer.send_all([(events, key, encode(f)) for f in facts])
    finally:
        await producer.stop()


async def read_dead_letters(
    settings: Settings, expected: int, timeout_s: float = 30
) -> list[dict[str, Any]]:
    """The namespace's dead letters, decoded: ``expected`` of them, or what came in time."""
    import asyncio

    import orjson

    from pachstream.kafka import PartitionReader, Topics

    kafka, _, _ = settings.require()
    reader = PartitionReader(kafka)
    await reader.start([Topics(settings.namespace).deadletter], {})
    found: list[dict[str, Any]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(found) < expected and asyncio.get_running_loop().time() < deadline:
            for r in await reader.read(timeout_ms=300):
                assert r.value is not None, "a dead letter always has a value"
                found.append(orjson.loads(r.value))
    finally:
        await reader.stop()
    return found
