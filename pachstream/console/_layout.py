"""A layered layout of a directed graph (the pipeline DAG, a file's lineage). Pure.

Sugiyama's method, cut down to what a DAG of a few dozen pipelines needs:

1. **Layers**: a node's column is the length of the longest path reaching it, so every edge
   goes left to right. A cycle (which a DAG should not have, but a half-deleted spec can
   make) is broken by taking the smallest-named node that is left and ignoring its remaining
   incoming edges, so nothing is ever dropped.
2. **Long edges**: an edge that spans several columns gets a waypoint in each column it
   crosses (Sugiyama's dummy nodes), ordered like the nodes, so it runs in a lane of its own
   instead of across the boxes between its ends (:attr:`Layout.routes`).
3. **Order** within a column: by the barycenter (mean row) of each node's neighbours in the
   previous column, sweeping right and then back left a few times; ties by name, so the same
   graph always gives the same picture.
4. **Coordinates**: each column as wide as its widest node plus ``gap_x``, nodes stacked
   ``gap_y`` apart, each column centred vertically and each node centred in its column. Nodes
   are ``node_w`` by ``node_h`` unless ``sizes`` says otherwise (the DAG's join, cross, union
   and group shapes are smaller than its boxes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

SWEEPS = 4
"""Barycenter passes (each one right then left); more rarely changes a small DAG."""
LANE_H = 6.0
"""Height of a long edge's waypoint in a column it crosses (plus ``gap_y`` around it)."""
_WAY = "\0"
"""Starts a waypoint's name: no node name contains it."""


@dataclass(frozen=True, slots=True)
class Placed:
    """One node's place in the picture."""

    name: str
    """The node."""
    layer: int
    """Its column, 0 for the sources."""
    row: int
    """Its position in the column, from the top."""
    x: float
    """Left edge of its box."""
    y: float
    """Top edge of its box."""
    w: float = 0.0
    """Its width."""
    h: float = 0.0
    """Its height."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Every node placed, and the size of the picture."""

    nodes: tuple[Placed, ...]
    """By layer, then row."""
    width: float
    """Picture width."""
    height: float
    """Picture height."""
    node_w: float
    """Width of a node not in ``sizes``."""
    node_h: float
    """Height of a node not in ``sizes``."""

    routes: tuple[tuple[str, str, tuple[Placed, ...]], ...] = ()
    """(source, target, waypoints) of each edge spanning more than one column: a waypoint
    is as wide as its column, and the edge crosses it horizontally at its middle."""

    def route(self, source: str, target: str) -> tuple[Placed, ...]:
        """The waypoints of the edge from ``source`` to ``target`` (none for a short one)."""
        for s, d, points in self.routes:
            if (s, d) == (source, target):
                return points
        return ()

    def at(self, name: str) -> Placed:
        """The placed node called ``name`` (KeyError when absent)."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)


def assign_layers(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Each node's layer: the longest path from a source to it (cycles broken, see above).

    Edges naming an unknown node add it; self-loops are ignored.
    """
    names = set(nodes)
    preds: dict[str, set[str]] = {}
    for src, dst in edges:
        names.update((src, dst))
        if src != dst:
            preds.setdefault(dst, set()).add(src)
    layer: dict[str, int] = {}
    left = set(names)
    while left:
        ready = sorted(n for n in left if preds.get(n, set()) <= layer.keys())
        if not ready:
            # A cycle: place its smallest name after what it reads that is placed already.
            ready = [min(left)]
        for n in ready:
            placed_preds = [layer[p] for p in preds.get(n, ()) if p in layer]
            layer[n] = 1 + max(placed_preds) if placed_preds else 0
            left.discard(n)
    return layer


