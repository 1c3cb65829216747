"""The web console: repos, the pipeline DAG, jobs, datums and lineage in a browser.

``pachstream run console`` serves it (``pachstream up`` starts it and ``pachstream status``
shows its address). Pages are server-rendered HTML over the SDK client; one small vendored
script follows a running job by server-sent events (:mod:`._sse`, polling if they fail). The
DAG draws input combinators as nodes (:mod:`._dag`); the home page's sparklines come from
scraping every process's ``/metrics`` (:mod:`._sparks`). See :mod:`._access` for who may use
it.
"""

from __future__ import annotations

from pachstream.console._access import csrf_ok, csrf_token, safe_next, same_origin, token_ok
from pachstream.console._html import Progress, commit_origin, progress, search_pattern
from pachstream.console._layout import Layout, Placed, assign_layers, crossings, layout
from pachstream.console._server import DEFAULT_ADDRESS, Console
from pachstream.console._svg import Edge, Node, graph_svg

__all__ = [
    "DEFAULT_ADDRESS",
    "Console",
    "Edge",
    "Layout",
    "Node",
    "Placed",
    "Progress",
    "assign_layers",
    "commit_origin",
    "crossings",
    "csrf_ok",
    "csrf_token",
    "graph_svg",
    "layout",
    "progress",
    "safe_next",
    "same_origin",
    "search_pattern",
    "token_ok",
]
