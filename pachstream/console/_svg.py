"""Graphs as inline SVG: boxes placed by :mod:`._layout`, edges as curves. Pure.

Each box links to its page, shows a second line (a pipeline's state, a file's commit) and a
tooltip; an edge may carry a label (the branches a pipeline reads). An input combinator (a
node of kind join, group, cross or union) is a small labelled shape instead of a box: a
diamond for the kinds that match keys (join, group), a circle for the others. The SVG has an
explicit size, so a big DAG scrolls instead of shrinking to unreadable text.
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
SHAPES = {"join": "diamond", "group": "diamond", "cross": "circle", "union": "circle"}
"""Node kinds drawn as a small shape (the input combinators), and which shape."""
SHAPE_FILL = {"join": "#fff4c2", "group": "#f3e2ff", "cross": "#dff3ff", "union": "#e8e8e8"}
"""Fill of each combinator shape."""
SHAPE_W, SHAPE_H = 64.0, 40.0
"""Size of a combinator shape (a box is ``node_w`` by 40)."""
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
        [n.name for n in nodes],
        [(e.source, e.target) for e in edges],
        node_w=node_w,
        sizes={n.name: (SHAPE_W, SHAPE_H) for n in nodes if n.kind in SHAPES},
    )
    by_name = {n.name: n for n in nodes}
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
        x1, y1 = a.x + a.w, a.y + a.h / 2
        # A long edge: a curve into each column it crosses, straight through its lane.
        d = f"M{x1:.1f},{y1:.1f}"
        label_at = None
        for way in placed.route(e.source, e.target):
            ly = way.y + way.h / 2
            d += _curve(x1, y1, way.x, ly) + f" L{way.x + way.w:.1f},{ly:.1f}"
            label_at = label_at or ((x1 + way.x) / 2, (y1 + ly) / 2)
            x1, y1 = way.x + way.w, ly
        x2, y2 = b.x, b.y + b.h / 2
        d += _curve(x1, y1, x2, y2)
        label_at = label_at or ((x1 + x2) / 2, (y1 + y2) / 2)
        parts.append(
            f'<path class="edge" data-source="{esc(e.source)}" data-target="{esc(e.target)}" '
            f'd="{d}" fill="none" stroke="#889" stroke-width="1.3" marker-end="url(#arrow)"/>'
        )
        if e.label:
            parts.append(
                f'<text x="{label_at[0]:.1f}" y="{label_at[1] - 3:.1f}" text-anchor="middle" '
                f'fill="#556" font-size="10">{esc(_short(e.label))}</text>'
            )
    for p in placed.nodes:
        n = by_name[p.name]
        first = n.label or n.name
        tip = n.tooltip or first
        if n.kind in SHAPES:
            parts.append(_shape(p.x, p.y, p.w, p.h, n, first, tip))
            continue
        fill = FILL.get(n.kind, "#f4f4f4")
        parts.append(
            f'<a href="{esc(n.href)}" class="node" data-name="{esc(n.name)}">'
            f"<title>{esc(tip)}</title>"
            f'<rect x="{p.x:.1f}" y="{p.y:.1f}" width="{p.w:.0f}" height="{p.h:.0f}" rx="5" '
            f'fill="{fill}" stroke="#667"/>'
            f'<text x="{p.x + 8:.1f}" y="{p.y + 16:.1f}" font-weight="bold">'
            f"{esc(_short(first))}</text>"
            f'<text x="{p.x + 8:.1f}" y="{p.y + 31:.1f}" fill="#555">{esc(_short(n.detail))}'
            "</text></a>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _curve(x1: float, y1: float, x2: float, y2: float) -> str:
    """A cubic curve from the current point (x1, y1) to (x2, y2), leaving and arriving level."""
    bend = max(30.0, abs(x2 - x1) / 2)
    return f" C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"


def _shape(x: float, y: float, w: float, h: float, n: Node, label: str, tip: str) -> str:
    """A combinator: a diamond or a circle filling (x, y, w, h), its kind written inside."""
    cx, cy = x + w / 2, y + h / 2
    fill = SHAPE_FILL.get(n.kind, "#f4f4f4")
    if SHAPES[n.kind] == "diamond":
        outline = (
            f'<polygon points="{x:.1f},{cy:.1f} {cx:.1f},{y:.1f} {x + w:.1f},{cy:.1f} '
            f'{cx:.1f},{y + h:.1f}" fill="{fill}" stroke="#667"/>'
        )
    else:
        # An ellipse, so that its left and right ends meet the edges at the slot's sides.
        outline = (
            f'<ellipse cx="{cx:.1f}" cy="{cy:.1f}" rx="{w / 2:.1f}" ry="{h / 2:.1f}" '
            f'fill="{fill}" stroke="#667"/>'
        )
    return (
        f'<a href="{esc(n.href)}" class="node combinator {esc(n.kind)}" '
        f'data-name="{esc(n.name)}" data-kind="{esc(n.kind)}">'
        f"<title>{esc(tip)}</title>{outline}"
        f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle" font-size="11" '
        f'font-style="italic">{esc(_short(label))}</text></a>'
    )


__all__ = ["FILL", "SHAPES", "Edge", "Node", "graph_svg"]
