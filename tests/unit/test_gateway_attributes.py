"""GetObjectAttributes: the request headers read, and the answer as botocore parses it."""

from typing import Any

import botocore.session
import pytest
from botocore.parsers import RestXMLParser
from multidict import CIMultiDict, CIMultiDictProxy

from pachstream.gateway._attributes import (
    ATTRIBUTES,
    PartsPage,
    attributes_xml,
    parse_attributes,
    parse_parts_page,
)
from pachstream.gateway._checksums import Checksum
from pachstream.gateway._errors import S3Error
from pachstream.gateway._metadata import ObjectRecord, Part

MODEL = botocore.session.get_session().get_service_model("s3")
ETAG = "ab" * 32
MIB5 = 5 * 2**20
ALL = frozenset(ATTRIBUTES)


def _headers(**values: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in values.items()}))


def _parse(xml: bytes) -> dict[str, Any]:
    shape = MODEL.operation_model("GetObjectAttributes").output_shape
    parsed: dict[str, Any] = RestXMLParser().parse(
        {"body": xml, "headers": {}, "status_code": 200}, shape
    )
    return parsed


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("ETag", {"ETag"}),
        ("ETag,Checksum,ObjectParts,StorageClass,ObjectSize", set(ATTRIBUTES)),
        (" objectsize , etag ", {"ObjectSize", "ETag"}),  # botocore joins with ","; any case
        ("ETag,ETag", {"ETag"}),
    ],
)
def test_parse_attributes(value: str, want: set[str]) -> None:
    assert parse_attributes(_headers(x_amz_object_attributes=value)) == want


@pytest.mark.parametrize("headers", [{}, {"x-amz-object-attributes": " , "}])
def test_attributes_header_missing_or_empty(headers: dict[str, str]) -> None:
    with pytest.raises(S3Error) as caught:
        parse_attributes(CIMultiDictProxy(CIMultiDict(headers)))
    assert caught.value.s3_code == "InvalidArgument"
    assert "x-amz-object-attributes" in str(caught.value)


def test_unknown_attribute_is_named() -> None:
    with pytest.raises(S3Error) as caught:
        parse_attributes(_headers(x_amz_object_attributes="ETag,Owner"))
    assert caught.value.s3_code == "InvalidArgument"
    assert "'Owner'" in str(caught.value)


@pytest.mark.parametrize(
    ("headers", "want"),
    [
        ({}, PartsPage(1000, 0)),
        ({"x-amz-max-parts": "1", "x-amz-part-number-marker": "3"}, PartsPage(1, 3)),
        ({"x-amz-max-parts": "", "x-amz-part-number-marker": ""}, PartsPage(1000, 0)),
    ],
)
def test_parse_parts_page(headers: dict[str, str], want: PartsPage) -> None:
    assert parse_parts_page(CIMultiDictProxy(CIMultiDict(headers))) == want


@pytest.mark.parametrize(
    "headers",
    [{"x-amz-max-parts": "-1"}, {"x-amz-max-parts": "1001"}, {"x-amz-part-number-marker": "x"}],
)
def test_bad_parts_page(headers: dict[str, str]) -> None:
    with pytest.raises(S3Error) as caught:
        parse_parts_page(CIMultiDictProxy(CIMultiDict(headers)))
    assert caught.value.s3_code == "InvalidArgument"


SINGLE = ObjectRecord(checksum=Checksum("SHA256", "FULL_OBJECT", "c2hh"))
MULTIPART = ObjectRecord(
    checksum=Checksum("SHA256", "COMPOSITE", "Y29tcA==-6"),
    parts=tuple(Part(MIB5, {"SHA256": f"cDE{n}", "CRC64NVME": "x"}) for n in range(6)),
)
NO_SUMS = ObjectRecord(parts=(Part(MIB5), Part(3)))


def test_single_object_has_no_parts() -> None:
    got = _parse(attributes_xml(ALL, etag=ETAG, size=3, record=SINGLE))
    assert got["ETag"] == ETAG  # bare, as S3 answers it here
    assert got["ObjectSize"] == 3
    assert got["StorageClass"] == "STANDARD"
    assert got["Checksum"] == {"ChecksumSHA256": "c2hh", "ChecksumType": "FULL_OBJECT"}
    assert "ObjectParts" not in got


def test_only_what_was_asked() -> None:
    got = _parse(attributes_xml(frozenset({"ObjectSize"}), etag=ETAG, size=30, record=MULTIPART))
    assert {k for k in got if k != "ResponseMetadata"} == {"ObjectSize"}


def test_no_record_means_no_checksum_and_no_parts() -> None:
    got = _parse(attributes_xml(ALL, etag=ETAG, size=3, record=None))
    assert "Checksum" not in got and "ObjectParts" not in got
    assert got["ETag"] == ETAG


@pytest.mark.parametrize(
    ("page", "numbers", "truncated", "next_marker"),
    [
        (PartsPage(), [1, 2, 3, 4, 5, 6], False, None),
        (PartsPage(1, 3), [4], True, 4),  # s3-tests' test_get_paginated_multipart_object_attributes
        (PartsPage(10, 4), [5, 6], False, None),
        (PartsPage(2, 6), [], False, None),
    ],
)
def test_parts_pages(
    page: PartsPage, numbers: list[int], truncated: bool, next_marker: int | None
) -> None:
    got = _parse(attributes_xml(ALL, etag=ETAG, size=6 * MIB5, record=MULTIPART, page=page))
    parts = got["ObjectParts"]
    assert parts["TotalPartsCount"] == 6
    assert parts["PartNumberMarker"] == page.marker
    assert parts["MaxParts"] == page.max_parts
    assert parts["IsTruncated"] is truncated
    assert parts.get("NextPartNumberMarker") == next_marker
    assert [p["PartNumber"] for p in parts.get("Parts", [])] == numbers
    for p in parts.get("Parts", []):
        # Each part's checksum in the object's algorithm only.
        assert p == {
            "PartNumber": p["PartNumber"],
            "Size": MIB5,
            "ChecksumSHA256": f"cDE{p['PartNumber'] - 1}",
        }
    assert got["Checksum"] == {"ChecksumSHA256": "Y29tcA==-6", "ChecksumType": "COMPOSITE"}


def test_parts_without_checksums() -> None:
    got = _parse(attributes_xml(ALL, etag=ETAG, size=MIB5 + 3, record=NO_SUMS))
    assert got["ObjectParts"]["Parts"] == [
        {"PartNumber": 1, "Size": MIB5},
        {"PartNumber": 2, "Size": 3},
    ]
    assert "Checksum" not in got
