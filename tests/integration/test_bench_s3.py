"""``bench s3-put`` and ``bench soak`` run end to end at a small size: every object is PUT, the
repo gets every one in a few commits, and the scratch repo is gone afterwards (no timings
checked)."""

from __future__ import annotations

import dataclasses

import pytest

from pachstream.bench.s3 import s3_put
from pachstream.bench.soak import soak
from pachstream.errors import ConfigError
from pachstream.gateway import S3Gateway
from pachstream.testing.services import RunningStack


async def test_s3_put_bench_small(settings):
    said: list[str] = []
    async with RunningStack(settings, pipelines=False) as stack:
        gateway = S3Gateway(settings, port=0)
        await gateway.start()
        try:
            with pytest.raises(ConfigError, match="no S3 gateway address"):
                await s3_put(settings, stack.client, 10, 16, 4, print)
            with_gw = dataclasses.replace(settings, gateway_address=f"127.0.0.1:{gateway.port}")
            figures = {
                f.name: f.value
                for f in await s3_put(with_gw, stack.client, 300, 64, 8, said.append)
            }
        finally:
            await gateway.stop()
        assert figures["objects/s through the gateway"] > 0
        assert figures["objects/s straight to the object store"] > 0
        ratio = (
            figures["objects/s through the gateway"]
            / figures["objects/s straight to the object store"]
        )
        assert figures["ratio gateway / direct"] == pytest.approx(ratio)
        assert 1 <= figures["commits made by the gateway"] < 300  # grouped, not one per PUT
        assert not [r for r in await stack.client.list_repo() if r.name.startswith("s3bench")]
    assert figures["a PUT in flight through the gateway"] == pytest.approx(
        8 / figures["objects/s through the gateway"] * 1e3
    )
    # No stack recorded here (the gateway runs in this process): no breakdown, and it says so.
    # A real stack's stage metrics: test_process_metrics; their means: test_bench_s3_stages.
    assert not [name for name in figures if name.startswith("of which in the gateway")]
    assert any("no breakdown of a PUT's time" in s for s in said), said


async def test_soak_bench_small(settings):
    said: list[str] = []
    async with RunningStack(settings, pipelines=False) as stack:
        gateway = S3Gateway(settings, port=0)
        await gateway.start()
        try:
            with_gw = dataclasses.replace(settings, gateway_address=f"127.0.0.1:{gateway.port}")
            figures = {
                f.name: f.value for f in await soak(with_gw, stack.client, 2, 30, 4, said.append)
            }
        finally:
            await gateway.stop()
        assert not [r for r in await stack.client.list_repo() if r.name.startswith("soak")]
    (first,) = [v for k, v in figures.items() if k.startswith("round 1: 30 PUTs")]
    (last,) = [v for k, v in figures.items() if k.startswith("round 2: 30 PUTs")]
    assert figures["ratio last round / first"] == pytest.approx(last / first)
    # Processors run in this process here: their CPU is "every other process"'s.
    assert figures["round 1: CPU per PUT, every other process"] > 0
    assert figures["round 2: CPU per PUT, broker and object store"] == 0
    assert len([s for s in said if "CPU per PUT, ms: bench " in s]) == 2
