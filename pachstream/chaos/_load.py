"""The campaign's steady mixed load, through the clients a user has, recording every write
the system acknowledged (:class:`~pachstream.chaos._facts.Ack`) and every job it saw.

- SDK: ``put_file`` into ``notes`` (each its own commit) twice a second, and every few
  seconds one commit of a few files into ``left`` (``start``, ``put_files``, ``finish``);
- ingest topic: records keyed ``right@master:/path``, produced with ``acks=all`` (the
  ingest policy makes them a commit every few seconds);
- S3 gateway: PUTs into the bucket ``master.uploads`` and one multipart upload per round
  (aiobotocore, as any S3 client);
- a watcher lists the jobs every second (the recovery clock reads them).

Commits into the pipelines' inputs come every few seconds only: each makes one job per
pipeline, and jobs of a pipeline run one after the other (a faster pace builds a backlog on
2 cores). Every path is new (a write is never retried under the same path), so a path holds the one
content that was sent to it. Any error of a write means "not acknowledged": the loop counts
it, drops its connections (a restarted stack may have moved its ports) and goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pachstream.chaos._facts import Ack, JobFact, WriteKind
from pachstream.client import Client
from pachstream.errors import NoOpenCommit
from pachstream.kafka import Producer, Topics, ensure_topics
from pachstream.settings import Settings

log = logging.getLogger("pachstream.chaos")

GROUPS = 16
"""Join keys: files go under ``/g0`` … ``/g15`` of both join sides. Each commit of an input
touches one group, so each job reruns about one datum (its datum stages one group's files):
the cost of a job stays flat while the inputs grow."""
INGEST_EVERY_S = 1.0
"""Seconds between two rounds of ingest records (two records each)."""
PUT_EVERY_S = 0.5
"""Seconds between two SDK puts into ``notes``."""
GATEWAY_EVERY_S = 3.0
"""Seconds between two rounds of S3 gateway writes (PUTs, then one multipart upload)."""
RETRY_S = 0.5
"""Seconds between a failed write and the next try."""
REQUEST_TIMEOUT_S = 20.0
"""A write not answered within this is not acknowledged; the loop moves on."""
MULTIPART_PART = 5 * 1024 * 1024
"""The first part of a multipart upload: S3's smallest part that is not the last."""


def content(seed: int, kind: str, n: int, size: int) -> bytes:
    """The bytes of write ``n`` of ``kind``: derived from the seed, so a replay sends the
    same, and checkable by their sha256. Pure.
    """
    block = hashlib.sha256(f"{seed}:{kind}:{n}".encode()).hexdigest().encode() + b"\n"
    return (block * (size // len(block) + 1))[:size]


def sha(data: bytes) -> str:
    """Hex sha256."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class Recorder:
    """What the load saw: shared by the loops, the injector and the collector."""

    acks: list[Ack] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    """Writes not acknowledged, by kind."""
    last_error: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, JobFact] = field(default_factory=dict)

    def ack(self, kind: WriteKind, repo: str, path: str, data: bytes, commit: str | None,
            sent: float) -> None:  # fmt: skip
        """Record an acknowledged write."""
        self.acks.append(
            Ack(kind=kind, repo=repo, path=path, sha256=sha(data), size=len(data),
                commit_id=commit, sent=sent, acked=time.time())
        )  # fmt: skip

    def failed(self, kind: str, exc: BaseException) -> None:
        """Record a write that was not acknowledged."""
        self.failures[kind] += 1
        self.last_error[kind] = f"{type(exc).__name__}: {exc}"[:300]


SettingsSource = Callable[[], Settings]
"""Settings read afresh from the stack's ``stack.json`` (its ports move when it restarts)."""


class Load:
    """The load loops; :meth:`run` until ``stop`` is set."""

    def __init__(
        self, settings: SettingsSource, seed: int, recorder: Recorder, commit_every_s: float
    ) -> None:
        self._settings = settings
        self._commit_every_s = commit_every_s
        self._seed = seed
        self.rec = recorder
        self._rng = random.Random(seed)
        self._dirty = False
        """A commit of the SDK loop may be open on left@master: finish it before writing."""

    async def run(self, stop: asyncio.Event) -> None:
        """Every loop, until ``stop``; then the SDK loop finishes a commit it left open."""
        loops = [self._sdk(stop), self._ingest(stop), self._gateway(stop), self._watch(stop)]
        async with asyncio.TaskGroup() as tg:
            for i, loop in enumerate(loops):
                tg.create_task(loop, name=f"chaos-load-{i}")

    async def _client(self) -> Client:
        return await asyncio.wait_for(
            Client.connect(self._settings(), timeout_s=REQUEST_TIMEOUT_S), REQUEST_TIMEOUT_S
        )

    async def _loop(
        self,
        stop: asyncio.Event,
        kind: str,
        every_s: float,
        step: Callable[[Any, int], Awaitable[None]],
        connect: Callable[[], Awaitable[Any]],
        close: Callable[[Any], Awaitable[None]],
    ) -> None:
        """Call ``step(conn, n)`` every ``every_s`` until ``stop``; on any error, count it,
        close the connection and try again with a new one after :data:`RETRY_S`, as a writer
        with a retry policy would: the first write after a fault then lands as soon as the
        stack takes it, not at the loop's next turn (the recovery times measure the stack,
        not the load's pace).
        """
        conn: Any = None
        n = 0
        try:
            while not stop.is_set():
                began = time.monotonic()
                try:
                    if conn is None:
                        conn = await connect()
                    await asyncio.wait_for(step(conn, n), REQUEST_TIMEOUT_S * 2)
                    next_turn = began + every_s
                # Under fault injection every driver error (asyncpg, aiokafka, botocore, a
                # timeout) is an expected "not acknowledged": recorded, never hidden.
                except Exception as exc:
                    self.rec.failed(kind, exc)
                    if conn is not None:
                        await _quietly(close(conn))
                        conn = None
                    next_turn = time.monotonic() + RETRY_S
                n += 1
                await _sleep_until(stop, next_turn)
        finally:
            if conn is not None:
                await _quietly(close(conn))

    # ---------------------------------------------------------------- SDK

    async def _sdk(self, stop: asyncio.Event) -> None:
        async def close(c: Client) -> None:
            await c.close()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._loop(stop, "sdk-put", PUT_EVERY_S, self._put, self._client, close))
            tg.create_task(
                self._loop(stop, "sdk-commit", self._commit_every_s, self._commit, self._client,
                           close)
            )  # fmt: skip
        # The writer finishes what it opened before it goes (a commit left open by a failed
        # round would otherwise have no writer).
        deadline = time.monotonic() + 60
        while self._dirty and time.monotonic() < deadline:
            try:
                c = await self._client()
                try:
                    await self._settle(c)
                finally:
                    await c.close()
            except Exception as exc:  # same as in _loop
                self.rec.failed("sdk-commit", exc)
                await asyncio.sleep(1)

    async def _settle(self, c: Client) -> None:
        if self._dirty:
            try:
                await c.finish_commit("left@master")
            except NoOpenCommit:
                pass
            self._dirty = False

    async def _put(self, c: Client, n: int) -> None:
        """One file, its own commit, into ``notes`` (read by no pipeline: a fast witness of
        the write path that adds no job).
        """
        path = f"/g{n % GROUPS}/put-{n:05d}.txt"
        data = content(self._seed, "sdk-put", n, 200 + n % 300)
        sent = time.time()
        cid = await c.put_file("notes@master", path, data)
        self.rec.ack("sdk-put", "notes", path, data, cid, sent)

    async def _commit(self, c: Client, n: int) -> None:
        """A commit of a few files into ``left``: start, put, finish."""
        await self._settle(c)
        files = [
            (f"/g{n % GROUPS}/commit-{n:05d}-{k}.txt",
             content(self._seed, "sdk-commit", n * 10 + k, 100 + k * 50))
            for k in range(3)
        ]  # fmt: skip
        sent = time.time()
        self._dirty = True
        async with c.commit("left@master") as oc:
            await oc.put_files(files)
        self._dirty = False
        for path, data in files:
            self.rec.ack("sdk-commit", "left", path, data, oc.id, sent)

    # ---------------------------------------------------------------- ingest topic

    async def _producer(self) -> Producer:
        settings = self._settings()
        kafka, _, _ = settings.require()
        await asyncio.wait_for(
            ensure_topics(kafka, Topics(settings.namespace).all(kafka.partitions)),
            REQUEST_TIMEOUT_S,
        )
        producer = Producer(kafka)
        try:
            await asyncio.wait_for(producer.start(), REQUEST_TIMEOUT_S)
        except BaseException:
            await _quietly(producer.stop())
            raise
        return producer

    async def _ingest(self, stop: asyncio.Event) -> None:
        async def close(p: Producer) -> None:
            await p.stop()

        await self._loop(stop, "ingest", INGEST_EVERY_S, self._ingest_step, self._producer, close)

    async def _ingest_step(self, producer: Producer, n: int) -> None:
        topic = Topics(self._settings().namespace).ingest
        # One group per commit's worth of records (INGEST_EVERY_S per record round).
        g = int(n * INGEST_EVERY_S // self._commit_every_s) % GROUPS
        records = [
            (f"/g{g}/ing-{n:05d}-{k}.txt", content(self._seed, "ingest", n * 10 + k, 80 + 40 * k))
            for k in range(2)
        ]
        sent = time.time()
        await producer.send_all((topic, f"right@master:{p}", d) for p, d in records)
        for path, data in records:
            self.rec.ack("ingest", "right", path, data, None, sent)

    # ---------------------------------------------------------------- S3 gateway

    async def _s3(self) -> Any:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        settings = self._settings()
        if not settings.gateway_address:
            raise RuntimeError("the stack records no S3 gateway address yet")
        access, secret = settings.gateway_keys[0] if settings.gateway_keys else ("chaos", "chaos")
        config = AioConfig(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},  # a retry would hide which attempt was acknowledged
            connect_timeout=5,
            read_timeout=REQUEST_TIMEOUT_S,
            request_checksum_calculation="when_required",
        )
        ctx = get_session().create_client(
            "s3", endpoint_url=f"http://{settings.gateway_address}", aws_access_key_id=access,
            aws_secret_access_key=secret, region_name="us-east-1", config=config,
        )  # fmt: skip
        s3 = await ctx.__aenter__()
        return (ctx, s3)

    async def _gateway(self, stop: asyncio.Event) -> None:
        async def close(conn: Any) -> None:
            await conn[0].__aexit__(None, None, None)

        await self._loop(stop, "gateway", GATEWAY_EVERY_S, self._gateway_step, self._s3, close)

    async def _gateway_step(self, conn: Any, n: int) -> None:
        s3 = conn[1]
        bucket = "master.uploads"
        for k in range(2):
            key = f"g{(n + k) % GROUPS}/put-{n:05d}-{k}.bin"
            data = content(self._seed, "gateway-put", n * 10 + k, 500 + 100 * k)
            sent = time.time()
            await s3.put_object(Bucket=bucket, Key=key, Body=data)
            self.rec.ack("gateway-put", "uploads", "/" + key, data, None, sent)
        key = f"mp/mp-{n:05d}.bin"
        parts = [
            content(self._seed, "gateway-multipart", n * 10, MULTIPART_PART),
            content(self._seed, "gateway-multipart", n * 10 + 1, 64 * 1024),
        ]
        sent = time.time()
        upload = await s3.create_multipart_upload(Bucket=bucket, Key=key)
        done = []
        for i, part in enumerate(parts, start=1):
            r = await s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=i, Body=part
            )
            done.append({"PartNumber": i, "ETag": r["ETag"]})
        await s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": done}
        )
        self.rec.ack("gateway-multipart", "uploads", "/" + key, b"".join(parts), None, sent)

    # ---------------------------------------------------------------- jobs

    async def _watch(self, stop: asyncio.Event) -> None:
        async def close(c: Client) -> None:
            await c.close()

        await self._loop(stop, "watch", 1.0, self._watch_step, self._client, close)

    async def _watch_step(self, c: Client, n: int) -> None:
        for j in await c.list_job():
            self.rec.jobs[j.id] = job_fact(j)


def job_fact(j: Any) -> JobFact:
    """A :class:`JobFact` of a client's ``JobInfo``."""
    return JobFact(
        id=j.id, pipeline=j.pipeline, commitset=j.commitset, state=j.state,
        started=j.started, finished=j.finished,
    )  # fmt: skip


async def _sleep_until(stop: asyncio.Event, when: float) -> None:
    left = when - time.monotonic()
    if left > 0:
        try:
            await asyncio.wait_for(stop.wait(), left)
        except TimeoutError:
            pass


async def _quietly(aw: Awaitable[Any]) -> None:
    """Close a connection of a stack that may be gone: its error is no news."""
    try:
        await asyncio.wait_for(aw, 10)
    except Exception as exc:  # closing a broken connection
        log.debug("chaos: closing a connection: %s", exc)


def settings_source(env: Mapping[str, str]) -> SettingsSource:
    """Settings from ``env`` and the stack's ``stack.json``, read at each call."""
    return lambda: Settings.from_env(env)
