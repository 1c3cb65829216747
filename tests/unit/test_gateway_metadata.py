"""The S3 gateway's object metadata: what a write stores, what a read answers."""

from __future__ import annotations

import pytest

from pachstream.gateway import S3Error
from pachstream.gateway._checksums import Checksum
from pachstream.gateway._listing import parse_copy_range
from pachstream.gateway._metadata import (
    DEFAULT_CONTENT_TYPE,
    ObjectRecord,
    Part,
    metadata_directive,
    parse_metadata,
    parse_part_number,
    part_range,
    read_headers,
    refuse_unsupported,
    response_overrides,
)


@pytest.mark.parametrize(
    ("headers", "stored"),
    [
        ({}, {}),
        ({"Content-Type": "text/csv", "Content-Length": "3"}, {"Content-Type": "text/csv"}),
        (
            {
                "content-type": "a/b",
                "Cache-Control": "no-cache",
                "Content-Disposition": "inline",
                "Content-Language": "de",
                "Expires": "Thu, 01 Dec 1994 16:00:00 GMT",
                "Content-Encoding": "gzip",
            },
            {
                "Content-Type": "a/b",
                "Cache-Control": "no-cache",
                "Content-Disposition": "inline",
                "Content-Language": "de",
                "Expires": "Thu, 01 Dec 1994 16:00:00 GMT",
                "Content-Encoding": "gzip",
            },
        ),
        # aws-chunked is the request's framing, not the object's encoding.
        ({"Content-Encoding": "aws-chunked"}, {}),
        ({"Content-Encoding": "gzip,aws-chunked"}, {"Content-Encoding": "gzip"}),
        ({"Content-Encoding": "aws-chunked, br"}, {"Content-Encoding": "br"}),
        # User metadata: names lower-cased, values trimmed; the bare prefix is nothing.
        (
            {"X-Amz-Meta-Owner": " ana ", "x-amz-meta-run-id": "42", "x-amz-meta-": "x"},
            {"x-amz-meta-owner": "ana", "x-amz-meta-run-id": "42"},
        ),
        ({"x-amz-storage-class": "STANDARD", "x-amz-tagging": "a=b"}, {}),
    ],
)
def test_parse_metadata(headers: dict[str, str], stored: dict[str, str]) -> None:
    assert parse_metadata(headers) == stored


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"x-amz-meta-k": "v" * 2047}, True),  # 1 + 2047 bytes
        ({"x-amz-meta-k": "v" * 2048}, False),
        ({"x-amz-meta-a": "é" * 1023}, True),  # UTF-8 bytes count: 1 + 2046
        ({"x-amz-meta-a": "é" * 1024}, False),
        ({f"x-amz-meta-k{i}": "v" * 100 for i in range(19)}, True),
        ({f"x-amz-meta-k{i}": "v" * 100 for i in range(20)}, False),
        ({"Content-Type": "t" * 5000}, True),  # system metadata does not count
    ],
)
def test_user_metadata_is_at_most_2_kb(headers: dict[str, str], ok: bool) -> None:
    if ok:
        parse_metadata(headers)
        return
    with pytest.raises(S3Error) as caught:
        parse_metadata(headers)
    assert caught.value.s3_code == "MetadataTooLarge"
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("headers", "want"),
    [
        ({}, "COPY"),
        ({"x-amz-metadata-directive": "replace"}, "REPLACE"),
        ({"X-Amz-Metadata-Directive": "COPY"}, "COPY"),
        ({"x-amz-metadata-directive": "MERGE"}, "InvalidArgument"),
    ],
)
def test_metadata_directive(headers: dict[str, str], want: str) -> None:
    if want == "InvalidArgument":
        with pytest.raises(S3Error) as caught:
            metadata_directive(headers)
        assert caught.value.s3_code == want
    else:
        assert metadata_directive(headers) == want


