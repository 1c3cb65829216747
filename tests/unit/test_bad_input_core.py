"""The pure rules behind rows of the bad-input table (tests/integration/test_bad_input_table.py):
huge paths, deep and bombed spec files, and messages that stay short whatever the input."""

from __future__ import annotations

import time

import orjson
import pytest

from pachstream.config import NotifyConfig
from pachstream.dispatch.spec import load_documents, parse_specs
from pachstream.errors import InvalidInput, InvalidPath, InvalidSpec
from pachstream.ingest import parse_notification, parse_record
from pachstream.paths import MAX_PATH_BYTES, normalize_path, validate_file_path

TEN_MB = 10 * 2**20


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("/" + "a" * (MAX_PATH_BYTES - 1), True),
        ("/" + "a" * MAX_PATH_BYTES, False),
        ("/" + "é" * (MAX_PATH_BYTES // 2 - 1), True),  # two bytes each: 2047 bytes
        ("/" + "é" * (MAX_PATH_BYTES // 2), False),
        ("/" + "k" * TEN_MB, False),
    ],
    ids=["at the limit", "one past", "UTF-8 at the limit", "UTF-8 past", "10 MB"],
)
def test_a_written_path_has_a_byte_limit(path: str, ok: bool) -> None:
    if ok:
        assert validate_file_path(path) == path
        return
    start = time.monotonic()
    with pytest.raises(InvalidPath) as err:
        validate_file_path(path)
    assert time.monotonic() - start < 0.5
    assert f"at most {MAX_PATH_BYTES} bytes" in err.value.message
    assert "shorter name" in err.value.message
    assert len(err.value.message) < 300


def test_reads_and_globs_take_any_length() -> None:
    assert normalize_path("/" + "a" * 5000) == "/" + "a" * 5000


def _bomb(levels: int) -> str:
    chain = ["&a0 [x, x, x, x, x, x, x, x, x, x]"]
    chain += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    head = "pipeline: {name: b}\ninput: {pfs: {repo: r, glob: /}}\n"
    return head + f"transform: {{cmd: [{', '.join(chain)}]}}\n"


@pytest.mark.parametrize("field", ["cmd", "stdin"])
def test_a_yaml_alias_bomb_is_refused_without_expanding_it(field: str) -> None:
    text = _bomb(8).replace("cmd:", f"cmd: [sh], {field}:") if field != "cmd" else _bomb(8)
    start = time.monotonic()
    with pytest.raises(InvalidSpec) as err:
        parse_specs(text, lambda r: True)
    assert time.monotonic() - start < 1  # 10**8 strings take ~10 s and a gigabyte
    assert f"'transform.{field}' must be a list of strings" in err.value.message
    assert len(err.value.message) < 300


@pytest.mark.parametrize(
    ("text", "what"),
    [("[" * 100_000, "JSON"), ('{"a": ' * 50_000, "JSON"), ("a: " + "[" * 100_000, "YAML")],
    ids=["JSON lists", "JSON objects", "YAML flow lists"],
)
def test_a_spec_nested_too_deep_is_invalid_not_a_crash(text: str, what: str) -> None:
    with pytest.raises(InvalidSpec, match=f"its {what} nests too deep"):
        load_documents(text)


def test_a_10_mb_key_gets_a_short_reason() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_record(b"raw@master:/" + b"k" * TEN_MB, b"x", [])
    assert "ingest record for raw@master:/kkk" in err.value.message
    assert len(err.value.message) < 400
    note = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "k" * TEN_MB}},
            }
        ]
    }
    with pytest.raises(InvalidInput) as err:
        parse_notification(orjson.dumps(note), NotifyConfig("t", "raw"))
    assert "cannot be a path" in err.value.message
    assert len(err.value.message) < 400