def order_layers(layer: dict[str, int], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The nodes of each layer, top to bottom, with few crossings (barycenter sweeps)."""
    edge_list = [(s, d) for s, d in edges if s != d and s in layer and d in layer]
    depth = 1 + max(layer.values(), default=-1)
    columns: list[list[str]] = [sorted(n for n in layer if layer[n] == i) for i in range(depth)]
    preds: dict[str, list[str]] = {}
    succs: dict[str, list[str]] = {}
    for s, d in edge_list:
        preds.setdefault(d, []).append(s)
        succs.setdefault(s, []).append(d)

    def resort(col: list[str], fixed: list[str], near: dict[str, list[str]]) -> list[str]:
        pos = {n: i for i, n in enumerate(fixed)}
        current = {n: i for i, n in enumerate(col)}

        def key(n: str) -> tuple[float, str]:
            rows = [pos[m] for m in near.get(n, ()) if m in pos]
            # A node with no neighbour there keeps its place rather than jump to the top.
            return (sum(rows) / len(rows) if rows else float(current[n]), n)

        return sorted(col, key=key)

    for _ in range(SWEEPS):
        for i in range(1, depth):
            columns[i] = resort(columns[i], columns[i - 1], preds)
        for i in range(depth - 2, -1, -1):
            columns[i] = resort(columns[i], columns[i + 1], succs)
    return columns


def layout(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    *,
    node_w: float = 170.0,
    node_h: float = 40.0,
    gap_x: float = 70.0,
    gap_y: float = 16.0,
    margin: float = 10.0,
    sizes: Mapping[str, tuple[float, float]] | None = None,
) -> Layout:
    """Place ``nodes`` left to right so that every edge (source, target) points rightwards
    (but those that close a cycle); ``sizes`` gives (width, height) of nodes that are not
    ``node_w`` by ``node_h``.
    """
    layer = assign_layers(nodes, edges)
    # Long edges become chains through one waypoint per column crossed.
    chains: dict[tuple[str, str], list[str]] = {}
    short: list[tuple[str, str]] = []
    for s, d in dict.fromkeys(edges):
        if s == d or layer[d] - layer[s] <= 1:
            short.append((s, d))
            continue
        chain = [f"{_WAY}{s}{_WAY}{d}{_WAY}{k:03d}" for k in range(layer[s] + 1, layer[d])]
        for name, k in zip(chain, range(layer[s] + 1, layer[d]), strict=True):
            layer[name] = k
        chains[(s, d)] = chain
        short += list(zip([s, *chain], [*chain, d], strict=True))
    columns = order_layers(layer, short)
    given = sizes or {}

    def size(name: str) -> tuple[float, float]:
        if name.startswith(_WAY):
            return (0.0, LANE_H)
        return given.get(name, (node_w, node_h))

    col_w = [max((size(n)[0] for n in col), default=node_w) for col in columns]
    spans = [sum(size(n)[1] for n in col) + max(len(col) - 1, 0) * gap_y for col in columns]
    height = 2 * margin + max(spans, default=0.0)
    width = 2 * margin + sum(col_w) + max(len(columns) - 1, 0) * gap_x
    placed: dict[str, Placed] = {}
    left = margin
    for i, col in enumerate(columns):
        y = (height - spans[i]) / 2
        row = 0
        for name in col:
            w, h = size(name)
            if name.startswith(_WAY):
                placed[name] = Placed(name=name, layer=i, row=-1, x=left, y=y, w=col_w[i], h=h)
            else:
                x = left + (col_w[i] - w) / 2
                placed[name] = Placed(name=name, layer=i, row=row, x=x, y=y, w=w, h=h)
                row += 1
            y += h + gap_y
        left += col_w[i] + gap_x
    real = tuple(p for name, p in placed.items() if not name.startswith(_WAY))
    routes = tuple(
        (s, d, tuple(placed[n] for n in chain)) for (s, d), chain in sorted(chains.items())
    )
    return Layout(real, width, height, node_w, node_h, routes)


def crossings(columns: Sequence[Sequence[str]], edges: Iterable[tuple[str, str]]) -> int:
    """How many pairs of edges between adjacent layers cross (what the ordering reduces)."""
    where = {n: (i, r) for i, col in enumerate(columns) for r, n in enumerate(col)}
    spans: dict[int, list[tuple[int, int]]] = {}
    for s, d in edges:
        if s in where and d in where and where[d][0] == where[s][0] + 1:
            spans.setdefault(where[s][0], []).append((where[s][1], where[d][1]))
    count = 0
    for pairs in spans.values():
        for i, (a1, b1) in enumerate(pairs):
            for a2, b2 in pairs[i + 1 :]:
                if (a1 - a2) * (b1 - b2) < 0:
                    count += 1
    return count


__all__ = ["Layout", "Placed", "assign_layers", "crossings", "layout", "order_layers"]
