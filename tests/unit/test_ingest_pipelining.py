"""The ingest path's two shortcuts (issue 17): the dispatcher reads a request's type without
building it, and a put makes its next batches while the last one is being sent.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from pachstream.client._client import _ahead
from pachstream.codec import decode, encode, peek_type
from pachstream.commits.events import ModifyFiles
from pachstream.dispatch._dispatcher import _PIPELINE_REQUEST_TYPES
from pachstream.dispatch.events import PIPELINE_REQUESTS
from pachstream.model import Chunk, FileEntry, FileOp


def _modify() -> ModifyFiles:
    entry = FileEntry(hash="a" * 64, size=3, chunks=(Chunk(hash="a" * 64, size=3),))
    return ModifyFiles(
        request_id="r1", repo="images", branch="master", time=1.0,
        ops=(FileOp(op="put", path="/x", file=entry),),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, None),
        (b"", None),
        (b"not json", None),
        (b"[1, 2]", None),
        (b'{"schema_version": 1}', None),
        (b'{"type": 7}', None),
        (b'{"type": "pipeline.create"}', "pipeline.create"),
        # Key order does not matter, and the last of duplicate keys wins, as in decode().
        (b'{"schema_version": 1, "type": "job.stop"}', "job.stop"),
        (b'{"type": "file.modify", "type": "job.rerun"}', "job.rerun"),
        # As encode() writes them, read from the first bytes: the rest is the decoder's to
        # judge (a truncated record is named, and dead-lettered by whoever decodes it).
        (b'{"type":"file.modify","ops":[', "file.modify"),
        (b'{"type":"job.stop","schema_version":1}', "job.stop"),
        # ... unless the parser could read another name: a second key, an escape.
        (b'{"type":"file.modify","type":"job.rerun"}', "job.rerun"),
        (b'{"type":"file.modify","\\u0074ype":"job.rerun"}', "job.rerun"),
        (b'{"type":"job.\\u0072erun"}', "job.rerun"),
        (b'{"type":"job\\"}', None),
        (b'{"type":"file.modify","path":"type"}', "file.modify"),
        (b'{"type":"\xff"}', None),
        (b'{"type":"file.modify', None),  # the name never ends: parsed, no JSON
    ],
)
def test_peek_type_reads_only_the_type(data: bytes | None, expected: str | None) -> None:
    assert peek_type(data) == expected


def test_peek_type_reads_an_encoded_request_without_parsing_it(monkeypatch) -> None:
    wire = encode(_modify())

    def parse(data: bytes) -> object:
        raise AssertionError("parsed")

    monkeypatch.setattr(orjson, "loads", parse)
    assert peek_type(wire) == "file.modify"


def test_peek_type_agrees_with_decode() -> None:
    wire = encode(_modify())
    assert peek_type(wire) == decode(wire).TYPE == "file.modify"
    assert peek_type(wire) not in _PIPELINE_REQUEST_TYPES


def test_dispatcher_skips_nothing_it_answers() -> None:
    # Every pipeline request, whatever its field order on the wire, passes the dispatcher's
    # type check: a request skipped there would never be answered.
    assert {cls.TYPE for cls in PIPELINE_REQUESTS} == _PIPELINE_REQUEST_TYPES
    for name in _PIPELINE_REQUEST_TYPES:
        assert peek_type(orjson.dumps({"x": 1, "type": name})) in _PIPELINE_REQUEST_TYPES


async def test_ahead_makes_the_next_item_while_the_caller_works() -> None:
    log: list[str] = []

    async def make(i: int) -> int:
        log.append(f"make {i}")
        await asyncio.sleep(0)
        return i

    got = []
    async for item in _ahead(((lambda i=i: make(i)) for i in range(3)), 1):
        log.append(f"use {item}")
        await asyncio.sleep(0.01)  # the caller's round trip: the next item is made meanwhile
        log.append(f"done {item}")
        got.append(item)
    assert got == [0, 1, 2]
    # One ahead: item 1 is made while the caller uses item 0, item 2 while it uses item 1;
    # without it, "make 1" would come after "done 0".
    assert log == ["make 0", "make 1", "use 0", "done 0", "use 1", "make 2", "done 1", "use 2",
                   "done 2"]  # fmt: skip


async def test_ahead_raises_a_jobs_error_in_order() -> None:
    async def one() -> int:
        return 1

    async def failed() -> int:
        raise ValueError("store failed")

    got = []
    with pytest.raises(ValueError, match="store failed"):
        async for item in _ahead([one, failed, one], 1):
            got.append(item)
    assert got == [1]


async def test_ahead_cancels_the_pending_job_when_the_caller_stops() -> None:
    closed = asyncio.Event()

    async def one() -> int:
        return 1

    async def slow() -> int:
        try:
            await asyncio.sleep(3600)  # a slow upload, abandoned by the caller's failure
            return 2
        finally:
            closed.set()

    stream = _ahead([one, slow], 1)
    with pytest.raises(RuntimeError, match="send failed"):
        async for _ in stream:
            await asyncio.sleep(0)  # the slow job has started
            raise RuntimeError("send failed")
    await stream.aclose()
    await asyncio.wait_for(closed.wait(), 5)
