"""The web console on a real stack: every page fetched over HTTP shows what the SDK says
(commit ids, datum counts, lineage edges), answers its first byte within 1 s, refuses POSTs
without a CSRF token, and reruns a failed job's datums; then the same in a real browser
(Debian's chromium through chromium-driver), with screenshots under the test's tmp folder.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import aiohttp
import pytest

from pachstream.client import Client, JobInfo
from pachstream.console import Console
from pachstream.metrics import MetricsServer
from pachstream.testing.services import RunningStack

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

TTFB_S = 1.0
"""The issue's bound on a page's time to first byte."""
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def spec(name: str, cmd: str, repo: str = "raw") -> dict:
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": repo, "glob": "/*"}},
        "transform": {"cmd": ["sh", "-c", cmd]},
        "datum_tries": 1,
    }


# Fails on /bad.txt until the marker exists in the worker's scratch (a flaky dependency).
PICKY = (
    'f=$(ls /pfs/raw); if [ "$f" = bad.txt ] && [ ! -e /ctl/ok ]; then '
    "echo cannot read bad.txt >&2; exit 7; fi; cp /pfs/raw/$f /pfs/out/"
)


# Joins raw's and copy's files of one name (the DAG draws a join node between them and pair).
PAIR = {
    "pipeline": {"name": "pair"},
    "input": {
        "join": [
            {"pfs": {"repo": "raw", "glob": "/(*).txt", "join_on": "$1"}},
            {"pfs": {"repo": "copy", "glob": "/(*).txt", "join_on": "$1"}},
        ]
    },
    "transform": {
        "cmd": ["sh", "-c", "f=$(ls /pfs/raw); cat /pfs/raw/$f /pfs/copy/$f > /pfs/out/$f.pair"]
    },
    "datum_tries": 1,
}


@dataclass
class Demo:
    client: Client
    raw_commit: str
    copy: JobInfo
    upper: JobInfo
    picky: JobInfo


async def _demo(stack: RunningStack) -> Demo:
    """raw → copy → upper, raw → picky (fails on one datum), and join(raw, copy) → pair."""
    c = stack.client
    await c.create_repo("raw", "input files")
    cid = await c.put_files(
        "raw@master", [("/a.txt", b"hello\n"), ("/b.txt", b"world\n"), ("/bad.txt", b"x\n")]
    )
    await c.create_pipeline(spec("copy", "cp /pfs/raw/* /pfs/out/"))
    await c.create_pipeline(
        spec("upper", "for f in /pfs/copy/*; do tr a-z A-Z < $f > /pfs/out/$(basename $f); done")
        | {"input": {"pfs": {"repo": "copy", "glob": "/*"}}}
    )
    await c.create_pipeline(spec("picky", PICKY))
    await c.create_pipeline(PAIR)
    jobs = {j.pipeline: j for j in await c.flush("raw", cid, timeout_s=180)}
    assert jobs["copy"].state == "success" and jobs["upper"].state == "success", jobs
    assert (jobs["pair"].state, jobs["pair"].processed) == ("success", 3), jobs["pair"]
    assert (jobs["picky"].state, jobs["picky"].failed) == ("failure", 1), jobs["picky"]
    return Demo(c, cid, jobs["copy"], jobs["upper"], jobs["picky"])


def _fix_picky(stack: RunningStack) -> None:
    # The control folder of picky's sandboxes is /ctl inside them (a file there outlives runs).
    for folder in (stack.settings.home / "workers" / stack.settings.namespace).glob("picky.*"):
        (folder / "box" / "ctl").mkdir(parents=True, exist_ok=True)
        (folder / "box" / "ctl" / "ok").touch()


@pytest.fixture
async def console(stack: RunningStack) -> AsyncIterator[Console]:
    # The stack's processors run in this process: one /metrics serves them all, as the
    # console would find it in stack.json under `pachstream up`.
    server = MetricsServer("127.0.0.1:0")
    await server.start()
    try:
        async with Console(
            stack.settings, host="127.0.0.1", port=0, metrics={"stack": server.url}
        ) as running:
            yield running
    finally:
        await server.stop()


class Browser:
    """An HTTP client with a cookie jar that times each answer's first byte."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.session = session
        self.slowest: tuple[float, str] = (0.0, "")

    async def get(self, path: str, status: int = 200) -> str:
        began = time.perf_counter()
        async with self.session.get(self.base + path, allow_redirects=False) as r:
            ttfb = time.perf_counter() - began  # headers are in: the first byte came
            body = await r.text()
        self.slowest = max(self.slowest, (ttfb, path))
        assert r.status == status, (path, r.status, body[:500])
        assert ttfb < TTFB_S, f"{path}: {ttfb:.3f} s to first byte"
        return body

    async def post(self, path: str, data: dict[str, str]) -> aiohttp.ClientResponse:
        async with self.session.post(self.base + path, data=data, allow_redirects=False) as r:
            await r.read()
            return r


