"""The console's pages: each handler reads through the SDK :class:`~pachstream.client.Client`
(the same calls, and so the same SQL functions, as the CLI) and renders with :mod:`._html`.

The handlers hold no state of their own; every mutating one is a POST (the server's
middleware checks its CSRF token before it gets here) and answers with a redirect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
import yaml
from aiohttp import web

from pachstream.console._dag import PipelineBox, dag_graph, input_rows
from pachstream.console._html import (
    PREVIEW_BYTES,
    Progress,
    commit_origin,
    esc,
    human_bytes,
    human_duration,
    is_text,
    link,
    page,
    post_button,
    progress,
    progress_bar,
    search_pattern,
    seg,
    state,
    table,
    url,
    when,
)
from pachstream.console._sparks import Trends, trends_html
from pachstream.console._sse import KEEPALIVE, RETRY_MS, changed, event, progress_doc
from pachstream.console._svg import Edge, Node, graph_svg
from pachstream.dispatch.spec import parse_spec
from pachstream.errors import InvalidInput, PachstreamError

if TYPE_CHECKING:
    from pachstream.client import Client, FileInfo, FileVersion, JobInfo, Lineage
    from pachstream.dispatch.datums import Input

RECENT_JOBS = 20
"""Jobs on the home page."""
COMMITS_SHOWN = 50
"""Commits on a repo page."""
SEARCH_LIMIT = 200
"""Search results shown (a broad pattern in a big repo would otherwise page forever)."""
LINEAGE_DEPTH = 10
"""Levels of lineage drawn."""
IMAGE_PREVIEW_BYTES = 8 * 1024 * 1024
"""Images up to this size are shown on their file's page."""
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
"""Raster images the file page shows (never SVG: it may carry script)."""
EVENTS_POLL_S = 0.5
"""How often a job's event stream reads the job's counts."""
KEEPALIVE_S = 15.0
"""Seconds without an event after which the stream sends a comment line."""
FAILED_LOGS_SHOWN = 20
"""Failed datums whose full logs a failed job's page loads."""
CSRF_KEY = web.RequestKey("csrf", str)
"""Where the server's middleware leaves the CSRF token of the request's browser."""


