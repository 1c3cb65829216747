"""Benchmarks: figures and ratios printed, never asserted (machines here are shared and noisy).

Each bench runs against the stack of ``PACHSTREAM_HOME`` when one is running (through its
processes, as users would), or else starts a throwaway embedded stack of its own, with the
processors in this process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from pachstream.client import Client
from pachstream.errors import ConfigError
from pachstream.kafka import raw_produce_rate
from pachstream.settings import Settings


@dataclass(frozen=True)
class Figure:
    """One printed result."""

    name: str
    """What was measured."""
    value: float
    """The number."""
    unit: str
    """Its unit."""
    target: str = ""
    """The goal it is compared with, if any."""


@contextlib.asynccontextmanager
async def bench_client(say: Callable[[str], None]) -> AsyncIterator[tuple[Settings, Client]]:
    """A client on the running stack, or on a throwaway embedded one."""
    settings = Settings.from_env()
    try:
        settings.require()
    except ConfigError:
        # A whole stack, processors in their own processes as in real use, broker in memory.
        from pachstream.stack import detach, down

        home = Path(tempfile.mkdtemp(prefix="pachstream-bench-"))
        say(f"no running stack: starting a throwaway one in {home} (memory broker)")
        try:
            detach(home, 15, say, env={"PACHSTREAM_KAFKA_STORAGE": "memory"})
            throwaway = Settings.from_env({"PACHSTREAM_HOME": str(home)})
            client = await Client.connect(throwaway, timeout_s=600)
            try:
                yield throwaway, client
            finally:
                await client.close()
        finally:
            down(home, 15, say)
            shutil.rmtree(home, ignore_errors=True)
        return
    client = await Client.connect(settings, timeout_s=600)
    try:
        yield settings, client
    finally:
        await client.close()


def _tag() -> str:
    return uuid.uuid4().hex[:8]


async def ingest(client: Client, settings: Settings, files: int, size: int) -> list[Figure]:
    """Files/s into one commit, beside the raw aiokafka produce rate of as many messages."""
    kafka, _, _ = settings.require()
    raw = await raw_produce_rate(kafka, f"{settings.namespace}.bench-raw-{_tag()}", files, size)
    repo = f"bench_ingest_{_tag()}"
    await client.create_repo(repo)
    # Distinct contents, so that deduplication does not flatter the figure.
    contents = [os.urandom(size) for _ in range(files)]
    started = time.perf_counter()
    cid = await client.put_files(f"{repo}@master", ((f"/f{i:07d}", c) for i, c in enumerate(contents)))
    elapsed = time.perf_counter() - started
    info = await client.inspect_commit(f"{repo}@{cid}")
    assert info.file_count == files, f"commit has {info.file_count} files, expected {files}"
    rate = files / elapsed
    return [
        Figure(f"put {files:,} files of {size} B into one commit", elapsed, "s"),
        Figure("pachstream ingest", rate, "files/s"),
        Figure(f"raw aiokafka produce of {files:,} messages", raw, "msg/s"),
        Figure("ratio ingest / raw", rate / raw, "", "≥ 0.5"),
    ]


async def commit_scale(client: Client, sizes: tuple[int, ...], changed: int, rounds: int) -> list[Figure]:
    """Time to finish a commit of ``changed`` files on repos of each size."""
    out: list[Figure] = []
    medians: list[float] = []
    for n in sizes:
        repo = f"bench_scale_{n}_{_tag()}"
        await client.create_repo(repo)
        started = time.perf_counter()
        step = 200_000
        for lo in range(0, n, step):
            await client.put_files(
                f"{repo}@master",
                ((f"/d{i // 1000:04d}/f{i:07d}", f"{i}".encode()) for i in range(lo, min(n, lo + step))),
            )
        fill = time.perf_counter() - started
        times = []
        for r in range(rounds):
            t0 = time.perf_counter()
            await client.put_files(
                f"{repo}@master",
                ((f"/d{i // 1000:04d}/f{i:07d}", f"{i}-{r}".encode()) for i in range(0, n, max(1, n // changed))),
            )
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        medians.append(med)
        out.append(Figure(f"fill a repo of {n:,} files", fill, "s"))
        out.append(Figure(f"finish a {changed}-file commit on {n:,} files (median of {rounds})", med * 1000, "ms"))
    out.append(Figure(f"ratio {sizes[-1]:,} / {sizes[0]:,}", medians[-1] / medians[0], "", "≤ 2"))
    return out