async def test_pages_show_what_the_sdk_says(stack: RunningStack, console: Console) -> None:
    demo = await _demo(stack)
    c = demo.client
    jar = aiohttp.CookieJar(unsafe=True)  # the console is on an IP address
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        b = Browser(console.endpoint, session)

        home = await b.get("/")
        assert 'id="trends"' in home and 'id="no-metrics"' not in home
        for name in ("raw", "copy", "upper", "picky", "pair"):
            assert f">{name}</a>" in home
        for job in (demo.copy, demo.upper, demo.picky):
            assert job.id[:12] in home

        # Repo pages: every commit the SDK lists, with its origin.
        raw_page = await b.get("/repo/raw")
        assert demo.raw_commit in raw_page and "<td>user</td>" in raw_page
        copy_page = await b.get("/repo/copy")
        for ci in await c.list_commit("copy"):
            assert ci.id in copy_page
        assert demo.copy.output_commit in copy_page and "<td>pipeline</td>" in copy_page

        # File browser, preview, download, diff.
        listing = await b.get(f"/repo/raw/browse?commit={demo.raw_commit}")
        for f in await c.list_file(f"raw@{demo.raw_commit}", "/"):
            assert f">{f.path}</a>" in listing
        file_page = await b.get(f"/repo/raw/file?commit={demo.raw_commit}&path=/a.txt")
        assert '<pre id="preview">hello\n</pre>' in file_page
        # An image shows inline, served as an image; any other file only downloads.
        png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
        img_commit = await c.put_files("raw@dev", [("/pic.png", png)])
        img_page = await b.get(f"/repo/raw/file?commit={img_commit}&path=/pic.png")
        src = re.search(r'<img id="preview-image" src="([^"]+)"', img_page).group(1)
        async with session.get(console.endpoint + src.replace("&amp;", "&")) as r:
            assert r.headers["Content-Type"] == "image/png" and await r.read() == png
        async with session.get(
            f"{console.endpoint}/repo/raw/raw?commit=master&path=/a.txt&inline=1"
        ) as r:
            assert r.headers["Content-Type"] == "application/octet-stream"
        async with session.get(f"{console.endpoint}/repo/upper/raw?commit=master&path=/b.txt") as r:
            assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
            assert await r.read() == await c.get_file("upper@master", "/b.txt") == b"WORLD\n"
        diff = await b.get(f"/repo/raw/diff?new={demo.raw_commit}")
        assert diff.count("<td>added</td>") == 3
        # An output commit names the input commit and the job that made it.
        made = await b.get(f"/repo/copy/browse?commit={demo.copy.output_commit}")
        assert demo.raw_commit in made and demo.copy.id[:12] in made
        await b.get("/repo/raw/file?commit=master&path=/nope", status=404)
        await b.get("/repo/nope", status=404)

        # Pipeline page: spec as YAML, versions, state.
        pipe = await b.get("/pipeline/copy")
        assert "transform:" in pipe and "cp /pfs/raw/* /pfs/out/" in pipe
        assert "1 (current)" in pipe and "state-running" in pipe

        # Mutations: refused without a valid CSRF token (and nothing changes) ...
        for data in ({}, {"csrf": "0" * 64}):
            r = await b.post("/pipeline/copy/stop", data)
            assert r.status == 403, r.status
        assert (await c.inspect_pipeline("copy")).state == "running"
        async with session.get(f"{console.endpoint}/pipeline/copy/stop") as r:
            assert r.status == 405  # never a GET
        # ... and from another site even with the token.
        token = CSRF_RE.search(pipe).group(1)
        async with session.post(
            console.endpoint + "/pipeline/copy/stop",
            data={"csrf": token},
            headers={"Origin": "http://evil.example"},
            allow_redirects=False,
        ) as r:
            assert r.status == 403
        assert (await c.inspect_pipeline("copy")).state == "running"
        # With it: stop, then start again.
        r = await b.post("/pipeline/copy/stop", {"csrf": token})
        assert (r.status, r.headers["Location"]) == (303, "/pipeline/copy")
        assert (await c.inspect_pipeline("copy")).state == "stopped"
        assert "start pipeline" in await b.get("/pipeline/copy")
        r = await b.post("/pipeline/copy/start", {"csrf": token})
        assert r.status == 303 and (await c.inspect_pipeline("copy")).state == "running"

        # Job pages: the counts are the SDK's; the failed job lists its failed datum.
        done = await b.get(f"/job/{demo.copy.id}")
        assert f'<span id="processed">{demo.copy.processed}</span>' in done
        assert f'<span id="total">{demo.copy.datums}</span>' in done
        async with session.get(f"{console.endpoint}/job/{demo.picky.id}/progress.json") as r:
            doc = await r.json()
        assert (doc["processed"], doc["failed"], doc["total"], doc["finished"]) == (
            demo.picky.processed,
            demo.picky.failed,
            demo.picky.datums,
            True,
        )
        failed_page = await b.get(f"/job/{demo.picky.id}")
        (bad,) = [d for d in await c.list_datum(demo.picky.id) if d.state == "failed"]
        assert bad.id in failed_page and bad.exit_code == 7
        assert '<span class="exit">7</span>' in failed_page
        assert "cannot read bad.txt" in failed_page
        assert "<details><summary>logs</summary>" in failed_page
        assert "rerun failed datums" in failed_page
        r = await b.post(f"/job/{demo.picky.id}/rerun", {})
        assert r.status == 403
        # An ended job's event stream: its counts once, then the end, then it closes.
        async with session.get(f"{console.endpoint}/jobs/{demo.copy.id}/events") as r:
            assert r.headers["Content-Type"] == "text/event-stream"
            stream = await r.text()
        events = re.findall(r"event: (\w+)\n(?:id: \d+\n)?(?:retry: \d+\n)?data: (.*)\n\n", stream)
        assert [name for name, _ in events] == ["progress", "end"], stream
        sent = json.loads(events[0][1])
        assert (sent["processed"], sent["total"], sent["finished"]) == (
            demo.copy.processed,
            demo.copy.datums,
            True,
        )
        await b.get("/jobs/nope/events", status=404)
        assert [j.id for j in await c.list_job("picky")] == [demo.picky.id]

        # Lineage: the edges are those of the SDK's upstream/downstream.
        ref = f"copy@{demo.copy.output_commit}:/a.txt"
        lineage = await b.get("/lineage?file=" + quote(ref))
        up = await c.upstream(ref)
        down = await c.downstream(ref)
        assert up.edges and down.edges
        for e in up.edges + down.edges:
            assert e.job_id[:12] in lineage and e.datum_id[:12] in lineage
            assert f'data-source="{e.input.repo}@{e.input.commit}:{e.input.path}"' in lineage
            assert f'data-target="{e.output.repo}@{e.output.commit}:{e.output.path}"' in lineage
        assert lineage.count('class="edge"') == len(
            {(e.input, e.output) for e in up.edges + down.edges}
        )

        # The DAG: one box per repo and pipeline, one arrow per pfs input; pair's join is a
        # node of its own between raw, copy and pair.
        dag = await b.get("/dag")
        sdk_dag = await c.pipeline_dag()
        for n in sdk_dag.nodes:
            assert f'data-name="{n.name}"' in dag
        for e in sdk_dag.edges:
            target = "pair:input" if e.target == "pair" else e.target
            assert f'data-source="{e.source}" data-target="{target}"' in dag
        assert 'data-name="pair:input" data-kind="join"' in dag
        assert 'data-source="pair:input" data-target="pair"' in dag
        assert "raw@master /(*).txt join_on $1" in dag  # the join's tooltip
        assert dag.count('class="edge"') == len(sdk_dag.edges) + 1

        # Search by path, across repos.
        found = await b.get("/search?q=b.txt")
        for repo in ("raw", "copy", "upper"):  # picky's failed job made no commit
            assert f'href="/repo/{repo}/file?commit=' in found, repo
        assert found.count(">/b.txt</a>") == 3 and "bad.txt" not in found
        metrics = await b.get("/metrics")
        assert 'pachstream_pipelines{state="running"} 4.0' in metrics
        assert 'pachstream_last_job_datums{outcome="failed",pipeline="picky"} 1.0' in metrics
        assert "pachstream_console_requests_total{" in metrics

        # Rerun the failed datums once the input is readable: the new job succeeds.
        _fix_picky(stack)
        token = CSRF_RE.search(failed_page).group(1)
        r = await b.post(f"/job/{demo.picky.id}/rerun", {"csrf": token})
        assert r.status == 303
        new_id = r.headers["Location"].rsplit("/", 1)[-1]
        rerun = await c.wait_job(new_id, timeout_s=120)
        assert (rerun.state, rerun.processed, rerun.rerun_of) == ("success", 1, demo.picky.id)
        assert "state-success" in await b.get(f"/job/{new_id}")
        print(f"slowest first byte: {b.slowest[0] * 1000:.0f} ms ({b.slowest[1]})")


