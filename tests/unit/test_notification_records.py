"""S3 bucket notifications (AWS and MinIO shapes) → file writes: tables of cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from pachstream.errors import InvalidInput
from pachstream.ingest import NotifyConfig, parse_notification, parse_notify_config

FIXTURES = Path(__file__).parent.parent / "fixtures" / "notifications"
CONFIG = NotifyConfig(topic="s3-events", repo="raw", prefix="/incoming")


def fixture(name: str, bucket: str = "ext") -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"BUCKET", bucket.encode())


@pytest.mark.parametrize(
    ("name", "op", "path", "bucket_key"),
    [
        ("aws_put.json", "put", "/incoming/dir/my file=1.csv", ("ext", "dir/my file=1.csv")),
        ("aws_delete.json", "delete", "/incoming/dir/my file=1.csv", (None, None)),
        (
            "minio_put.json",
            "put",
            "/incoming/reports/q4 summary.txt",
            ("ext", "reports/q4 summary.txt"),
        ),
    ],
)
def test_recorded_shapes(name, op, path, bucket_key):
    [n] = parse_notification(fixture(name), CONFIG)
    assert (n.item.repo, n.item.branch, n.item.op, n.item.path) == ("raw", "master", op, path)
    assert (n.item.s3_bucket, n.item.s3_key) == bucket_key


def test_the_same_event_has_the_same_key_and_another_event_another():
    put, again = (parse_notification(fixture("aws_put.json"), CONFIG)[0] for _ in range(2))
    delete = parse_notification(fixture("aws_delete.json"), CONFIG)[0]
    other_bucket = parse_notification(fixture("aws_put.json", "other"), CONFIG)[0]
    assert put.seen_key == again.seen_key
    assert len({put.seen_key, delete.seen_key, other_bucket.seen_key}) == 3


def test_test_events_and_other_event_kinds_give_nothing():
    assert parse_notification(fixture("aws_test_event.json"), CONFIG) == []
    restore = fixture("aws_put.json").replace(b"ObjectCreated:Put", b"ObjectRestore:Completed")
    assert parse_notification(restore, CONFIG) == []


BAD = [
    (b"not json", "not JSON"),
    (b"[1]", "JSON object"),
    (b'{"Other": 1}', "no 'Records'"),
    (b'{"Records": {}}', "must be a list"),
    (b'{"Records": [{"eventName": "ObjectCreated:Put"}]}', "Records[0] lacks"),
    (
        b'{"Records": [{"eventName": 1, "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}',
        "strings",
    ),
    (
        b'{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, '
        b'"object": {"key": "a/../../etc"}}}]}',
        "cannot be a path",
    ),
]


@pytest.mark.parametrize(("value", "needle"), BAD)
def test_malformed_records_say_what_is_wrong(value, needle):
    with pytest.raises(InvalidInput) as err:
        parse_notification(value, CONFIG)
    assert needle in err.value.message


def test_config():
    assert parse_notify_config(None) is None
    assert parse_notify_config("topic=t,repo=raw") == NotifyConfig("t", "raw")
    assert parse_notify_config(
        "topic=t,repo=raw,branch=dev,prefix=in/,endpoint=http://h:1,access_key=a,secret_key=s"
    ) == NotifyConfig("t", "raw", "dev", "/in", "http://h:1", "a", "s")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("repo=raw", "needs topic"),
        ("topic=t", "needs repo"),
        ("topic=t,repo=raw,colour=red", "'colour=red'"),
        ("topic=t,repo=Bad Name", "Bad Name"),
    ],
)
def test_bad_config(text, needle):
    with pytest.raises(InvalidInput) as err:
        parse_notify_config(text)
    assert needle in err.value.message
