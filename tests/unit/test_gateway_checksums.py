"""The S3 gateway's checksums: reference values, composition of parts, declared algorithms."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest

from pachstream.gateway import S3Error
from pachstream.gateway._checksums import (
    COMPOSITE,
    FULL_OBJECT,
    Checksum,
    Hasher,
    composite,
    declared,
    digest,
    full_object,
    unb64,
    upload_type,
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("algorithm", "data", "want"),
    [
        # The catalogue check values (the digest of "123456789").
        ("CRC32", b"123456789", "cbf43926"),
        ("CRC32C", b"123456789", "e3069283"),
        ("CRC64NVME", b"123456789", "ae8b14860a799888"),
        ("SHA1", b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("SHA256", b"", hashlib.sha256(b"").hexdigest()),
        ("CRC32C", b"", "00000000"),
    ],
)
def test_reference_values(algorithm: str, data: bytes, want: str) -> None:
    assert digest(algorithm, data).hex() == want


def test_known_s3_values() -> None:
    # AWS's chunked-upload example trailer, and s3-tests' values for 1024 'A's.
    assert _b64(digest("CRC32C", b"a" * 66560)) == "sOO8/Q=="
    assert _b64(digest("CRC64NVME", b"A" * 1024)) == "Qeh8oXvGiSo="
    assert _b64(digest("SHA256", b"A" * 1024)) == "arcu6553sHVAiX4MjW0j7I7vD4w6R+Gz9Ok0Q9lTa+0="


def test_hasher_in_pieces_equals_at_once() -> None:
    data = bytes(range(256)) * 100
    hasher = Hasher(["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
    for i in range(0, len(data), 777):
        hasher.update(data[i : i + 777])
    assert hasher.values() == Hasher.of(data, ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
    assert hasher.digests()["CRC32"] == zlib.crc32(data).to_bytes(4, "big")


PARTS = [b"first part " * 1000, b"second", b"", b"the last one"]


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_crc_is_the_crc_of_all_the_bytes(algorithm: str) -> None:
    got = full_object(algorithm, [(digest(algorithm, p), len(p)) for p in PARTS])
    assert got == Checksum(algorithm, FULL_OBJECT, _b64(digest(algorithm, b"".join(PARTS))))


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_is_the_digest_of_the_digests_then_the_count(algorithm: str) -> None:
    digests = [digest(algorithm, p) for p in PARTS]
    got = composite(algorithm, digests)
    assert got.type == COMPOSITE
    assert got.value == f"{_b64(digest(algorithm, b''.join(digests)))}-4"
    assert unb64(got.value) == digest(algorithm, b"".join(digests))


def test_s3_tests_composite_sha256() -> None:
    # s3-tests' test_multipart_checksum_sha256: one part of 1024 'A's.
    part = base64.b64decode("arcu6553sHVAiX4MjW0j7I7vD4w6R+Gz9Ok0Q9lTa+0=")
    assert composite("SHA256", [part]).value == "Ok6Cs5b96ux6+MWQkJO7UBT5sKPBeXBLwvj/hK89smg=-1"


@pytest.mark.parametrize(
    ("value", "matches"),
    [("abc=-3", True), ("abc=", True), ("abc=-2", False), ("abd=", False)],
)
def test_a_composite_matches_with_or_without_its_count(value: str, matches: bool) -> None:
    assert Checksum("SHA256", COMPOSITE, "abc=-3").matches(value) is matches
    assert Checksum("SHA256", FULL_OBJECT, "abc=").matches("abc=-3") is False


@pytest.mark.parametrize(
    ("headers", "trailers", "want"),
    [
        ({}, {}, []),
        ({"x-amz-checksum-crc32c": "x"}, {}, ["CRC32C"]),
        ({"X-Amz-Trailer": "x-amz-checksum-crc64nvme"}, {}, ["CRC64NVME"]),
        ({}, {"x-amz-checksum-sha256": "x"}, ["SHA256"]),
        ({"x-amz-sdk-checksum-algorithm": "sha1"}, {}, ["SHA1"]),
        ({"x-amz-sdk-checksum-algorithm": "CRC32", "x-amz-checksum-crc32": "x"}, {}, ["CRC32"]),
        ({"Content-MD5": "x"}, {}, []),
    ],
)
def test_declared(headers: dict, trailers: dict, want: list[str]) -> None:
    assert declared(headers, trailers) == want


def test_declared_refuses_an_unknown_algorithm() -> None:
    with pytest.raises(S3Error) as caught:
        declared({"x-amz-sdk-checksum-algorithm": "MD5"}, {})
    assert caught.value.s3_code == "InvalidRequest"


@pytest.mark.parametrize(
    ("algorithm", "requested", "want"),
    [
        (None, None, None),
        ("CRC32", None, COMPOSITE),
        ("SHA256", None, COMPOSITE),
        ("CRC64NVME", None, FULL_OBJECT),
        ("CRC32C", "full_object", FULL_OBJECT),
        ("CRC32", "COMPOSITE", COMPOSITE),
        ("CRC64NVME", "COMPOSITE", "InvalidRequest"),
        ("SHA1", "FULL_OBJECT", "InvalidRequest"),
        (None, "COMPOSITE", "InvalidRequest"),
        ("CRC32", "PARTIAL", "InvalidRequest"),
    ],
)
def test_upload_type(algorithm: str | None, requested: str | None, want: str | None) -> None:
    if want == "InvalidRequest":
        with pytest.raises(S3Error) as caught:
            upload_type(algorithm, requested)
        assert caught.value.s3_code == want
    else:
        assert upload_type(algorithm, requested) == want


def test_stored_form_round_trips() -> None:
    checksum = Checksum("CRC32C", COMPOSITE, "AAAAAA==-2")
    assert Checksum.from_json(checksum.to_json()) == checksum
    assert checksum.headers() == {
        "x-amz-checksum-crc32c": "AAAAAA==-2",
        "x-amz-checksum-type": "COMPOSITE",
    }
