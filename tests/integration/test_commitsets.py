"""Commit sets across a DAG (Pachyderm's beginner tutorial shape, shell in place of OpenCV):
one job per pipeline per origin commit, and no output ever mixes an old and a new input."""

from __future__ import annotations

import shutil

import pytest

from pachstream.errors import OutputRepo
from pachstream.testing.services import RunningStack

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

EDGES = {
    "pipeline": {"name": "edges"},
    "input": {"pfs": {"repo": "images", "glob": "/*"}},
    "transform": {"cmd": ["sh", "-c", 'for f in /pfs/images/*; do cp "$f" /pfs/out/; done']},
}
# montage crosses images and edges: the diamond. Its one file lists both inputs' files.
MONTAGE = {
    "pipeline": {"name": "montage"},
    "input": {
        "cross": [{"pfs": {"repo": "images", "glob": "/"}}, {"pfs": {"repo": "edges", "glob": "/"}}]
    },
    "transform": {
        "cmd": [
            "sh",
            "-c",
            "(cd /pfs/images && ls) > /pfs/out/images.txt; "
            "(cd /pfs/edges && ls) > /pfs/out/edges.txt",
        ]
    },
}
# A third level: summary reads montage and an independent repo.
SUMMARY = {
    "pipeline": {"name": "summary"},
    "input": {
        "cross": [
            {"pfs": {"repo": "montage", "glob": "/"}},
            {"pfs": {"repo": "labels", "glob": "/"}},
        ]
    },
    "transform": {
        "cmd": ["sh", "-c", "cat /pfs/montage/images.txt /pfs/labels/* > /pfs/out/all.txt"]
    },
}


async def test_a_diamond_and_three_levels_run_once_per_origin_commit(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("images")
    await c.create_repo("labels")
    await c.put_file("labels@master", "/l.txt", b"label\n")
    await c.put_file("images@master", "/a.png", b"A")
    for spec in (EDGES, MONTAGE, SUMMARY):
        await c.create_pipeline(spec)
    first = await c.inspect_commit("images@master")
    await c.flush("images", first.id, timeout_s=180)  # the pipelines' first jobs
    # Four image commits in a row, no waiting: each is an origin of its own set.
    origins = []
    for name in ("b", "c", "d", "e"):
        origins.append(await c.put_file("images@master", f"/{name}.png", name.encode()))
    for origin in origins:
        try:
            jobs = await c.wait_commitset_id(origin, 120)
        except Exception as exc:
            dump = {
                n: [(j.commitset, j.state, j.inputs) for j in await c.list_job(n)]
                for n in ("edges", "montage", "summary")
            }
            raise AssertionError((origin, origins, dump)) from exc
        assert sorted(j.pipeline for j in jobs) == ["edges", "montage", "summary"], jobs
        assert {j.state for j in jobs} == {"success"}, jobs
        # The set's commit in every repo, by the origin's id (Pachyderm's global ids).
        montage = await c.inspect_commit(f"montage@{origin}")
        images = await c.get_file(f"montage@{montage.id}", "/images.txt")
        assert images == await c.get_file(f"montage@{montage.id}", "/edges.txt"), origin
        assert images.decode().split()[-1] == f"{'bcde'[origins.index(origin)]}.png"
        s = await c.inspect_commitset(origin)
        assert sorted(x.repo for x in s.commits) == ["edges", "images", "montage", "summary"]
        assert s.finished and len(s.jobs) == 3
    # Exactly one job per pipeline per origin commit, and every montage output is consistent.
    for name in ("edges", "montage", "summary"):
        sets = [j.commitset for j in await c.list_job(name)]
        assert all(sets.count(o) == 1 for o in origins), (name, sets)
    montage_jobs = [(j.commitset, j.inputs, j.output_commit) for j in await c.list_job("montage")]
    for commit in await c.list_commit("montage"):
        assert await c.get_file(f"montage@{commit.id}", "/images.txt") == await c.get_file(
            f"montage@{commit.id}", "/edges.txt"
        ), (
            commit,
            montage_jobs,
            [(j.commitset, j.inputs, j.output_commit) for j in await c.list_job("edges")],
        )
    # A commit to the independent repo reaches only summary.
    other = await c.put_file("labels@master", "/m.txt", b"more\n")
    assert [j.pipeline for j in await c.wait_commitset_id(other, 120)] == ["summary"]
    assert (await c.list_commitset(limit=1))[0].id == other


async def test_an_output_repo_takes_writes_only_from_its_pipeline(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("images")
    cid = await c.put_file("images@master", "/a.png", b"A")
    await c.create_pipeline(EDGES)
    # Right after create pipeline, waiting on the output branch waits for its first commit.
    await c.wait_commit("edges@master", timeout_s=120)
    # The dispatcher reads the request and the commit from two topics: when it saw the request
    # first, the commit makes a job of its own. The head the refused write must leave is the
    # one after every job of the input commit.
    await c.flush("images", cid, timeout_s=120)
    head = await c.inspect_commit("edges@master")
    with pytest.raises(OutputRepo, match="repo 'edges' is the output of pipeline 'edges'"):
        await c.put_file("edges@master", "/hack.txt", b"x")
    assert [f.path for f in await c.list_file("edges@master", "/")] == ["/a.png"]
    assert (await c.inspect_commit("edges@master")).id == head.id


async def test_deletes_are_guarded_names_are_reusable_and_reruns_never_go_back(
    stack: RunningStack,
) -> None:
    from pachstream.errors import Conflict

    c = stack.client
    await c.create_repo("images")
    await c.put_file("images@master", "/a.png", b"A")
    await c.create_pipeline(EDGES)
    await c.create_pipeline(MONTAGE)
    first = await c.wait_commitset_id((await c.inspect_commit("images@master")).id, 120)
    await c.wait_commit("montage@master", timeout_s=120)
    with pytest.raises(
        Conflict, match="pipeline 'edges' is read by pipeline\\(s\\) 'montage'.*--force"
    ):
        await c.delete_pipeline("edges")
    with pytest.raises(
        Conflict, match="repo 'images' is read by pipeline\\(s\\) 'edges', 'montage'"
    ):
        await c.delete_repo("images")
    with pytest.raises(OutputRepo, match="delete the pipeline"):
        await c.delete_repo("edges")
    # A rerun of a job that is not the last would move the output back behind newer work.
    old = (await c.list_job("edges"))[-1]
    later = await c.put_file("images@master", "/b.png", b"B")
    await c.flush("images", later, timeout_s=120)
    with pytest.raises(Conflict, match=f"job {old.id} is not the last job of pipeline 'edges'"):
        await c.rerun_job(old.id)
    assert [f.path for f in await c.list_file("edges@master", "/")] == ["/a.png", "/b.png"]
    # Deleted, then created again under the same name: a new version that runs.
    await c.delete_pipeline("montage")
    await c.delete_pipeline("edges")
    await c.create_pipeline(EDGES)
    again = await c.inspect_pipeline("edges")
    assert again.version == 2 and again.state == "running", again
    assert [p.name for p in await c.list_pipeline()] == ["edges"]
    await c.wait_commit("edges@master", timeout_s=120)
    assert [f.path for f in await c.list_file("edges@master", "/")] == ["/a.png", "/b.png"]
    # --force: the repo goes, the pipeline reading it is stopped, and says so.
    assert await c.delete_repo("images", force=True) == ["stopped pipeline edges"]
    await c._wait_until(lambda: _state_is(c, "edges", "stopped"), "edges stopped", 60)
    assert first is not None


async def _state_is(c, name: str, state: str):
    return True if (await c.inspect_pipeline(name)).state == state else None
