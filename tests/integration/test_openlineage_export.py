"""OpenLineage export on real servers: a succeeding and a failing pipeline give START+COMPLETE
and START+FAIL, schema-valid, through the file, HTTP and Kafka transports; replays from
scratch emit the same bytes.

(Named ``..._export`` because ``tests/unit/test_openlineage.py`` exists and the test folders are
not packages: pytest refuses two test modules of one basename.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from openlineage_schema import errors

from pachstream.kafka import PartitionReader, Producer, Topics
from pachstream.lineage.openlineage import OpenLineageExporter, run_id
from pachstream.pg import connect_pool
from pachstream.settings import Settings
from pachstream.testing.services import RunningStack
from pachstream.testing.waits import eventually

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)


def spec(name: str, cmd: str) -> dict[str, Any]:
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": "raw", "glob": "/*"}},
        "transform": {"cmd": ["sh", "-c", cmd]},
        "datum_tries": 1,
    }


async def run_exporter(settings: Settings, target: str, events: Callable[[], int]) -> int:
    """Run an exporter to ``target`` from the start of the events topic until it has caught
    up; return how many events it accepted."""
    exporter = OpenLineageExporter(dataclasses.replace(settings, openlineage=target))
    await exporter.start()
    try:
        await eventually(lambda: exporter.caught_up() and events() >= 4, f"exporter to {target}")
        return exporter.emitted
    finally:
        await exporter.stop()


async def forget_offsets(settings: Settings) -> None:
    """A fresh exporter state: it starts again from the first fact."""
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)
    try:
        await pool.execute("TRUNCATE openlineage_offsets")
    finally:
        await pool.close()


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines() if path.exists() else []


async def test_jobs_become_openlineage_events_on_every_transport(
    settings: Settings, tmp_path: Path
) -> None:
    posted: list[tuple[str, str, bytes]] = []

    async def lineage(request: web.Request) -> web.Response:
        posted.append((request.path, request.content_type, await request.read()))
        return web.json_response({}, status=201)

    app = web.Application()
    app.router.add_post("/api/v1/lineage", lineage)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await _scenario(settings, tmp_path, port, posted)
    finally:
        await runner.cleanup()


async def _scenario(
    settings: Settings, tmp_path: Path, port: int, posted: list[tuple[str, str, bytes]]
) -> None:
    ns = settings.namespace
    live_file = tmp_path / "ol" / "live.jsonl"  # the folder does not exist yet: the sink makes it
    async with RunningStack(settings) as stack:
        c = stack.client
        await c.create_repo("raw")
        commit = await c.put_files("raw@master", [("/a.txt", b"a\n"), ("/b.txt", b"b\n")])
        # Garbage on the events topic is dead-lettered, and the export carries on.
        producer = Producer(settings.require()[0])
        await producer.start()
        await producer.send_all([(Topics(ns).events, "raw", b"not an event")])
        await producer.stop()

        # (a) live, to a file: the exporter runs while the jobs do.
        live = OpenLineageExporter(dataclasses.replace(settings, openlineage=f"file://{live_file}"))
        await live.start()
        try:
            await c.create_pipeline(spec("good", "cp /pfs/raw/* /pfs/out/"))
            await c.create_pipeline(spec("bad", "echo broken >&2; exit 1"))
            jobs = {j.pipeline: j for j in await c.flush("raw", commit, timeout_s=120)}
            assert {p: j.state for p, j in jobs.items()} == {"good": "success", "bad": "failure"}
            await eventually(lambda: live.caught_up() and len(lines(live_file)) >= 4, "live export")
        finally:
            await live.stop()

        written = lines(live_file)
        events = [orjson.loads(line) for line in written]
        assert len(events) == 4, events
        for event in events:
            assert errors(event) == [], event
        by_run: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            by_run.setdefault(event["run"]["runId"], []).append(event)
        good, bad = jobs["good"], jobs["bad"]
        assert set(by_run) == {run_id(good.id), run_id(bad.id)}

        start, complete = by_run[run_id(good.id)]
        assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
        assert start["job"] == complete["job"]
        assert start["job"]["namespace"] == f"pachstream://{ns}"
        assert start["job"]["name"] == "good"
        assert [(d["name"], d["facets"]["version"]["datasetVersion"]) for d in start["inputs"]] == [
            ("raw", commit)
        ]
        out = complete["outputs"][0]
        assert (out["name"], out["facets"]["version"]["datasetVersion"]) == (
            "good",
            good.output_commit,
        )
        assert start["outputs"] == complete["outputs"]  # the output commit id is known at start
        planned = start["run"]["facets"]["pachstream_datums"]
        assert (planned["datums"], planned["toRun"], planned["skipped"]) == (2, 2, 0)
        assert complete["run"]["facets"]["pachstream_datums"]["processed"] == 2
        assert start["eventTime"] <= complete["eventTime"]

        start, fail = by_run[run_id(bad.id)]
        assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
        assert fail["run"]["facets"]["pachstream_datums"]["failed"] == 2
        message = fail["run"]["facets"]["errorMessage"]["message"]
        assert "broken" in message, message  # the reason carries the datum's stderr tail
        assert "facets" not in fail["outputs"][0]  # no output commit: no version

        # (b) HTTP: a real server standing in for Marquez gets the same bytes, from scratch.
        await forget_offsets(settings)
        sent = await run_exporter(settings, f"http://127.0.0.1:{port}", lambda: len(posted))
        assert sent == 4
        assert {(path, ctype) for path, ctype, _ in posted} == {
            ("/api/v1/lineage", "application/json")
        }
        assert sorted(body for _, _, body in posted) == sorted(written)

        # (c) Kafka: a topic of our own broker.
        await forget_offsets(settings)
        topic = f"{ns}.openlineage"
        records: list[Any] = []
        reader = PartitionReader(settings.require()[0])

        async def consume() -> None:
            while True:
                records.extend(await reader.read(timeout_ms=100))

        consumer: asyncio.Task[None] | None = None
        exporter = OpenLineageExporter(dataclasses.replace(settings, openlineage=f"kafka:{topic}"))
        await exporter.start()  # creates the topic
        try:
            await reader.start([topic], {})
            consumer = asyncio.create_task(consume(), name="read-openlineage-topic")
            await eventually(lambda: exporter.caught_up() and len(records) >= 4, "kafka export")
        finally:
            if consumer is not None:
                consumer.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await consumer
            await reader.stop()
            await exporter.stop()
        assert len(records) == 4
        assert sorted(r.value for r in records) == sorted(written)
        assert {r.key for r in records} == {f"pachstream://{ns}/{p}".encode() for p in jobs}

        # (d) Replay into a fresh state: byte-identical events. The order across pipelines
        # may differ (their facts sit on different partitions); each run's order may not.
        await forget_offsets(settings)
        replay_file = tmp_path / "replay.jsonl"
        await run_exporter(settings, f"file://{replay_file}", lambda: len(lines(replay_file)))
        replayed = lines(replay_file)
        assert sorted(replayed) == sorted(written)
        for rid, run_events in by_run.items():
            again = [e for e in map(orjson.loads, replayed) if e["run"]["runId"] == rid]
            assert again == run_events

        # The garbage record was dead-lettered by the exporter, naming itself.
        dead = PartitionReader(settings.require()[0])
        await dead.start([Topics(ns).deadletter], {})
        try:
            letters: list[Any] = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                orjson.loads(r.value)["component"] == "openlineage" for r in letters
            ):
                letters.extend(await dead.read(timeout_ms=200))
        finally:
            await dead.stop()
        assert any(orjson.loads(r.value)["component"] == "openlineage" for r in letters)
