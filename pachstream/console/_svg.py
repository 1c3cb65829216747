"""Graphs as inline SVG: boxes placed by :mod:`._layout`, edges as curves. Pure.

Each box links to its page, shows a second line (a pipeline's state, a file's commit) and a
tooltip; an edge may carry a label (the branches a pipeline reads). The SVG has an explicit
size, so a big DAG scrolls instead of shrinking to unreadable text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pachstream.console._html import esc
from pachstream.console._layout import Layout, layout

FILL = {
    "repo": "#eef3ff",
    "running": "#e6f6e6",
    "stopped": "#fff2d8",
    "failure": "#fde4e4",
    "pipeline": "#eef7ee",
    "file": "#ffffff",
}
"""Box colour by kind or state."""
MAX_LABEL = 28
"""Characters of a name shown in its box (the tooltip has all of it)."""


@dataclass(frozen=True, slots=True)
class Node:
    """A box."""

    name: str
    """Unique id, and the first line unless ``label`` is given."""
    kind: str
    """A key of :data:`FILL` (repo, pipeline, file), or a state."""
    href: str
    """Where clicking it goes."""
    detail: str = ""
    """The second line."""
    tooltip: str = ""
    """Shown on hover (the full name is always in it)."""
    label: str = ""
    """The first line, when not ``name``."""


@dataclass(frozen=True, slots=True)
class Edge:
    """An arrow from ``source`` to ``target``."""

    source: str
    """A node name."""
    target: str
    """A node name."""
    label: str = ""
    """Text at the middle of the arrow."""


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def graph_svg(nodes: Sequence[Node], edges: Sequence[Edge], *, node_w: float = 190.0) -> str:
    """The SVG of a graph laid out left to right (see :func:`._layout.layout`)."""
    if not nodes:
        return '<p class="muted">nothing to draw</p>'
    placed: Layout = layout(
        [n.name for n in nodes], [(e.source, e.target) for e in edges], node_w=node_w
    )
    by_name = {n.name: n for n in nodes}
    w, h = placed.node_w, placed.node_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{placed.width:.0f}" '
        f'height="{placed.height:.0f}" viewBox="0 0 {placed.width:.0f} {placed.height:.0f}" '
        'font-family="system-ui,sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#667"/></marker></defs>',
    ]
    for e in edges:
        if e.source == e.target or e.source not in by_name or e.target not in by_name:
            continue
        a, b = placed.at(e.source), placed.at(e.target)
        x1, y1 = a.x + w, a.y + h / 2
        x2, y2 = b.x, b.y + h / 2
        bend = max(30.0, abs(x2 - x1) / 2)
        parts.append(
            f'<path class="edge" data-source="{esc(e.source)}" data-target="{esc(e.target)}" '
            f'd="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} '
            f'{x2:.1f},{y2:.1f}" fill="none" stroke="#889" stroke-width="1.3" '
            'marker-end="url(#arrow)"/>'
        )
        if e.label:
            parts.append(
                f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 3:.1f}" text-anchor="middle" '
                f'fill="#556" font-size="10">{esc(_short(e.label))}</text>'
            )
    for p in placed.nodes:
        n = by_name[p.name]
        fill = FILL.get(n.kind, "#f4f4f4")
        first = n.label or n.name
        tip = n.tooltip or first
        parts.append(
            f'<a href="{esc(n.href)}" class="node" data-name="{esc(n.name)}">'
            f"<title>{esc(tip)}</title>"
            f'<rect x="{p.x:.1f}" y="{p.y:.1f}" width="{w:.0f}" height="{h:.0f}" rx="5" '
            f'fill="{fill}" stroke="#667"/>'
            f'<text x="{p.x + 8:.1f}" y="{p.y + 16:.1f}" font-weight="bold">'
            f"{esc(_short(first))}</text>"
            f'<text x="{p.x + 8:.1f}" y="{p.y + 31:.1f}" fill="#555">{esc(_short(n.detail))}'
            "</text></a>"
        )
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["FILL", "Edge", "Node", "graph_svg"]
