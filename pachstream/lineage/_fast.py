"""The fast path of the materializer: a ``datum.finished`` record's bytes → its rows, without
building the event's dataclasses.

Datum results are nearly every fact on a busy events topic, and building the nested frozen
dataclasses of one (its inputs, their staged files, their entries) cost more than parsing it
(measured: 48 % of the materializer's CPU). Here orjson's dict is checked and mapped in one
pass, as strictly as :func:`pachstream.codec.decode` checks it: the same required keys, the
same kinds (``bool`` is no ``int``, an ``int`` is a ``float``), the same literals, down to each
chunk of each file; keys unknown to this version are ignored, as the codec ignores them.

Whatever it does not accept gives None, and the caller takes the general path (decode, then
:func:`~pachstream.lineage._rows.rows_for`): a bad record is dead-lettered there with the
codec's own reason, and a valid but unusual one (a spilled task's reference to read back) is
materialized there. So this path never decides a dead letter and never accepts what the codec
refuses; ``tests/unit/test_lineage_fast.py`` proves its rows equal ``rows_for(decode(...))``
and that it refuses every record the codec refuses.
"""

from __future__ import annotations

import typing
from functools import lru_cache
from typing import Any

import orjson

from pachstream.dispatch.events import DatumFinished
from pachstream.lineage._rows import (
    INSERT_DATUM,
    INSERT_DATUM_INPUT,
    INSERT_DATUM_OUTPUT,
    Statement,
)
from pachstream.model import output_commit_id

VERSION = 1
"""The ``datum.finished`` schema version this path was written for; with another one current,
the path is off (every record takes the general path) until it is brought up to date."""

PREFIX = b'{"type":"datum.finished","schema_version":1,'
"""How :func:`pachstream.codec.encode` begins a version-1 datum result (type and version
first): a cheap test for records worth trying here. Only a hint: the parsed values decide."""

STATES = frozenset(typing.get_args(typing.get_type_hints(DatumFinished)["state"]))
"""The states a datum result may carry (the literal of its ``state`` field)."""

_ON = DatumFinished.SCHEMA_VERSION == VERSION


@lru_cache(maxsize=1024)
def _output_commit(pipeline: str, job_id: str) -> str:
    # Two sha256 per call; a batch holds thousands of datums of a few jobs.
    return output_commit_id(pipeline, job_id)


def datum_rows(data: bytes | None) -> list[Statement] | None:
    """The rows of a version-1 ``datum.finished`` record, as
    ``rows_for(decode(data))`` gives them; None when ``data`` is anything else, is not a valid
    such record, or needs more than its bytes (a spilled task's inputs).
    """
    if not _ON or data is None or not data.startswith(PREFIX):
        return None
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return _rows(raw) if type(raw) is dict else None


def _rows(raw: dict[str, Any]) -> list[Statement] | None:  # noqa: C901 - one check per field
    # orjson makes exact types, so `type(v) is str` is the codec's isinstance check; `type(v)
    # is int` also refuses a bool, as the codec does. A missing key reads as _NO, of no kind.
    get = raw.get
    version = get("schema_version", _NO)
    if get("type", _NO) != "datum.finished" or type(version) is not int or version != VERSION:
        return None
    job, pipeline, datum = get("job_id", _NO), get("pipeline", _NO), get("datum_id", _NO)
    digest, state, stderr = get("hash", _NO), get("state", _NO), get("stderr_tail", _NO)
    log_ref, worker, event_id = get("log_ref", _NO), get("worker", _NO), get("event_id", _NO)
    stdout = get("stdout_tail", "")
    if not (
        type(job) is str
        and type(pipeline) is str
        and type(datum) is str
        and type(digest) is str
        and type(state) is str
        and state in STATES
        and type(stderr) is str
        and type(log_ref) is str
        and type(worker) is str
        and type(event_id) is str
        and type(stdout) is str
        and get("inputs_ref") is None  # a spilled task: its files are read back elsewhere
    ):
        return None
    tries, exit_code, timed_out = get("tries", _NO), get("exit_code", _NO), get("timed_out", _NO)
    started, duration = get("started", _NO), get("duration_s", _NO)
    if not (
        type(tries) is int
        and (exit_code is None or type(exit_code) is int)
        and type(timed_out) is bool
        and (type(started) is float or type(started) is int)
        and (type(duration) is float or type(duration) is int)
    ):
        return None
    inputs, outputs = get("inputs", _NONE), get("outputs", _NONE)
    if type(inputs) is not list or type(outputs) is not list:
        return None

    rows: list[Statement] = []
    json_inputs: list[dict[str, Any]] = []
    for i in inputs:
        if type(i) is not dict:
            return None
        name, repo, commit = i.get("name", _NO), i.get("repo", _NO), i.get("commit_id", _NO)
        path, files = i.get("path", _NO), i.get("files", _NO)
        if not (
            type(name) is str
            and type(repo) is str
            and type(i.get("branch", _NO)) is str
            and (commit is None or type(commit) is str)
            and type(path) is str
            and type(files) is list
            and type(i.get("join_on", "")) is str
            and type(i.get("group_by", "")) is str
            and type(i.get("empty_files", False)) is bool
        ):
            return None
        pairs = []
        for f in files:
            if type(f) is not dict:
                return None
            fpath, entry = f.get("path", _NO), f.get("file", _NO)
            if type(fpath) is not str or not _entry_ok(entry):
                return None
            rows.append(
                (
                    INSERT_DATUM_INPUT,
                    (job, datum, name, repo, commit, fpath, entry["hash"], entry["size"]),
                )
            )
            pairs.append([fpath, entry["hash"]])
        json_inputs.append(
            {"name": name, "repo": repo, "commit": commit, "path": path, "files": pairs}
        )
    json_outputs = []
    if outputs:
        output_commit = _output_commit(pipeline, job)
        for o in outputs:
            if type(o) is not dict:
                return None
            opath, entry = o.get("path", _NO), o.get("file", _NO)
            if type(opath) is not str or not _entry_ok(entry):
                return None
            size = entry["size"]
            rows.append(
                (
                    INSERT_DATUM_OUTPUT,
                    (job, datum, pipeline, output_commit, opath, entry["hash"], size),
                )
            )
            json_outputs.append([opath, entry["hash"], size])
    rows.append(
        (
            INSERT_DATUM,
            (
                job, datum, pipeline, digest, state, tries, exit_code, timed_out, stderr,
                log_ref, float(started), float(duration), worker,
                orjson.dumps(json_inputs).decode(), orjson.dumps(json_outputs).decode(), stdout,
            ),
        )
    )  # fmt: skip
    return rows


def _entry_ok(entry: Any) -> bool:
    """Whether ``entry`` is a valid :class:`~pachstream.model.FileEntry` (chunks included:
    the codec refuses a bad chunk, so the fast path must too).
    """
    if type(entry) is not dict:
        return False
    get = entry.get
    chunks = get("chunks", _NO)
    if type(get("hash", _NO)) is not str or type(get("size", _NO)) is not int:
        return False
    if type(chunks) is not list:
        return False
    for c in chunks:
        if type(c) is not dict:
            return False
        pack = c.get("pack")
        if not (
            type(c.get("hash", _NO)) is str
            and type(c.get("size", _NO)) is int
            and (pack is None or type(pack) is str)
            and type(c.get("offset", 0)) is int
        ):
            return False
    return True


class _Missing:
    """A key that is not there: of no kind the checks accept (not even None)."""

    __slots__ = ()


_NO = _Missing()
_NONE: list[Any] = []
"""A list field's default (empty; only ever read)."""
