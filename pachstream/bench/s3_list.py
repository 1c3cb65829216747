"""``pachstream bench list-rss``: list a big repo fully through the S3 gateway and report the
gateway process's resident memory and the time taken.

The repo is filled through the client's bulk put (``put_files`` in commits of 200,000 files,
as ``bench commit-scale`` does: about four minutes for 1,000,000 files here), since the gateway
reads commits, their trees and their files' history from the running stack, which only a real
commit gives it. The gateway is the stack's own process (``stack.json`` names its pid); its
RSS is sampled every 20 ms while boto3 pages through the bucket with ListObjectsV2 pages of
``--page`` keys. Two listings that S3 clients make most often are timed too: the top level
with ``Delimiter='/'`` and one directory with a prefix.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from pachstream.bench import Figure
from pachstream.client import Client
from pachstream.errors import ConfigError
from pachstream.settings import Settings

Say = Callable[[str], None]

FILL_STEP = 200_000
"""Files per fill commit."""


def key_of(i: int) -> str:
    """The key of file ``i``: 1,000 files per directory."""
    return f"d{i // 1000:04d}/f{i:07d}"


def gateway_pid(settings: Settings) -> int:
    """The pid of the running stack's S3 gateway process.

    Raises:
        ConfigError: no stack runs in ``settings.home`` or it has no gateway process.

    """
    from pachstream.stack import read_state

    state = read_state(settings.home) or {}
    for comp in state.get("components", []):
        if comp.get("name") == "s3gateway" and comp.get("pid"):
            return int(comp["pid"])
    raise ConfigError(
        f"no S3 gateway process in the stack of {settings.home}: start one with 'pachstream up' "
        "(the bench measures that process's memory)"
    )


class RssSampler:
    """Samples a process's resident set size in a thread, keeping the peak."""

    def __init__(self, pid: int, every_s: float = 0.02) -> None:
        self._status = f"/proc/{pid}/status"
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak = self.now()

    def now(self) -> int:
        """The process's RSS in bytes now (Linux: ``VmRSS`` of ``/proc/<pid>/status``)."""
        with open(self._status) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise ProcessLookupError(f"{self._status} has no VmRSS line")

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the process has used (Linux: ``/proc/<pid>/stat``)."""
        with open(self._status.replace("/status", "/stat")) as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> RssSampler:
        self.peak = self.now()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def _s3(endpoint: str, access: str, secret: str) -> Any:
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                      read_timeout=600),
    )  # fmt: skip


def list_all(s3: Any, bucket: str, page: int, **kwargs: str) -> tuple[int, int, int, float]:
    """Page through a listing: (keys, common prefixes, pages, seconds)."""
    keys = prefixes = pages = 0
    last = ""
    started = time.perf_counter()
    paginator = s3.get_paginator("list_objects_v2")
    for answer in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": page}, **kwargs):
        pages += 1
        for item in answer.get("Contents", []):
            if item["Key"] <= last:
                raise AssertionError(f"listing out of order: {item['Key']!r} after {last!r}")
            last = item["Key"]
            keys += 1
        prefixes += len(answer.get("CommonPrefixes", []))
    return keys, prefixes, pages, time.perf_counter() - started


async def list_rss(settings: Settings, client: Client, files: int, page: int,
                   say: Say) -> list[Figure]:  # fmt: skip
    """Fill a repo with ``files`` files, then list it fully through the gateway."""
    if not settings.gateway_address:
        raise ConfigError(
            "no S3 gateway address: run the bench against a stack started by 'pachstream up' "
            "(it records one) or let it start a throwaway stack"
        )
    pid = gateway_pid(settings)
    repo = f"listrss{uuid.uuid4().hex[:8]}"
    await client.create_repo(repo)
    say(f"filling {repo}@master with {files:,} files")
    started = time.perf_counter()
    for lo in range(0, files, FILL_STEP):
        await client.put_files(
            f"{repo}@master",
            ((f"/{key_of(i)}", f"{i}".encode()) for i in range(lo, min(files, lo + FILL_STEP))),
        )
        say(f"  {min(files, lo + FILL_STEP):,} files, {time.perf_counter() - started:.0f} s")
    fill = time.perf_counter() - started
    access, secret = settings.gateway_keys[0] if settings.gateway_keys else ("bench", "bench")
    s3 = _s3(f"http://{settings.gateway_address}", access, secret)
    bucket = f"master.{repo}"
    s3.head_bucket(Bucket=bucket)
    say(f"listing {bucket} fully in pages of {page} (gateway pid {pid})")
    with RssSampler(pid) as rss:
        before, cpu = rss.now(), rss.cpu_s()
        keys, _, pages, full = await asyncio.to_thread(list_all, s3, bucket, page)
        cpu = rss.cpu_s() - cpu
    if keys != files:
        raise AssertionError(f"the listing gave {keys:,} keys; the repo has {files:,}")
    say("listing the top level with Delimiter='/' and one directory by prefix")
    with RssSampler(pid) as rss2:
        _, dirs, _, top = await asyncio.to_thread(list_all, s3, bucket, page, Delimiter="/")
        one, _, _, single = await asyncio.to_thread(
            list_all, s3, bucket, page, Delimiter="/", Prefix=key_of(files // 2)[:6]
        )
    await client.delete_repo(repo)
    mib = 1024 * 1024
    return [
        Figure(f"fill {files:,} files (bulk put)", fill, "s"),
        Figure("gateway RSS before the listing", before / mib, "MiB"),
        Figure(f"gateway peak RSS listing {files:,} keys", rss.peak / mib, "MiB"),
        Figure("peak RSS growth during the listing", (rss.peak - before) / mib, "MiB", "flat"),
        Figure(f"list {files:,} keys in {pages:,} pages of {page}", full, "s"),
        Figure("listing rate (boto3's parsing of the pages included)", files / full, "keys/s"),
        Figure("gateway CPU during the listing", cpu, "s"),
        Figure(f"list the top level (Delimiter='/', {dirs:,} prefixes)", top * 1000, "ms"),
        Figure(f"list one directory (Prefix, {one:,} keys)", single * 1000, "ms"),
        Figure("gateway peak RSS over those two", rss2.peak / mib, "MiB"),
    ]
