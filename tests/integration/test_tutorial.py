"""Pachyderm's beginner tutorial, scripted as a user types it (shell in place of OpenCV).

``images`` → ``edges`` (one output per image) and ``montage``, which crosses ``images`` with
``edges``: the diamond. The user drives it through the CLI (``create repo``, ``put file``,
``create pipeline -f``, ``list job``, ``list commit``, ``list/inspect/wait commitset``,
``get file``); the SDK reads the outputs back to check them, and finds each new pipeline's
first job.

How pachstream counts jobs (Pachyderm 2's model): a commit to ``images`` is the origin of a
commit set, and every pipeline the set reaches runs exactly one job for it. A pipeline that
is created runs once on its inputs as they are then, in a commit set of its own; a pipeline
created after an origin commit never gets a job of that origin's set. So the tutorial's
first image (put before any pipeline exists) has no job, ``create pipeline edges`` and
``create pipeline montage`` each make one, and each of the three later images makes one job
of ``edges`` and one of ``montage``: 4 jobs of each pipeline, 8 in all.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from pachstream.client import Client, JobInfo
from pachstream.settings import Settings
from pachstream.testing.services import RunningStack, run_cli

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

EDGES = {
    "pipeline": {"name": "edges"},
    "description": "A pipeline that 'detects edges': each image upper-cased by tr.",
    "input": {"pfs": {"repo": "images", "glob": "/*"}},
    "transform": {
        "cmd": [
            "sh",
            "-c",
            'for f in /pfs/images/*; do n="${f##*/}"; '
            'tr a-z A-Z < "$f" > "/pfs/out/${n%.png}.edges.png"; done',
        ]
    },
}
# The diamond: montage reads images and edges (a cross of two whole-repo datums) and writes
# one file naming, with its content, every file of both.
MONTAGE = {
    "pipeline": {"name": "montage"},
    "description": "A pipeline that combines images and edges into one montage.",
    "input": {
        "cross": [
            {"pfs": {"repo": "images", "glob": "/"}},
            {"pfs": {"repo": "edges", "glob": "/"}},
        ]
    },
    "transform": {
        "cmd": [
            "sh",
            "-c",
            '{ for f in /pfs/images/*; do echo "images ${f##*/} $(cat "$f")"; done; '
            'for f in /pfs/edges/*; do echo "edges ${f##*/} $(cat "$f")"; done; } '
            "> /pfs/out/montage.txt",
        ]
    },
}
FIRST = ("liberty.png", b"liberty")
# The tutorial's later images, each put in a commit of its own.
MORE = [("AT-AT.png", b"at-at walker"), ("kitten.png", b"kitten"), ("sand.png", b"sand dune")]

TIMEOUT_S = 120
EXPECTED_JOBS = {"edges": 4, "montage": 4}  # 1 on create + 1 per later image (3), each


def _edge_name(image: str) -> str:
    return image.removesuffix(".png") + ".edges.png"


async def _cli(settings: Settings, *args: str) -> str:
    """``pachstream ARGS`` must succeed; its stdout."""
    code, out, err = await run_cli(settings, *args)
    assert code == 0, (args, code, out, err)
    return out


async def _cli_json(settings: Settings, *args: str) -> Any:
    return orjson.loads(await _cli(settings, *args, "--json"))


def _parse_montage(text: bytes) -> tuple[dict[str, str], dict[str, str]]:
    """montage.txt → ({image name: content}, {edges name: content})."""
    images: dict[str, str] = {}
    edges: dict[str, str] = {}
    for line in text.decode().splitlines():
        kind, name, content = line.split(" ", 2)
        {"images": images, "edges": edges}[kind][name] = content
    return images, edges


async def _names(c: Client, commit_ref: str) -> list[str]:
    return sorted(f.path.lstrip("/") for f in await c.list_file(commit_ref, "/"))


async def _check_montage(c: Client, montage_commit: str, images_commit: str) -> list[str]:
    """The montage commit lists exactly the images of ``images_commit`` and their edges (with
    matching content): never one input's new files with the other's old ones."""
    images, edges = _parse_montage(await c.get_file(f"montage@{montage_commit}", "/montage.txt"))
    expected = await _names(c, f"images@{images_commit}")
    assert sorted(images) == expected, (montage_commit, images, expected)
    assert sorted(edges) == sorted(_edge_name(n) for n in expected), (montage_commit, edges)
    for name, content in images.items():
        assert edges[_edge_name(name)] == content.upper(), (montage_commit, name, images, edges)
    return expected


async def _wait_creation_set(settings: Settings, c: Client, pipeline: str) -> JobInfo:
    """After ``create pipeline``: its first job (from ``list job``), then ``wait commitset``
    on that job's set, as a user waits for the set the new pipeline started; the job, ended."""
    job = None
    for _ in range(int(TIMEOUT_S * 4)):
        if (job := await _first_job(c, pipeline)) is not None:
            break
        await asyncio.sleep(0.25)
    assert job is not None, f"no job of {pipeline} after {TIMEOUT_S} s"
    assert job.commitset is not None, job
    code, out, err = await run_cli(
        settings, "wait", "commitset", job.commitset, "--timeout", str(TIMEOUT_S), "--json"
    )
    waited = [(j["pipeline"], j["state"]) for j in orjson.loads(out)] if out.strip() else []
    # The set `create pipeline` started has no input commit of its own: the wait still
    # covers its job (a defect found by this test: it returned while the job ran).
    assert (code, waited) == (0, [(pipeline, "success")]), (job.commitset, code, waited, err)
    ended = await c.wait_job(job.id, TIMEOUT_S)
    assert ended.state == "success", ended
    return ended


