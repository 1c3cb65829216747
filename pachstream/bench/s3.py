"""``pachstream bench s3-put``: small objects per second through the S3 gateway, next to the
same PUTs straight to the object store the stack runs on (SeaweedFS by default).

Both sides get the same client (aiobotocore), the same objects and the same concurrency. A
gateway PUT is answered once its object is in a commit of the branch, so its figure includes
storing the content and the request round trip through the commit processor; at the end the
repo is checked to hold every object.

Beside the rates it prints the CPU each PUT cost, summed over every process of the stack
(and its children: Postgres's backends) and the bench's own, with what they burn at rest
taken off: on a shared machine the rates follow the load, the CPU per PUT much less.
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
from pachstream.errors import ConfigError
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
    before = meter.read()
    through = await _put_all(gateway, f"master.{repo}", names, body, concurrency, keys, secret)
    through_cpu = meter.used(before, through)
    say(f"CPU per PUT through the gateway, ms: {cpu_split(through_cpu, objects)}")

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
    ]
