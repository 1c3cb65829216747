"""kill -9 of the whole stack right after acknowledged puts loses nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import time
import uuid
from pathlib import Path

import orjson
import pytest
from stack_cli import cli as _cli

from pachstream.client import Client
from pachstream.settings import KafkaSettings, Settings

pytestmark = pytest.mark.slow


def _env(home: Path, kafka: KafkaSettings | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHSTREAM_")}
    env["PACHSTREAM_HOME"] = str(home)
    if kafka is not None:
        # A broker of the session's (Apache Kafka), shared: the stack gets a namespace of its own.
        env["PACHSTREAM_KAFKA_BOOTSTRAP"] = kafka.bootstrap
        env["PACHSTREAM_NAMESPACE"] = "d" + uuid.uuid4().hex[:12]
    return env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours is dead for this purpose.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_kill9_of_the_whole_stack_keeps_every_acknowledged_commit(
    tmp_path: Path, named_kafka: KafkaSettings | None
):
    """On the embedded run the stack's own Tansu dies too; on the kafka run the broker stays."""
    env = _env(tmp_path / "home", named_kafka)
    up = _cli(env, "up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    pids: list[int] = []
    try:
        settings = Settings.from_env(env)
        written: dict[str, bytes] = {}
        commits: list[str] = []
        async with await Client.connect(settings) as c:
            await c.create_repo("precious")
            for i in range(30):
                body = hashlib.sha256(str(i).encode()).digest() * (i + 1)
                commits.append(await c.put_file("precious@master", f"/f{i:03d}.bin", body))
                written[f"/f{i:03d}.bin"] = body
            big = os.urandom(3 * 1024 * 1024)  # a blob of its own, not packed
            commits.append(await c.put_file("precious@master", "/big.bin", big))
            written["/big.bin"] = big
            async with c.commit("precious@master") as commit:
                await commit.put_files([(f"/batch/{i}", f"row {i}\n".encode()) for i in range(500)])
            commits.append(commit.id)
            written.update({f"/batch/{i}": f"row {i}\n".encode() for i in range(500)})

        status = _cli(env, "status", "--json")
        assert status.returncode == 0, status.stderr
        doc = orjson.loads(status.stdout)
        pids = [comp["pid"] for comp in doc["components"] if comp.get("pid")]
        supervisor = orjson.loads((tmp_path / "home" / "stack.json").read_bytes())["supervisor_pid"]
        pids.append(supervisor)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(p) for p in pids), "kill -9 left processes"

        again = _cli(env, "up", "--detach")
        assert again.returncode == 0, again.stdout + again.stderr
        settings = Settings.from_env(env)
        async with await Client.connect(settings) as c:
            history = [info.id for info in await c.list_commit("precious@master")]
            assert history == list(reversed(commits))
            listing = await c.glob_file("precious@master", "/**")
            assert {f.path for f in listing if f.type == "file"} == set(written)
            for path, body in written.items():
                assert await c.get_file("precious@master", path) == body, path
            # Still writable after the restart.
            await c.put_file("precious@master", "/after", b"after")
            assert await c.get_file("precious@master", "/after") == b"after"
    finally:
        down = _cli(env, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        leftovers = [p for p in pids if _alive(p)]
        assert not leftovers
