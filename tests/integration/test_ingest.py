"""The ingest topic with a producer no one here wrote (kcat): 1,000 records become a few
commits by the policy, a pipeline runs on them; S3 references; bad records are dead-lettered."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from pachstream.ingest import IngestConsumer
from pachstream.kafka import Topics
from pachstream.objectstore import S3ObjectStore
from pachstream.testing.services import RunningStack, read_dead_letters
from pachstream.testing.waits import eventually

pytestmark = [
    pytest.mark.skipif(
        shutil.which("kcat") is None, reason="kcat is not installed (make installs it)"
    ),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]

COUNT = """
pipeline: {name: count}
input: {pfs: {repo: raw, glob: "/"}}
transform: {cmd: [sh, -c, 'ls /pfs/raw/r | wc -l > /pfs/out/count']}
"""


def _librdkafka(tmp: Path) -> dict[str, str]:
    """Environment for kcat. Debian's kcat links librdkafka 2.0.2, which misreads the embedded
    broker's (Tansu's) ApiVersions v3 answer ("Read underflow"); librdkafka 2.16, bundled in
    the confluent-kafka wheel, reads it. kcat itself is unchanged."""
    spec = importlib.util.find_spec("confluent_kafka")
    if spec is None or spec.origin is None:
        return {}
    libs = sorted((Path(spec.origin).parent.parent / "confluent_kafka.libs").glob("librdkafka*"))
    if not libs:
        return {}
    (tmp / "librdkafka.so.1").symlink_to(libs[0])
    return {"LD_LIBRARY_PATH": str(tmp)}


async def _kcat(settings, *args: str, lines: str) -> None:
    kafka, _, _ = settings.require()
    proc = await asyncio.create_subprocess_exec(
        "kcat", "-P", "-b", kafka.bootstrap, "-t", Topics(settings.namespace).ingest, *args,
        stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **KCAT_ENV},
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(lines.encode()), timeout=60)
    assert proc.returncode == 0, err.decode()


KCAT_ENV: dict[str, str] = {}


async def test_kcat_records_become_commits_and_a_pipeline_runs(settings, tmp_path: Path):
    KCAT_ENV.update(_librdkafka(tmp_path))
    settings = dataclasses.replace(settings, ingest_policy="300/3s")
    async with RunningStack(settings) as stack:
        c = stack.client
        await c.create_repo("raw")
        await c.put_file("raw@master", "/r/seed.txt", b"seed")
        await c.create_pipeline(COUNT)
        ingest = IngestConsumer(settings)
        await ingest.start()
        try:
            before = len(await c.list_commit("raw@master"))
            lines = "".join(f"raw@master:/r/{i:04d}.txt|record {i}\n" for i in range(1000))
            await _kcat(settings, "-K", "|", lines=lines)

            async def landed():
                info = await c.inspect_commit("raw@master")
                return info if info.file_count == 1001 else None

            head = await eventually(landed, "1,000 ingested files", timeout_s=120)
            commits = len(await c.list_commit("raw@master")) - before
            print(f"1,000 kcat records → {commits} commits")
            assert 2 <= commits <= 10, commits  # the policy: 300 records or 3 s, not 1,000
            assert await c.get_file("raw@master", "/r/0999.txt") == b"record 999"
            jobs = await c.flush("raw", head.id, timeout_s=180)
            assert jobs[-1].state == "success"
            assert (await c.get_file("count@master", "/count")).strip() == b"1001"

            # Large content by reference: an object already in S3, copied into the repo.
            _, _, s3 = settings.require()
            external = S3ObjectStore(s3, "")
            big = os.urandom(3 * 1024 * 1024)
            try:
                await external.put(f"external/{settings.namespace}/big.bin", big)
            finally:
                await external.close()
            uri = f"s3://{s3.bucket}/external/{settings.namespace}/big.bin"
            await _kcat(settings, "-K", "|", "-H", f"s3-uri={uri}", lines="raw:/big.bin|\n")
            missing = f"s3://{s3.bucket}/external/none"
            await _kcat(settings, "-K", "|", "-H", f"s3-uri={missing}", lines="raw:/gone.bin|\n")

            async def copied():
                try:
                    return await c.get_file("raw@master", "/big.bin")
                except Exception:
                    return None

            assert await eventually(copied, "the S3 object", timeout_s=120) == big

            # Bad records: each a dead letter with the reason; the consumer goes on.
            await _kcat(
                settings, "-K", "|",
                lines="nonsense|x\nghost@master:/a.txt|x\nraw@master:/a/../b|x\n",
            )  # fmt: skip
            letters = await read_dead_letters(settings, 4)
            reasons = sorted(letter["reason"] for letter in letters)
            assert len(letters) == 4, reasons
            assert any("is not 'repo@branch:/path'" in r for r in reasons)
            assert any("repo 'ghost' does not exist" in r for r in reasons)
            assert any("/a/../b" in r for r in reasons)
            assert any("external/none does not exist" in r for r in reasons)
            await _kcat(settings, "-K", "|", lines="raw:/after.txt|still here\n")

            async def after():
                try:
                    return await c.get_file("raw@master", "/after.txt")
                except Exception:
                    return None

            assert (
                await eventually(after, "a record after the bad ones", timeout_s=120)
                == b"still here"
            )
        finally:
            await ingest.stop()
