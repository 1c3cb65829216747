"""The console's HTTP server: the route table, access, CSRF, errors and metrics around the
page handlers of :mod:`._pages`.

Routing is one table of (method, path, handler); a method or path not in it is a 405 or a
404, never a default page. Every answer carries headers that keep it out of other sites'
frames and scripts (the stop and rerun buttons must not be clickjacked).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from aiohttp import web

from pachstream.client import Client
from pachstream.console._access import (
    CSRF_COOKIE,
    CSRF_FIELD,
    TOKEN_COOKIE,
    csrf_ok,
    csrf_token,
    safe_next,
    same_origin,
    token_ok,
)
from pachstream.console._html import esc, page, url
from pachstream.console._metrics import CONTENT_TYPE, ConsoleMetrics
from pachstream.console._pages import CSRF_KEY, Pages
from pachstream.console._sparks import SAMPLE_S, Trends, fold, merge
from pachstream.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PachstreamError,
    Unavailable,
)
from pachstream.metrics import metrics_addresses, parse_samples, scrape_results, summarize
from pachstream.service import Service
from pachstream.settings import Settings, check_console_address, join_host_port

log = logging.getLogger("pachstream.console")

DEFAULT_ADDRESS = "127.0.0.1:1700"
"""Where the console listens without PACHSTREAM_CONSOLE_ADDRESS."""
SCRAPE_TIMEOUT_S = 2.0
"""How long one process's /metrics may take to answer the sampler."""
CLIENT_POOL = 6
"""Postgres connections of the console's client (pages run a few queries each)."""
JS = (Path(__file__).parent / "static" / "console.js").read_text(encoding="utf-8")
"""The one script (the job page's live progress), vendored: no CDN, no build step."""
OPEN_PATHS = frozenset({"/login", "/static/console.js"})
"""Reachable without the access token (the login form and what it loads)."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing: no CSRF token needed."""
STATUS = ((NotFound, 404), (InvalidInput, 400), (Conflict, 409), (Unavailable, 503))
"""HTTP status of each error class (first match wins); other pachstream errors are 500."""
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
}
"""Sent with every answer."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Console(Service):
    """The web console of one namespace, over the SDK client."""

    name = "console"

    def __init__(
        self,
        settings: Settings,
        *,
        host: str | None = None,
        port: int | None = None,
        metrics: Mapping[str, str] | None = None,
    ) -> None:
        """Serve ``settings``' namespace on ``host:port`` (default: PACHSTREAM_CONSOLE_ADDRESS,
        else 127.0.0.1:1700; port 0: any free port). The home page's sparklines sample the
        ``/metrics`` URLs of ``metrics`` (process name → URL), by default those that
        ``pachstream up`` records in stack.json.

        Raises:
            ConfigError: the address is not loopback and no PACHSTREAM_CONSOLE_TOKEN is set.

        """
        super().__init__()
        given_host, given_port = check_console_address(
            settings.console_address or DEFAULT_ADDRESS, settings.console_token
        )
        self._host = host if host is not None else given_host
        self._port = port if port is not None else given_port
        check_console_address(join_host_port(self._host, self._port), settings.console_token)
        self._settings = settings
        self._token = settings.console_token
        # Per process: a restart invalidates open forms, which is harmless (reload the page).
        self._secret = secrets.token_bytes(32)
        self.metrics = ConsoleMetrics()
        self._runner: web.AppRunner | None = None
        self._pages: Pages | None = None
        self._given_metrics = dict(metrics) if metrics is not None else None
        self.trends = Trends()
        self._next_sample = 0.0
        self.client: Client | None = None

    @property
    def endpoint(self) -> str:
        """``http://host:port``."""
        return f"http://{join_host_port(self._host, self._port)}"

    # ------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        self.client = await Client.connect(self._settings, pool_size=CLIENT_POOL)
        # The first read of content makes the S3 client and imports the tree code (some
        # 0.3 s): done here, so the first file page is as quick as the others.
        await self.client.objects.exists("console/warm-up")
        self.client.trees  # noqa: B018 - made on first use; this is the first use
        self.trends = Trends(addresses=self._metrics_addresses())
        pages = self._pages = Pages(self.client, lambda: self.trends)
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/", pages.home),
            ("GET", "/dag", pages.dag),
            ("GET", "/search", pages.search),
            ("GET", "/repo/{repo}", pages.repo),
            ("GET", "/repo/{repo}/browse", pages.browse),
            ("GET", "/repo/{repo}/file", pages.file),
            ("GET", "/repo/{repo}/raw", pages.raw),
            ("GET", "/repo/{repo}/diff", pages.diff),
            ("GET", "/pipeline/{name}", pages.pipeline),
            ("POST", "/pipeline/{name}/stop", pages.stop_pipeline),
            ("POST", "/pipeline/{name}/start", pages.start_pipeline),
            ("GET", "/job/{job}", pages.job),
            ("GET", "/job/{job}/progress.json", pages.job_progress),
            ("GET", "/jobs/{job}/events", pages.job_events),
            ("POST", "/job/{job}/rerun", pages.rerun),
            ("GET", "/lineage", pages.lineage),
            ("GET", "/metrics", self._metrics),
            ("GET", "/login", self._login_form),
            ("POST", "/login", self._login),
            ("GET", "/static/console.js", self._js),
        ]
        app = web.Application(
            middlewares=[self._observe, self._errors, self._access, self._csrf],
            client_max_size=64 * 1024,
        )
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        app.on_response_prepare.append(self._headers)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        self._port = self._runner.addresses[0][1]  # the port bound when asked for port 0
        log.info("console listening on %s", self.endpoint)

    async def _step(self) -> None:
        # Requests are served by aiohttp's own tasks; the loop samples the metrics.
        if time.monotonic() >= self._next_sample:
            self._next_sample = time.monotonic() + SAMPLE_S
            await self._sample()
        await asyncio.sleep(0.5)

    def _metrics_addresses(self) -> dict[str, str]:
        found = (
            dict(self._given_metrics)
            if self._given_metrics is not None
            else metrics_addresses(self._settings)
        )
        # Its own /metrics has no processor in it, and each scrape queries every pipeline.
        found.pop(self.name, None)
        return found

    async def _sample(self) -> None:
        """Scrape every process's /metrics once and fold the result into the trends."""
        addresses = self._metrics_addresses()  # re-read: `up` may restart a process elsewhere
        if not addresses:
            self.trends = Trends()
            return
        loads = []
        unavailable: dict[str, str] = {}
        for name, answer in (await scrape_results(addresses, SCRAPE_TIMEOUT_S)).items():
            if isinstance(answer, Unavailable):
                unavailable[name] = answer.message
                continue
            try:
                loads.append(summarize(parse_samples(answer)))
            except InvalidInput as err:
                unavailable[name] = err.message
        now = time.time()
        history = fold(self.trends.history, now, merge(loads))
        self.trends = Trends(addresses, history, now, unavailable)

    async def _close(self) -> None:
        if self._pages is not None:
            self._pages.close()  # open event streams end now, not at the runner's timeout
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self.client is not None:
            client, self.client = self.client, None
            await client.close()

    # ------------------------------------------------------------------ middlewares

    @web.middleware
    async def _observe(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        began = time.perf_counter()
        status = 500
        streamed = False
        try:
            response = await handler(request)
            status = response.status
            # Written piece by piece (server-sent events, file downloads): its duration is
            # the reader's stay or bandwidth, not the console's time to answer.
            streamed = not isinstance(response, web.Response)
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            seconds = None if streamed else time.perf_counter() - began
            self.metrics.observe(route, request.method, status, seconds)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except PachstreamError as err:
            status = next((s for cls, s in STATUS if isinstance(err, cls)), 500)
            if status == 500:
                log.exception("%s %s failed", request.method, request.path)
            body = f'<p class="state-failure" id="error">{esc(err.message)}</p>'
            return web.Response(
                text=page(type(err).__name__, body),
                status=status,
                content_type="text/html",
                charset="utf-8",
            )

    @web.middleware
    async def _access(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS or token_ok(
            self._token, request.headers.get("Authorization"), request.cookies.get(TOKEN_COOKIE)
        ):
            return await handler(request)
        if request.method == "GET" and request.path != "/metrics":
            raise web.HTTPSeeOther(url("/login", next=request.path_qs))
        raise web.HTTPUnauthorized(
            text="the console needs its token: 'Authorization: Bearer TOKEN' "
            "(PACHSTREAM_CONSOLE_TOKEN) or log in at /login",
            headers={"WWW-Authenticate": 'Bearer realm="pachstream console"'},
        )

    @web.middleware
    async def _csrf(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        nonce = request.cookies.get(CSRF_COOKIE)
        fresh = None
        if not nonce or len(nonce) > 64:
            fresh = nonce = secrets.token_urlsafe(24)
        request[CSRF_KEY] = csrf_token(self._secret, nonce)
        if request.method not in SAFE_METHODS:
            form = await request.post()
            given = form.get(CSRF_FIELD)
            token = given if isinstance(given, str) else request.headers.get("X-CSRF-Token")
            if fresh is not None or not csrf_ok(self._secret, nonce, token):
                raise web.HTTPForbidden(
                    text="refused: this form's CSRF token is missing or stale; "
                    "reload the page and try again"
                )
            if not same_origin(request.headers.get("Origin"), request.host):
                raise web.HTTPForbidden(text="refused: the request came from another site")
        response = await handler(request)
        if fresh is not None:
            response.set_cookie(CSRF_COOKIE, fresh, httponly=True, samesite="Strict", path="/")
        return response

    @staticmethod
    async def _headers(request: web.Request, response: web.StreamResponse) -> None:
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)

    # ------------------------------------------------------------------ own routes

    async def _metrics(self, request: web.Request) -> web.Response:
        assert self.client is not None
        body = await self.metrics.scrape(self.client)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def _js(self, request: web.Request) -> web.Response:
        return web.Response(text=JS, content_type="application/javascript", charset="utf-8")

    async def _login_form(self, request: web.Request, *, wrong: bool = False) -> web.Response:
        target = safe_next(request.query.get("next"))
        body = (
            ('<p class="state-failure">wrong token</p>' if wrong else "")
            + '<form method="post" action="/login">'
            f'<input type="hidden" name="{CSRF_FIELD}" value="{esc(request[CSRF_KEY])}">'
            f'<input type="hidden" name="next" value="{esc(target)}">'
            '<input type="password" name="token" placeholder="PACHSTREAM_CONSOLE_TOKEN" '
            "autofocus> <button>log in</button></form>"
        )
        return web.Response(
            text=page("Log in", body),
            status=401 if wrong else 200,
            content_type="text/html",
            charset="utf-8",
        )

    async def _login(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = form.get("token")
        if not self._token or not isinstance(token, str) or not token_ok(self._token, None, token):
            return await self._login_form(request, wrong=bool(self._token))
        next_ = form.get("next")
        response = web.HTTPSeeOther(safe_next(next_ if isinstance(next_, str) else None))
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
        raise response


__all__ = ["DEFAULT_ADDRESS", "Console"]
