"""The materializer's fast path for datum results gives exactly the general path's rows, and
refuses (hands back to the general path, which dead-letters) every record the codec refuses."""

from __future__ import annotations

import copy
import dataclasses
import random
import typing
from pathlib import Path
from typing import Any

import orjson
import pytest

from pachstream.bench.lineage import synthetic_job
from pachstream.codec import decode, encode, to_plain
from pachstream.dispatch.events import (
    DatumFinished,
    OutputFile,
    SpilledTask,
    StagedFile,
    TaskInput,
)
from pachstream.errors import EventDecodeError
from pachstream.lineage._fast import PREFIX, STATES, datum_rows
from pachstream.lineage._rows import rows_for
from pachstream.model import Chunk, FileEntry

EVENTS = Path(__file__).parent.parent / "fixtures" / "events"
GOLDEN = sorted(EVENTS.glob("v*/datum.finished.json"))

A, B = "a" * 64, "b" * 64
PACKED = FileEntry(
    hash="c" * 64,
    size=2_000_003,
    chunks=(Chunk(hash=A, size=3, pack="packs/" + B, offset=7), Chunk(hash=B, size=2_000_000)),
)
ALONE = FileEntry(hash=A, size=0, chunks=())


def _datum(**kw: Any) -> DatumFinished:
    fields: dict[str, Any] = dict(
        event_id="e", job_id="j" * 32, pipeline="edges", datum_id="d" * 32, hash="h" * 64,
        state="success", tries=2, exit_code=0, timed_out=False, stderr_tail="warn\n",
        log_ref="logs/j/d", started=13.25, duration_s=1.5, worker="edges.0.1@h:1",
        stdout_tail="ok ünïcode \u2603",
        inputs=(
            TaskInput(
                name="left", repo="images", branch="master", commit_id="c" * 32, path="/a/*",
                files=(StagedFile(path="/a/1", file=PACKED), StagedFile(path="/a/2", file=ALONE)),
                join_on="k", group_by="g", empty_files=True,
            ),
            TaskInput(name="right", repo="labels", branch="dev", commit_id=None, path="/",
                      files=()),
        ),
        outputs=(OutputFile(path="/o/1", file=PACKED), OutputFile(path="/o/2", file=ALONE)),
    )  # fmt: skip
    fields.update(kw)
    return DatumFinished(**fields)


# Datum results of every shape the rows depend on, the golden files and the bench's.
BASES: list[bytes] = [
    encode(_datum()),
    encode(_datum(state="failed", exit_code=None, timed_out=True, outputs=())),
    encode(_datum(state="recovered", exit_code=3, inputs=(), outputs=())),
    # A spilled task: valid, but its files are read back by the general path.
    encode(_datum(inputs_ref=SpilledTask(key="tasks/" + "5" * 64, sha256="5" * 64, size=9))),
    *[p.read_bytes() for p in GOLDEN],
    *[encode(f) for f in synthetic_job("bench", 3)[1:4]],
]


def _kinds(rows: list[Any] | None) -> Any:
    """The rows with each value's type: 2 == 2.0 and 1 == True, but not as columns."""
    return None if rows is None else [(sql, [(type(v), v) for v in args]) for sql, args in rows]


def _outcome(data: bytes | None) -> str:
    """Check the fast path against decode + rows_for for one record; say which case it was."""
    fast = datum_rows(data)
    try:
        fact = decode(data)
    except EventDecodeError:
        assert fast is None, f"fast path accepted what the codec refuses: {data!r:.300}"
        return "refused"
    if not isinstance(fact, DatumFinished) or fact.inputs_ref is not None:
        assert fast is None
        return "general"
    if fast is None:
        # Valid, only not written the way encode writes (type and version first).
        assert data is not None and not data.startswith(PREFIX), f"valid, refused: {data!r:.300}"
        return "general"
    assert _kinds(fast) == _kinds(rows_for(fact))
    return "fast"


def test_golden_files_are_found():
    assert GOLDEN, "no datum.finished golden file"


@pytest.mark.parametrize("data", BASES, ids=range(len(BASES)))
def test_fast_rows_equal_the_general_paths(data):
    expected = "general" if b'"inputs_ref":{' in data else "fast"
    if not data.startswith(PREFIX):
        # A golden file is pretty-printed: its bytes take the general path as they are, and
        # the fast one once written as encode writes them.
        assert _outcome(data) == "general"
        data = orjson.dumps(orjson.loads(data))
    assert _outcome(data) == expected


def test_fast_rows_are_the_datum_row_and_its_edges():
    rows = datum_rows(encode(_datum()))
    assert rows is not None
    assert [sql.split()[2] for sql, _ in rows] == [
        "datum_inputs", "datum_inputs", "datum_outputs", "datum_outputs", "datums",
    ]  # fmt: skip
    assert rows[0][1] == ("j" * 32, "d" * 32, "left", "images", "c" * 32, "/a/1", PACKED.hash,
                          2_000_003)  # fmt: skip
    datum = rows[-1][1]
    assert orjson.loads(datum[13])[1] == {
        "name": "right", "repo": "labels", "commit": None, "path": "/", "files": [],
    }  # fmt: skip
    assert orjson.loads(datum[14]) == [["/o/1", PACKED.hash, 2_000_003], ["/o/2", A, 0]]


# ----------------------------------------------------------------------------- garbage