def test_read_headers() -> None:
    assert read_headers(None) == {"Content-Type": DEFAULT_CONTENT_TYPE}
    record = ObjectRecord(headers={"x-amz-meta-a": "1", "Cache-Control": "no-store"})
    assert read_headers(record) == {
        "Content-Type": "binary/octet-stream",
        "x-amz-meta-a": "1",
        "Cache-Control": "no-store",
    }
    typed = ObjectRecord(headers={"Content-Type": "text/plain"})
    assert read_headers(typed) == {"Content-Type": "text/plain"}


@pytest.mark.parametrize(
    ("query", "signed", "want"),
    [
        ({}, False, {}),
        ({"prefix": "x"}, False, {}),
        (
            {"response-content-type": "a/b", "response-expires": "never"},
            True,
            {"Content-Type": "a/b", "Expires": "never"},
        ),
        (
            {
                "response-cache-control": "c",
                "response-content-disposition": "d",
                "response-content-encoding": "e",
                "response-content-language": "l",
            },
            True,
            {
                "Cache-Control": "c",
                "Content-Disposition": "d",
                "Content-Encoding": "e",
                "Content-Language": "l",
            },
        ),
        ({"response-content-type": "a/b"}, False, "InvalidRequest"),
    ],
)
def test_response_overrides(query: dict[str, str], signed: bool, want) -> None:
    if want == "InvalidRequest":
        with pytest.raises(S3Error) as caught:
            response_overrides(query, signed)
        assert caught.value.s3_code == want
    else:
        assert response_overrides(query, signed) == want


MULTIPART = ObjectRecord(parts=(Part(5), Part(5), Part(2)))


@pytest.mark.parametrize(
    ("record", "size", "number", "want"),
    [
        (None, 10, 1, (0, 9, 1)),
        (ObjectRecord(), 10, 1, (0, 9, 1)),
        (None, 10, 2, "InvalidPart"),
        (MULTIPART, 12, 1, (0, 4, 3)),
        (MULTIPART, 12, 2, (5, 9, 3)),
        (MULTIPART, 12, 3, (10, 11, 3)),
        (MULTIPART, 12, 4, "InvalidPart"),
    ],
)
def test_part_range(record: ObjectRecord | None, size: int, number: int, want) -> None:
    if want == "InvalidPart":
        with pytest.raises(S3Error) as caught:
            part_range(record, size, number)
        assert caught.value.s3_code == "InvalidPart"
    else:
        assert part_range(record, size, number) == want


@pytest.mark.parametrize(
    ("value", "want"),
    [(None, None), ("1", 1), ("10000", 10000), ("0", "x"), ("10001", "x"), ("-1", "x"), ("a", "x")],
)
def test_parse_part_number(value: str | None, want) -> None:
    if want == "x":
        with pytest.raises(S3Error) as caught:
            parse_part_number(value)
        assert caught.value.s3_code == "InvalidArgument"
    else:
        assert parse_part_number(value) == want


@pytest.mark.parametrize(
    ("header", "size", "want"),
    [
        (None, 10, (0, 9)),
        (None, 0, (0, -1)),
        ("bytes=0-9", 10, (0, 9)),
        ("bytes=3-3", 10, (3, 3)),
        ("bytes=0-10", 10, "InvalidRange"),
        # s3-tests' improper ranges: a copy range is exactly bytes=a-b.
        ("0-2", 10, "InvalidArgument"),
        ("bytes=0", 10, "InvalidArgument"),
        ("bytes=hello-world", 10, "InvalidArgument"),
        ("bytes=0-bar", 10, "InvalidArgument"),
        ("bytes=hello-", 10, "InvalidArgument"),
        ("bytes=0-2,3-5", 10, "InvalidArgument"),
        ("bytes=-3", 10, "InvalidArgument"),
        ("bytes=5-2", 10, "InvalidArgument"),
    ],
)
def test_parse_copy_range(header: str | None, size: int, want) -> None:
    if isinstance(want, str):
        with pytest.raises(S3Error) as caught:
            parse_copy_range(header, size)
        assert caught.value.s3_code == want
    else:
        assert parse_copy_range(header, size) == want


