"""Every process of a ``pachstream up`` stack serves Prometheus metrics where ``stack.json``
says, with real counts after a file goes through the S3 gateway and a pipeline; ``status``
prints each processor's lag.

The stack's processors run on the session's servers (named by the environment), so ``up``
starts only pachstream's own processes.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from pathlib import Path

import boto3
import orjson
import pytest
from botocore.config import Config
from stack_cli import cli, down, stack_env, up

from pachstream.client import Client
from pachstream.metrics import PUT_STAGES, Sample, metrics_addresses, parse_samples, scrape
from pachstream.settings import Settings
from pachstream.stack import PROCESSORS

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

SPEC = """
pipeline: {name: copy}
input: {pfs: {repo: raw, glob: "/*"}}
transform: {cmd: [sh, -c, 'cp /pfs/raw/* /pfs/out/']}
"""


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels``."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def _wait_for_datum(client: Client, pipeline: str) -> int:
    """Wait for a job of ``pipeline`` that ran a datum to end in success (an earlier job
    may have had none); returns the number of jobs that ended.
    """
    deadline = time.monotonic() + 120
    while True:
        jobs = await client.list_job(pipeline)
        if any(j.processed for j in jobs) and all(j.finished for j in jobs):
            assert all(j.state == "success" for j in jobs), jobs
            return len(jobs)
        assert time.monotonic() < deadline, f"no datum of {pipeline} after 120 s: {jobs}"
        await asyncio.sleep(0.3)


async def test_every_process_serves_its_metrics(settings: Settings, tmp_path: Path) -> None:
    home = tmp_path / "home"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    # A variable meant for one process must not reach the stack's: each gets its own port.
    taken_address = f"127.0.0.1:{taken.getsockname()[1]}"
    env = stack_env(home, settings, PACHSTREAM_METRICS_ADDRESS=taken_address)
    try:
        await asyncio.to_thread(up, env)
    finally:
        taken.close()
    client = await Client.connect(settings)
    try:
        addresses = metrics_addresses(home)
        assert set(addresses) == set(PROCESSORS)
        assert all(a.startswith("http://127.0.0.1:") for a in addresses.values())
        assert len(set(addresses.values())) == len(addresses)  # one port each
        state = orjson.loads((home / "stack.json").read_bytes())
        assert addresses["console"] == state["addresses"]["console"] + "/metrics"

        await client.create_repo("raw")
        await client.create_pipeline(SPEC)
        gateway = boto3.client(
            "s3",
            endpoint_url=f"http://{state['addresses']['s3_gateway']}",
            aws_access_key_id="any",
            aws_secret_access_key="any",
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        await asyncio.to_thread(gateway.put_object, Bucket="master.raw", Key="a.txt", Body=b"hi")
        jobs = await _wait_for_datum(client, "copy")

        answers = await asyncio.gather(*(scrape(u) for u in addresses.values()))
        texts = dict(zip(addresses, answers, strict=True))
        got = {name: parse_samples(text) for name, text in texts.items()}
        for name, samples in got.items():
            # The ingest consumer has read nothing: its families are there, without samples.
            assert samples or name == "ingest", f"{name}: no samples at {addresses[name]}"
        assert "# TYPE pachstream_consumer_lag gauge" in texts["ingest"]

        commits = got["commits"]
        assert _value(commits, "pachstream_records_consumed_total", processor="commits") > 0
        lag = [s for s in commits if s.name == "pachstream_consumer_lag"]
        assert lag and all(s.value >= 0 for s in lag), lag
        assert _value(got["lineage"], "pachstream_records_consumed_total", processor="lineage") > 0
        dispatch = got["dispatch"]
        assert _value(dispatch, "pachstream_records_consumed_total", processor="dispatch") > 0
        assert _value(dispatch, "pachstream_job_seconds_count", pipeline="copy") == jobs
        workers = got["workers"]  # the pool serves what its worker processes wrote
        assert _value(workers, "pachstream_datums_total", pipeline="copy", outcome="processed") == 1
        assert _value(workers, "pachstream_datum_seconds_count", pipeline="copy") == 1
        assert _value(workers, "pachstream_records_consumed_total", processor="workers") == 1
        assert (
            _value(
                got["s3gateway"],
                "pachstream_gateway_requests_total",
                operation="PutObject",
                status="200",
            )
            == 1
        )
        assert (
            _value(
                got["s3gateway"], "pachstream_gateway_request_seconds_count", operation="PutObject"
            )
            == 1
        )
        for stage in PUT_STAGES:  # the one PUT, timed in each stage of its way
            count = "pachstream_gateway_put_stage_seconds_count"
            assert _value(got["s3gateway"], count, stage=stage) == 1, stage
        assert _value(got["console"], "pachstream_repos") == 2  # raw and copy

        # `status`: each process's lag and records consumed, the same in --json.
        doc = orjson.loads((await asyncio.to_thread(cli, env, "status", "--json")).stdout)
        report = doc["metrics"]
        assert set(report) == set(PROCESSORS)
        assert report["commits"]["error"] is None
        assert report["commits"]["lag"] is not None and report["commits"]["consumed"] > 0
        assert report["s3gateway"]["lag"] is None  # consumes nothing
        text = (await asyncio.to_thread(cli, env, "status")).stdout
        table = text[text.index("PROCESS") :]  # the metrics table, after the components
        (line,) = [row for row in table.splitlines() if row.split()[:1] == ["commits"]]
        assert line.split()[1] == f"{report['commits']['lag']:,.0f}", text
    finally:
        await client.close()
        await asyncio.to_thread(down, env)
