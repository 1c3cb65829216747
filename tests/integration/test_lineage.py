"""File-level lineage on a three-stage DAG, checked against a brute-force walk of the raw
datum tables, through the SDK, the SQL functions and the CLI."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import orjson
import pytest

from pachstream.client import Client, Lineage
from pachstream.errors import FileNotFound, InvalidInput
from pachstream.testing.services import RunningStack, run_cli

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

# raw → upper (a datum per file) → grouped (a datum per prefix: x-1 and x-2 make x.cat)
#     → final (a datum per grouped file, crossed with config's one file). Every output's
# content differs with its inputs, so the brute force below can follow content alone.
DAG = """
pipeline: {name: upper}
input: {pfs: {repo: raw, glob: "/*"}}
transform:
  cmd: [sh, -c, 'for f in /pfs/raw/*; do tr a-z A-Z < "$f" > "/pfs/out/$(basename "$f")"; done']
---
pipeline: {name: grouped}
input: {group: [{pfs: {repo: upper, glob: "/(*)-*", group_by: "$1"}}]}
transform:
  cmd: [sh, -c, 'for f in /pfs/upper/*; do k=$(basename "$f"); k=${k%%-*};
                   cat "$f" >> "/pfs/out/$k.cat"; done']
---
pipeline: {name: final}
input:
  cross:
  - {pfs: {repo: grouped, glob: "/*"}}
  - {pfs: {repo: config, glob: "/"}}
transform:
  cmd: [sh, -c, 'for f in /pfs/grouped/*; do
                   (cat /pfs/config/cfg; cksum < "$f") > "/pfs/out/$(basename "$f").n"; done']
"""

RAW = {
    "/x-1": b"one\n",
    "/x-2": b"two\nlines\n",
    "/y-1": b"why\n",
    "/y-2": b"not\n",
    "/z-1": b"zed\n",
}

Node = tuple[str, str, str]  # (repo, path, content hash)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _edges(c: Client) -> set[tuple[Node, Node]]:
    """Brute force: every (output file, input file) pair of every datum of a successful job,
    straight from the datum rows' JSON (not from the lineage tables under test)."""
    rows = await c._pool.fetch(
        "SELECT d.inputs, d.outputs, j.pipeline FROM datums d JOIN jobs j ON j.id = d.job_id "
        "WHERE j.state = 'success' AND d.state = 'success'"
    )
    edges = set()
    for r in rows:
        ins = [
            (i["repo"], path, digest)
            for i in orjson.loads(r["inputs"])
            for path, digest in i["files"]
        ]
        for path, digest, _ in orjson.loads(r["outputs"]):
            edges.update(((r["pipeline"], path, digest), i) for i in ins)
    return edges


def _closure(edges: set[tuple[Node, Node]], start: Node, *, up: bool) -> set[Node]:
    seen: set[Node] = set()
    frontier = {start}
    while frontier:
        nxt = {
            (i if up else o)
            for o, i in edges
            if (o if up else i) in frontier and (i if up else o) not in seen
        }
        seen |= nxt
        frontier = nxt
    return seen


def _nodes(answer: Lineage) -> set[Node]:
    return {(f.repo, f.path, f.hash) for f in answer.files()}


async def _check_against_brute_force(c: Client) -> None:
    edges = await _edges(c)
    for ref in ("final@master:/x.cat.n", "final@master:/y.cat.n", "grouped@master:/z.cat"):
        answer = await c.upstream(ref)
        start = (answer.file.repo, answer.file.path, answer.file.hash)
        assert _nodes(answer) == _closure(edges, start, up=True), ref
    for ref in ("raw@master:/x-1", "raw@master:/z-1", "config@master:/cfg", "upper@master:/y-2"):
        answer = await c.downstream(ref)
        start = (answer.file.repo, answer.file.path, answer.file.hash)
        assert _nodes(answer) == _closure(edges, start, up=False), ref


async def test_three_stage_lineage_names_exactly_the_files_that_fed_it(
    stack: RunningStack,
) -> None:
    c = stack.client
    await c.create_repo("raw")
    await c.create_repo("config")
    await c.put_file("config@master", "/cfg", b"v1\n")
    first = await c.put_files("raw@master", sorted(RAW.items()))
    await c.create_pipeline(DAG)
    jobs = await c.flush("raw", first, timeout_s=180)
    assert [(j.pipeline, j.state) for j in jobs] == [
        ("upper", "success"),
        ("grouped", "success"),
        ("final", "success"),
    ], jobs
    assert (await c.get_file("final@master", "/x.cat.n")).startswith(b"v1\n")

    # Upstream of one final file: exactly x's files, the config, and nothing of y or z.
    up = await c.upstream("final@master:/x.cat.n")
    assert _nodes(up) == {
        ("grouped", "/x.cat", _sha(b"ONE\nTWO\nLINES\n")),
        ("config", "/cfg", _sha(b"v1\n")),
        ("upper", "/x-1", _sha(b"ONE\n")),
        ("upper", "/x-2", _sha(b"TWO\nLINES\n")),
        ("raw", "/x-1", _sha(RAW["/x-1"])),
        ("raw", "/x-2", _sha(RAW["/x-2"])),
    }
    assert {(f.repo, f.path) for f in up.ends} == {
        ("raw", "/x-1"),
        ("raw", "/x-2"),
        ("config", "/cfg"),
    }
    by_depth = {e.depth: e for e in up.edges}
    assert [by_depth[d].pipeline for d in (1, 2, 3)] == ["final", "grouped", "upper"]
    assert all(e.version == 1 for e in up.edges)
    final_job = next(j for j in jobs if j.pipeline == "final")
    assert {e.job_id for e in up.edges if e.depth == 1} == {final_job.id}
    assert (await c.upstream("final@master:/x.cat.n", depth=1)).files() == {
        e.input for e in up.edges if e.depth == 1
    }

    down = await c.downstream("raw@master:/y-2")
    assert {(f.repo, f.path) for f in down.files()} == {
        ("upper", "/y-2"),
        ("grouped", "/y.cat"),
        ("final", "/y.cat.n"),
    }
    assert [(f.repo, f.path) for f in down.ends] == [("final", "/y.cat.n")]
    config_down = await c.downstream("config@master:/cfg")
    assert {f.path for f in config_down.files()} == {"/x.cat.n", "/y.cat.n", "/z.cat.n"}
    await _check_against_brute_force(c)

    # One changed input: its new version has the new lineage; the skipped datums keep the
    # producers of the earlier jobs; the old version's lineage is still there.
    second = await c.put_file("raw@master", "/x-1", b"uno\n")
    jobs = await c.flush("raw", second, timeout_s=180)
    assert [(j.pipeline, j.processed) for j in jobs] == [
        ("upper", 1),
        ("grouped", 1),
        ("final", 1),
    ], jobs
    up = await c.upstream("final@master:/x.cat.n")
    assert ("raw", "/x-1", _sha(b"uno\n")) in _nodes(up)
    assert ("raw", "/x-1", _sha(b"one\n")) not in _nodes(up)
    y_up = await c.upstream("final@master:/y.cat.n")
    assert ("raw", "/y-1", _sha(RAW["/y-1"])) in _nodes(y_up)
    assert {e.job_id for e in y_up.edges if e.depth == 1} == {final_job.id}  # skipped since
    old = await c.upstream(f"final@{final_job.output_commit}:/x.cat.n")
    assert ("raw", "/x-1", _sha(b"one\n")) in _nodes(old)
    await _check_against_brute_force(c)

    # Commit provenance, both ways, transitively.
    lin = await c.commit_lineage("final@master")
    assert {(e.depth, e.input_repo) for e in lin.provenance} == {
        (1, "grouped"),
        (1, "config"),
        (2, "upper"),
        (3, "raw"),
    }
    assert lin.subvenance == ()
    raw_lin = await c.commit_lineage(f"raw@{second}")
    assert [(e.depth, e.repo) for e in raw_lin.subvenance] == [
        (1, "upper"),
        (2, "grouped"),
        (3, "final"),
    ]

    # The same answers as SQL a user runs in psql.
    head = (await c.inspect_commit("final@master")).id
    rows = await c._pool.fetch(
        "SELECT DISTINCT input_repo, input_path FROM lineage_upstream('final', $1, '/x.cat.n') "
        "ORDER BY 1, 2",
        head,
    )
    assert len(rows) == len({(f.repo, f.path) for f in up.files()})

    # Every example query of the docs runs, and the first names the source files.
    docs = (Path(__file__).parents[2] / "docs" / "lineage.md").read_text()
    examples = re.findall(r"```sql\n(.*?)```", docs, re.S)
    assert len(examples) >= 6
    answers = []
    for sql in examples:
        sql = sql.replace("<output commit>", head).replace("<commit id>", head)
        async with c._pool.acquire() as conn:
            for statement in filter(str.strip, sql.split(";")):
                answers.append(await conn.fetch(statement))
    assert {(r["input_repo"], r["input_path"]) for r in answers[0]} == {
        ("raw", "/x-1"),
        ("raw", "/x-2"),
        ("config", "/cfg"),
    }

    # Bad questions get one clear error.
    with pytest.raises(FileNotFound, match="/nope"):
        await c.upstream("final@master:/nope")
    with pytest.raises(InvalidInput, match="depth 0"):
        await c.upstream("final@master:/x.cat.n", depth=0)

    # The CLI: a tree for people, JSON for scripts.
    code, out, err = await run_cli(stack.settings, "lineage", "upstream", "final@master:/x.cat.n")
    assert code == 0, err
    assert "/x-1" in out and "pipeline upper" in out and "/y-1" not in out
    assert "3 source files" in out
    code, out, err = await run_cli(
        stack.settings, "lineage", "downstream", "raw@master:/z-1", "--json"
    )
    assert code == 0, err
    assert {(o["output"]["repo"], o["output"]["path"]) for o in orjson.loads(out)["edges"]} == {
        ("upper", "/z-1"),
        ("grouped", "/z.cat"),
        ("final", "/z.cat.n"),
    }
    code, out, err = await run_cli(stack.settings, "lineage", "commit", "final@master")
    assert code == 0 and "Provenance" in out and "raw@" in out, err
    code, out, err = await run_cli(stack.settings, "lineage", "upstream", "final@master:/nope")
    assert code == 1 and err.startswith("error: ") and "/nope" in err
