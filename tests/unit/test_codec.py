"""Event encoding: round trips, clear decode errors, and golden files of every version."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pachstream.codec import _REGISTRY, decode, encode
from pachstream.commits.events import (
    BranchDeleted,
    BranchSet,
    Chunk,
    CommitFinished,
    CommitStarted,
    CreateBranch,
    CreateRepo,
    DeleteBranch,
    DeleteRepo,
    DiffEntry,
    FileEntry,
    FileOp,
    FinishCommit,
    ModifyFiles,
    RepoCreated,
    RepoDeleted,
    RequestDone,
    StartCommit,
)
from pachstream.errors import EventDecodeError

GOLDEN = Path(__file__).parent.parent / "fixtures" / "events" / "v1"
F = FileEntry(hash="a" * 64, size=3, chunks=(Chunk(hash="a" * 64, size=3, pack="packs/" + "b" * 64, offset=7),))

SAMPLES = [
    CreateRepo(request_id="r1", repo="images", time=1.5, description="pics", update=False),
    DeleteRepo(request_id="r2", repo="images", time=2.0),
    CreateBranch(request_id="r3", repo="images", branch="dev", time=3.0, head="c" * 32),
    DeleteBranch(request_id="r4", repo="images", branch="dev", time=4.0),
    StartCommit(request_id="r5", repo="images", branch="master", time=5.0, description="m"),
    FinishCommit(request_id="r6", repo="images", branch="master", time=6.0, description=None),
    ModifyFiles(
        request_id="r7",
        repo="images",
        branch="master",
        time=7.0,
        ops=(FileOp(op="put", path="/été/a*b.txt", file=F), FileOp(op="delete", path="/old")),
    ),
    RepoCreated(event_id="e1", request_id="r1", repo="images", time=1.5, description="pics"),
    RepoDeleted(event_id="e2", request_id="r2", repo="images", time=2.0),
    BranchSet(event_id="e3", request_id="r3", repo="images", branch="dev", head=None, time=3.0),
    BranchDeleted(event_id="e4", request_id="r4", repo="images", branch="dev", time=4.0),
    CommitStarted(event_id="e5", request_id="r5", repo="images", branch="master", commit_id="c" * 32, parent=None, time=5.0),
    CommitFinished(
        event_id="e6",
        request_id="r6",
        repo="images",
        branch="master",
        commit_id="c" * 32,
        parent=None,
        started=5.0,
        finished=6.0,
        description="m",
        root="manifests/" + "d" * 64,
        file_count=1,
        size_bytes=3,
        added=1,
        modified=0,
        deleted=0,
        diff_ref="diffs/" + "c" * 32,
        diff=(DiffEntry(path="/été/a*b.txt", change="added", file=F, old=None),),
    ),
    RequestDone(event_id="e7", request_id="r7", repo="images", ok=False, error_code="RepoNotFound", error_message="no", error_fields={"repo": "images"}),
]


def test_samples_cover_every_registered_type():
    assert {s.TYPE for s in SAMPLES} == set(_REGISTRY)


@pytest.mark.parametrize("event", SAMPLES, ids=[s.TYPE for s in SAMPLES])
def test_round_trip(event):
    assert decode(encode(event)) == event


@pytest.mark.parametrize("event", SAMPLES, ids=[s.TYPE for s in SAMPLES])
def test_golden_files_still_decode(event):
    # Golden files are committed data from the version that first emitted them: never regenerate.
    golden = GOLDEN / f"{event.TYPE}.json"
    assert decode(golden.read_bytes()) == event
    assert orjson.loads(encode(event)) == orjson.loads(golden.read_bytes())


def test_unknown_fields_are_ignored():
    raw = orjson.loads(encode(SAMPLES[0]))
    raw["added_in_a_later_version"] = [1, 2]
    assert decode(orjson.dumps(raw)) == SAMPLES[0]


BAD = [
    (b"not json", "not JSON"),
    (b"[1]", "expected an object"),
    (b'{"schema_version": 1}', "unknown event type None"),
    (b'{"type": "nope", "schema_version": 1}', "unknown event type 'nope'"),
    (b'{"type": "repo.create", "schema_version": 1, "repo": "x", "time": 1}', "missing field 'request_id'"),
    (b'{"type": "repo.create", "schema_version": 1, "request_id": 5, "repo": "x", "time": 1}', "repo.create.request_id: value 5 is not of type str"),
    (b'{"type": "repo.create", "schema_version": 1, "request_id": "r", "repo": "x", "time": true}', "is not of type float"),
    (b'{"type": "repo.create", "schema_version": 0, "request_id": "r", "repo": "x", "time": 1}', "schema_version 0"),
    (b'{"type": "repo.create", "schema_version": 99, "request_id": "r", "repo": "x", "time": 1}', "upgrade pachstream"),
    (b'{"type": "file.modify", "schema_version": 1, "request_id": "r", "repo": "x", "branch": "m", "time": 1, "ops": [{"op": "rename", "path": "/a"}]}', "'rename'"),
    (b'{"type": "file.modify", "schema_version": 1, "request_id": "r", "repo": "x", "branch": "m", "time": 1, "ops": [{"op": "put", "path": "/a", "file": {"hash": "h", "size": "12", "chunks": []}}]}', "size: value '12' is not of type int"),
]


@pytest.mark.parametrize(("data", "message"), BAD, ids=[m for _, m in BAD])
def test_decode_errors_name_the_problem(data, message):
    with pytest.raises(EventDecodeError) as raised:
        decode(data)
    assert message in raised.value.message


def test_null_record():
    with pytest.raises(EventDecodeError, match="no value"):
        decode(None)
