"""Repos, branches, commits and files through the SDK, on real Kafka, Postgres and S3."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from pachstream.errors import (
    BranchNotFound,
    CommitAlreadyOpen,
    CommitNotFound,
    Conflict,
    FileNotFound,
    InvalidName,
    InvalidPath,
    NoOpenCommit,
    RepoExists,
    RepoNotFound,
)
from pachstream.pg import connect_pool
from pachstream.testing.waits import eventually


def EMPTY(keys: list[str]) -> bool:
    return not keys


async def test_repo_lifecycle(stack):
    c = stack.client
    await c.create_repo("images", "raw pictures")
    await c.create_repo("labels")
    with pytest.raises(RepoExists, match="repo 'images' already exists"):
        await c.create_repo("images")
    await c.create_repo("images", "updated", update=True)
    await c.put_file("images@master", "/a.png", b"12345")
    info = await c.inspect_repo("images")
    assert (info.name, info.description, info.size_bytes, info.branch_count) == (
        "images",
        "updated",
        5,
        1,
    )
    assert {r.name for r in await c.list_repo()} == {"images", "labels"}
    await c.put_files("labels@master", [("/l1", b"x"), ("/l2", b"y")])
    await c.put_file("labels@dev", "/l3", b"z")
    await c.delete_repo("labels")
    assert [r.name for r in await c.list_repo()] == ["images"]
    with pytest.raises(RepoNotFound, match="'labels' does not exist"):
        await c.inspect_repo("labels")
    # The deleted repo's file rows went with it (found through its commits); the other's stay.
    pool = await connect_pool(stack.settings.require()[1], stack.settings.namespace)
    try:
        rows = await pool.fetch("SELECT repo, path FROM commit_files ORDER BY repo, path")
    finally:
        await pool.close()
    assert [tuple(r) for r in rows] == [("images", "/a.png")]


async def test_put_get_overwrite_append_and_history(stack):
    c = stack.client
    await c.create_repo("data")
    first = await c.put_file("data@master", "/x.txt", b"one\n")
    second = await c.put_file("data@master", "/x.txt", b"two\n")
    third = await c.put_file("data@master", "/x.txt", b"three\n", append=True)
    assert await c.get_file("data@master", "/x.txt") == b"two\nthree\n"
    assert await c.get_file("data@master^", "/x.txt") == b"two\n"
    assert await c.get_file("data@master~2", "/x.txt") == b"one\n"
    assert await c.get_file(f"data@{first}", "/x.txt") == b"one\n"
    assert await c.get_file("data@master.1", "/x.txt") == b"one\n"
    history = await c.list_commit("data@master")
    assert [h.id for h in history] == [third, second, first]
    assert [h.parent for h in history] == [second, first, None]
    assert all(h.finished is not None for h in history)
    with pytest.raises(CommitNotFound, match="history ends"):
        await c.inspect_commit("data@master~5")


async def test_open_commit_rules(stack):
    c = stack.client
    await c.create_repo("r")
    cid = await c.start_commit("r@master", "by hand")
    with pytest.raises(CommitAlreadyOpen, match=cid):
        await c.start_commit("r@master")
    await c.put_file("r@master", "/a", b"a")
    await c.put_file("r@master", "/b", b"b")
    with pytest.raises(Conflict, match="still open"):
        await c.get_file("r@master", "/a")
    assert await c.finish_commit("r@master") == cid
    with pytest.raises(NoOpenCommit, match="no open commit"):
        await c.finish_commit("r@master")
    info = await c.inspect_commit("r@master")
    assert (info.id, info.file_count, info.added, info.description) == (cid, 2, 2, "by hand")


async def test_commit_context_manager(stack):
    c = stack.client
    await c.create_repo("ctx")
    async with c.commit("ctx@master", "two files") as commit:
        await commit.put_file("/one", b"1")
        await commit.put_file("/two", b"2")
    assert (await c.inspect_commit("ctx@master")).id == commit.id
    with pytest.raises(RuntimeError) as raised:
        async with c.commit("ctx@master") as broken:
            await broken.put_file("/three", b"3")
            raise RuntimeError("user code failed")
    assert any(broken.id in note for note in raised.value.__notes__)
    assert (await c.inspect_commit("ctx@master")).finished is None  # left open, reported
    await c.finish_commit("ctx@master")
    assert await c.get_file("ctx@master", "/three") == b"3"


async def test_branches(stack):
    c = stack.client
    await c.create_repo("b")
    await c.put_file("b@master", "/v", b"1")
    await c.put_file("b@master", "/v", b"2")
    await c.create_branch("b@old", "master^")
    await c.create_branch("b@empty")
    assert {(x.name, x.head is None) for x in await c.list_branch("b")} == {
        ("master", False),
        ("old", False),
        ("empty", True),
    }
    assert await c.get_file("b@old", "/v") == b"1"
    assert (await c.inspect_branch("b@old")).head == (await c.inspect_commit("b@master^")).id
    await c.put_file("b@old", "/v", b"3")  # the branch grows from master^
    assert await c.get_file("b@old", "/v") == b"3"
    assert await c.get_file("b@master", "/v") == b"2"
    await c.delete_branch("b@old")
    with pytest.raises(BranchNotFound):
        await c.delete_branch("b@old")
    with pytest.raises(BranchNotFound, match="see 'pachstream list branch b'"):
        await c.inspect_branch("b@old")
    with pytest.raises(BranchNotFound, match="neither a branch nor a commit"):
        await c.get_file("b@old", "/v")


async def test_directories_list_glob_diff_delete(stack, tmp_path: Path):
    c = stack.client
    await c.create_repo("tree")
    src = tmp_path / "src"
    for rel, body in {
        "a/1.csv": b"1,2\n",
        "a/2.csv": b"3,4\n",
        "b/c/3.csv": b"5\n",
        "données/été.csv": b"\xc3\xa9t\xc3\xa9\n",
        "weird/f*?[x].txt": b"glob chars\n",
    }.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(body)
    await c.put_local("tree@master", "/", src, recursive=True)
    top = await c.list_file("tree@master", "/")
    assert [(f.path, f.type, f.size_bytes) for f in top] == [
        ("/a", "dir", 8),
        ("/b", "dir", 2),
        ("/données", "dir", 6),
        ("/weird", "dir", 11),
    ]
    assert await c.get_file("tree@master", "/données/été.csv") == "été\n".encode()
    assert await c.get_file("tree@master", "/weird/f*?[x].txt") == b"glob chars\n"
    assert [f.path for f in await c.glob_file("tree@master", "/*/*.csv")] == [
        "/a/1.csv",
        "/a/2.csv",
        "/données/été.csv",
    ]
    assert [f.path for f in await c.glob_file("tree@master", "/**.csv")] == [
        "/a/1.csv",
        "/a/2.csv",
        "/b/c/3.csv",
        "/données/été.csv",
    ]
    assert [f.path for f in await c.glob_file("tree@master", r"/weird/f\*\?\[x].txt")] == [
        "/weird/f*?[x].txt"
    ]
    assert [(f.path, f.type) for f in await c.glob_file("tree@master", "/*")] == [
        ("/a", "dir"),
        ("/b", "dir"),
        ("/données", "dir"),
        ("/weird", "dir"),
    ]
    await c.put_file("tree@master", "/a/1.csv", b"changed\n")
    await c.delete_file("tree@master", "/b")
    diff = await c.diff_file("tree@master", "tree@master~2")
    assert [(d.path, d.change) for d in diff] == [
        ("/a/1.csv", "modified"),
        ("/b/c/3.csv", "deleted"),
    ]
    assert [(d.path, d.change) for d in await c.diff_file("tree@master")] == [
        ("/b/c/3.csv", "deleted")
    ]
    with pytest.raises(FileNotFound, match="'/b' does not exist"):
        await c.list_file("tree@master", "/b")
    f = await c.inspect_file("tree@master", "/a/1.csv")
    assert (f.type, f.size_bytes, f.hash) == ("file", 8, hashlib.sha256(b"changed\n").hexdigest())


async def test_a_local_put_of_big_and_small_files_in_many_batches(stack, tmp_path, monkeypatch):
    """A folder of files over the streaming size (made small here) and of small ones, more
    than a batch of them: every file lands in one commit with its bytes."""
    import pachstream.client._client as client_module
    import pachstream.content as content

    monkeypatch.setattr(content, "CHUNK_BYTES", 1000)  # files of 1,000 bytes or more stream
    monkeypatch.setattr(client_module, "BATCH_OPS", 7)
    c = stack.client
    await c.create_repo("local")
    src = tmp_path / "src"
    src.mkdir()
    bodies = {f"s{i:02}": f"small {i}".encode() for i in range(20)}
    bodies |= {f"b{i}": bytes([i]) * (1000 + 2500 * i) for i in range(3)}  # 1 to 3 pieces
    for name, body in bodies.items():
        (src / name).write_bytes(body)
    cid = await c.put_local("local@master", "/in", src, recursive=True)
    files = await c.list_file(f"local@{cid}", "/in")
    assert sorted(f.path for f in files) == sorted(f"/in/{n}" for n in bodies)
    for name, body in bodies.items():
        assert await c.get_file(f"local@{cid}", f"/in/{name}") == body, name


async def test_same_bytes_stored_once(stack):
    c = stack.client
    await c.create_repo("dedupe")
    body = b"the same bytes" * 10
    await c.put_files("dedupe@master", [("/a", body), ("/b", body)])
    await c.put_file("dedupe@master", "/c", body)
    big = bytes(range(256)) * 8192  # 2 MiB: a blob of its own
    await c.put_file("dedupe@master", "/big1", big)
    await c.put_file("dedupe@master", "/big2", big)
    packs = await c.objects.list("packs/")
    blobs = await c.objects.list("blobs/")
    assert len(packs) == 1
    assert blobs == [f"blobs/{hashlib.sha256(big).hexdigest()}"]
    assert await c.get_file("dedupe@master", "/c") == body
    assert await c.get_file("dedupe@master", "/big2") == big


async def test_bad_input_is_refused_and_loses_nothing(stack):
    c = stack.client
    await c.create_repo("safe")
    await c.put_file("safe@master", "/keep", b"kept")
    with pytest.raises(InvalidName, match="Bad-Name!"):
        await c.create_repo("Bad-Name!")
    with pytest.raises(InvalidName):
        await c.put_file("safe@no/slash", "/x", b"")
    with pytest.raises(InvalidPath, match=r"\.\."):
        await c.put_file("safe@master", "/a/../b", b"")
    with pytest.raises(InvalidPath):
        await c.put_file("safe@master", "/a\x00b", b"")
    with pytest.raises(RepoNotFound, match="create it with"):
        await c.put_file("missing@master", "/x", b"")
    with pytest.raises(FileNotFound):
        await c.get_file("safe@master", "/nope")
    await c.delete_repo("safe")
    with pytest.raises(RepoNotFound):
        await c.start_commit("safe@master")
    await c.create_repo("safe")
    with pytest.raises(BranchNotFound, match="neither a branch nor a commit"):
        await c.get_file("safe@master", "/keep")  # the old repo's commits are gone


async def test_state_survives_processor_restart(stack):
    c = stack.client
    await c.create_repo("durable")
    await c.put_file("durable@master", "/a", b"a")
    cid = await c.start_commit("durable@master")
    await c.put_file("durable@master", "/b", b"b")
    await c.put_file("durable@master", "/b2", b"b2")  # answered: a batch staged after /b's
    await stack.restart_processors()
    await c.put_file("durable@master", "/c", b"c")  # staged ops survive the restart
    staged = await c.objects.list(f"staging/{cid}/")
    assert len(staged) >= 2, staged
    assert await c.finish_commit("durable@master") == cid
    assert [f.path for f in await c.list_file("durable@master")] == ["/a", "/b", "/b2", "/c"]
    # Read by the finish, garbage once it is checkpointed: deleted (after the facts, so the
    # answer may come first).
    await eventually(lambda: c.objects.list("staging/"), "staged batches deleted", until=EMPTY)
    cid = await c.start_commit("durable@master")
    await c.put_file("durable@master", "/d", b"d")
    await c.put_file("durable@master", "/e", b"e")
    assert await c.objects.list(f"staging/{cid}/")
    await c.delete_commit(f"durable@{cid}")  # an open commit dropped: its batches too
    await eventually(lambda: c.objects.list("staging/"), "dropped batches deleted", until=EMPTY)
    with pytest.raises(CommitAlreadyOpen):
        await c.start_commit("durable@master")
        await c.start_commit("durable@master")


async def test_large_commit_fills_the_dedupe_index(stack):
    # Above the materializer's COPY threshold: the blob index goes in through COPY, and the
    # same bytes put again under other paths add no new pack.
    c = stack.client
    await c.create_repo("bulk")
    bodies = [f"row {i}\n".encode() * 3 for i in range(600)]
    await c.put_files("bulk@master", [(f"/a/{i}", b) for i, b in enumerate(bodies)])
    packs = await c.objects.list("packs/")
    await c.put_files("bulk@master", [(f"/b/{i}", b) for i, b in enumerate(bodies)])
    assert await c.objects.list("packs/") == packs
    assert (await c.inspect_commit("bulk@master")).file_count == 1200
    assert await c.get_file("bulk@master", "/b/599") == bodies[599]


async def test_wait_commit_blocks_until_the_head_is_finished(stack):
    c = stack.client
    await c.create_repo("slow")
    cid = await c.start_commit("slow@master")
    await c.put_file("slow@master", "/x", b"x")
    waiter = asyncio.create_task(c.wait_commit("slow@master", timeout_s=60))
    await asyncio.sleep(1.0)
    assert not waiter.done()  # still open: the wait goes on
    await c.finish_commit("slow@master")
    info = await asyncio.wait_for(waiter, 30)
    assert info.id == cid and info.finished is not None and info.file_count == 1
