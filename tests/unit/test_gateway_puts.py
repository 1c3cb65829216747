"""PutObjects in one step per batch (``Writer.put``), against an in-memory client: the
bodies of concurrent PUTs go in one store call, their records are written before their ops,
and their ops go in one request; a failed record sends no op; a read settles them all."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

import pytest

from pachstream.client import Client
from pachstream.errors import Unavailable
from pachstream.gateway._core import CommitTiming
from pachstream.gateway._open_commit import CommitState
from pachstream.gateway._writer import Put, Writer
from pachstream.model import Chunk, FileEntry, FileOp

REF = "raw@master"


@dataclass
class LogClient:
    """Records every call, in order, as (verb, what)."""

    log: list[tuple[str, object]] = field(default_factory=list)
    open: str | None = None
    finished: int = 0

    async def store_contents(self, bodies: list[bytes]) -> list[FileEntry]:
        await asyncio.sleep(0)
        self.log.append(("store", list(bodies)))
        return [
            FileEntry(
                hash=f"h{b.decode()}",
                size=len(b),
                chunks=(Chunk(hash=f"h{b.decode()}", size=len(b)),),
            )
            for b in bodies
        ]

    answers: dict[str, str] = field(default_factory=dict)
    """Request id → the commit its ops went into."""

    async def send_modify_files(
        self, ref: str, ops: list[FileOp], *, require_branch: bool = False
    ) -> str:
        await asyncio.sleep(0.01)  # the broker's ack: PUTs that arrive meanwhile queue
        self.log.append(("modify", [op.path for op in ops]))
        request_id = f"r{len(self.answers)}"
        self.answers[request_id] = self.open or f"auto{len(self.log)}"
        return request_id

    async def commit_of(self, request_id: str, what: str) -> str:
        await asyncio.sleep(0.01)  # the round trip through the commit processor
        return self.answers[request_id]

    async def start_commit(
        self, ref: str, description: str = "", *, require_branch: bool = False
    ) -> str:
        self.open = "c1"
        self.log.append(("start", ref))
        return self.open

    async def finish_commit(self, ref: str) -> str:
        self.log.append(("finish", ref))
        cid, self.open = self.open, None
        self.finished += 1
        return cid or ""

    def verbs(self, verb: str) -> list[object]:
        return [what for v, what in self.log if v == verb]


def writer(client: LogClient) -> Writer:
    timing = CommitTiming(files=1000, seconds=60.0, quiet=0.5)
    return Writer(cast(Client, client), lambda repo: timing)


def put(client: LogClient, name: str, fail: bool = False) -> Put:
    async def record() -> None:
        await asyncio.sleep(0)
        if fail:
            raise Unavailable(f"no record for /{name}")
        client.log.append(("record", f"/{name}"))

    return Put(f"/{name}", name.encode(), record)


async def test_concurrent_puts_share_one_store_and_one_request_records_first() -> None:
    c = LogClient()
    w = writer(c)
    first = asyncio.ensure_future(w.put(REF, put(c, "first")))
    await asyncio.sleep(0)  # the first batch starts alone; the next 20 arrive meanwhile
    results = await asyncio.gather(*(w.put(REF, put(c, f"k{i}")) for i in range(20)))
    entry, _ = await first
    assert entry.hash == "hfirst"
    assert [e.hash for e, _ in results] == [f"hk{i}" for i in range(20)]
    assert c.verbs("store") == [[b"first"], [f"k{i}".encode() for i in range(20)]]
    assert c.verbs("modify") == [["/first"], [f"/k{i}" for i in range(20)]]
    # Every record is written before the request that carries its op.
    for i, (verb, what) in enumerate(c.log):
        if verb == "record":
            sent = next(w for v, w in c.log[i:] if v == "modify")
            assert what in cast(list[str], sent)
    # The 20 went into the commit the gateway opened under load, and a read finishes it.
    assert {cid for _, cid in results} == {"c1"}
    await w.settle(REF)
    assert c.finished == 1


async def test_a_failed_record_fails_its_batch_and_sends_no_op() -> None:
    c = LogClient()
    w = writer(c)
    with pytest.raises(Unavailable, match="no record for /bad"):
        await asyncio.gather(w.put(REF, put(c, "good")), w.put(REF, put(c, "bad", fail=True)))
    await w.settle(REF)
    assert c.verbs("modify") == []
    # The branch takes PUTs again afterwards.
    await w.put(REF, put(c, "later"))
    assert c.verbs("modify") == [["/later"]]


async def test_a_read_settles_the_puts_in_flight() -> None:
    c = LogClient()
    w = writer(c)
    puts = [asyncio.ensure_future(w.put(REF, put(c, f"p{i}"))) for i in range(5)]
    await asyncio.sleep(0)
    await w.settle(REF)  # returns only once every PUT submitted before it is written
    assert all(p.done() for p in puts)
    assert sorted(x for m in c.verbs("modify") for x in cast(list[str], m)) == sorted(
        f"/p{i}" for i in range(5)
    )


class SlowAnswers(LogClient):
    """Answers only when ``release`` is set: the round trip through the processors."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def commit_of(self, request_id: str, what: str) -> str:
        await self.release.wait()
        return self.answers[request_id]


async def test_the_next_batch_is_sent_while_the_last_awaits_its_answer() -> None:
    # One batch in flight per branch made each PUT wait for the whole round trip of the
    # batch before it, and the PUTs arriving meanwhile queued behind it.
    c = SlowAnswers()
    w = writer(c)
    first = asyncio.ensure_future(w.put(REF, put(c, "first")))
    while not c.verbs("modify"):
        await asyncio.sleep(0.001)
    later = [asyncio.ensure_future(w.put(REF, put(c, f"k{i}"))) for i in range(3)]
    while len(c.verbs("modify")) < 2:
        await asyncio.sleep(0.001)
    assert not first.done()  # sent, still unanswered
    assert c.verbs("modify") == [["/first"], ["/k0", "/k1", "/k2"]]  # in the order batched
    assert w.state(REF).state is CommitState.OPEN  # the second batch came under load
    c.release.set()
    (_, alone), *together = await asyncio.gather(first, *later)
    assert alone.startswith("auto")  # a commit of its own
    assert {cid for _, cid in together} == {"c1"}
    await w.settle(REF)
    assert c.finished == 1


async def test_a_writer_gone_while_awaiting_the_answer_leaves_the_others_theirs() -> None:
    c = SlowAnswers()
    w = writer(c)
    gone = asyncio.ensure_future(w.put(REF, put(c, "a")))
    stays = asyncio.ensure_future(w.put(REF, put(c, "b")))
    while not c.verbs("modify"):
        await asyncio.sleep(0.001)
    gone.cancel()  # a client that hung up: its PUT's request is sent already
    with pytest.raises(asyncio.CancelledError):
        await gone
    c.release.set()
    entry, _ = await stays
    assert entry.hash == "hb"
    await w.settle(REF)
