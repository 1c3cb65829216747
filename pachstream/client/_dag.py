"""The pipeline DAG of a namespace, and its text drawing (``draw pipeline``). Pure.

Nodes are repos; a repo that is a pipeline's output is a pipeline node. An edge goes from
each input repo of a pipeline to the pipeline, labelled with the branches it reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

ARROW = "─▶"
"""Between a repo and a pipeline that reads it."""


@dataclass(frozen=True, slots=True)
class DagNode:
    """A repo or a pipeline (the output repo of a pipeline is that node)."""

    name: str
    """Repo or pipeline name."""
    kind: Literal["repo", "pipeline"]
    """``pipeline`` when a pipeline makes this repo."""
    state: str | None = None
    """The pipeline's state (running, stopped); None for a repo."""


@dataclass(frozen=True, slots=True)
class DagEdge:
    """``source`` feeds the pipeline ``target``."""

    source: str
    """Input repo (or upstream pipeline)."""
    target: str
    """The pipeline reading it."""
    branches: tuple[str, ...]
    """The branches of ``source`` it reads, sorted."""


@dataclass(frozen=True, slots=True)
class Dag:
    """Nodes by name and edges sorted by (source, target)."""

    nodes: tuple[DagNode, ...]
    """Every repo and pipeline, by name."""
    edges: tuple[DagEdge, ...] = field(default=())
    """Every input edge."""

    def draw(self) -> list[str]:
        """The text drawing ``draw pipeline`` prints, one line per item (see :func:`draw`)."""
        return draw(self)

    def to_json(self) -> dict[str, Any]:
        """``{"nodes": [...], "edges": [{"from", "to", "branches"}]}``."""
        return {
            "nodes": [{"name": n.name, "kind": n.kind, "state": n.state} for n in self.nodes],
            "edges": [
                {"from": e.source, "to": e.target, "branches": list(e.branches)} for e in self.edges
            ],
        }


def build_dag(
    repos: Iterable[str], pipelines: Iterable[tuple[str, str, Iterable[tuple[str, str]]]]
) -> Dag:
    """The DAG of ``repos`` and ``pipelines`` given as (name, state, [(input repo, branch)])."""
    kinds: dict[str, DagNode] = {r: DagNode(r, "repo") for r in repos}
    branches: dict[tuple[str, str], set[str]] = {}
    for name, state, inputs in pipelines:
        kinds[name] = DagNode(name, "pipeline", state)
        for repo, branch in inputs:
            kinds.setdefault(repo, DagNode(repo, "repo"))
            branches.setdefault((repo, name), set()).add(branch)
    edges = tuple(DagEdge(s, t, tuple(sorted(b))) for (s, t), b in sorted(branches.items()))
    return Dag(tuple(kinds[n] for n in sorted(kinds)), edges)


def draw(dag: Dag) -> list[str]:
    """The DAG as an indented tree from each source repo, one node per line.

    For example::

        images
        └─▶ edges  (pipeline, running)
            └─▶ montage  (pipeline, running)

    A pipeline fed by several inputs appears under each; after the first time its subtree is
    not repeated (``↑`` marks it).
    """
    children: dict[str, list[DagEdge]] = {}
    fed = set()
    for e in dag.edges:
        children.setdefault(e.source, []).append(e)
        fed.add(e.target)
    by_name = {n.name: n for n in dag.nodes}
    roots = [n.name for n in dag.nodes if n.name not in fed]
    # A cycle has no root: start from its smallest name so that nothing is left out.
    lines: list[str] = []
    drawn: set[str] = set()

    def label(name: str, edge: DagEdge | None) -> str:
        node = by_name[name]
        parts: list[str] = [node.kind] if node.kind == "pipeline" else []
        if node.state:
            parts.append(node.state)
        if edge is not None and edge.branches != ("master",):
            parts.append("reads " + ",".join(edge.branches))
        return name + (f"  ({', '.join(parts)})" if parts else "")

    def walk(name: str, edge: DagEdge | None, indent: str, last: bool, top: bool) -> None:
        lead = "" if top else indent + ("└" if last else "├") + ARROW + " "
        if name in drawn and not top:
            lines.append(lead + name + "  ↑")
            return
        lines.append(lead + label(name, edge))
        drawn.add(name)
        below = indent if top else indent + ("    " if last else "│   ")
        kids = children.get(name, [])
        for i, e in enumerate(kids):
            walk(e.target, e, below, i == len(kids) - 1, False)

    for root in roots:
        walk(root, None, "", True, True)
    for n in dag.nodes:
        if n.name not in drawn:
            walk(n.name, None, "", True, True)
    return lines


def topological(dag: Dag) -> list[str]:
    """Pipeline names, each after every pipeline it reads from (ties by name)."""
    pipelines = {n.name for n in dag.nodes if n.kind == "pipeline"}
    needs = {
        p: {e.source for e in dag.edges if e.target == p and e.source in pipelines}
        for p in pipelines
    }
    order: list[str] = []
    while needs:
        ready = sorted(p for p, deps in needs.items() if not deps - set(order))
        if not ready:  # a cycle: keep going in name order rather than lose pipelines
            ready = [min(needs)]
        for p in ready:
            order.append(p)
            del needs[p]
    return order


__all__ = ["ARROW", "Dag", "DagEdge", "DagNode", "build_dag", "draw", "topological"]