async def test_a_console_with_a_token_wants_it(stack: RunningStack) -> None:
    settings = dataclasses.replace(stack.settings, console_token="t0ken")
    async with Console(settings, host="127.0.0.1", port=0) as console:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            base = console.endpoint
            async with session.get(base + "/job/x", allow_redirects=False) as r:
                assert r.status == 303 and unquote(r.headers["Location"]) == "/login?next=/job/x"
            async with session.get(base + "/metrics") as r:
                assert r.status == 401
            async with session.get(
                base + "/metrics", headers={"Authorization": "Bearer t0ken"}
            ) as r:
                assert r.status == 200
            async with session.get(base + "/login") as r:
                form = await r.text()
            token = CSRF_RE.search(form).group(1)
            async with session.post(
                base + "/login", data={"csrf": token, "token": "wrong", "next": "/"}
            ) as r:
                assert r.status == 401
            async with session.post(
                base + "/login",
                data={"csrf": token, "token": "t0ken", "next": "/dag"},
                allow_redirects=False,
            ) as r:
                assert (r.status, r.headers["Location"]) == (303, "/dag")
            async with session.get(base + "/dag") as r:
                assert r.status == 200 and "Pipeline DAG" in await r.text()
            # No stack.json with metrics addresses: the home page says so.
            async with session.get(base + "/") as r:
                assert 'id="no-metrics"' in await r.text()


