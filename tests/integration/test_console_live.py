"""The console's page of a running job says which datums have run so far (not "none" while
they run), and its event stream is counted among the requests but not timed: a stream lasts
as long as its page, which is no time to answer.
"""

from __future__ import annotations

import asyncio
import shutil

import aiohttp
import pytest

from pachstream.client import Client, JobInfo
from pachstream.console import Console
from pachstream.testing.services import RunningStack
from pachstream.testing.waits import eventually

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

# Each datum waits for its own marker in the sandbox's control folder (/ctl, which the test
# reaches from outside), so the test decides when each one ends.
GATED = {
    "pipeline": {"name": "gated"},
    "input": {"pfs": {"repo": "raw", "glob": "/*"}},
    "transform": {
        "cmd": [
            "sh",
            "-c",
            "f=$(ls /pfs/raw); while [ ! -e /ctl/go-$f ]; do sleep 0.1; done; "
            "cp /pfs/raw/$f /pfs/out/",
        ]
    },
    "parallelism_spec": {"constant": 2},  # a.txt and b.txt on a worker each
    "datum_tries": 1,
}
EVENTS_ROUTE = "/jobs/{job}/events"


def _release(stack: RunningStack, name: str) -> None:
    folders = list((stack.settings.home / "workers" / stack.settings.namespace).glob("gated.*"))
    assert folders, "no worker of gated has started"
    for folder in folders:
        ctl = folder / "box" / "ctl"
        ctl.mkdir(parents=True, exist_ok=True)
        (ctl / f"go-{name}").touch()


async def _running_job(client: Client) -> JobInfo:
    jobs: list[JobInfo] = []

    async def started() -> bool:
        nonlocal jobs
        jobs = await client.list_job("gated")
        return bool(jobs)

    await eventually(started, "a job of gated")
    (job,) = jobs
    assert job.state == "running", job
    return job


async def _page(http: aiohttp.ClientSession, address: str) -> str:
    async with http.get(address) as r:
        body = await r.text()
        assert r.status == 200, body[:500]
        return body


async def test_the_live_job_page_and_its_untimed_event_stream(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("raw")
    await c.put_files("raw@master", [("/a.txt", b"a\n"), ("/b.txt", b"b\n")])
    await c.create_pipeline(GATED)
    job = await _running_job(c)
    async with (
        Console(stack.settings, host="127.0.0.1", port=0, metrics={}) as console,
        aiohttp.ClientSession() as http,
    ):
        address = f"{console.endpoint}/job/{job.id}"
        first = await _page(http, address)
        assert "none finished yet" in first, first
        assert "skipped datums kept their outputs" not in first  # nothing was skipped

        async def follow() -> list[str]:
            async with http.get(f"{console.endpoint}/jobs/{job.id}/events") as r:
                assert r.headers["Content-Type"] == "text/event-stream"
                return [line.decode().strip() async for line in r.content]

        stream = asyncio.create_task(follow())  # open while the job runs, to its end

        _release(stack, "a.txt")
        await eventually(lambda: _ran(c, job.id, 1), "a.txt's datum")
        middle = await _page(http, address)
        assert 'id="ran-so-far">1 so far' in middle, middle
        assert "none finished yet" not in middle

        _release(stack, "b.txt")
        lines = await asyncio.wait_for(stream, 90)
        assert "event: end" in lines, lines
        assert (await c.inspect_job(job.id)).state == "success"
        last = await _page(http, address)
        assert "so far" not in last and "none finished yet" not in last
        assert 'id="datum-' in last.split("<h2>Datums run</h2>")[1]  # both, listed

        value = console.metrics.registry.get_sample_value
        counted = {"route": EVENTS_ROUTE, "method": "GET", "status": "200"}

        async def stream_counted() -> bool:  # after the handler returns, past the last event
            return value("pachstream_console_requests_total", counted) == 1.0

        await eventually(stream_counted, "the stream in the requests counter", timeout_s=10)
        assert value("pachstream_console_request_seconds_count", {"route": EVENTS_ROUTE}) is None
        pages = value("pachstream_console_request_seconds_count", {"route": "/job/{job}"})
        assert pages == 3.0  # the pages are timed as before


async def _ran(client: Client, job_id: str, n: int) -> bool:
    return len(await client.list_datum(job_id)) >= n