def _html(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/html", charset="utf-8")


def _csrf(request: web.Request) -> str:
    return request[CSRF_KEY]


def _need(request: web.Request, name: str) -> str:
    value = request.query.get(name)
    if not value:
        raise InvalidInput(
            f"{request.path}: query parameter '{name}' is missing; "
            f"add ?{name}=... (links on the console's pages carry it)",
            parameter=name,
        )
    return value


def image_type(path: str) -> str | None:
    """The content type of an image the console shows inline, by extension; else None."""
    dot = path.rfind(".")
    return IMAGE_TYPES.get(path[dot:].lower()) if dot > path.rfind("/") else None


def job_link(job_id: str | None) -> str:
    """A link to a job's page (``-`` when there is none)."""
    return "-" if not job_id else link(f"/job/{seg(job_id)}", job_id[:12])


def file_href(repo: str, commit: str | None, path: str) -> str:
    """The page of one file at one commit."""
    return url(f"/repo/{seg(repo)}/file", commit=commit or "", path=path)


def file_ref(f: FileVersion) -> str:
    """``repo@commit:/path`` of a file version (what ``/lineage?file=`` takes)."""
    return f"{f.repo}@{f.commit}:{f.path}"


class Pages:
    """The page handlers over one client."""

    def __init__(self, client: Client, trends: Callable[[], Trends] = Trends) -> None:
        """Pages over ``client``; ``trends`` gives the sampled metrics for the home page."""
        self.client = client
        self._trends = trends
        self._closing = asyncio.Event()

    # ------------------------------------------------------------------ home, DAG, search

    async def home(self, request: web.Request) -> web.Response:
        """Repos, pipelines and recent jobs."""
        c = self.client
        repos = await c.list_repo()
        pipelines = await c.list_pipeline()
        jobs = (await c.list_job())[:RECENT_JOBS]
        now = time.time()
        body = "<h2>Repos</h2>" + table(
            ["repo", "size (master)", "branches", "created"],
            (
                [
                    link(f"/repo/{seg(r.name)}", r.name),
                    human_bytes(r.size_bytes),
                    str(r.branch_count),
                    when(r.created),
                ]
                for r in repos
            ),
            empty="no repos yet: pachstream create repo NAME",
        )
        body += "<h2>Pipelines</h2>" + table(
            ["pipeline", "state", "version", "input", "last job"],
            (
                [
                    link(f"/pipeline/{seg(p.name)}", p.name),
                    state(p.state),
                    str(p.version),
                    f"<code>{esc(p.input)}</code>",
                    job_link(p.last_job) + " " + state(p.last_job_state),
                ]
                for p in pipelines
            ),
            empty="no pipelines",
        )
        body += trends_html(self._trends())
        body += "<h2>Recent jobs</h2>" + _jobs_table(jobs, now)
        return _html(page("Console", body))

    async def dag(self, request: web.Request) -> web.Response:
        """Repos, pipelines and their input combinators (join, cross, union, group) as a
        graph, laid out left to right.
        """
        repos = [r.name for r in await self.client.list_repo()]
        boxes = []
        for p in await self.client.list_pipeline():
            try:
                parsed: Input | None = parse_spec(p.spec).input
            except PachstreamError:
                parsed = None  # a spec this version refuses: drawn without its edges
            boxes.append(PipelineBox(p.name, p.state, p.version, p.input, parsed, p.last_job_state))
        nodes, edges = dag_graph(repos, boxes)
        body = graph_svg(nodes, edges)
        body += "<h2>Inputs</h2>" + table(
            ["repo", "pipeline", "branch", "glob", "through"],
            (
                [
                    link(f"/repo/{seg(r.repo)}", r.repo),
                    link(f"/pipeline/{seg(r.pipeline)}", r.pipeline),
                    esc(r.branch),
                    f"<code>{esc(r.glob)}</code>",
                    esc(r.via or "-"),
                ]
                for r in input_rows(boxes)
            ),
            empty="no pipelines",
        )
        return _html(page("Pipeline DAG", body))

    async def search(self, request: web.Request) -> web.Response:
        """Files whose path matches, at the head of every branch of every repo."""
        query = request.query.get("q", "").strip()
        if not query:
            return _html(page("Search", '<p class="muted">type part of a path</p>'))
        pattern = search_pattern(query)
        found: list[tuple[str, FileInfo]] = []
        for r in await self.client.list_repo():
            for b in await self.client.list_branch(r.name):
                if b.head is None:
                    continue
                found += [
                    (b.name, f) for f in await self.client.glob_file(f"{r.name}@{b.head}", pattern)
                ]
        rows = [
            [
                link(f"/repo/{seg(f.repo)}", f.repo),
                esc(branch),
                _file_cell(f),
                esc(f.type),
                human_bytes(f.size_bytes),
                f"<code>{esc(f.commit[:12])}</code>",
            ]
            for branch, f in found[:SEARCH_LIMIT]
        ]
        more = (
            f'<p class="muted">{len(found) - SEARCH_LIMIT} more not shown</p>'
            if len(found) > SEARCH_LIMIT
            else ""
        )
        body = f"<p>pattern <code>{esc(pattern)}</code>: {len(found)} found</p>"
        body += table(["repo", "branch", "path", "type", "size", "commit"], rows) + more
        return _html(page(f"Search: {query}", body, search=query))

    # ------------------------------------------------------------------ repos and files

    async def repo(self, request: web.Request) -> web.Response:
        """Branches, commit history (with origin and size), links to browse and diff."""
        name = request.match_info["repo"]
        c = self.client
        info = await c.inspect_repo(name)
        branches = await c.list_branch(name)
        commits = await c.list_commit(name, limit=COMMITS_SHOWN)
        pipelines = [p.name for p in await c.list_pipeline()]
        body = f"<p>{esc(info.description)}</p>" if info.description else ""
        if name in pipelines:
            body += "<p>output of pipeline " + link(f"/pipeline/{seg(name)}", name) + "</p>"
        body += "<h2>Branches</h2>" + table(
            ["branch", "head"],
            (
                [
                    esc(b.name),
                    (
                        link(url(f"/repo/{seg(name)}/browse", commit=b.head), b.head)
                        if b.head
                        else "-"
                    ),
                ]
                for b in branches
            ),
        )
        body += "<h2>Commits</h2>" + table(
            ["commit", "branch", "origin", "description", "files", "size", "+/~/-", "finished", ""],
            (
                [
                    link(url(f"/repo/{seg(name)}/browse", commit=ci.id), ci.id),
                    esc(ci.branch),
                    esc(commit_origin(ci, pipelines)),
                    esc(ci.description),
                    "-" if ci.file_count is None else str(ci.file_count),
                    human_bytes(ci.size_bytes),
                    f"{ci.added or 0}/{ci.modified or 0}/{ci.deleted or 0}",
                    when(ci.finished) if ci.finished else "open",
                    link(url(f"/repo/{seg(name)}/diff", new=ci.id), "diff") if ci.finished else "",
                ]
                for ci in commits
            ),
            empty="no commits",
        )
        body += (
            f'<h2>Compare</h2><form method="get" action="/repo/{esc(seg(name))}/diff">'
            '<input name="old" placeholder="old commit or branch"> → '
            '<input name="new" placeholder="new commit or branch"> <button>diff</button></form>'
        )
        return _html(page(f"Repo {name}", body))

    async def browse(self, request: web.Request) -> web.Response:
        """One directory of a commit."""
        name = request.match_info["repo"]
        commit = _need(request, "commit")
        path = request.query.get("path", "/")
        info = await self.client.inspect_commit(f"{name}@{commit}")
        entries = await self.client.list_file(f"{name}@{info.id}", path)
        crumbs = link(url(f"/repo/{seg(name)}/browse", commit=info.id), name) + ":"
        acc = ""
        for part in [p for p in path.split("/") if p]:
            acc += "/" + part
            crumbs += "/" + link(url(f"/repo/{seg(name)}/browse", commit=info.id, path=acc), part)
        body = f"<p>{crumbs} at commit <code>{esc(info.id)}</code> ({esc(info.branch)})</p>"
        body += table(
            ["path", "type", "size"],
            ([_file_cell(f), esc(f.type), human_bytes(f.size_bytes)] for f in entries),
            empty="empty",
        )
        if path in ("", "/"):
            # The commit's provenance: the input commits and jobs behind it (one level).
            prov = await self.client.commit_lineage(f"{name}@{info.id}", depth=1)
            body += "<h2>Made from</h2>" + table(
                ["input", "commit", "job"],
                (
                    [
                        esc(f"{e.input_name} ({e.input_repo}@{e.input_branch})"),
                        link(url(f"/repo/{seg(e.input_repo)}/browse", commit=e.input_commit),
                             e.input_commit)
                        if e.input_commit
                        else "empty",
                        job_link(e.job_id),
                    ]
                    for e in prov.provenance
                ),
                empty=f"no pipeline made this commit ({info.description or 'no description'})",
            )  # fmt: skip
        return _html(page(f"{name}@{info.id[:12]}:{path}", body))

    async def file(self, request: web.Request) -> web.Response:
        """One file: size, hash, a preview of text, a download, and its lineage."""
        name = request.match_info["repo"]
        commit = _need(request, "commit")
        path = _need(request, "path")
        ref = f"{name}@{commit}"
        f = await self.client.inspect_file(ref, path)
        if f.type == "dir":
            raise web.HTTPSeeOther(url(f"/repo/{seg(name)}/browse", commit=f.commit, path=path))
        raw = url(f"/repo/{seg(name)}/raw", commit=f.commit, path=f.path)
        body = table(
            ["repo", "commit", "path", "size", "hash"],
            [
                [
                    link(f"/repo/{seg(name)}", name),
                    link(url(f"/repo/{seg(name)}/browse", commit=f.commit), f.commit),
                    esc(f.path),
                    human_bytes(f.size_bytes),
                    f"<code>{esc(f.hash)}</code>",
                ]
            ],
        )
        body += (
            f"<p>{link(raw, 'download')} · "
            f"{link(url('/lineage', file=f'{name}@{f.commit}:{f.path}'), 'lineage')}</p>"
        )
        if image_type(f.path) is not None and f.size_bytes <= IMAGE_PREVIEW_BYTES:
            src = url(f"/repo/{seg(name)}/raw", commit=f.commit, path=f.path, inline=1)
            body += f'<p><img id="preview-image" src="{esc(src)}" style="max-width:100%"></p>'
        elif f.size_bytes <= PREVIEW_BYTES:
            data = await self.client.get_file(f"{name}@{f.commit}", f.path)
            if is_text(data):
                body += f'<pre id="preview">{esc(data.decode())}</pre>'
            else:
                body += '<p class="muted">binary file: no preview</p>'
        else:
            body += f'<p class="muted">over {human_bytes(PREVIEW_BYTES)}: no preview</p>'
        return _html(page(f"{name}@{f.commit[:12]}:{f.path}", body))

    async def raw(self, request: web.Request) -> web.StreamResponse:
        """A file's bytes, streamed, as an attachment."""
        name = request.match_info["repo"]
        ref = f"{name}@{_need(request, 'commit')}"
        path = _need(request, "path")
        f = await self.client.inspect_file(ref, path)
        if f.type == "dir":
            raise InvalidInput(f"'{path}' is a directory in {ref}; download its files one by one")
        filename = path.rsplit("/", 1)[-1].replace('"', "").replace("\\", "")
        shown = image_type(path) if request.query.get("inline") else None
        response = web.StreamResponse(
            headers={
                # Inline only as one of a few raster image types, which cannot run script.
                "Content-Type": shown or "application/octet-stream",
                "Content-Disposition": f"{'inline' if shown else 'attachment'}; "
                f'filename="{filename}"',
                "Content-Length": str(f.size_bytes),
            }
        )
        await response.prepare(request)
        async for piece in self.client.iter_file(f"{name}@{f.commit}", f.path):
            await response.write(piece)
        await response.write_eof()
        return response

    async def diff(self, request: web.Request) -> web.Response:
        """What changed between two commits (``old`` defaults to the parent of ``new``)."""
        name = request.match_info["repo"]
        new = _need(request, "new")
        old = request.query.get("old") or None
        new_info = await self.client.inspect_commit(f"{name}@{new}")
        old_ref = f"{name}@{old}" if old else None
        changes = await self.client.diff_file(f"{name}@{new_info.id}", old_ref)
        against = old or new_info.parent or "the empty commit"
        body = f"<p>from <code>{esc(against)}</code> to <code>{esc(new_info.id)}</code></p>"
        body += table(
            ["path", "change", "old size", "new size"],
            (
                [
                    link(file_href(name, new_info.id, d.path), d.path)
                    if d.change != "deleted"
                    else esc(d.path),
                    esc(d.change),
                    human_bytes(d.old_size_bytes),
                    human_bytes(d.size_bytes),
                ]
                for d in changes
            ),
            empty="no changes",
        )
        return _html(page(f"Diff of {name}", body))

    # ------------------------------------------------------------------ pipelines

    async def pipeline(self, request: web.Request) -> web.Response:
        """Spec as YAML, versions, state, jobs, stop/start."""
        name = request.match_info["name"]
        info = await self.client.inspect_pipeline(name)
        jobs = await self.client.list_job(name)
        csrf = _csrf(request)
        if info.state == "running":
            action = post_button(f"/pipeline/{seg(name)}/stop", "stop pipeline", csrf)
        else:
            action = post_button(f"/pipeline/{seg(name)}/start", "start pipeline", csrf)
        body = (
            f"<p>state {state(info.state)} · version {info.version} · output repo "
            f"{link(f'/repo/{seg(name)}', name)} · input <code>{esc(info.input)}</code></p>"
            + action
        )
        if info.notes:
            body += "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in info.notes) + "</ul>"
        versions: dict[int, list[JobInfo]] = {}
        for j in jobs:
            versions.setdefault(j.version, []).append(j)
        versions.setdefault(info.version, [])
        body += "<h2>Versions</h2>" + table(
            ["version", "jobs", "first job", "newest job"],
            (
                [
                    f"{v} (current)" if v == info.version else str(v),
                    str(len(vj)),
                    job_link(vj[-1].id) if vj else "-",
                    job_link(vj[0].id) if vj else "-",
                ]
                for v, vj in sorted(versions.items(), reverse=True)
            ),
        )
        spec = yaml.safe_dump(info.spec, sort_keys=False, default_flow_style=False)
        body += f'<h2>Spec (version {info.version})</h2><pre id="spec">{esc(spec)}</pre>'
        body += "<h2>Jobs</h2>" + _jobs_table(jobs, time.time())
        return _html(page(f"Pipeline {name}", body))

    async def stop_pipeline(self, request: web.Request) -> web.Response:
        """POST: stop a pipeline, back to its page."""
        name = request.match_info["name"]
        await self.client.stop_pipeline(name)
        raise web.HTTPSeeOther(f"/pipeline/{seg(name)}")

    async def start_pipeline(self, request: web.Request) -> web.Response:
        """POST: start a stopped pipeline, back to its page."""
        name = request.match_info["name"]
        await self.client.start_pipeline(name)
        raise web.HTTPSeeOther(f"/pipeline/{seg(name)}")

    # ------------------------------------------------------------------ jobs

    async def job(self, request: web.Request) -> web.Response:
        """Live progress; a failed job's failed datums and the rerun button."""
        job_id = request.match_info["job"]
        j = await self.client.inspect_job(job_id)
        datums = await self.client.list_datum(j.id)
        p = progress(j, time.time(), [d.state for d in datums])
        body = (
            f'<div id="job" data-progress="{esc(url(f"/job/{seg(j.id)}/progress.json"))}" '
            f'data-events="{esc(f"/jobs/{seg(j.id)}/events")}" data-started="{j.started}" '
            f'data-finished="{"1" if p.finished else "0"}">'
            f"<p>pipeline {link(f'/pipeline/{seg(j.pipeline)}', j.pipeline)} "
            f'v{j.version} · state <span id="state">{state(j.state)}</span>'
            + (f" · rerun of {job_link(j.rerun_of)}" if j.rerun_of else "")
            + "</p>"
            + progress_bar(p)
            + f'<p><span id="done">{p.done}</span> of <span id="total">{p.total}</span> '
            f'datums: <span id="processed">{p.processed}</span> processed, '
            f'<span id="skipped">{p.skipped}</span> skipped, '
            f'<span id="failed">{p.failed}</span> failed · elapsed '
            f'<span id="elapsed">{esc(human_duration(p.elapsed_s))}</span> · '
            f'<span id="rate">{p.rate}</span> datums/s</p></div>'
        )
        if j.reason:
            body += f'<p class="state-failure" id="reason">{esc(j.reason)}</p>'
        body += "<h2>Inputs</h2>" + table(
            ["input", "repo", "branch", "commit"],
            (
                [
                    esc(i.get("name", "")),
                    link(f"/repo/{seg(str(i.get('repo', '')))}", i.get("repo", "")),
                    esc(i.get("branch", "")),
                    link(
                        url(f"/repo/{seg(str(i.get('repo', '')))}/browse", commit=i["commit"]),
                        i["commit"],
                    )
                    if i.get("commit")
                    else "-",
                ]
                for i in j.inputs
            ),
        )
        if j.state == "success":
            body += (
                "<p>output commit "
                + link(url(f"/repo/{seg(j.pipeline)}/browse", commit=j.output_commit),
                       j.output_commit)
                + "</p>"
            )  # fmt: skip
        failed = [d for d in datums if d.state == "failed"]
        if failed:
            body += "<h2>Failed datums</h2>"
            if j.state == "failure":
                body += post_button(
                    f"/job/{seg(j.id)}/rerun", "rerun failed datums", _csrf(request)
                )
            logs: dict[str, str] = {}
            for d in failed[:FAILED_LOGS_SHOWN]:
                for entry in await self.client.logs(job_id=j.id, datum_id=d.id):
                    logs[d.id] = _logs_cell(entry)
            body += table(
                ["datum", "inputs", "exit code", "tries", "stderr (tail)", "logs"],
                (
                    [
                        f'<code class="datum" id="datum-{esc(d.id)}">{esc(d.id)}</code>',
                        "<br>".join(esc(f"{i.get('name')}: {i.get('path')}") for i in d.inputs),
                        '<span class="exit">'
                        + ("timed out" if d.timed_out else esc(d.exit_code))
                        + "</span>",
                        str(d.tries),
                        f'<pre class="stderr">{esc(d.stderr_tail)}</pre>',
                        logs.get(d.id, "-"),
                    ]
                    for d in failed
                ),
            )
        ran = [d for d in datums if d.state != "failed"]
        body += "<h2>Datums run</h2>" + table(
            ["datum", "state", "inputs", "outputs", "duration", "worker"],
            (
                [
                    f'<code id="datum-{esc(d.id)}">{esc(d.id[:12])}</code>',
                    esc(d.state),
                    "<br>".join(esc(f"{i.get('name')}: {i.get('path')}") for i in d.inputs),
                    "<br>".join(
                        link(file_href(j.pipeline, j.output_commit, str(o[0])), o[0])
                        if j.state == "success"
                        else esc(o[0])
                        for o in d.outputs
                    ),
                    esc(human_duration(d.duration_s)),
                    esc(d.worker),
                ]
                for d in ran
            ),
            empty=_none_ran(p),
        )
        if ran and not p.finished:
            # Rendered once: the counts above move with the job, this list at its end.
            body += (
                f'<p class="muted" id="ran-so-far">{len(ran)} so far; the counts above are '
                "live, and the page reloads with the whole list when the job ends</p>"
            )
        body += '<script src="/static/console.js"></script>'
        return _html(page(f"Job {j.id}", body))

    async def _progress(self, job_id: str) -> tuple[str, Progress]:
        """A job's id and progress now."""
        j = await self.client.inspect_job(job_id)
        # Counted from the datums only while it runs: an ended job's row has the counts.
        running = j.finished is None and j.state == "running"
        states = [d.state for d in await self.client.list_datum(j.id)] if running else []
        return j.id, progress(j, time.time(), states)

    async def job_progress(self, request: web.Request) -> web.Response:
        """The JSON the job page polls when its event stream fails."""
        job_id, p = await self._progress(request.match_info["job"])
        return web.Response(
            body=orjson.dumps(progress_doc(job_id, p)),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def job_events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: a ``progress`` event per change of the job's counts, then
        ``end`` once the job has ended (see :mod:`._sse`).
        """
        job_id, p = await self._progress(request.match_info["job"])  # 404 before streaming
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # a proxy must not hold events back
            }
        )
        sent: Progress | None = None
        serial = 0
        quiet_since = time.monotonic()
        try:
            await response.prepare(request)  # inside: the browser may have left already
            while True:
                if changed(sent, p):
                    serial += 1
                    retry = RETRY_MS if sent is None else None
                    doc = progress_doc(job_id, p)
                    await response.write(event("progress", doc, event_id=serial, retry_ms=retry))
                    sent, quiet_since = p, time.monotonic()
                if p.finished:
                    await response.write(event("end", progress_doc(job_id, p)))
                    break
                if time.monotonic() - quiet_since >= KEEPALIVE_S:
                    await response.write(KEEPALIVE)
                    quiet_since = time.monotonic()
                if await self._closing_within(EVENTS_POLL_S):
                    break  # the console is stopping: the page falls back to polling
                try:
                    _, p = await self._progress(job_id)
                except PachstreamError as err:
                    await response.write(event("error", {"message": err.message}))
                    break
        except ConnectionResetError:
            pass  # the browser left; nothing more to send
        return response

    async def _closing_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """End the open event streams (before the server stops, so it need not wait)."""
        self._closing.set()

    async def rerun(self, request: web.Request) -> web.Response:
        """POST: rerun a job's failed datums; on to the new job's page."""
        new = await self.client.rerun_job(request.match_info["job"], failed_only=True)
        raise web.HTTPSeeOther(f"/job/{seg(new)}")

    # ------------------------------------------------------------------ lineage

    async def lineage(self, request: web.Request) -> web.Response:
        """A file's upstream and downstream graph (the CLI's queries) and their edges."""
        ref = _need(request, "file")
        up = await self.client.upstream(ref, LINEAGE_DEPTH)
        down = await self.client.downstream(ref, LINEAGE_DEPTH)
        me = file_ref(up.file)
        nodes: dict[str, Node] = {
            me: Node(
                me,
                "pipeline",
                file_href(up.file.repo, up.file.commit, up.file.path),
                label=f"{up.file.repo}:{up.file.path}",
                detail=f"this file @ {(up.file.commit or '')[:10]}",
                tooltip=me,
            )
        }
        edges: list[Edge] = []
        for graph in (up, down):
            for e in graph.edges:
                for f in (e.input, e.output):
                    key = file_ref(f)
                    nodes.setdefault(
                        key,
                        Node(
                            key,
                            "file",
                            url("/lineage", file=key) if f.commit else "#",
                            label=f"{f.repo}:{f.path}",
                            detail=f"@ {(f.commit or 'empty input')[:10]}",
                            tooltip=key,
                        ),
                    )
                edges.append(Edge(file_ref(e.input), file_ref(e.output), e.pipeline))
        body = (
            f"<p>{link(file_href(up.file.repo, up.file.commit, up.file.path), me)} "
            f"<code>{esc(up.file.hash[:16])}</code></p>"
        )
        body += graph_svg(list(nodes.values()), _unique(edges), node_w=210)
        body += "<h2>Upstream</h2>" + _lineage_table(up)
        body += "<h2>Downstream</h2>" + _lineage_table(down)
        return _html(page(f"Lineage of {up.file.repo}:{up.file.path}", body))


def _none_ran(p: Progress) -> str:
    """What an empty "Datums run" table of a job with progress ``p`` stands for. Pure."""
    if not p.finished:
        return (
            "none finished yet; the counts above are live, and the page reloads with the "
            "whole list when the job ends"
        )
    if p.total == 0:
        return "none: the job had no datums"
    if p.failed and not p.skipped:
        return "none succeeded (the failed datums are above)"
    return "none (skipped datums kept their outputs)"


def _logs_cell(entry: dict[str, Any]) -> str:
    """A datum's logs (``Client.logs``: the full ones when stored, else the tails), folded."""
    parts = [
        f"<b>{key}</b><pre>{esc(entry[key])}</pre>"
        for key in ("stdout", "stderr")
        if isinstance(entry.get(key), str) and entry[key]
    ]
    if not parts:
        return '<span class="muted">empty</span>'
    return "<details><summary>logs</summary>" + "".join(parts) + "</details>"


def _unique(edges: list[Edge]) -> list[Edge]:
    return list(dict.fromkeys(edges))


def _lineage_table(graph: Lineage) -> str:
    def cell(f: FileVersion) -> str:
        if f.commit is None:
            return esc(f"{f.repo}:{f.path} (empty input)")
        return link(file_href(f.repo, f.commit, f.path), f"{f.repo}@{f.commit[:10]}:{f.path}")

    return table(
        ["depth", "input", "pipeline", "job", "datum", "output"],
        (
            [
                str(e.depth),
                cell(e.input),
                link(f"/pipeline/{seg(e.pipeline)}", f"{e.pipeline} v{e.version}"),
                job_link(e.job_id),
                link(f"/job/{seg(e.job_id)}#datum-{e.datum_id}", e.datum_id[:12]),
                cell(e.output),
            ]
            for e in graph.edges
        ),
        empty="none",
    )


def _file_cell(f: FileInfo) -> str:
    if f.type == "dir":
        return link(url(f"/repo/{seg(f.repo)}/browse", commit=f.commit, path=f.path), f.path + "/")
    return link(file_href(f.repo, f.commit, f.path), f.path)


def _jobs_table(jobs: list[JobInfo], now: float) -> str:
    rows = []
    for j in jobs:
        p = progress(j, now)
        rows.append(
            [
                job_link(j.id),
                link(f"/pipeline/{seg(j.pipeline)}", j.pipeline),
                state(j.state),
                f"{p.done}/{p.total} ({p.processed} processed, {p.skipped} skipped, "
                f"{p.failed} failed)",
                when(j.started),
                esc(human_duration(p.elapsed_s)),
            ]
        )
    return table(["job", "pipeline", "state", "datums", "started", "elapsed"], rows, empty="none")


__all__ = ["CSRF_KEY", "Pages", "file_href", "file_ref", "job_link"]