def _chrome_driver(home: Path):  # type: ignore[no-untyped-def]
    """A headless chromium whose temporary folders are under ``home`` (the test's tmp
    folder): its singleton socket's folder, /tmp/org.chromium.Chromium.*, outlived it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    service = Service(shutil.which("chromedriver"), env={**os.environ, "TMPDIR": str(home)})
    return webdriver.Chrome(service=service, options=options)


async def test_in_a_real_browser(stack: RunningStack, console: Console, tmp_path: Path) -> None:
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium "
                    "chromium-driver)")  # fmt: skip
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e .[dev])")
    demo = await _demo(stack)
    base = console.endpoint
    shots = tmp_path / "screenshots"
    shots.mkdir()
    # Three scrapes give a throughput line (two rates); they came while the demo ran. Waited
    # for before the slow job starts, so the browser sees that job before its last change
    # but one.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        len(points) >= 3 for points in console.trends.history.values()
    ):
        await asyncio.sleep(0.5)
    # A job slow enough to watch: its 3 datums end 1, 4 and 7 s after they start, each on a
    # worker of its own (a worker reports the datums of a batch of tasks together).
    wait = "case $(ls /pfs/raw) in a.txt) sleep 1;; b.txt) sleep 4;; *) sleep 7;; esac"
    await demo.client.create_pipeline(
        spec("slow", wait + "; cp /pfs/raw/* /pfs/out/") | {"parallelism_spec": {"constant": 3}}
    )
    deadline = time.monotonic() + 60
    while not (slow := await demo.client.list_job("slow")) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    live = slow[0]
    assert live.state == "running", live

    def visit() -> dict[str, str]:
        from selenium.common.exceptions import TimeoutException, WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        def text_of(d, element_id: str) -> str:  # type: ignore[no-untyped-def]
            # Read in one script: the page swaps these nodes as events arrive and reloads
            # itself when the job ends, so a found element may be gone by the time its
            # text is asked for ("Node with given id does not belong to the document").
            return str(
                d.execute_script(
                    "const e = document.getElementById(arguments[0]);"
                    " return e ? e.textContent : '';",
                    element_id,
                )
            )

        def wait(d, seconds: float, ready) -> None:  # type: ignore[no-untyped-def]
            # A script run while the page reloads can fail; that is a reason to look again,
            # and a page that never gets there still ends in TimeoutException.
            WebDriverWait(
                d, seconds, poll_frequency=0.2, ignored_exceptions=(WebDriverException,)
            ).until(ready)

        driver = _chrome_driver(tmp_path)
        seen: dict[str, str] = {}
        try:
            # The live job: its counts move without a reload (a marker set on the page
            # survives), and once it ends the page reloads showing success.
            driver.get(f"{base}/job/{live.id}")
            first = text_of(driver, "done")
            driver.execute_script("window.stillHere = true;")
            try:
                wait(
                    driver,
                    60,
                    lambda d: (
                        d.execute_script("return window.stillHere === true;")
                        and text_of(d, "done") != first
                    ),
                )
            except TimeoutException as exc:
                raise AssertionError(
                    f"the live job page did not move from {first}: "
                    f"{driver.find_element(By.TAG_NAME, 'main').text[:400]!r}, "
                    f"still here: {driver.execute_script('return window.stillHere;')}, "
                    f"browser log: {driver.get_log('browser')}"
                ) from exc
            seen["live_moved"] = f"{first} -> {text_of(driver, 'done')}"
            seen["feed"] = str(
                driver.execute_script("return document.getElementById('job').dataset.feed;")
            )
            driver.save_screenshot(str(shots / "live_job.png"))
            wait(driver, 90, lambda d: "success" in text_of(d, "state"))
            seen["live_reloaded"] = str(driver.execute_script("return window.stillHere;"))
            pages = {
                "home": "/",
                "dag": "/dag",
                "files": f"/repo/raw/browse?commit={demo.raw_commit}",
                "file": f"/repo/raw/file?commit={demo.raw_commit}&path=/a.txt",
                "lineage": "/lineage?file=" + quote(f"copy@{demo.copy.output_commit}:/a.txt"),
                "pipeline": "/pipeline/upper",
                "job": f"/job/{demo.copy.id}",
                "failed_job": f"/job/{demo.picky.id}",
            }
            for name, path in pages.items():
                driver.get(base + path)
                driver.save_screenshot(str(shots / f"{name}.png"))
                seen[name] = driver.find_element(By.TAG_NAME, "main").text
                if name == "home":
                    trends = driver.find_element(By.ID, "trends")
                    driver.execute_script("arguments[0].scrollIntoView();", trends)
                    driver.save_screenshot(str(shots / "sparklines.png"))
                    seen["sparks"] = str(
                        len(driver.find_elements(By.CSS_SELECTOR, "svg.spark polyline"))
                    )
                if name == "dag":
                    join = driver.find_element(By.CSS_SELECTOR, 'a[data-kind="join"]')
                    # Drawn on screen, and its tooltip (<title>) names the joined inputs.
                    seen["join"] = f"{join.is_displayed()} | {join.get_attribute('textContent')}"
            # The failed job's button, clicked as a user would.
            driver.get(base + pages["failed_job"])
            driver.find_element(By.XPATH, "//button[text()='rerun failed datums']").click()
            # The POST answers with a redirect to the new job: wait for the navigation.
            wait(driver, 60, lambda d: not d.current_url.endswith(pages["failed_job"]))
            seen["rerun_url"] = driver.current_url
            driver.save_screenshot(str(shots / "rerun_job.png"))
        finally:
            driver.quit()
        return seen

    _fix_picky(stack)
    seen = await asyncio.to_thread(visit)
    assert seen["live_reloaded"] == "None", seen  # reloaded once the job ended
    assert seen["feed"] == "events", seen  # server-sent events, not the polling fallback
    assert int(seen["sparks"]) >= 2, seen  # a throughput and a lag line at least
    assert seen["join"].startswith("True | pair: join of"), seen["join"]
    assert "copy@master /(*).txt join_on $1" in seen["join"], seen["join"]
    assert (await demo.client.inspect_job(live.id)).state == "success"
    assert demo.picky.id[:12] in seen["home"]
    assert "raw" in seen["dag"] and "upper" in seen["dag"]
    assert "hello" in seen["file"]
    assert demo.copy.id[:12] in seen["lineage"]
    assert "cannot read bad.txt" in seen["failed_job"], seen["failed_job"][:1000]
    new_id = seen["rerun_url"].rsplit("/", 1)[-1]
    assert new_id != demo.picky.id
    rerun = await demo.client.wait_job(new_id, timeout_s=120)
    assert (rerun.state, rerun.rerun_of) == ("success", demo.picky.id)
    names = ("home", "sparklines", "dag", "files", "file", "lineage", "job", "failed_job")
    names += ("rerun_job",)
    for name in (*names, "live_job"):
        assert (shots / f"{name}.png").stat().st_size > 5000, name
    print(f"live job: {seen['live_moved']} datums done without a reload; screenshots in {shots}")
