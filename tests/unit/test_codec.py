"""Event encoding: round trips, clear decode errors, and golden files of every version."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path
from typing import ClassVar

import orjson
import pytest

from pachstream import codec
from pachstream.codec import _REGISTRY, _UPCASTERS, _WIRE, decode, encode, from_plain, to_plain
from pachstream.commits.events import (
    BranchDeleted,
    BranchSet,
    CommitDeleted,
    CommitFinished,
    CommitSquashed,
    CommitStarted,
    CreateBranch,
    CreateRepo,
    DeleteBranch,
    DeleteCommit,
    DeleteRepo,
    FinishCommit,
    HeadMove,
    ModifyFiles,
    Reparented,
    RepoCreated,
    RepoDeleted,
    RequestDone,
    SquashCommit,
    StartCommit,
)
from pachstream.dispatch.events import (
    CreatePipeline,
    DatumFinished,
    DatumTask,
    DatumTaskRef,
    DeletePipeline,
    InputCommit,
    JobFinished,
    JobStarted,
    OutputFile,
    PipelineCreated,
    PipelineStateSet,
    RerunJob,
    SetPipelineState,
    SpilledTask,
    StagedFile,
    StopJob,
    TaskInput,
)
from pachstream.errors import EventDecodeError
from pachstream.model import Chunk, DiffEntry, FileEntry, FileOp, file_hash

GOLDEN = Path(__file__).parent.parent / "fixtures" / "events"
F = FileEntry(
    hash="a" * 64,
    size=3,
    chunks=(Chunk(hash="a" * 64, size=3, pack="packs/" + "b" * 64, offset=7),),
)

# The golden files under fixtures/events/v1 were encoded once from these: keep both unchanged.
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
    CommitStarted(
        event_id="e5",
        request_id="r5",
        repo="images",
        branch="master",
        commit_id="c" * 32,
        parent=None,
        time=5.0,
    ),
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
    RequestDone(
        event_id="e7",
        request_id="r7",
        repo="images",
        ok=False,
        error_code="RepoNotFound",
        error_message="no",
        error_fields={"repo": "images"},
    ),
    # Pipelines (issue 3).
    CreatePipeline(
        request_id="r8", pipeline="edges", time=8.0,
        spec={"pipeline": {"name": "edges"}, "n": [1, 2.5]}, update=True,
    ),
    DeletePipeline(request_id="r9", pipeline="edges", time=9.0),
    SetPipelineState(request_id="r10", pipeline="edges", time=10.0, stopped=True),
    RerunJob(
        request_id="r11", pipeline="edges", time=11.0, job_id="j" * 32, failed_only=False,
        datum_id="d" * 32,
    ),
    PipelineCreated(
        event_id="e8", request_id="r8", pipeline="edges", version=2,
        spec={"pipeline": {"name": "edges"}}, salt="s", time=8.0,
    ),
    PipelineStateSet(event_id="e9", request_id="r10", pipeline="edges", state="stopped", time=10.0),
    JobStarted(
        event_id="e10", job_id="j" * 32, pipeline="edges", version=2,
        inputs=(InputCommit(name="images", repo="images", branch="master", commit_id="c" * 32),),
        output_commit="o" * 32, time=12.0, datums=3, to_run=1, skipped=2, rerun_of=None,
    ),
    DatumTask(
        job_id="j" * 32, pipeline="edges", version=2, datum_id="d" * 32, hash="h" * 64,
        inputs=(
            TaskInput(
                name="images", repo="images", branch="master", commit_id="c" * 32, path="/été",
                files=(StagedFile(path="/été/a*b.txt", file=F),), join_on="", group_by="g",
                empty_files=True,
            ),
        ),
        output_commit="o" * 32, cmd=("sh", "-c", "cp -r /pfs/images /pfs/out"), stdin=("x",),
        env=(("A", "1"),), working_dir="/pfs", err_cmd=("true",), err_stdin=(), tries=3,
        timeout_s=2.5,
    ),
    DatumFinished(
        event_id="e11", job_id="j" * 32, pipeline="edges", datum_id="d" * 32, hash="h" * 64,
        state="failed", tries=3, exit_code=None, timed_out=True, stderr_tail="boom",
        log_ref="logs/j/d", started=13.0, duration_s=1.5, worker="edges.2.0@h:1", inputs=(),
        outputs=(OutputFile(path="/x", file=F),),
    ),
    JobFinished(
        event_id="e12", job_id="j" * 32, pipeline="edges", state="failure", output_commit=None,
        processed=0, skipped=2, failed=1, recovered=0, time=14.0, reason="1 datum(s) failed",
    ),
    # History changes and stopping a job (issue 12).
    DeleteCommit(request_id="r12", repo="images", commit_id="c" * 32, time=15.0),
    SquashCommit(request_id="r13", repo="images", commit_id="c" * 32, time=16.0),
    CommitDeleted(
        event_id="e13", request_id="r12", repo="images", commit_id="c" * 32, parent="p" * 32,
        was_open=False,
        moved=(HeadMove(branch="master", head="p" * 32, root="manifests/" + "d" * 64),),
        commitset="s" * 32, time=15.0,
    ),
    CommitSquashed(
        event_id="e14", request_id="r13", repo="images", commit_id="c" * 32, parent=None,
        children=(
            Reparented(
                commit_id="k" * 32, parent=None, added=1, modified=0, deleted=0,
                diff_ref="diffs/k.1",
                diff=(DiffEntry(path="/a", change="added", file=F, old=None),),
            ),
        ),
        time=16.0,
    ),
    StopJob(request_id="r14", pipeline="edges", time=17.0, job_id="j" * 32),
    # Big datums spill their task to the object store (issue 17).
    DatumTaskRef(
        job_id="j" * 32, pipeline="edges", datum_id="d" * 32, hash="h" * 64,
        task=SpilledTask(key="tasks/" + "5" * 64, sha256="5" * 64, size=60_000_000),
    ),
]  # fmt: skip

BLOB = Chunk(hash="e" * 64, size=2_000_000)
TWO = (F.chunks[0], BLOB)
APPENDED = FileEntry(hash=file_hash(TWO), size=2_000_003, chunks=TWO)
EXTRA = [
    ModifyFiles(
        request_id="x1",
        repo="r",
        branch="b",
        time=1.0,
        description="batch",
        ops=(
            FileOp(op="append", path="/a", file=APPENDED),
            FileOp(op="put", path="/empty", file=FileEntry(hash="z", size=0, chunks=())),
            FileOp(op="delete", path="/"),
        ),
    ),
    CommitFinished(
        event_id="x2",
        request_id="x2",
        repo="r",
        branch="b",
        commit_id="1" * 32,
        parent="2" * 32,
        started=1.0,
        finished=2.25,
        description="",
        root="",
        file_count=0,
        size_bytes=0,
        added=0,
        modified=1,
        deleted=1,
        diff_ref="diffs/x",
        diff=(
            DiffEntry(path="/a", change="modified", file=APPENDED, old=F),
            DiffEntry(path="/b", change="deleted", file=None, old=F),
        ),
    ),
    CommitFinished(
        **{**to_plain(SAMPLES[12]), "diff": None, "parent": "2" * 32, "description": "long"}
    ),
    RequestDone(event_id="x3", request_id="x3", repo="r", ok=True, commit_id="1" * 32),
    RequestDone(
        event_id="x4",
        request_id="x4",
        repo="r",
        ok=False,
        error_code="InvalidPath",
        error_message="path '/a\\x00': control character",
        error_fields={"path": "/a\x00", "n": 1, "f": 1.5, "b": True, "none": None},
    ),
    # A spilled datum's result: inputs without their files, and the stored task's reference.
    dataclasses.replace(
        SAMPLES[22],
        inputs=(
            TaskInput(
                name="images",
                repo="images",
                branch="master",
                commit_id="c" * 32,
                path="/",
                files=(),
            ),
        ),
        inputs_ref=SpilledTask(key="tasks/" + "5" * 64, sha256="5" * 64, size=9),
    ),
]


def test_samples_cover_every_registered_type():
    assert len(SAMPLES) == len(_REGISTRY) == 30
    assert {s.TYPE for s in SAMPLES} == set(_REGISTRY)


@pytest.mark.parametrize("event", SAMPLES + EXTRA, ids=lambda e: e.TYPE)
def test_round_trip(event):
    data = encode(event)
    assert decode(data) == event
    raw = orjson.loads(data)
    assert (raw.pop("type"), raw.pop("schema_version")) == (event.TYPE, event.SCHEMA_VERSION)
    if type(event) in _WIRE:  # a wire form of its own (file.modify v2): its tests are its own
        return
    assert raw == to_plain(event)
    assert from_plain(type(event), raw) == event


def test_int_time_decodes_as_float():
    event = decode(
        b'{"type":"repo.delete","schema_version":1,"request_id":"r","repo":"x","time":3}'
    )
    assert event == DeleteRepo(request_id="r", repo="x", time=3.0)
    assert isinstance(event.time, float)


def test_decoded_sequences_are_tuples():
    ops = decode(encode(EXTRA[0])).ops
    assert isinstance(ops, tuple) and isinstance(ops[0].file.chunks, tuple)


# ----------------------------------------------------------------------------- golden files

GOLDEN_FILES = sorted(GOLDEN.glob("v*/*.json"))


def test_every_type_has_a_golden_file():
    assert {p.stem for p in GOLDEN.glob("v1/*.json")} == set(_REGISTRY)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden_file_decodes_and_re_encodes(path):
    # Golden files are committed data from the version that first emitted them: never
    # regenerate them. A change that breaks one needs a new schema version and an upcaster.
    golden = orjson.loads(path.read_bytes())
    assert (golden["type"], f"v{golden['schema_version']}") == (path.stem, path.parent.name)
    event = decode(path.read_bytes())
    assert type(event) is _REGISTRY[path.stem]
    if golden["schema_version"] < event.SCHEMA_VERSION:
        # An older version, upcast: it re-encodes as the current one, to the same event.
        assert decode(encode(event)) == event
        return
    encoded = orjson.loads(encode(event))
    # Fields added since (optional, the only evolution allowed) come out at their defaults.
    added = {k: v for k, v in encoded.items() if k not in golden}
    # (as JSON: a tuple default is a list on the wire)
    defaults = {f.name: f.default for f in dataclasses.fields(type(event))}
    assert added == {k: orjson.loads(orjson.dumps(defaults[k])) for k in added}, added
    assert {k: v for k, v in encoded.items() if k in golden} == golden


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.TYPE)
def test_golden_file_is_the_sample(event):
    assert decode((GOLDEN / "v1" / f"{event.TYPE}.json").read_bytes()) == event


def test_golden_files_of_later_versions_are_their_samples():
    # v2/file.modify.json was encoded once from SAMPLES[6] by version 2: keep both unchanged.
    later = sorted(GOLDEN.glob("v[2-9]/*.json"))
    assert [p.relative_to(GOLDEN).as_posix() for p in later] == ["v2/file.modify.json"]
    assert decode(later[0].read_bytes()) == SAMPLES[6]
    assert encode(SAMPLES[6]) == later[0].read_bytes().strip()


def test_unknown_fields_are_ignored():
    raw = orjson.loads((GOLDEN / "v1" / "file.modify.json").read_bytes())
    raw["added_in_a_later_version"] = [1, 2]
    raw["ops"][0]["file"]["chunks"][0]["etag"] = "x"
    raw["ops"][1]["mode"] = 0o644
    assert decode(orjson.dumps(raw)) == SAMPLES[6]
    current = orjson.loads(encode(SAMPLES[6]))
    current["added_in_a_later_version"] = [1, 2]
    assert decode(orjson.dumps(current)) == SAMPLES[6]


def test_optional_fields_may_be_absent():
    assert decode(
        b'{"type":"request.done","schema_version":1,"event_id":"e","request_id":"r",'
        b'"repo":"x","ok":true}'
    ) == RequestDone(event_id="e", request_id="r", repo="x", ok=True)


# ----------------------------------------------------------------------------- decode errors


def rc(**fields) -> bytes:
    """A repo.create record with some fields replaced (``...``: removed)."""
    raw = {"type": "repo.create", "schema_version": 1, "request_id": "r", "repo": "x", "time": 1}
    raw.update(fields)
    return orjson.dumps({k: v for k, v in raw.items() if v is not ...})


def fm(op) -> bytes:
    """A file.modify record holding one op."""
    head = {"type": "file.modify", "schema_version": 1, "request_id": "r", "repo": "x"}
    return orjson.dumps({**head, "branch": "m", "time": 1, "ops": [op]})


def put(**file) -> dict:
    return {"op": "put", "path": "/a", "file": {"hash": "h", "size": 1, "chunks": [], **file}}


BAD = [
    ("not JSON", b"not json", "event is not JSON: invalid literal"),
    ("JSON array", b"[1]", "event is JSON list, expected an object"),
    ("JSON string", b'"x"', "event is JSON str, expected an object"),
    ("no type", b'{"schema_version": 1}', "unknown event type None"),
    ("type not text", b'{"type": 5, "schema_version": 1}', "unknown event type 5"),
    ("unknown type", rc(type="nope"), "unknown event type 'nope'"),
    (
        "no version",
        rc(schema_version=...),
        "event 'repo.create': schema_version None is not one this code reads (1..1); "
        "upgrade pachstream to read newer events",
    ),
    ("version 0", rc(schema_version=0), "event 'repo.create': schema_version 0 is not one"),
    ("version 99", rc(schema_version=99), "schema_version 99 is not one this code reads (1..1)"),
    ("version as text", rc(schema_version="1"), "schema_version '1' is not one"),
    ("version as bool", rc(schema_version=True), "schema_version True is not one"),
    ("missing field", rc(request_id=...), "repo.create: missing field 'request_id'"),
    ("int for str", rc(request_id=5), "repo.create.request_id: value 5 is not of type str"),
    ("null for str", rc(repo=None), "repo.create.repo: value None is not of type str"),
    ("bool for float", rc(time=True), "repo.create.time: value True is not of type float"),
    ("text for float", rc(time="1"), "repo.create.time: value '1' is not of type float"),
    ("int for bool", rc(update=1), "repo.create.update: value 1 is not of type bool"),
    (
        "text for int",
        fm(put(size="12")),
        "file.modify.ops.file.size: value '12' is not of type int",
    ),
    (
        "bool for int",
        fm(put(size=True)),
        "file.modify.ops.file.size: value True is not of type int",
    ),
    ("float for int", fm(put(size=1.5)), "file.modify.ops.file.size: value 1.5 is not of type int"),
    (
        "bad chunk",
        fm(put(chunks=[{"hash": "h", "size": "1"}])),
        "file.modify.ops.file.chunks.size: value '1' is not of type int",
    ),
    ("chunk not object", fm(put(chunks=[1])), "file.modify.ops.file.chunks: expected an object"),
    ("unknown op", fm({"op": "rename", "path": "/a"}), "file.modify.ops.op: value 'rename' is not"),
    ("op not object", fm(5), "file.modify.ops: expected an object, got int"),
    ("missing nested field", fm({"op": "put"}), "file.modify.ops: missing field 'path'"),
    ("file not object", fm({"op": "put", "path": "/a", "file": 3}), "ops.file: expected an object"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD, ids=[c[0] for c in BAD])
def test_decode_errors_name_the_problem(name, data, message):
    with pytest.raises(EventDecodeError) as raised:
        decode(data)
    assert message in raised.value.message
    assert str(raised.value) == raised.value.message


def test_wrong_sequence_and_mapping_kinds():
    with pytest.raises(EventDecodeError, match=r"^file\.modify\.ops: value \{\} is not of type"):
        decode(fm(1).replace(b"[1]", b"{}"))
    done = b'{"type":"request.done","schema_version":1,"event_id":"e","request_id":"r","repo":"x",'
    with pytest.raises(EventDecodeError, match=r"^request\.done\.error_fields: value \[1\] is not"):
        decode(done + b'"ok":true,"error_fields":[1]}')


def test_version_errors_carry_the_type():
    with pytest.raises(EventDecodeError) as raised:
        decode(rc(schema_version=2))
    assert raised.value.event_type == "repo.create"


def test_null_record():
    with pytest.raises(EventDecodeError, match="^event has no value \\(null record\\)"):
        decode(None)


# ----------------------------------------------------------------------------- upcasters


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Renamed:
    TYPE: ClassVar[str] = "test.renamed"
    SCHEMA_VERSION: ClassVar[int] = 3
    name: str


def test_upcasters_run_in_order(monkeypatch):
    monkeypatch.setitem(_REGISTRY, Renamed.TYPE, Renamed)
    monkeypatch.setitem(_UPCASTERS, (Renamed.TYPE, 1), lambda r: {"label": r["title"]})
    monkeypatch.setitem(_UPCASTERS, (Renamed.TYPE, 2), lambda r: {"name": r["label"] + "!"})
    assert decode(b'{"type":"test.renamed","schema_version":1,"title":"a"}') == Renamed(name="a!")
    assert decode(b'{"type":"test.renamed","schema_version":2,"label":"b"}') == Renamed(name="b!")
    assert decode(encode(Renamed(name="c"))) == Renamed(name="c")
    monkeypatch.delitem(_UPCASTERS, (Renamed.TYPE, 1))
    with pytest.raises(
        EventDecodeError, match="^event 'test.renamed': no upcaster from version 1$"
    ):
        decode(b'{"type":"test.renamed","schema_version":1,"title":"a"}')


def test_a_type_registered_twice_is_refused():
    with pytest.raises(TypeError, match="event type 'repo.create' registered twice"):
        codec.register(dataclasses.make_dataclass("Other", [], namespace={"TYPE": "repo.create"}))
    assert _REGISTRY["repo.create"] is CreateRepo


# ----------------------------------------------------------------------------- garbage


def _cyclic_garbage_of(decodes: list[bytes]) -> int:
    """Objects in reference cycles that decoding ``decodes`` left behind (good or bad)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        for data in decodes:
            try:
                decode(data)
            except EventDecodeError:
                pass
        return gc.collect()
    finally:
        if was_enabled:
            gc.enable()


def test_decoding_leaves_no_cycles_behind():
    # A decode error held in a local of the frame that caught it closes a cycle through its
    # traceback, which holds every caller's frame: their locals (a commit processor's open
    # commit, a whole batch) then lived until a full collection.
    assert _cyclic_garbage_of([encode(e) for e in SAMPLES]) == 0
    assert _cyclic_garbage_of([data for _, data, _ in BAD]) == 0
