"""``file.modify`` version 2: ops as arrays, packs named once; the fast path checks of the
commit processor (paths of a whole batch in one match) agree with the one-by-one rules.
"""

from __future__ import annotations

import dataclasses
import re

import orjson
import pytest

from pachstream.codec import decode, encode
from pachstream.commits import _core
from pachstream.commits.events import CreateRepo, ModifyFiles, RequestDone
from pachstream.errors import EventDecodeError
from pachstream.model import Chunk, FileEntry, FileOp, file_hash

PACK = "packs/" + "b" * 64
ONE = FileEntry(hash="a" * 64, size=3, chunks=(Chunk(hash="a" * 64, size=3, pack=PACK, offset=7),))
BLOB = FileEntry(hash="e" * 64, size=2_000_000, chunks=(Chunk(hash="e" * 64, size=2_000_000),))
TWO = (ONE.chunks[0], BLOB.chunks[0])
APPENDED = FileEntry(hash=file_hash(TWO), size=2_000_003, chunks=TWO)
# One chunk that is not the whole file's hash (an entry made by hand): the general row form.
ODD = FileEntry(hash="f" * 64, size=3, chunks=(Chunk(hash="a" * 64, size=3, pack="p2", offset=0),))
EMPTY = FileEntry(hash="z", size=0, chunks=())


def modify(*ops: FileOp) -> ModifyFiles:
    return ModifyFiles(
        request_id="r", repo="x", branch="master", time=1.0, ops=ops, commitset="s", pipeline="p"
    )


def record(ops: list[object], **fields: object) -> bytes:
    head = {"type": "file.modify", "schema_version": 2, "request_id": "r", "repo": "x"}
    return orjson.dumps({**head, "branch": "b", "time": 1.0, "packs": [PACK], "ops": ops, **fields})


def test_the_three_classes_are_built_as_init_builds_them():
    # The decoder fills the slots itself: right only while no class has a __post_init__.
    for cls in (FileOp, FileEntry, Chunk):
        assert not hasattr(cls, "__post_init__"), cls
    decoded = decode(encode(modify(FileOp(op="put", path="/a", file=ONE))))
    op = decoded.ops[0]
    assert op == FileOp(op="put", path="/a", file=ONE)
    assert hash(op) == hash(FileOp(op="put", path="/a", file=ONE))
    assert dataclasses.asdict(op) == dataclasses.asdict(FileOp(op="put", path="/a", file=ONE))
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.path = "/b"  # type: ignore[misc]


def test_every_kind_of_op_round_trips():
    req = modify(
        FileOp(op="put", path="/a", file=ONE),
        FileOp(op="put", path="/blob", file=BLOB),
        FileOp(op="append", path="/a", file=APPENDED),
        FileOp(op="put", path="/odd", file=ODD),
        FileOp(op="put", path="/empty", file=EMPTY),
        FileOp(op="delete", path="/"),
        FileOp(op="put", path="/none", file=None),  # refused later, by the processor
    )
    data = encode(req)
    assert decode(data) == req
    raw = orjson.loads(data)
    assert raw["packs"] == [PACK, "p2"]  # each pack once
    assert raw["ops"][0] == ["put", "/a", "a" * 64, 3, 0, 7]
    assert raw["ops"][1] == ["put", "/blob", "e" * 64, 2_000_000, None, 0]
    assert raw["ops"][5] == ["delete", "/"]


def test_require_branch_travels_only_when_set():
    plain = modify(FileOp(op="delete", path="/a"))
    asked = dataclasses.replace(plain, require_branch=True)
    assert "require_branch" not in orjson.loads(encode(plain))  # every other writer's bytes
    assert orjson.loads(encode(asked))["require_branch"] is True
    assert decode(encode(plain)) == plain
    assert decode(encode(asked)) == asked


def test_a_batch_of_small_files_is_a_third_of_version_one():
    ops = tuple(
        FileOp(
            op="put",
            path=f"/f{i:07d}",
            file=FileEntry(
                hash=f"{i:064x}",
                size=100,
                chunks=(Chunk(hash=f"{i:064x}", size=100, pack=PACK, offset=100 * i),),
            ),
        )
        for i in range(2000)
    )
    assert len(encode(modify(*ops))) / 2000 < 110  # version 1: ~320 bytes per op


