"""Ingest records → file writes, and commit policies: tables of cases."""

from __future__ import annotations

import pytest

from pachstream.errors import InvalidInput
from pachstream.ingest import CommitPolicy, IngestItem, parse_policies, parse_record

H = lambda **kw: [(k.replace("_", "-"), v.encode()) for k, v in kw.items()]  # noqa: E731

GOOD = [
    (
        "key with branch",
        b"raw@dev:/a.csv",
        b"x",
        [],
        IngestItem("raw", "dev", "/a.csv", "put", b"x"),
    ),
    ("key without branch", b"raw:/d/a", b"x", [], IngestItem("raw", "master", "/d/a", "put", b"x")),
    (
        "headers",
        None,
        b"y",
        H(repo="raw", path="/b"),
        IngestItem("raw", "master", "/b", "put", b"y"),
    ),
    (
        "headers win over the key",
        b"other@x:/z",
        b"y",
        H(repo="raw", branch="b1", path="/b"),
        IngestItem("raw", "b1", "/b", "put", b"y"),
    ),
    ("empty value", b"raw:/e", None, [], IngestItem("raw", "master", "/e", "put", b"")),
    ("append", b"raw:/l", b"+", H(op="append"), IngestItem("raw", "master", "/l", "append", b"+")),
    (
        "delete ignores the value",
        b"raw:/l",
        b"zz",
        H(op="delete"),
        IngestItem("raw", "master", "/l", "delete", b""),
    ),
    (
        "an S3 reference",
        b"raw:/big",
        b"ignored",
        H(s3_uri="s3://bucket/dir/obj.bin"),
        IngestItem("raw", "master", "/big", "put", b"", "bucket", "dir/obj.bin"),
    ),
    (
        "header names in any case",
        None,
        b"1",
        [("REPO", b"raw"), ("Path", b"/p")],
        IngestItem("raw", "master", "/p", "put", b"1"),
    ),
]


@pytest.mark.parametrize(
    ("name", "key", "value", "headers", "item"), GOOD, ids=[g[0] for g in GOOD]
)
def test_records_name_their_file(name, key, value, headers, item):
    assert parse_record(key, value, headers) == item


BAD = [
    ("neither key nor headers", None, [], "headers 'repo' and 'path', or the key"),
    ("key without a path", b"raw@master", [], "is not 'repo@branch:/path'"),
    ("header repo without path", None, H(repo="raw"), "needs header 'path'"),
    ("a path with ..", b"raw:/a/../b", [], "raw@master:/a/../b"),
    ("the root is not a file", b"raw:/", [], "raw@master:/"),
    ("a bad repo name", b"no spaces:/a", [], "no spaces"),
    ("an unknown op", b"raw:/a", H(op="move"), "'move'"),
    ("an s3-uri that is not s3", b"raw:/a", H(s3_uri="http://x/y"), "s3://bucket/key"),
    ("an s3-uri without a key", b"raw:/a", H(s3_uri="s3://bucket"), "s3://bucket/key"),
    ("a header that is not text", None, [("repo", b"\xff"), ("path", b"/a")], "not UTF-8"),
]


@pytest.mark.parametrize(("name", "key", "headers", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_records_say_what_is_wrong(name, key, headers, needle):
    with pytest.raises(InvalidInput) as err:
        parse_record(key, b"v", headers)
    assert needle in err.value.message


POLICIES = [
    (None, CommitPolicy(), {}),
    ("", CommitPolicy(), {}),
    ("100/2s", CommitPolicy(100, 2.0), {}),
    ("logs=10/0.5s", CommitPolicy(), {"logs": CommitPolicy(10, 0.5)}),
    ("5/1s, raw=300/30s", CommitPolicy(5, 1.0), {"raw": CommitPolicy(300, 30.0)}),
]


@pytest.mark.parametrize(("text", "default", "per_repo"), POLICIES)
def test_policies(text, default, per_repo):
    assert parse_policies(text) == (default, per_repo)


@pytest.mark.parametrize("text", ["100", "0/1s", "10/0s", "x=1/1", "10/5m"])
def test_bad_policies_name_the_part(text):
    with pytest.raises(InvalidInput, match="PACHSTREAM_INGEST_POLICY"):
        parse_policies(text)


@pytest.mark.parametrize(
    ("pending", "age", "due"),
    [(0, 99.0, False), (1, 0.1, False), (1, 5.0, True), (999, 1.0, False), (1000, 0.0, True)],
)
def test_due_by_count_or_age(pending, age, due):
    assert CommitPolicy(1000, 5.0).due(pending, age) is due
