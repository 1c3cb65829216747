"""The console's layered DAG layout and its SVG: pure, table-driven."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from pachstream.console import Edge, Node, assign_layers, crossings, graph_svg, layout
from pachstream.console._layout import order_layers

LAYERS = [
    # (nodes, edges, expected layer of each node)
    ([], [], {}),
    (["a"], [], {"a": 0}),
    (["a", "b"], [("a", "b")], {"a": 0, "b": 1}),
    # The longest path decides: c reads a directly and through b.
    (["a", "b", "c"], [("a", "b"), ("b", "c"), ("a", "c")], {"a": 0, "b": 1, "c": 2}),
    # A join of two sources, then a chain.
    (
        ["images", "labels", "edges", "montage"],
        [("images", "edges"), ("edges", "montage"), ("labels", "montage")],
        {"images": 0, "labels": 0, "edges": 1, "montage": 2},
    ),
    # An edge naming a node not listed adds it; a self-loop is ignored.
    (["a"], [("a", "z"), ("z", "z")], {"a": 0, "z": 1}),
    # A cycle loses no node: the smallest name goes first.
    (["x", "y"], [("x", "y"), ("y", "x")], {"x": 0, "y": 1}),
    # A cycle behind a source: the source still comes first.
    (["s", "p", "q"], [("s", "p"), ("p", "q"), ("q", "p")], {"s": 0, "p": 1, "q": 2}),
]


@pytest.mark.parametrize(("nodes", "edges", "expected"), LAYERS)
def test_layers(nodes, edges, expected):
    assert assign_layers(nodes, edges) == expected


ORDERS = [
    # Crossing inputs get uncrossed: a→y and b→x, named so that name order crosses.
    ({"a": 0, "b": 0, "x": 1, "y": 1}, [("a", "y"), ("b", "x")], [["a", "b"], ["y", "x"]]),
    # Two chains stay parallel.
    (
        {"a": 0, "b": 0, "c": 1, "d": 1},
        [("a", "c"), ("b", "d")],
        [["a", "b"], ["c", "d"]],
    ),
]


@pytest.mark.parametrize(("layer", "edges", "expected"), ORDERS)
def test_order_removes_crossings(layer, edges, expected):
    columns = order_layers(layer, edges)
    assert columns == expected
    assert crossings(columns, edges) == 0


def test_crossings_counts_pairs():
    assert crossings([["a", "b"], ["x", "y"]], [("a", "y"), ("b", "x")]) == 1
    assert crossings([["a", "b"], ["x", "y"]], [("a", "x"), ("b", "y")]) == 0


def _wide_dag(n: int) -> tuple[list[str], list[tuple[str, str]]]:
    """3 source repos and ``n`` pipelines: a fan, chains, and cross/join-like pairs."""
    nodes = ["raw", "labels", "lookup"]
    edges = []
    for i in range(n):
        p = f"p{i:02d}"
        nodes.append(p)
        edges.append((nodes[i % 3] if i < 6 else f"p{(i - 6):02d}", p))
        if i % 5 == 0:
            edges.append(("labels", p))
    return nodes, edges


def test_thirty_pipelines_are_laid_out_without_overlap_and_edges_point_right():
    nodes, edges = _wide_dag(30)
    placed = layout(nodes, edges)
    assert {p.name for p in placed.nodes} == set(nodes)
    boxes = [(p.x, p.y) for p in placed.nodes]
    assert len(set(boxes)) == len(boxes)
    for a in placed.nodes:
        for b in placed.nodes:
            if a is not b and a.layer == b.layer:
                # Same column: the boxes do not overlap vertically.
                assert abs(a.y - b.y) >= placed.node_h
    for s, d in edges:
        assert placed.at(s).x < placed.at(d).x, (s, d)
    # Everything lies inside the picture.
    for p in placed.nodes:
        assert 0 <= p.x and p.x + placed.node_w <= placed.width
        assert 0 <= p.y and p.y + placed.node_h <= placed.height


def test_the_same_graph_gives_the_same_picture_whatever_the_input_order():
    nodes, edges = _wide_dag(12)
    one = layout(nodes, edges)
    two = layout(list(reversed(nodes)), list(reversed(edges)))
    assert one == two


def test_svg_has_a_linked_box_per_node_and_a_path_per_edge_and_escapes_names():
    nodes = [
        Node("raw", "repo", "/repo/raw", detail="repo"),
        Node("<evil>&", "running", "/pipeline/%3Cevil%3E", detail="running"),
    ]
    svg = graph_svg(nodes, [Edge("raw", "<evil>&", "dev")])
    root = ET.fromstring(svg)  # well-formed XML: nothing unescaped got through
    ns = "{http://www.w3.org/2000/svg}"
    links = root.findall(f"{ns}a")
    assert [a.get("data-name") for a in links] == ["raw", "<evil>&"]
    assert [a.get("href") for a in links] == ["/repo/raw", "/pipeline/%3Cevil%3E"]
    (path,) = root.findall(f"{ns}path[@class='edge']")
    assert (path.get("data-source"), path.get("data-target")) == ("raw", "<evil>&")
    assert "dev" in svg
    # The edge starts at the right side of raw's box and ends at the left of the other.
    x1 = float(re.match(r"M([\d.]+),", path.get("d")).group(1))
    rects = root.findall(f".//{ns}rect")
    assert x1 == pytest.approx(float(rects[0].get("x")) + float(rects[0].get("width")))


def test_svg_of_nothing_says_so():
    assert "nothing to draw" in graph_svg([], [])
