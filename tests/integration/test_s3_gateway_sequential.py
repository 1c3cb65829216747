"""A client PUTting keys one after another (the s3-tests suite, a backup tool) shares commits
instead of paying one commit per request, while a lone `aws s3 cp` is still committed at
once and every client reads what it wrote."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time

import boto3
import pytest
from botocore.config import Config

from pachstream.gateway import CommitTiming, S3Gateway, _writer
from pachstream.gateway._open_commit import BranchCommit, Decision, Event, Write, decide
from pachstream.testing.services import RunningStack

COUNT = int(os.environ.get("PACHSTREAM_GW_SEQUENTIAL_PUTS", "200"))


@pytest.mark.parametrize(
    "policy",
    [
        "shared",
        pytest.param(
            "one-commit-per-put",
            marks=pytest.mark.skipif(
                not os.environ.get("PACHSTREAM_GW_MEASURE_BEFORE"),
                reason="the old policy, for a before/after figure only",
            ),
        ),
    ],
)
async def test_sequential_puts_share_commits(settings, policy: str, monkeypatch):
    if policy == "one-commit-per-put":  # the policy before issue 13: only a burst shares

        def burst_only(state: BranchCommit, event: Event, timing: CommitTiming) -> Decision:
            if isinstance(event, Write):  # no quiet spell: a lone write is its own commit
                timing = dataclasses.replace(timing, quiet=0.0)
            return decide(state, event, timing)

        monkeypatch.setattr(_writer, "decide", burst_only)
    settings = dataclasses.replace(settings, ingest_policy="1000/5s")
    async with RunningStack(settings, pipelines=False) as stack:
        c = stack.client
        await c.create_repo("raw")
        gateway = S3Gateway(settings, port=0)
        await gateway.start()
        try:
            s3 = boto3.client(
                "s3", endpoint_url=gateway.endpoint, aws_access_key_id="k",
                aws_secret_access_key="s", region_name="us-east-1",
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
            )  # fmt: skip
            # A lone PUT to an idle branch is a finished commit when it is answered.
            await asyncio.to_thread(s3.put_object, Bucket="master.raw", Key="first", Body=b"1")
            head = await c.inspect_commit("raw@master")
            assert head.finished is not None and head.file_count == 1
            await asyncio.sleep(1.0)  # idle again
            before = len(await c.list_commit("raw@master"))

            def loop() -> tuple[float, bytes]:
                start = time.monotonic()
                for i in range(COUNT):
                    s3.put_object(Bucket="master.raw", Key=f"k/{i:04d}", Body=b"%d" % i)
                took = time.monotonic() - start
                # Read-after-write, with the last PUT perhaps still in the open commit.
                last = s3.get_object(Bucket="master.raw", Key=f"k/{COUNT - 1:04d}")["Body"].read()
                return took, last

            took, last = await asyncio.to_thread(loop)
            assert last == b"%d" % (COUNT - 1)
            await gateway.settle("raw@master")
            commits = len(await c.list_commit("raw@master")) - before
            print(
                f"{policy}: {COUNT} sequential PUTs in {took:.1f} s "
                f"({COUNT / took:.1f}/s), {commits} commits"
            )
            assert (await c.inspect_commit("raw@master")).file_count == COUNT + 1
            if policy == "shared":
                assert commits <= max(4, COUNT // 20), commits
        finally:
            await gateway.stop()