BAD = [
    ("ops missing", {"ops": None}, "file.modify: missing field 'ops'"),
    ("ops not array", {"ops": {}}, "file.modify.ops: expected an array, got dict"),
    ("row not array", {"ops": [{"op": "put"}]}, "file.modify.ops.0: expected an array"),
    ("unknown op", {"ops": [["rename", "/a"]]}, "file.modify.ops.0.op: value 'rename'"),
    ("path not text", {"ops": [["delete", 5]]}, "file.modify.ops.0.path: missing, or not"),
    ("put as delete", {"ops": [["put", "/a"]]}, "file.modify.ops.0: value ['put', '/a']"),
    ("size bool", {"ops": [["put", "/a", "h", True, 0, 0]]}, "file.modify.ops.0: value"),
    ("size text", {"ops": [["put", "/a", "h", "1", 0, 0]]}, "file.modify.ops.0: value"),
    (
        "pack out of range",
        {"ops": [["put", "/a", "h", 1, 1, 0]]},
        "file.modify.ops.0.pack: value 1 is no",
    ),
    (
        "pack negative",
        {"ops": [["put", "/a", "h", 1, -1, 0]]},
        "file.modify.ops.0.pack: value -1 is no",
    ),
    ("pack text", {"ops": [["put", "/a", "h", 1, PACK, 0]]}, "file.modify.ops.0.pack: value"),
    ("chunk short", {"ops": [["put", "/a", "h", 1, [["h", 1]]]]}, "file.modify.ops.0.chunks"),
    ("chunk pack", {"ops": [["put", "/a", "h", 1, [["h", 1, 3, 0]]]]}, "file.modify.ops.0.pack"),
    ("packs not text", {"packs": [1]}, "file.modify.packs: value [1] is not a list"),
    ("repo not text", {"repo": 5}, "file.modify.repo: value 5 is not of type str"),
    ("time missing", {"time": None}, "file.modify.time: value None is not of type float"),
    (
        "require_branch not bool",
        {"require_branch": "yes"},
        "file.modify.require_branch: value 'yes' is not of type bool",
    ),
]


@pytest.mark.parametrize(("fields", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_record_is_refused_naming_the_value(fields, message):
    base = orjson.loads(record([["delete", "/a"]]))
    raw = {**base, **fields}
    if fields.get("ops", "") is None:
        del raw["ops"]
    with pytest.raises(EventDecodeError, match="^" + re.escape(message)):
        decode(orjson.dumps(raw))


def test_a_record_of_a_newer_version_is_refused():
    with pytest.raises(EventDecodeError, match="schema_version 3 is not one this code reads"):
        decode(record([], schema_version=3))


def _handle(*ops: FileOp) -> list[object]:
    repos: dict[str, _core.RepoState] = {}
    _core.handle(repos, CreateRepo(request_id="c", repo="x", time=0.0))
    step = _core.handle(repos, decode(encode(modify(*ops))))
    return step.facts


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/a/../b", r"path '/a/../b': '..' segments are not allowed"),
        ("/a//b", r"path '/a//b' is not canonical; write it as '/a/b'"),
        ("/", r"path '/': the root directory cannot be a file"),
        ("/a\x00", r"control character U\+0000 \(NUL\)"),
    ],
)
def test_one_bad_path_in_a_batch_is_refused_by_name(path, message):
    good = [FileOp(op="put", path=f"/ok{i}", file=ONE) for i in range(50)]
    facts = _handle(*good, FileOp(op="put", path=path, file=ONE), *good)
    done = facts[-1]
    assert isinstance(done, RequestDone) and not done.ok
    assert done.error_code == "InvalidPath"
    assert done.error_message is not None
    assert re.search(message, done.error_message), done.error_message


def test_a_put_without_content_is_refused_by_name():
    facts = _handle(FileOp(op="put", path="/a", file=ONE), FileOp(op="put", path="/b", file=None))
    done = facts[-1]
    assert isinstance(done, RequestDone) and not done.ok
    assert done.error_message == "put of '/b' carries no content"