def _crafted() -> list[bytes | None]:
    good = encode(_datum())
    body = good[len(PREFIX) :]
    return [
        None,
        b"",
        PREFIX,  # cut short
        good[:-1],
        PREFIX + b"}",
        PREFIX + b'"type":"job.finished",' + body,  # the last of a repeated key counts
        PREFIX + b'"schema_version":2,' + body,
        PREFIX + b'"schema_version":true,' + body,
        PREFIX + b'"schema_version":1.0,' + body,
        PREFIX + b'"state":"exploded",' + body[:-1] + b',"state":"exploded"}',
        good[:-1] + b',"tries":true}',
        good[:-1] + b',"timed_out":0}',
        good[:-1] + b',"started":"13"}',
        good[:-1] + b',"started":1e400}',
        good[:-1] + b',"inputs":null}',
        good[:-1] + b',"outputs":{}}',
        good[:-1] + b',"inputs_ref":5}',
        good[:-1] + b',"stdout_tail":null}',
        good.replace(b'"chunks":[]', b'"chunks":[{"hash":"x"}]'),
        good.replace(b'"offset":7', b'"offset":7.0'),
        good.replace(b'"pack":null', b'"pack":3'),
        good.replace(b'"empty_files":true', b'"empty_files":1'),
        good.replace(b'"commit_id":null', b'"commit_id":7'),
        good.replace(b'"branch":"dev",', b""),
        good.replace(b'"files":[]', b'"files":[null]'),
        b'[{"type":"datum.finished","schema_version":1}]',
        b'{"type":"datum.finished","schema_version":1,"x":1}',
    ]


@pytest.mark.parametrize("data", _crafted(), ids=range(len(_crafted())))
def test_crafted_garbage_takes_the_general_path(data):
    assert datum_rows(data) is None
    with pytest.raises(EventDecodeError):
        decode(data)


def test_crafted_cases_change_what_they_mean_to():
    # Each replace above found its text, or its case would be the good record again.
    good = encode(_datum())
    assert all(c != good for c in _crafted())


VALUES: list[Any] = [
    None, True, False, 0, -1, 2**40, 2**64 - 1, 1.5, "", "x", "success", "recovered", [], {},
    [{}], [None], {"hash": A}, {"hash": A, "size": 1, "chunks": []}, {"path": "/p"},
]  # fmt: skip


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key and index path inside a plain value."""
    out = [at]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*at, i))
    return out


def _mutate(plain: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    doc = copy.deepcopy(plain)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        path = rng.choice(_paths(doc)[1:])
        *parent_path, last = path
        parent: Any = doc
        for p in parent_path:
            parent = parent[p]
        op = rng.random()
        if op < 0.3 and isinstance(parent, dict):
            del parent[last]
        elif op < 0.4 and isinstance(parent, dict):
            parent["unknown_" + str(last)] = rng.choice(VALUES)  # ignored by both paths
        elif op < 0.5 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        else:
            parent[last] = copy.deepcopy(rng.choice(VALUES))
    return doc


def test_random_mutations_of_every_base_agree_with_the_codec():
    rng = random.Random(17)
    seen: dict[str, int] = {}
    for base in BASES:
        plain = orjson.loads(base)
        for _ in range(600):
            doc = _mutate(plain, rng)
            outcome = _outcome(orjson.dumps(doc))
            seen[outcome] = seen.get(outcome, 0) + 1
    # Both sides of the contract were exercised many times.
    assert seen["fast"] > 500 and seen["refused"] > 2000, seen


# ----------------------------------------------------------------------------- staying in step


def _shape(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        name = hint.__name__ if isinstance(hint, type) else str(hint)
        name = name.replace("pachstream.dispatch.events.", "").replace("pachstream.model.", "")
        optional = f.default is not dataclasses.MISSING or (
            f.default_factory is not dataclasses.MISSING
        )
        out.append(f"{f.name}: {name}" + (" = ..." if optional else ""))
    return out


CHECKED = {
    DatumFinished: [
        "event_id: str", "job_id: str", "pipeline: str", "datum_id: str", "hash: str",
        "state: typing.Literal['success', 'failed', 'recovered']", "tries: int",
        "exit_code: int | None", "timed_out: bool", "stderr_tail: str", "log_ref: str",
        "started: float", "duration_s: float", "worker: str",
        "inputs: tuple[TaskInput, ...] = ...", "outputs: tuple[OutputFile, ...] = ...",
        "stdout_tail: str = ...", "inputs_ref: SpilledTask | None = ...",
    ],
    TaskInput: [
        "name: str", "repo: str", "branch: str", "commit_id: str | None", "path: str",
        "files: tuple[StagedFile, ...]", "join_on: str = ...", "group_by: str = ...",
        "empty_files: bool = ...",
    ],
    StagedFile: ["path: str", "file: FileEntry"],
    OutputFile: ["path: str", "file: FileEntry"],
    FileEntry: ["hash: str", "size: int", "chunks: tuple[Chunk, ...]"],
    Chunk: ["hash: str", "size: int", "pack: str | None = ...", "offset: int = ..."],
}  # fmt: skip


@pytest.mark.parametrize("cls", CHECKED, ids=lambda c: c.__name__)
def test_the_fast_path_checks_the_fields_the_events_have(cls):
    """A field added to a datum result (or to what it nests) must be checked by
    pachstream/lineage/_fast.py as the codec checks it: update both, then this list."""
    assert _shape(cls) == CHECKED[cls]
    assert DatumFinished.SCHEMA_VERSION == 1 and PREFIX.endswith(b'"schema_version":1,')
    assert STATES == {"success", "failed", "recovered"}


def test_plain_form_of_a_base_is_what_it_encodes():
    # The mutations start from the plain form of each base: the same record.
    assert decode(orjson.dumps(orjson.loads(BASES[0]))) == _datum()
    assert to_plain(_datum())["inputs"][1]["commit_id"] is None
