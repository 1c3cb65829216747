"""The shell that drives the open-commit machine, against an in-memory client (no servers):
it performs the step each decision asks for and reports the outcome, errors included."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from pachstream.client import Client
from pachstream.errors import (
    BranchNotFound,
    CommitAlreadyOpen,
    NoOpenCommit,
    RepoNotFound,
    Unavailable,
)
from pachstream.gateway._core import CommitTiming
from pachstream.gateway._open_commit import GATEWAY_DESCRIPTION, CommitState
from pachstream.gateway._writer import Writer
from pachstream.model import FileOp

REF = "raw@master"


@dataclass
class Info:
    id: str
    description: str
    repo: str = "raw"
    branch: str = "master"


@dataclass
class FakeClient:
    """Commits of one branch: an open one, and the finished ones (as lists of paths)."""

    open: Info | None = None
    open_paths: list[str] = field(default_factory=list)
    finished: list[list[str]] = field(default_factory=list)
    fail_start: Exception | None = None
    fail_finish: Exception | None = None
    started: int = 0
    gone: bool = False
    """The branch was deleted: a request that requires it is refused, as the processor does."""
    required: list[tuple[str, bool]] = field(default_factory=list)
    """Each start and modify, with whether it asked for the branch to exist."""

    answers: dict[str, str] = field(default_factory=dict)
    """Request id → the commit its ops went into."""

    async def send_modify_files(
        self, ref: str, ops: list[FileOp], *, require_branch: bool = False
    ) -> str:
        # Applied in the order sent, as the commit processor applies a partition's requests.
        await asyncio.sleep(0)
        self.required.append(("modify", require_branch))
        request_id = f"r{len(self.answers)}"
        if self.gone and require_branch:
            self.answers[request_id] = "gone"
            return request_id
        paths = [op.path for op in ops]
        if self.open is None:
            self.finished.append(paths)  # auto-commit
            cid = f"auto{len(self.finished)}"
        else:
            self.open_paths.extend(paths)
            cid = self.open.id
        request_id = f"r{len(self.answers)}"
        self.answers[request_id] = cid
        return request_id

    async def commit_of(self, request_id: str, what: str) -> str:
        await asyncio.sleep(0)
        if self.answers[request_id] == "gone":
            raise BranchNotFound(f"{what}: no such branch")
        return self.answers[request_id]

    async def start_commit(
        self, ref: str, description: str = "", *, require_branch: bool = False
    ) -> str:
        self.required.append(("start", require_branch))
        if self.gone and require_branch:
            raise BranchNotFound(f"{ref}: no such branch")
        if self.fail_start is not None:
            raise self.fail_start
        if self.open is not None:
            raise CommitAlreadyOpen(f"{ref} has an open commit")
        self.started += 1
        self.open = Info(f"c{self.started}", description)
        return self.open.id

    async def inspect_commit(self, ref: str) -> Info:
        assert self.open is not None
        return self.open

    async def finish_commit(self, ref: str) -> str:
        if self.fail_finish is not None:
            raise self.fail_finish
        if self.open is None:
            raise NoOpenCommit(f"{ref} has no open commit")
        self.finished.append(self.open_paths)
        cid, self.open, self.open_paths = self.open.id, None, []
        return cid

    async def list_open_commits(self, description: str | None = None) -> list[Info]:
        if self.open is not None and self.open.description == description:
            return [self.open]
        return []

    async def store_contents(self, bodies: list[bytes]) -> list[Any]:
        return [None for _ in bodies]


TIMING = CommitTiming(files=100, seconds=60.0, quiet=0.5)


def writer(client: FakeClient, timing: list[CommitTiming] | None = None) -> Writer:
    """A writer whose timing is ``timing[0]`` at each decision (a test may change it)."""
    t = timing or [TIMING]
    return Writer(cast(Client, client), lambda repo: t[0])


def put(path: str) -> list[FileOp]:
    return [FileOp(op="delete", path=path)]


async def test_a_lone_write_is_its_own_commit() -> None:
    c = FakeClient()
    w = writer(c)
    assert await w.write(REF, put("/a")) == "auto1"
    assert w.state(REF).state is CommitState.IDLE
    assert c.finished == [["/a"]]


async def test_concurrent_writes_share_a_commit_finished_by_a_read() -> None:
    c = FakeClient()
    w = writer(c)
    await w.write(REF, put("/first"))
    ids = await asyncio.gather(*(w.write(REF, put(f"/k{i}")) for i in range(20)))
    assert w.state(REF).state is CommitState.OPEN
    assert set(ids) - {"auto2"} <= {"c1"}
    await w.settle(REF)
    assert w.state(REF).state is CommitState.IDLE
    assert c.open is None
    assert sum(len(p) for p in c.finished) == 21
    assert len(c.finished) <= 3


async def test_a_users_open_commit_takes_the_writes_and_is_never_finished() -> None:
    c = FakeClient(open=Info("u1", "my import"))
    w = writer(c)
    await w.write(REF, put("/a"))  # into the user's commit (the gateway did not look yet)
    await asyncio.gather(w.write(REF, put("/b")), w.write(REF, put("/c")))
    assert w.state(REF).state is CommitState.FOREIGN
    await w.tick()
    await w.settle(REF)
    assert c.open is not None and c.open.id == "u1"  # still open: the user finishes it
    assert w.state(REF).state is CommitState.IDLE


async def test_our_commit_left_from_before_a_restart_is_adopted() -> None:
    c = FakeClient(open=Info("old", GATEWAY_DESCRIPTION))
    w = writer(c)
    await asyncio.gather(w.write(REF, put("/a")), w.write(REF, put("/b")))
    assert w.state(REF).state is CommitState.OPEN
    assert w.state(REF).commit == "old"
    await w.settle(REF)
    assert c.open is None


async def test_finish_left_behind() -> None:
    c = FakeClient(open=Info("old", GATEWAY_DESCRIPTION))
    await writer(c).finish_left_behind()
    assert c.open is None


async def test_a_failed_start_fails_the_writes_and_leaves_the_branch_idle() -> None:
    c = FakeClient(fail_start=Unavailable("broker down"))
    w = writer(c)
    results = await asyncio.gather(
        w.write(REF, put("/a")), w.write(REF, put("/b")), return_exceptions=True
    )
    assert any(isinstance(r, Unavailable) for r in results)
    assert w.state(REF).state is CommitState.IDLE


async def test_a_failed_finish_stalls_and_the_timer_retries_later() -> None:
    c = FakeClient()
    timing = [TIMING]
    w = writer(c, timing)
    await asyncio.gather(w.write(REF, put("/a")), w.write(REF, put("/b")))
    assert w.state(REF).state is CommitState.OPEN
    c.fail_finish = Unavailable("database down")
    timing[0] = CommitTiming(files=100, seconds=60.0, quiet=0.0)
    await w.tick()  # due (quiet 0): the finish fails, logged, not raised
    assert w.state(REF).state is CommitState.STALLED
    c.fail_finish = None
    await w.tick()  # before the retry time: left alone
    assert w.state(REF).state is CommitState.STALLED
    with pytest.raises(Unavailable):  # a read does not wait for the retry time
        c.fail_finish = Unavailable("still down")
        await w.settle(REF)
    c.fail_finish = None
    await w.settle(REF)
    assert w.state(REF).state is CommitState.IDLE
    assert c.open is None


async def test_a_commit_finished_by_someone_else_and_a_gone_branch() -> None:
    c = FakeClient()
    w = writer(c)
    await asyncio.gather(w.write(REF, put("/a")), w.write(REF, put("/b")))
    c.open = None  # finished by someone else
    await w.settle(REF)
    assert w.state(REF).state is CommitState.IDLE
    await asyncio.gather(w.write(REF, put("/c")), w.write(REF, put("/d")))
    c.fail_finish = RepoNotFound("repo 'raw' does not exist")
    with pytest.raises(RepoNotFound):
        await w.settle(REF)
    assert w.state(REF).state is CommitState.IDLE  # the commit went with the repo


async def test_writes_to_a_branch_but_master_require_it_and_a_refusal_unconfirms_it() -> None:
    c = FakeClient()
    w = writer(c)
    dev = "raw@dev"
    assert not w.confirmed(dev)
    await w.write(dev, put("/a"))
    assert w.confirmed(dev)  # its bucket existed a moment ago: the gateway skips its check
    await asyncio.gather(*(w.write(dev, put(f"/k{i}")) for i in range(5)))  # opens a commit
    assert {("start", True), ("modify", True)} == set(c.required)
    await w.settle(dev)
    c.gone = True  # deleted behind the gateway: the processor refuses the next write
    with pytest.raises(BranchNotFound):
        await w.write(dev, put("/b"))
    assert not w.confirmed(dev)  # checked again before the next write
    c.required.clear()
    await w.write(REF, put("/m"))  # master is a bucket without a branch: never required
    assert c.required == [("modify", False)]
    assert w.confirmed(REF)
