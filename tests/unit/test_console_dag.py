"""The DAG page's graph: repos, pipelines and input combinators (join, cross, union, group)
as nodes, laid out without overlap and drawn as shapes. Pure, table-driven.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pachstream.console._dag import PipelineBox, dag_graph, describe, input_graph, input_rows
from pachstream.console._layout import layout
from pachstream.console._svg import SHAPE_H, SHAPE_W, SHAPES, Edge, Node, graph_svg
from pachstream.dispatch.datums import CrossInput, GroupInput, JoinInput, PfsInput, UnionInput
from pachstream.dispatch.spec import parse_spec


def pfs(repo: str, glob: str = "/*", **kw) -> PfsInput:
    return PfsInput(name=kw.pop("name", repo), repo=repo, glob=glob, **kw)


GRAPHS = [
    # (input, combinator nodes as (name, kind), edges as (source, target, label))
    (pfs("raw"), [], [("raw", "p", "")]),
    (pfs("raw", branch="dev"), [], [("raw", "p", "dev")]),
    (
        JoinInput((pfs("images", join_on="$1"), pfs("labels", join_on="$1"))),
        [("p:input", "join")],
        [("p:input", "p", ""), ("images", "p:input", ""), ("labels", "p:input", "")],
    ),
    # A cross of a join with a third repo: the join feeds the cross, the cross the pipeline.
    (
        CrossInput(
            (JoinInput((pfs("a", join_on="$1"), pfs("b", join_on="$1"))), pfs("lookup", "/"))
        ),
        [("p:input", "cross"), ("p:input.0", "join")],
        [
            ("p:input", "p", ""),
            ("p:input.0", "p:input", ""),
            ("a", "p:input.0", ""),
            ("b", "p:input.0", ""),
            ("lookup", "p:input", ""),
        ],
    ),
    # A union of two crosses that share a repo: the repo feeds both crosses.
    (
        UnionInput(
            (CrossInput((pfs("a"), pfs("s"))), CrossInput((pfs("b", branch="dev"), pfs("s"))))
        ),
        [("p:input", "union"), ("p:input.0", "cross"), ("p:input.1", "cross")],
        [
            ("p:input", "p", ""),
            ("p:input.0", "p:input", ""),
            ("a", "p:input.0", ""),
            ("s", "p:input.0", ""),
            ("p:input.1", "p:input", ""),
            ("b", "p:input.1", "dev"),
            ("s", "p:input.1", ""),
        ],
    ),
    # A cross of a repo with itself (two globs) is one arrow.
    (
        CrossInput((pfs("a", "/*", name="x"), pfs("a", "/", name="y"))),
        [("p:input", "cross")],
        [("p:input", "p", ""), ("a", "p:input", "")],
    ),
    (
        GroupInput((pfs("logs", "/*/*", group_by="$1"),)),
        [("p:input", "group")],
        [("p:input", "p", ""), ("logs", "p:input", "")],
    ),
]


@pytest.mark.parametrize(("spec", "combinators", "edges"), GRAPHS)
def test_input_graph(spec, combinators, edges):
    nodes, got = input_graph("p", spec)
    assert [(n.name, n.kind) for n in nodes] == combinators
    assert [(e.source, e.target, e.label) for e in got] == edges
    for n in nodes:
        assert n.href == "/pipeline/p" and n.label == n.kind


def test_a_join_tooltip_names_each_input_glob_and_key():
    spec = JoinInput(
        (
            pfs("images", "/*.png", join_on="$1"),
            pfs("labels", "/(*).txt", join_on="$1", outer_join=True),
        )
    )
    (node,), _ = input_graph("montage", spec)
    assert node.tooltip == (
        "montage: join of\n"
        "  images@master /*.png join_on $1\n"
        "  labels@master /(*).txt join_on $1 (outer)"
    )
    group = GroupInput((pfs("logs", "/*/*", group_by="$1", name="l"),))
    assert describe(group) == "group(l=logs@master /*/* group_by $1)"


def test_a_parsed_spec_draws_the_same_as_its_input():
    spec = parse_spec(
        {
            "pipeline": {"name": "montage"},
            "transform": {"cmd": ["true"]},
            "input": {
                "cross": [
                    {
                        "join": [
                            {"pfs": {"repo": "images", "glob": "/(*).png", "join_on": "$1"}},
                            {"pfs": {"repo": "labels", "glob": "/(*).txt", "join_on": "$1"}},
                        ]
                    },
                    {"pfs": {"repo": "lookup", "glob": "/"}},
                ]
            },
        }
    )
    box = PipelineBox("montage", "running", 1, "cross(...)", spec.input, "success")
    nodes, edges = dag_graph(["images", "labels", "lookup", "other"], [box])
    kinds = {n.name: n.kind for n in nodes}
    assert kinds == {
        "images": "repo",
        "labels": "repo",
        "lookup": "repo",
        "other": "repo",
        "montage": "running",
        "montage:input": "cross",
        "montage:input.0": "join",
    }
    assert ("montage:input", "montage") in {(e.source, e.target) for e in edges}
    rows = input_rows([box])
    assert [(r.repo, r.via) for r in rows] == [
        ("images", "cross › join"),
        ("labels", "cross › join"),
        ("lookup", "cross"),
    ]


def test_an_unparsed_spec_is_a_box_without_edges_and_unknown_input_repos_are_drawn():
    boxes = [
        PipelineBox("broken", "stopped", 2, "?", None, "failure"),
        PipelineBox("reader", "running", 1, "pfs", pfs("missing"), None),
    ]
    nodes, edges = dag_graph([], boxes)
    assert {n.name: n.kind for n in nodes} == {
        "broken": "failure",
        "reader": "running",
        "missing": "repo",
    }
    assert [(e.source, e.target) for e in edges] == [("missing", "reader")]


def _combinator_dag(n: int) -> list[PipelineBox]:
    """30 pipelines over 3 repos: chains, joins, crosses of joins, unions of crosses."""
    repos = ["raw", "labels", "lookup"]
    boxes = []
    for i in range(n):
        src = repos[i % 3] if i < 6 else f"p{i - 6:02d}"
        match i % 4:
            case 0:
                spec = pfs(src)
            case 1:
                spec = JoinInput((pfs(src, join_on="$1"), pfs("labels", join_on="$1")))
            case 2:
                spec = CrossInput(
                    (JoinInput((pfs(src, join_on="$1"), pfs("raw", join_on="$1"))), pfs("lookup"))
                )
            case _:
                spec = UnionInput(
                    (CrossInput((pfs(src), pfs("lookup"))), CrossInput((pfs("raw"), pfs("labels"))))
                )
        boxes.append(PipelineBox(f"p{i:02d}", "running", 1, "", spec))
    return boxes


def test_thirty_pipelines_with_combinators_do_not_overlap_and_edges_point_right():
    nodes, edges = dag_graph(["raw", "labels", "lookup"], _combinator_dag(30))
    sizes = {n.name: (SHAPE_W, SHAPE_H) for n in nodes if n.kind in SHAPES}
    assert len(sizes) > 30  # the combinators are nodes of their own
    placed = layout([n.name for n in nodes], [(e.source, e.target) for e in edges], sizes=sizes)
    assert {p.name for p in placed.nodes} == {n.name for n in nodes}
    for p in placed.nodes:
        assert (p.w, p.h) == sizes.get(p.name, (placed.node_w, placed.node_h))
        assert 0 <= p.x and p.x + p.w <= placed.width
        assert 0 <= p.y and p.y + p.h <= placed.height
    ps = list(placed.nodes)
    for i, a in enumerate(ps):
        for b in ps[i + 1 :]:
            apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
            assert apart, (a, b)
    for e in edges:
        a, b = placed.at(e.source), placed.at(e.target)
        assert a.x + a.w < b.x, (e.source, e.target)
        # An edge spanning columns has a lane in each one it crosses, clear of every box.
        lanes = placed.route(e.source, e.target)
        assert [w.layer for w in lanes] == list(range(a.layer + 1, b.layer))
        for w in lanes:
            for p in placed.nodes:
                if p.layer == w.layer:
                    assert w.y + w.h <= p.y or p.y + p.h <= w.y, (e, w, p)
    assert any(placed.route(e.source, e.target) for e in edges)  # the case is exercised


def test_combinators_are_drawn_as_shapes_with_their_tooltip():
    spec = CrossInput((JoinInput((pfs("a", join_on="$1"), pfs("b", join_on="$1"))), pfs("c")))
    nodes, edges = dag_graph(["a", "b", "c"], [PipelineBox("p", "running", 1, "", spec)])
    svg = graph_svg(nodes, edges)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    shapes = {a.get("data-name"): a for a in root.findall(f"{ns}a") if a.get("data-kind")}
    assert set(shapes) == {"p:input", "p:input.0"}
    join, cross = shapes["p:input.0"], shapes["p:input"]
    assert join.find(f"{ns}polygon") is not None and join.find(f"{ns}rect") is None
    assert cross.find(f"{ns}ellipse") is not None
    assert join.find(f"{ns}text").text == "join" and cross.find(f"{ns}text").text == "cross"
    assert "a@master /* join_on $1" in join.find(f"{ns}title").text
    assert len(root.findall(f"{ns}path[@class='edge']")) == len(edges) == 5


def test_a_long_edge_runs_through_a_lane_not_across_the_box_between():
    # raw feeds b directly and through a: raw→b spans one column more than its neighbours.
    nodes, edges = ["raw", "a", "b"], [("raw", "a"), ("a", "b"), ("raw", "b")]
    placed = layout(nodes, edges, node_w=190.0)  # graph_svg's box width
    assert placed.route("raw", "a") == () and placed.route("a", "b") == ()
    (lane,) = placed.route("raw", "b")
    a = placed.at("a")
    assert lane.layer == a.layer and (lane.y + lane.h <= a.y or a.y + a.h <= lane.y)
    assert (lane.x, lane.w) == (a.x, a.w)  # as wide as the column it crosses
    svg = graph_svg(
        [Node("raw", "repo", "/r"), Node("a", "running", "/a"), Node("b", "running", "/b")],
        [Edge(s, d) for s, d in edges],
    )
    root = ET.fromstring(svg)
    paths = {
        (p.get("data-source"), p.get("data-target")): p.get("d")
        for p in root.findall("{http://www.w3.org/2000/svg}path[@class='edge']")
    }
    mid = lane.y + lane.h / 2
    assert f"L{lane.x + lane.w:.1f},{mid:.1f}" in paths[("raw", "b")]
    assert "L" not in paths[("raw", "a")]
