"""pachctl's history commands end to end: delete commit, squash commit, stop job.

Each is checked where users look: the branch head, file listings and reads (answered from
Postgres), the commit history, downstream pipelines' outputs, and a restart of the stack's
processors (their state must agree with the facts)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from pachstream.errors import Conflict, NotFound
from pachstream.testing.services import RunningStack

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

COPY = {
    "pipeline": {"name": "copy"},
    "input": {"pfs": {"repo": "data", "glob": "/*"}},
    "transform": {"cmd": ["sh", "-c", 'for f in /pfs/data/*; do cp "$f" /pfs/out/; done']},
}
SLOW = {
    "pipeline": {"name": "slow"},
    "input": {"pfs": {"repo": "data", "glob": "/*"}},
    "transform": {"cmd": ["sh", "-c", "sleep 3"]},
}


async def _paths(c, ref: str) -> list[str]:
    return [f.path for f in await c.list_file(ref, "/")]


async def test_delete_commit_moves_the_branch_back_and_downstream_follows(
    stack: RunningStack,
) -> None:
    c = stack.client
    await c.create_repo("data")
    await c.put_file("data@master", "/a", b"A")
    await c.create_pipeline(COPY)
    await c.wait_commit("copy@master", timeout_s=120)
    keep = await c.put_file("data@master", "/b", b"B")
    await c.wait_commitset_id(keep, 120)
    bad = await c.put_file("data@master", "/oops", b"X")
    await c.wait_commitset_id(bad, 120)
    assert await _paths(c, "copy@master") == ["/a", "/b", "/oops"]

    # A commit with a child is refused, naming squash.
    with pytest.raises(Conflict, match=f"commit '{keep}' of repo 'data' has child commit.*squash"):
        await c.delete_commit(f"data@{keep}")

    gone = await c.delete_commit("data@master")
    assert gone.id == bad
    assert (await c.inspect_commit("data@master")).id == keep
    assert await _paths(c, "data@master") == ["/a", "/b"]
    assert bad not in [x.id for x in await c.list_commit("data")]
    with pytest.raises(NotFound, match="neither a branch nor a commit of repo 'data'"):
        await c.delete_commit(f"data@{bad}")
    # The pipeline runs on the restored head: its output drops the deleted file.
    for _ in range(240):
        if await _paths(c, "copy@master") == ["/a", "/b"]:
            break
        await asyncio.sleep(0.5)
    assert await _paths(c, "copy@master") == ["/a", "/b"]
    assert (await c.list_job("copy"))[0].state == "success"

    # An open commit is dropped with its writes.
    await c.start_commit("data@master")
    await c.put_file("data@master", "/draft", b"D")
    await c.delete_commit("data@master")
    assert (await c.inspect_commit("data@master")).id == keep
    after = await c.put_file("data@master", "/c", b"C")
    assert (await c.inspect_commit(f"data@{after}")).parent == keep
    await c.wait_commitset_id(after, 120)
    assert await _paths(c, "copy@master") == ["/a", "/b", "/c"]


async def test_squash_keeps_the_data_in_the_child_and_survives_a_restart(
    stack: RunningStack,
) -> None:
    c = stack.client
    await c.create_repo("data")
    one = await c.put_file("data@master", "/a", b"A")
    two = await c.put_file("data@master", "/b", b"B")
    three = await c.put_file("data@master", "/a", b"A2")
    with pytest.raises(Conflict, match="no children"):
        await c.squash_commit("data@master")

    await c.squash_commit(f"data@{two}")
    history = [x.id for x in await c.list_commit("data")]
    assert history == [three, one]
    child = await c.inspect_commit(f"data@{three}")
    # Its diff is now against the new parent: /a modified, /b added.
    assert (child.parent, child.added, child.modified, child.deleted) == (one, 1, 1, 0)
    assert await _paths(c, "data@master") == ["/a", "/b"]
    assert await c.get_file("data@master", "/b") == b"B"
    assert await c.get_file(f"data@{one}", "/a") == b"A"
    assert await _paths(c, f"data@{one}") == ["/a"]

    # The commit processor's own state agrees: a restart, then history keeps working.
    await stack.restart_processors()
    four = await c.put_file("data@master", "/d", b"D")
    assert (await c.inspect_commit(f"data@{four}")).parent == three
    await c.squash_commit(f"data@{three}")
    assert [x.id for x in await c.list_commit("data")] == [four, one]
    assert await _paths(c, "data@master") == ["/a", "/b", "/d"]
    assert await c.get_file("data@master", "/a") == b"A2"


async def test_stop_job_kills_it_and_the_next_commit_runs(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("data")
    async with c.commit("data@master") as commit:
        for name in "abc":
            await commit.put_file(f"/{name}", name.encode())
    await c.create_pipeline(SLOW)
    for _ in range(240):
        jobs = await c.list_job("slow")
        if jobs and jobs[0].state == "running":
            break
        await asyncio.sleep(0.25)
    job = jobs[0]
    await c.stop_job(job.id)
    stopped = await c.wait_job(job.id, timeout_s=60)
    assert stopped.state == "killed" and "stop job" in stopped.reason
    with pytest.raises(Conflict, match=f"job {job.id} of pipeline 'slow' has already ended"):
        await c.stop_job(job.id)
    # Its queued datums (3 s each, one worker, results sent per batch of tasks) are not run:
    # only the one in hand ends. Run, all three would have ended after 9 s.
    await asyncio.sleep(12)
    assert len(await c.list_datum(job.id)) <= 1
    # The pipeline goes on: the next commit gets a job of its own (stopped too, to end fast).
    nxt = await c.put_file("data@master", "/b", b"B")
    for _ in range(240):
        jobs = [j for j in await c.list_job("slow") if j.commitset == nxt]
        if jobs:
            break
        await asyncio.sleep(0.25)
    assert jobs and jobs[0].id != job.id
    await c.stop_job(jobs[0].id)


async def test_a_branch_with_an_open_commit_is_deleted_only_with_force(
    stack: RunningStack,
) -> None:
    """Deleting a branch used to leave its open commit open forever (issue 18)."""
    c = stack.client
    await c.create_repo("data")
    first = await c.put_file("data@master", "/a", b"A")
    opened = await c.start_commit("data@master")
    await c.put_file("data@master", "/b", b"B")  # into the open commit
    with pytest.raises(Conflict) as refused:
        await c.delete_branch("data@master")
    assert "finish commit data@master" in refused.value.message
    assert "--force" in refused.value.message
    assert [ci.id for ci in await c.list_open_commits()] == [opened]

    await c.delete_branch("data@master", force=True)
    assert await c.list_open_commits() == []  # nothing left open without a writer
    with pytest.raises(NotFound):
        await c.inspect_commit(f"data@{opened}")
    assert [b.name for b in await c.list_branch("data")] == []
    # The finished commit is still there, and a branch can be made at it again.
    await c.create_branch("data@master", first)
    assert await _paths(c, "data@master") == ["/a"]
