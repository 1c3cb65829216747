"""``pachstream up / status / down`` as a user runs them, checked with clients no one here wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from stack_cli import cli, down, stack_env, up

from pachstream.kafka import PartitionReader
from pachstream.settings import KafkaSettings
from pachstream.stack.servers import _pg_bin, pid_alive

pytestmark = pytest.mark.slow


async def test_up_status_down_with_real_clients(tmp_path: Path):
    env = stack_env(tmp_path / "home")
    none = cli(env, "status")
    assert none.returncode == 1 and "no stack running" in none.stderr
    up(env)
    pids: list[int] = []
    try:
        # The keys and the Postgres password, which status shows only when asked.
        doc = orjson.loads(cli(env, "status", "--json", "--show-secrets").stdout)
        names = [c["name"] for c in doc["components"]]
        assert names == [
            "seaweedfs",
            "tansu",
            "postgres",
            "commits",
            "lineage",
            "dispatch",
            "workers",
            "ingest",
            "s3gateway",
            "console",
        ]
        assert all(c["healthy"] and isinstance(c["pid"], int) for c in doc["components"])
        pids = [c["pid"] for c in doc["components"]] + [doc["supervisor_pid"]]
        addresses = doc["addresses"]

        # The web console `up` started, on loopback, and where `status` says.
        console = next(c for c in doc["components"] if c["name"] == "console")
        assert console["address"] == addresses["console"]
        assert console["address"].startswith("http://127.0.0.1:")
        assert console["address"] in cli(env, "status").stdout
        with urllib.request.urlopen(console["address"] + "/", timeout=30) as home:
            assert home.status == 200 and b"<h2>Repos</h2>" in home.read()

        psql = subprocess.run(
            [str(_pg_bin() / "psql"), addresses["postgres_dsn"], "-tAc", "select 40 + 2"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert psql.stdout.strip() == "42", psql.stderr

        aws = Path(sys.executable).with_name("aws")  # the dev extra installs aws-cli
        if aws.exists():
            aws_env = {
                **os.environ,
                "AWS_ACCESS_KEY_ID": addresses["s3_access_key"],
                "AWS_SECRET_ACCESS_KEY": addresses["s3_secret_key"],
                "AWS_DEFAULT_REGION": "us-east-1",
            }
            probe = tmp_path / "probe.txt"
            probe.write_text("from aws-cli")
            # SeaweedFS answers ListBuckets with nothing when no identities are configured:
            # list inside the bucket instead.
            for cmd in (
                ["cp", str(probe), "s3://pachstream/probe.txt"],
                ["ls", "s3://pachstream/"],
            ):
                ls = subprocess.run(
                    [str(aws), "--endpoint-url", addresses["s3_endpoint"], "s3", *cmd],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    env=aws_env,
                )
                assert ls.returncode == 0, ls.stderr
            assert "probe.txt" in ls.stdout

            # The S3 gateway `up` started: an upload there is a file in a repo.
            assert cli(env, "create", "repo", "probe").returncode == 0
            gateway = f"http://{addresses['s3_gateway']}"
            put = subprocess.run(
                [
                    str(aws),
                    "--endpoint-url",
                    gateway,
                    "s3",
                    "cp",
                    str(probe),
                    "s3://master.probe/p.txt",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                env=aws_env,
            )
            assert put.returncode == 0, put.stderr
            got = cli(env, "get", "file", "probe@master:/p.txt")
            assert got.stdout == "from aws-cli", got.stderr

        reader = PartitionReader(KafkaSettings(bootstrap=addresses["kafka_bootstrap"]))
        await reader.start(["ps.requests"], {})  # the processors created it with 8 partitions
        await reader.stop()

        again = cli(env, "up", "--detach")
        assert again.returncode == 0, again.stderr  # as `docker compose up -d`: already up
        assert "already running" in again.stdout

        # A processor that dies is restarted by the supervisor.
        commits_pid = next(c["pid"] for c in doc["components"] if c["name"] == "commits")
        os.kill(commits_pid, 9)
        deadline = time.monotonic() + 30
        restarted = None
        while time.monotonic() < deadline:
            st = orjson.loads(cli(env, "status", "--json").stdout)
            now = next(c for c in st["components"] if c["name"] == "commits")
            if now["pid"] != commits_pid and now["healthy"]:
                restarted = now["pid"]
                break
            time.sleep(1)
        assert restarted is not None, "the supervisor did not restart a killed processor"
        pids.append(restarted)
    finally:
        down(env)
    assert not [p for p in pids if pid_alive(p)], "down left processes running"
    assert not (tmp_path / "home" / "stack.json").exists()
    twice = cli(env, "down")
    assert twice.returncode == 0 and "no stack running" in twice.stdout
    gone = cli(env, "status")
    assert gone.returncode == 1
