"""``pachstream bench soak``: gateway PUTs/s over many rounds, with the broker on S3 storage.

Issue 17 §4: with Tansu keeping its log in SeaweedFS (the default ``pachstream up``), the rate
of gateway PUTs fell round after round (74 → 55 → 23/s over three rounds of 2,000). This bench
repeats rounds of small PUTs through the S3 gateway into one repo and prints the rate of each
round and last ÷ first; a rate that holds is a ratio near 1. With no running stack it starts a
throwaway one on S3 storage (the memory broker would hide the effect). After each round it also
counts the objects under the broker's bucket, the figure the slowdown was traced to, and the
CPU each PUT cost the broker and the object store (its log, and our content) and every other
process: which of the two grows with the rounds says whose cost the slowdown is.

The cause, found in Tansu's source (``docs/design.md``, Brokers): each fetch of new records
lists every batch object of the partition, and none is ever deleted, so the broker's and the
store's cost per PUT grows with the rounds while every other process's stays flat.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Callable

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from pachstream.bench import IDLE_S, CpuMeter, Figure, cpu_split
from pachstream.bench.s3 import _put_all
from pachstream.client import Client
from pachstream.errors import ConfigError
from pachstream.settings import Settings

Say = Callable[[str], None]

BROKER_AND_STORE = frozenset({"tansu", "seaweedfs"})
"""The embedded broker and the object store that keeps its log (and our content), by their
stack component names."""


async def _count_objects(settings: Settings, bucket: str) -> int:
    """Objects in ``bucket`` of the stack's object store (0 if it has no such bucket)."""
    _, _, s3 = settings.require()
    config = AioConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    async with get_session().create_client(
        "s3", endpoint_url=s3.endpoint, aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key, region_name="us-east-1", config=config,
    ) as client:  # fmt: skip
        count = 0
        with contextlib.suppress(client.exceptions.NoSuchBucket):
            async for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                count += page.get("KeyCount", 0)
        return count


async def soak(
    settings: Settings, client: Client, rounds: int, objects: int, concurrency: int, say: Say
) -> list[Figure]:
    """PUT ``objects`` small objects through the gateway ``rounds`` times; each round's rate."""
    if not settings.gateway_address:
        raise ConfigError(
            "no S3 gateway address: run the bench against a stack started by 'pachstream up' "
            "(it records one) or set PACHSTREAM_GATEWAY_ADDRESS"
        )
    keys, secret = settings.gateway_keys[0] if settings.gateway_keys else ("bench", "bench")
    repo = f"soak{uuid.uuid4().hex[:8]}"
    await client.create_repo(repo)
    gateway = f"http://{settings.gateway_address}"
    body = os.urandom(1024)
    rates: list[float] = []
    costs: list[tuple[float, float]] = []  # per round: ms per PUT, broker and store / the rest
    figures: list[Figure] = []
    meter = CpuMeter(settings)
    await meter.measure_idle(IDLE_S)
    for r in range(rounds):
        names = [f"r{r:02d}/d{i % 100:02d}/obj{i:06d}.bin" for i in range(objects)]
        before = meter.read()
        seconds = await _put_all(gateway, f"master.{repo}", names, body, concurrency, keys, secret)
        used = meter.used(before, seconds)
        rates.append(objects / seconds)
        broker = sum(v for k, v in used.items() if k in BROKER_AND_STORE)
        costs.append((broker / objects * 1e3, (sum(used.values()) - broker) / objects * 1e3))
        broker_objects = await _count_objects(settings, "tansu")
        load = os.getloadavg()[0]
        say(
            f"round {r + 1}: {rates[-1]:,.0f} PUTs/s; {broker_objects:,} objects in the "
            f"broker's bucket; load {load:.1f}; CPU per PUT, ms: {cpu_split(used, objects)}"
        )
        figures.append(
            Figure(f"round {r + 1}: {objects:,} PUTs (load {load:.1f})", rates[-1], "PUTs/s")
        )
        figures.append(Figure(f"round {r + 1}: objects in the broker's bucket", broker_objects, ""))
        figures.append(
            Figure(f"round {r + 1}: CPU per PUT, broker and object store", costs[-1][0], "ms")
        )
        figures.append(
            Figure(f"round {r + 1}: CPU per PUT, every other process", costs[-1][1], "ms")
        )
    total = rounds * objects

    async def all_there() -> object:
        info = await client.inspect_commit(f"{repo}@master")
        return info if info.finished is not None and info.file_count == total else None

    started = time.perf_counter()
    await client._wait_until(all_there, f"{total} objects in {repo}@master", 300)
    say(f"{repo}@master holds all {total:,} objects ({time.perf_counter() - started:.1f} s)")
    await client.delete_repo(repo)
    figures.append(Figure("ratio last round / first", rates[-1] / rates[0], "×", "≈ 1"))
    for i, who in enumerate(("broker and object store", "every other process")):
        if costs[0][i] > 0:
            growth = costs[-1][i] / costs[0][i]
            figures.append(Figure(f"CPU per PUT, last round / first: {who}", growth, "×"))
    if rounds >= 6:
        # One round is noisy on a shared machine (a soak run here went 98, 86, ..., 37, 90).
        late, early = statistics.median(rates[-3:]), statistics.median(rates[:3])
        figures.append(Figure("ratio median of the last 3 rounds / first 3", late / early, "×"))
    return figures