def test_stored_form_round_trips() -> None:
    record = ObjectRecord(
        headers={"Content-Type": "a/b", "x-amz-meta-k": "v"},
        checksum=Checksum("CRC32C", "COMPOSITE", "AAAAAA==-2"),
        parts=(Part(5, {"CRC32C": "AAAAAA=="}), Part(1, {"CRC32C": "AQIDBA=="})),
    )
    data = record.to_json()
    assert ObjectRecord.from_json(data["meta"], data["checksum"], data["parts"]) == record
    plain = ObjectRecord()
    assert plain.to_json() == {"meta": {}, "checksum": None, "parts": None}
    assert ObjectRecord.from_json(None, None, None) == plain


# ----------------------------------------------------------------------------- unsupported headers


@pytest.mark.parametrize(
    ("operation", "name", "value"),
    [
        ("PutObject", "x-amz-server-side-encryption", "AES256"),
        ("PutObject", "x-amz-server-side-encryption-aws-kms-key-id", "k"),
        ("CopyObject", "x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("CopyObject", "x-amz-copy-source-server-side-encryption-customer-key", "k"),
        ("CreateMultipartUpload", "X-Amz-Object-Lock-Mode", "GOVERNANCE"),
        ("PutObject", "x-amz-object-lock-retain-until-date", "2030-01-01T00:00:00Z"),
        ("PutObject", "x-amz-object-lock-legal-hold", "ON"),
        ("PutObject", "x-amz-tagging", "a=b"),
        ("CopyObject", "x-amz-tagging-directive", "REPLACE"),
        ("PutObject", "x-amz-acl", "public-read"),
        ("PutObject", "x-amz-grant-full-control", 'id="x"'),
        ("CreateMultipartUpload", "x-amz-storage-class", "GLACIER"),
        ("PutObject", "x-amz-website-redirect-location", "/x"),
        ("GetObject", "x-amz-server-side-encryption-customer-key", "k"),
        ("HeadObject", "x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("UploadPart", "x-amz-server-side-encryption-customer-key-md5", "m"),
    ],
)
def test_refuse_unsupported(operation: str, name: str, value: str) -> None:
    with pytest.raises(S3Error) as caught:
        refuse_unsupported({name: value}, operation)
    assert caught.value.s3_code == "NotImplemented" and caught.value.status == 501
    assert name.lower() in caught.value.message


@pytest.mark.parametrize(
    ("operation", "headers"),
    [
        ("PutObject", {"x-amz-acl": "private"}),
        ("PutObject", {"x-amz-acl": "bucket-owner-full-control"}),
        ("PutObject", {"x-amz-storage-class": "STANDARD"}),
        ("PutObject", {"x-amz-tagging": ""}),
        ("CopyObject", {"x-amz-tagging-directive": "COPY"}),
        ("GetObject", {"x-amz-server-side-encryption": "AES256"}),  # not a read header
        ("DeleteObject", {"x-amz-acl": "public-read"}),
        ("PutObject", {"x-amz-meta-x": "1", "Content-Type": "text/plain"}),
    ],
)
def test_refuse_unsupported_accepts(operation: str, headers: dict[str, str]) -> None:
    refuse_unsupported(headers, operation)


def test_parse_metadata_keeps_utf8_and_refuses_other_bytes() -> None:
    assert parse_metadata({"x-amz-meta-a": "Hello World\xe9"}) == {
        "x-amz-meta-a": "Hello World\xe9"
    }
    latin1 = b"Hello World\xe9".decode("utf-8", "surrogateescape")  # as aiohttp hands it
    with pytest.raises(S3Error) as caught:
        parse_metadata({"x-amz-meta-a": latin1})
    assert caught.value.s3_code == "InvalidArgument" and "x-amz-meta-a" in caught.value.message
