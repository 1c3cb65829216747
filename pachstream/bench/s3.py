"""``pachstream bench s3-put``: small objects per second through the S3 gateway, next to the
same PUTs straight to the object store the stack runs on (SeaweedFS by default).

Both sides get the same client (aiobotocore), the same objects and the same concurrency. A
gateway PUT is answered once its object is in a commit of the branch, so its figure includes
storing the content and the request round trip through the commit processor; at the end the
repo is checked to hold every object.

Beside the rates it prints the CPU each PUT cost, summed over every process of the stack
(and its children: Postgres's backends) and the bench's own, with what they burn at rest
taken off: on a shared machine the rates follow the load, the CPU per PUT much less.

And where a gateway PUT's time goes: the time one PUT is in flight on the client's side
(concurrency ÷ rate), and the gateway's mean per stage of
:data:`~pachstream.metrics.PUT_STAGES`, from its metrics. With a fixed number of PUTs in
flight, the rate is that number over the time each one takes; the stages say which wait
sets it.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from pachstream.bench import CpuMeter, Figure, cpu_split
from pachstream.client import Client
from pachstream.errors import ConfigError, InvalidInput, Unavailable
from pachstream.metrics import (
    PUT_STAGE_SECONDS,
    PUT_STAGES,
    Sample,
    metrics_addresses,
    parse_samples,
    scrape,
)
from pachstream.settings import Settings

Say = Callable[[str], None]


async def _put_all(endpoint: str, bucket: str, keys: list[str], body: bytes, concurrency: int,
                   access: str, secret: str) -> float:  # fmt: skip
    """Seconds to PUT every key with ``concurrency`` requests in flight."""
    session = get_session()
    config = AioConfig(
        s3={"addressing_style": "path"},
        max_pool_connections=concurrency,
        retries={"max_attempts": 1},
        request_checksum_calculation="when_required",
        # A PUT through the gateway is answered at its commit: on a loaded machine (the soak,
        # the broker on S3) that took over botocore's default minute.
        read_timeout=600,
    )
    async with session.create_client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
        region_name="us-east-1", config=config,
    ) as s3:  # fmt: skip
        queue = iter(keys)

        async def worker() -> None:
            for key in queue:
                await s3.put_object(Bucket=bucket, Key=key, Body=body)

        await s3.list_buckets()  # connection set up before the clock
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start


def stage_means(before: list[Sample], after: list[Sample]) -> dict[str, float]:
    """Mean seconds per stage of :data:`PUT_STAGES` between two scrapes of the gateway's
    metrics (stages with no PUT between them left out). Pure.
    """

    def totals(samples: list[Sample]) -> dict[tuple[str, str], float]:
        return {
            (s.name.removeprefix(PUT_STAGE_SECONDS), s.labels.get("stage", "")): s.value
            for s in samples
            if s.name in (f"{PUT_STAGE_SECONDS}_sum", f"{PUT_STAGE_SECONDS}_count")
        }

    old, new = totals(before), totals(after)
    means: dict[str, float] = {}
    for stage in PUT_STAGES:
        count = new.get(("_count", stage), 0.0) - old.get(("_count", stage), 0.0)
        if count > 0:
            means[stage] = (new[("_sum", stage)] - old.get(("_sum", stage), 0.0)) / count
    return means


async def _gateway_samples(settings: Settings) -> list[Sample] | None:
    """The gateway's metrics now, or None where they cannot be read (no stack recorded)."""
    url = metrics_addresses(settings).get("s3gateway")
    if url is None:
        return None
    try:
        return parse_samples(await scrape(url))
    except (Unavailable, InvalidInput):
        return None


async def s3_put(settings: Settings, client: Client, objects: int, size: int, concurrency: int,
                 say: Say) -> list[Figure]:  # fmt: skip
    """Objects/s of ``objects`` PUTs of ``size`` bytes through the gateway and straight to S3."""
    if not settings.gateway_address:
        raise ConfigError(
            "no S3 gateway address: run the bench against a stack started by 'pachstream up' "
            "(it records one) or set PACHSTREAM_GATEWAY_ADDRESS"
        )
    _, _, s3 = settings.require()
    keys, secret = settings.gateway_keys[0] if settings.gateway_keys else ("bench", "bench")
    tag = uuid.uuid4().hex[:8]
    repo = f"s3bench{tag}"
    body = os.urandom(size)
    names = [f"d{i % 100:02d}/obj{i:06d}.bin" for i in range(objects)]
    await client.create_repo(repo)  # its master is a bucket before its first commit

    meter = CpuMeter(settings)
    await meter.measure_idle(3.0)
    say(f"{objects:,} PUTs of {size} bytes, {concurrency} in flight, straight to {s3.endpoint}")
    before = meter.read()
    direct = await _put_all(
        s3.endpoint, s3.bucket, [f"bench-s3put/{tag}/{n}" for n in names], body, concurrency,
        s3.access_key, s3.secret_key,
    )  # fmt: skip
    direct_cpu = meter.used(before, direct)
    gateway = f"http://{settings.gateway_address}"
    say(f"the same through the gateway {gateway} into {repo}@master")
    stages_before = await _gateway_samples(settings)
    before = meter.read()
    through = await _put_all(gateway, f"master.{repo}", names, body, concurrency, keys, secret)
    through_cpu = meter.used(before, through)
    stages_after = await _gateway_samples(settings)
    say(f"CPU per PUT through the gateway, ms: {cpu_split(through_cpu, objects)}")
    means: dict[str, float] = {}
    if stages_before is None or stages_after is None:
        say("the gateway's metrics could not be read: no breakdown of a PUT's time")
    else:
        means = stage_means(stages_before, stages_after)

    async def all_there() -> Any:
        info = await client.inspect_commit(f"{repo}@master")
        return info if info.finished is not None and info.file_count == objects else None

    await client._wait_until(all_there, f"{objects} objects in {repo}@master", 120)
    commits = len(await client.list_commit(f"{repo}@master"))
    await client.delete_repo(repo)
    gw_rate, direct_rate = objects / through, objects / direct
    gw_ms, direct_ms = (sum(cpu.values()) / objects * 1e3 for cpu in (through_cpu, direct_cpu))
    return [
        Figure("objects/s through the gateway", gw_rate, "objects/s"),
        Figure("objects/s straight to the object store", direct_rate, "objects/s"),
        Figure("ratio gateway / direct", gw_rate / direct_rate, "×"),
        Figure("commits made by the gateway", commits, "commits", f"few, not {objects:,}"),
        Figure("CPU per PUT through the gateway, all processes", gw_ms, "ms"),
        Figure("CPU per PUT straight to the object store, all processes", direct_ms, "ms"),
        Figure("CPU ratio direct / gateway", direct_ms / gw_ms if gw_ms else 0.0, "×"),
        # Little's law: with a fixed number in flight, each PUT takes that many over the rate.
        Figure(
            "a PUT in flight straight to the object store",
            concurrency * direct / objects * 1e3,
            "ms",
        ),
        Figure("a PUT in flight through the gateway", concurrency * through / objects * 1e3, "ms"),
        *(
            Figure(f"of which in the gateway, {stage} (mean)", s * 1e3, "ms")
            for stage, s in means.items()
        ),
    ]
