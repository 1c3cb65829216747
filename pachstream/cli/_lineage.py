"""``pachstream lineage upstream|downstream|commit``: lineage as a Rich tree, or ``--json``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from pachstream.cli._app import lineage_app
from pachstream.cli._output import JSON, _call, _print_json, out
from pachstream.lineage.queries import DEFAULT_DEPTH, tree

if TYPE_CHECKING:
    from pachstream.lineage.queries import FileVersion, Lineage, TreeNode

DEPTH = typer.Option(DEFAULT_DEPTH, "--depth", "-d", min=1, help="Levels to follow at most.")


def _file(f: FileVersion) -> str:
    commit = f.commit or "(empty)"
    return f"[bold]{escape(f.repo)}[/]@{commit}:{escape(f.path)} [dim]{f.hash[:12]}[/]"


def _grow(branch: Tree, node: TreeNode, up: bool) -> None:
    for edge, files in node.datums:
        label = (
            f"[cyan]datum {edge.datum_id}[/] of job {edge.job_id} "
            f"(pipeline [bold]{escape(edge.pipeline)}[/] v{edge.version}"
            + (f", input {escape(edge.input_name)})" if up else ")")
        )
        datum = branch.add(label)
        for child in files:
            seen = " [dim](shown above)[/]" if child.repeated else ""
            leaf = datum.add(_file(child.file) + seen)
            _grow(leaf, child, up)


def _show(answer: Lineage) -> None:
    up = answer.direction == "upstream"
    root = Tree(_file(answer.file))
    _grow(root, tree(answer), up)
    out.print(root)
    what = "source files" if up else "final outputs"
    if not answer.edges:
        made = "made by no datum (put by a user)" if up else "read by no datum"
        out.print(f"no lineage: this file was {made}")
        return
    out.print(f"{len(answer.ends)} {what}, {len(answer.edges)} edges")


@lineage_app.command("upstream")
def upstream(file_ref: str, depth: int = DEPTH, as_json: bool = JSON) -> None:
    """Every input file, datum, job and pipeline version behind REPO@REF:/PATH."""
    answer = _call(lambda c: c.upstream(file_ref, depth))
    if as_json:
        return _print_json(answer.to_json())
    _show(answer)


@lineage_app.command("downstream")
def downstream(file_ref: str, depth: int = DEPTH, as_json: bool = JSON) -> None:
    """Every output derived from REPO@REF:/PATH."""
    answer = _call(lambda c: c.downstream(file_ref, depth))
    if as_json:
        return _print_json(answer.to_json())
    _show(answer)


@lineage_app.command("commit")
def commit(commit_ref: str, depth: int = DEPTH, as_json: bool = JSON) -> None:
    """A commit's provenance (input commits behind it) and subvenance (commits made from it)."""
    answer = _call(lambda c: c.commit_lineage(commit_ref, depth))
    if as_json:
        return _print_json(answer.to_json())
    for title, edges in (("Provenance", answer.provenance), ("Subvenance", answer.subvenance)):
        table = Table("DEPTH", "COMMIT", "MADE BY JOB", "FROM INPUT", "INPUT COMMIT", box=None)
        for e in edges:
            table.add_row(
                str(e.depth),
                f"{e.repo}@{e.commit}",
                e.job_id,
                e.input_name,
                f"{e.input_repo}@{e.input_commit or '(empty)'} ({e.input_branch})",
            )
        out.print(f"{title} of {answer.repo}@{answer.commit}: {len(edges)}")
        if edges:
            out.print(table)
