"""The commit processor keeps only live commits in memory (branch heads, open commits and
their parents) and loads the rest of the history from its rows when a request names a commit:
every history request still sees the whole history, also after a restart."""

from __future__ import annotations

import pytest

from pachstream.commits import _core
from pachstream.errors import Conflict
from pachstream.testing.services import RunningStack


def _in_memory(stack: RunningStack, repo: str) -> set[str]:
    state = stack.commits.repos[repo]
    assert set(state.commits) == _core.live_commits(state)
    return set(state.commits)


async def test_history_requests_reach_commits_that_left_memory(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("data")
    line = [await c.put_file("data@master", f"/f{i}", str(i).encode()) for i in range(12)]
    await c.create_branch("data@dev", line[3])
    dev = [await c.put_file("data@dev", f"/d{i}", b"D") for i in range(2)]
    assert _in_memory(stack, "data") == {line[-1], dev[-1]}

    await stack.restart_processors()
    assert _in_memory(stack, "data") == {line[-1], dev[-1]}
    await c.start_commit("data@master")
    opened = (await c.inspect_commit("data@master")).id
    assert _in_memory(stack, "data") == {opened, line[-1], dev[-1]}
    await stack.restart_processors()
    assert _in_memory(stack, "data") == {opened, line[-1], dev[-1]}
    await c.put_file("data@master", "/open", b"O")
    assert await c.finish_commit("data@master") == opened  # built on its parent's tree
    assert [f.path for f in await c.list_file("data@master", "/")] == sorted(
        [*(f"/f{i}" for i in range(12)), "/open"]
    )

    # A commit with children (one on each branch) is refused, naming both: its children were
    # loaded from their rows.
    with pytest.raises(Conflict, match=f"{dev[0]}.*{line[4]}|{line[4]}.*{dev[0]}"):
        await c.delete_commit(f"data@{line[3]}")
    # A branch moved to an old commit.
    await c.create_branch("data@old", line[1])
    assert (await c.inspect_commit("data@old")).id == line[1]
    assert [f.path for f in await c.list_file("data@old", "/")] == ["/f0", "/f1"]
    # A squash of a commit no branch points at: both children follow its parent.
    await c.squash_commit(f"data@{line[3]}")
    assert (await c.inspect_commit(f"data@{line[4]}")).parent == line[2]
    assert (await c.inspect_commit(f"data@{dev[0]}")).parent == line[2]
    assert await c.get_file(f"data@{dev[0]}", "/f3") == b"3"
    # Deleting a head moves its branch to the parent, whose tree was loaded for it.
    await c.delete_commit(f"data@{dev[1]}")
    assert (await c.inspect_commit("data@dev")).id == dev[0]
    assert [f.path for f in await c.list_file("data@dev", "/")] == sorted(
        ["/d0", "/f0", "/f1", "/f2", "/f3"]
    )
    assert _in_memory(stack, "data") == {opened, dev[0], line[1]}