async def _first_job(c: Client, pipeline: str) -> JobInfo | None:
    jobs = await c.list_job(pipeline)
    return jobs[-1] if jobs else None


async def test_the_beginner_tutorial_with_its_diamond(stack: RunningStack, tmp_path: Path) -> None:
    s, c = stack.settings, stack.client
    local = tmp_path / "images"
    local.mkdir()
    for name, data in [FIRST, *MORE]:
        (local / name).write_bytes(data)
    (tmp_path / "edges.json").write_bytes(orjson.dumps(EDGES))
    (tmp_path / "montage.json").write_bytes(orjson.dumps(MONTAGE))

    # 1. The input repo and its first image.
    assert await _cli(s, "create", "repo", "images") == ""
    first = (
        await _cli(s, "put", "file", f"images@master:/{FIRST[0]}", "-f", str(local / FIRST[0]))
    ).strip()
    assert [r["name"] for r in await _cli_json(s, "list", "repo")] == ["images"]
    assert [x["id"] for x in await _cli_json(s, "list", "commit", "images")] == [first]
    assert [f["path"] for f in await _cli_json(s, "list", "file", "images@master:/")] == [
        "/liberty.png"
    ]

    # 2. edges: created after the image, it runs once on it, in a commit set of its own.
    assert await _cli(s, "create", "pipeline", "-f", str(tmp_path / "edges.json")) == "edges\n"
    edges_create = await _wait_creation_set(s, c, "edges")
    assert edges_create.commitset not in (None, first), edges_create
    jobs = await _cli_json(s, "list", "job")
    assert [(j["pipeline"], j["state"]) for j in jobs] == [("edges", "success")], jobs
    assert await _names(c, "edges@master") == ["liberty.edges.png"]
    assert await c.get_file("edges@master", "/liberty.edges.png") == b"LIBERTY"
    # The first image's own set was made before any pipeline: it reached nothing.
    first_set = await _cli_json(s, "inspect", "commitset", first)
    assert [x["repo"] for x in first_set["commits"]] == ["images"] and first_set["jobs"] == []

    # 3. montage, the diamond: also one job of its own set, on images and edges as they are.
    assert await _cli(s, "create", "pipeline", "-f", str(tmp_path / "montage.json")) == "montage\n"
    montage_create = await _wait_creation_set(s, c, "montage")
    assert montage_create.commitset not in (None, first, edges_create.commitset)
    assert await _check_montage(c, "master", "master") == ["liberty.png"]
    got = await _cli(s, "get", "file", "montage@master:/montage.txt")
    assert got == "images liberty.png liberty\nedges liberty.edges.png LIBERTY\n", got
    assert [x.repo for x in (await c.inspect_commitset(montage_create.commitset)).commits] == [
        "montage"
    ]

    # 4. More images, one commit each, as the tutorial adds them; each set is waited on.
    origins: list[str] = []
    present = [FIRST[0]]
    for name, _ in MORE:
        present.append(name)
        origin = (
            await _cli(s, "put", "file", f"images@master:/{name}", "-f", str(local / name))
        ).strip()
        origins.append(origin)
        waited = await _cli_json(s, "wait", "commitset", origin, "--timeout", str(TIMEOUT_S))
        assert [(j["pipeline"], j["state"], j["commitset"]) for j in waited] == [
            ("edges", "success", origin),
            ("montage", "success", origin),
        ], (name, waited)
        # The set's commit in each repo, by the origin's id (Pachyderm's global ids).
        assert await _check_montage(c, origin, origin) == sorted(present), name
        assert await _names(c, f"edges@{origin}") == sorted(_edge_name(n) for n in present)

    # 5. Exactly one job per pipeline per origin (and one per create): the counts, stated.
    jobs = await _cli_json(s, "list", "job")
    by_pipeline = {p: [j for j in jobs if j["pipeline"] == p] for p in EXPECTED_JOBS}
    assert {p: len(js) for p, js in by_pipeline.items()} == EXPECTED_JOBS, jobs
    assert len(jobs) == sum(EXPECTED_JOBS.values()) == 8, jobs
    assert {j["state"] for j in jobs} == {"success"}, jobs
    assert sorted(j["commitset"] for j in by_pipeline["edges"]) == sorted(
        [edges_create.commitset, *origins]
    ), jobs
    assert sorted(j["commitset"] for j in by_pipeline["montage"]) == sorted(
        [montage_create.commitset, *origins]
    ), jobs
    for p in EXPECTED_JOBS:
        per_pipeline = await _cli_json(s, "list", "job", "-p", p)
        assert [j["id"] for j in per_pipeline] == [j["id"] for j in by_pipeline[p]], per_pipeline
    # The table users read: every job, newest first, each succeeded.
    table = await _cli(s, "list", "job")
    assert [line.split()[0] for line in table.splitlines()[1:] if line.strip()] == [
        j["id"] for j in jobs
    ], table
    assert table.count("success") == 8, table

    # 6. list commit, as the tutorial shows each repo: 4 commits in every one.
    history = {
        r: await _cli_json(s, "list", "commit", f"{r}@master") for r in ("images", *EXPECTED_JOBS)
    }
    for repo, commits in history.items():
        assert len(commits) == 4 and all(x["finished"] for x in commits), (repo, commits)
    assert [x["id"] for x in history["images"]] == [*reversed(origins), first]
    table = await _cli(s, "list", "commit", "montage")
    assert all(x["id"] in table for x in history["montage"]), table

    # 7. Every montage commit is consistent: its images are those of the images commit its
    # job read, its edges are those images' edges, and its edges input is that set's edges.
    montage_jobs = {j["output_commit"]: j for j in by_pipeline["montage"]}
    edges_jobs = {j["output_commit"]: j for j in by_pipeline["edges"]}
    seen_images = []
    for commit in await c.list_commit("montage"):
        job = montage_jobs[commit.id]
        inputs = {i["repo"]: i["commit"] for i in job["inputs"]}
        names = await _check_montage(c, commit.id, inputs["images"])
        assert await _names(c, f"edges@{inputs['edges']}") == sorted(_edge_name(n) for n in names)
        edges_job = edges_jobs[inputs["edges"]]
        assert edges_job["inputs"][0]["commit"] == inputs["images"], (job, edges_job)
        seen_images.append(names)
    assert seen_images == [
        ["AT-AT.png", "kitten.png", "liberty.png", "sand.png"],
        ["AT-AT.png", "kitten.png", "liberty.png"],
        ["AT-AT.png", "liberty.png"],
        ["liberty.png"],
    ], seen_images

    # 8. The commit sets, as list commitset and inspect commitset show them.
    sets = await _cli_json(s, "list", "commitset")
    assert [x["id"] for x in sets] == [
        *reversed(origins),
        montage_create.commitset,
        edges_create.commitset,
        first,
    ], [x["id"] for x in sets]
    for x in sets[:3]:
        assert [m["repo"] for m in x["commits"]] == ["images", "edges", "montage"], x
        assert [j["pipeline"] for j in x["jobs"]] == ["edges", "montage"] and x["finished"], x
    table = await _cli(s, "list", "commitset")
    assert all(o in table for o in origins), table
    last = await _cli_json(s, "inspect", "commitset", origins[-1])
    assert last["id"] == origins[-1] and last["finished"], last
    assert [(m["repo"], m["branch"]) for m in last["commits"]] == [
        ("images", "master"),
        ("edges", "master"),
        ("montage", "master"),
    ], last
    assert last["commits"][0]["id"] == origins[-1]
    heads = {r: (await c.inspect_commit(f"{r}@master")).id for r in ("images", "edges", "montage")}
    assert {m["repo"]: m["id"] for m in last["commits"]} == heads, (last, heads)
    assert {j["output_commit"] for j in last["jobs"]} == {heads["edges"], heads["montage"]}
    shown = await _cli(s, "inspect", "commitset", origins[-1])
    assert all(heads[r] in shown for r in heads), shown

    # Last, so that one product bug does not hide the checks above.
