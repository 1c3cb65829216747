"""The DAG page's graph: repos, pipelines, and the input combinators between them. Pure.

A pipeline whose input is one ``pfs`` input gets an arrow straight from the repo. Any other
input is drawn as it is nested: each ``join``, ``cross``, ``union`` and ``group`` is a node
of its own between its inputs and what reads it (the pipeline, or the combinator around it),
so a reader sees which repos are crossed and which are joined. A combinator's tooltip lists
its inputs with their globs and their ``join_on`` / ``group_by`` keys.

Combinator node names are ``<pipeline>:input`` for the pipeline's own input and
``<pipeline>:input.<i>.<j>`` for the ``j``-th input of the ``i``-th one: a repo name cannot
contain ``:`` (pachstream/names.py), so they never clash with a repo or pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pachstream.console._html import seg
from pachstream.console._svg import Edge, Node
from pachstream.dispatch.datums import (
    CrossInput,
    GroupInput,
    Input,
    JoinInput,
    PfsInput,
    UnionInput,
)

KINDS: dict[type, str] = {
    CrossInput: "cross",
    JoinInput: "join",
    UnionInput: "union",
    GroupInput: "group",
}
"""A combinator's kind by its input class (the keys of :data:`._svg.SHAPES`)."""


@dataclass(frozen=True, slots=True)
class PipelineBox:
    """What the DAG shows of one pipeline."""

    name: str
    """The pipeline (and its output repo)."""
    state: str
    """running, stopped, ..."""
    version: int
    """Its current version."""
    input_text: str
    """Its input as the query tables summarise it (the box's tooltip)."""
    input: Input | None
    """Its parsed input; None when this version cannot parse the spec (drawn unconnected)."""
    last_job_state: str | None = None
    """State of its newest job, if any."""


@dataclass(frozen=True, slots=True)
class InputRow:
    """One repo a pipeline reads, for the table under the graph."""

    repo: str
    """The repo read."""
    pipeline: str
    """The pipeline reading it."""
    branch: str
    """The branch read."""
    glob: str
    """The glob that splits it into datums."""
    via: str
    """The combinators around it, outermost first (``cross › join``); empty for none."""


def describe(spec: Input) -> str:
    """One line saying what an input reads: ``images@master /*.png join_on $1`` for a pfs
    input, ``join(a@master /*, b@master /*)`` for a combinator.
    """
    if isinstance(spec, PfsInput):
        text = f"{spec.repo}@{spec.branch} {spec.glob}"
        if spec.name != spec.repo:
            text = f"{spec.name}={text}"
        if spec.join_on:
            text += f" join_on {spec.join_on}" + (" (outer)" if spec.outer_join else "")
        if spec.group_by:
            text += f" group_by {spec.group_by}"
        return text
    return f"{KINDS[type(spec)]}(" + ", ".join(describe(s) for s in spec.inputs) + ")"


def input_graph(pipeline: str, spec: Input) -> tuple[list[Node], list[Edge]]:
    """The combinator nodes of one pipeline's input, and the edges from its repos through
    them to the pipeline.
    """
    nodes: list[Node] = []
    edges: list[Edge] = []
    href = f"/pipeline/{seg(pipeline)}"

    def walk(part: Input, reader: str, path: str) -> None:
        if isinstance(part, PfsInput):
            edges.append(Edge(part.repo, reader, "" if part.branch == "master" else part.branch))
            return
        kind = KINDS[type(part)]
        name = f"{pipeline}:input{path}"
        tip = f"{pipeline}: {kind} of\n" + "\n".join(f"  {describe(s)}" for s in part.inputs)
        nodes.append(Node(name, kind, href, label=kind, tooltip=tip))
        edges.append(Edge(name, reader))
        for i, sub in enumerate(part.inputs):
            walk(sub, name, f"{path}.{i}")

    walk(spec, pipeline, "")
    # A repo read twice by one combinator (a cross of a repo with itself) is one arrow.
    return nodes, list(dict.fromkeys(edges))


def dag_graph(
    repos: Iterable[str], pipelines: Sequence[PipelineBox]
) -> tuple[list[Node], list[Edge]]:
    """Every repo, pipeline and input combinator as nodes, and the edges between them."""
    nodes: dict[str, Node] = {
        r: Node(r, "repo", f"/repo/{seg(r)}", detail="repo") for r in sorted(repos)
    }
    edges: list[Edge] = []
    for p in sorted(pipelines, key=lambda p: p.name):
        last = p.last_job_state or "no job"
        nodes[p.name] = Node(
            p.name,
            "failure" if p.last_job_state == "failure" else p.state,
            f"/pipeline/{seg(p.name)}",
            detail=f"{p.state} · last job {last}",
            tooltip=f"pipeline {p.name} v{p.version}: {p.input_text}",
        )
    for p in pipelines:
        if p.input is None:
            continue
        more_nodes, more_edges = input_graph(p.name, p.input)
        for n in more_nodes:
            nodes[n.name] = n
        for e in more_edges:
            # An input repo that does not exist (yet) is still drawn, as build_dag does.
            nodes.setdefault(e.source, Node(e.source, "repo", f"/repo/{seg(e.source)}", "repo"))
        edges += more_edges
    return list(nodes.values()), list(dict.fromkeys(edges))


def input_rows(pipelines: Sequence[PipelineBox]) -> list[InputRow]:
    """Each (repo, pipeline) reading, with the combinators it goes through."""
    rows: list[InputRow] = []

    def walk(pipeline: str, part: Input, via: tuple[str, ...]) -> None:
        if isinstance(part, PfsInput):
            rows.append(InputRow(part.repo, pipeline, part.branch, part.glob, " › ".join(via)))
            return
        for sub in part.inputs:
            walk(pipeline, sub, (*via, KINDS[type(part)]))

    for p in sorted(pipelines, key=lambda p: p.name):
        if p.input is not None:
            walk(p.name, p.input, ())
    return rows


__all__ = ["KINDS", "InputRow", "PipelineBox", "dag_graph", "describe", "input_graph", "input_rows"]
