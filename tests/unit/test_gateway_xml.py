import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.parsers import RestXMLParser

from pachstream.gateway._checksums import Checksum
from pachstream.gateway._errors import S3Error
from pachstream.gateway._listing import (
    ListPage,
    ObjectInfo,
    decode_token,
    list_page,
    parse_max_keys,
)
from pachstream.gateway._s3xml import (
    MAX_BODY,
    NAMESPACE,
    OWNER,
    acl_xml,
    complete_multipart_xml,
    copy_object_xml,
    copy_part_xml,
    delete_result_xml,
    error_xml,
    http_date,
    initiate_multipart_xml,
    iso8601,
    list_buckets_xml,
    list_objects_v1_xml,
    list_objects_v2_xml,
    list_parts_xml,
    list_uploads_xml,
    location_xml,
    parse_complete,
    parse_complete_checksums,
    parse_delete,
    parse_delete_entries,
    parse_location_constraint,
)
from pachstream.gateway._s3xml_parse import _NoDoctype

DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
NS = {"s": NAMESPACE}
T0 = 1_795_953_600.0  # 2026-11-29T12:00:00Z, a Sunday
MODEL = botocore.session.get_session().get_service_model("s3")
ETAG = "0123456789abcdef" * 4


def parse_back(xml: bytes, root_tag: str, namespaced: bool = True) -> ET.Element:
    assert xml.startswith(DECLARATION)
    root = ET.fromstring(xml)
    assert root.tag == (f"{{{NAMESPACE}}}{root_tag}" if namespaced else root_tag)
    return root


def botocore_parse(operation: str, xml: bytes, status: int = 200) -> dict[str, Any]:
    shape = MODEL.operation_model(operation).output_shape
    response = {"body": xml, "headers": {}, "status_code": status}
    parsed: dict[str, Any] = RestXMLParser().parse(response, shape)
    return parsed


def at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


# ----------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("epoch", "iso", "http"),
    [
        (T0, "2026-11-29T12:00:00.000Z", "Sun, 29 Nov 2026 12:00:00 GMT"),
        (T0 + 0.25, "2026-11-29T12:00:00.250Z", "Sun, 29 Nov 2026 12:00:00 GMT"),
        (0.0, "1970-01-01T00:00:00.000Z", "Thu, 01 Jan 1970 00:00:00 GMT"),
        (1.5, "1970-01-01T00:00:01.500Z", "Thu, 01 Jan 1970 00:00:01 GMT"),
        (1.0019, "1970-01-01T00:00:01.001Z", "Thu, 01 Jan 1970 00:00:01 GMT"),
        (951_782_400.999, "2000-02-29T00:00:00.999Z", "Tue, 29 Feb 2000 00:00:00 GMT"),
    ],
)
def test_times(epoch: float, iso: str, http: str) -> None:
    assert iso8601(epoch) == iso
    assert http_date(epoch) == http


# ----------------------------------------------------------------------------- error


def test_error_xml_fields_and_botocore() -> None:
    xml = error_xml("NoSuchKey", "key 'a&b<c>' is absent; list the bucket", "/b/a&b", "req-1")
    root = parse_back(xml, "Error", namespaced=False)
    assert [child.tag for child in root] == ["Code", "Message", "Resource", "RequestId"]
    assert root.findtext("Message") == "key 'a&b<c>' is absent; list the bucket"
    assert root.findtext("Resource") == "/b/a&b"
    parsed = botocore_parse("GetObject", xml, status=404)
    assert parsed["Error"]["Code"] == "NoSuchKey"
    assert parsed["Error"]["Message"] == "key 'a&b<c>' is absent; list the bucket"


def test_error_xml_replaces_what_xml_cannot_carry() -> None:
    xml = error_xml("InvalidArgument", "bad \x01 value \ud800", "/b/\x1b", "req\r")
    root = parse_back(xml, "Error", namespaced=False)
    assert root.findtext("Message") == "bad \ufffd value \ufffd"
    assert root.findtext("Resource") == "/b/\ufffd"
    assert root.findtext("RequestId") == "req\ufffd"


# ----------------------------------------------------------------------------- buckets


def test_list_buckets() -> None:
    xml = list_buckets_xml([("repo.main", T0), ("repo.dev", T0 + 0.25)])
    root = parse_back(xml, "ListAllMyBucketsResult")
    assert root.findtext("s:Owner/s:ID", namespaces=NS) == "pachstream"
    assert root.findtext("s:Owner/s:DisplayName", namespaces=NS) == "pachstream"
    names = [b.findtext("s:Name", namespaces=NS) for b in root.findall("s:Buckets/s:Bucket", NS)]
    assert names == ["repo.main", "repo.dev"]
    parsed = botocore_parse("ListBuckets", xml)
    assert parsed["Owner"] == {"ID": "pachstream", "DisplayName": "pachstream"}
    assert parsed["Buckets"] == [
        {"Name": "repo.main", "CreationDate": at(T0)},
        {"Name": "repo.dev", "CreationDate": at(T0 + 0.25)},
    ]


def test_list_buckets_empty_and_owner() -> None:
    parsed = botocore_parse("ListBuckets", list_buckets_xml([], owner="me"))
    assert parsed["Owner"]["ID"] == "me"
    assert parsed.get("Buckets", []) == []


# ----------------------------------------------------------------------------- listings

TRICKY = ["a b+c", "a&<b>\"'", "dir/x y", "dir/z+%20", "plain", "é/ü", "日本/語", "😀 x"]
OBJECTS = sorted(
    (ObjectInfo(key, n + 1, ETAG, T0 + n) for n, key in enumerate(TRICKY)), key=lambda o: o.key
)


def test_list_objects_v2_fields() -> None:
    page = list_page(OBJECTS, delimiter="/", max_keys=3)
    xml = list_objects_v2_xml(
        bucket="repo.main",
        prefix="",
        delimiter="/",
        max_keys=3,
        start_after="a",
        continuation_token="tok",
        encoding_type=None,
        page=page,
    )
    root = parse_back(xml, "ListBucketResult")

    def text(tag: str) -> str | None:
        return root.findtext(f"s:{tag}", namespaces=NS)

    assert text("Name") == "repo.main"
    assert text("Prefix") == ""
    assert text("Delimiter") == "/"
    assert text("MaxKeys") == "3"
    assert text("KeyCount") == "3"
    assert text("IsTruncated") == "true"
    assert text("ContinuationToken") == "tok"
    assert text("NextContinuationToken") == page.next_token
    assert text("StartAfter") == "a"
    assert text("EncodingType") is None
    contents = root.findall("s:Contents", NS)
    assert [c.findtext("s:Key", namespaces=NS) for c in contents] == ["a b+c", "a&<b>\"'"]
    first = contents[0]
    assert first.findtext("s:ETag", namespaces=NS) == f'"{ETAG}"'
    assert first.findtext("s:Size", namespaces=NS) == "1"
    assert first.findtext("s:StorageClass", namespaces=NS) == "STANDARD"
    assert first.findtext("s:LastModified", namespaces=NS) == iso8601(T0)
    prefixes = root.findall("s:CommonPrefixes/s:Prefix", NS)
    assert [p.text for p in prefixes] == ["dir/"]


def test_list_objects_v2_optional_elements_absent() -> None:
    page = list_page(OBJECTS, prefix="nomatch")
    xml = list_objects_v2_xml(bucket="b", prefix="nomatch", max_keys=1000, page=page)
    root = parse_back(xml, "ListBucketResult")
    tags = [child.tag.rpartition("}")[2] for child in root]
    assert tags == ["Name", "Prefix", "MaxKeys", "KeyCount", "IsTruncated"]
    assert root.findtext("s:KeyCount", namespaces=NS) == "0"
    assert root.findtext("s:IsTruncated", namespaces=NS) == "false"


def test_list_objects_v2_through_botocore_without_encoding() -> None:
    page = list_page(OBJECTS, delimiter="/")
    xml = list_objects_v2_xml(bucket="b", delimiter="/", max_keys=1000, page=page)
    parsed = botocore_parse("ListObjectsV2", xml)
    assert parsed["KeyCount"] == len(page.contents) + len(page.common_prefixes)
    assert parsed["IsTruncated"] is False
    assert [c["Key"] for c in parsed["Contents"]] == [o.key for o in page.contents]
    assert parsed["Contents"][0]["ETag"] == f'"{ETAG}"'
    assert parsed["Contents"][0]["LastModified"] == at(page.contents[0].last_modified)
    assert parsed["Contents"][0]["Size"] == page.contents[0].size
    assert [p["Prefix"] for p in parsed["CommonPrefixes"]] == ["dir/", "é/", "日本/"]


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a b+c", "a%20b%2Bc"),
        ("dir/z+%20", "dir/z%2B%2520"),
        ("a&<b>\"'", "a%26%3Cb%3E%22%27"),
        ("é/ü", "%C3%A9/%C3%BC"),
        ("~-_.", "~-_."),
    ],
)
def test_url_encoding_of_keys(raw: str, encoded: str) -> None:
    page = ListPage([ObjectInfo(raw, 1, ETAG, T0)], [raw], False, None, None)
    xml = list_objects_v2_xml(bucket="b", prefix=raw, encoding_type="url", page=page)
    root = parse_back(xml, "ListBucketResult")
    assert root.findtext("s:Contents/s:Key", namespaces=NS) == encoded
    assert root.findtext("s:CommonPrefixes/s:Prefix", namespaces=NS) == encoded
    assert root.findtext("s:Prefix", namespaces=NS) == encoded
    assert root.findtext("s:EncodingType", namespaces=NS) == "url"


def test_list_objects_v1_fields() -> None:
    page = list_page(OBJECTS, delimiter="/", max_keys=5)
    xml = list_objects_v1_xml(
        bucket="b",
        prefix="",
        delimiter="/",
        max_keys=5,
        marker="a",
        encoding_type="url",
        page=page,
    )
    root = parse_back(xml, "ListBucketResult")
    assert root.findtext("s:Marker", namespaces=NS) == "a"
    assert root.findtext("s:MaxKeys", namespaces=NS) == "5"
    assert root.findtext("s:NextMarker", namespaces=NS) == "%C3%A9/"
    assert root.findtext("s:IsTruncated", namespaces=NS) == "true"
    assert root.findtext("s:Delimiter", namespaces=NS) == "/"
    assert root.find("s:KeyCount", NS) is None
    assert root.find("s:NextContinuationToken", NS) is None
    parsed = botocore_parse("ListObjects", xml)
    assert parsed["NextMarker"] == "%C3%A9/"  # the bare parser does not decode; clients do
    assert parsed["IsTruncated"] is True


@pytest.mark.parametrize(
    ("delimiter", "max_keys", "next_marker"),
    [("/", 1, "a b+c"), ("", 1, None), ("/", 1000, None), ("", 1000, None)],
)
def test_list_objects_v1_next_marker_only_truncated_with_delimiter(
    delimiter: str, max_keys: int, next_marker: str | None
) -> None:
    page = list_page(OBJECTS, delimiter=delimiter, max_keys=max_keys)
    xml = list_objects_v1_xml(
        bucket="b", delimiter=delimiter, max_keys=max_keys, marker=None, page=page
    )
    root = parse_back(xml, "ListBucketResult")
    assert root.findtext("s:NextMarker", namespaces=NS) == next_marker
    assert root.findtext("s:Marker", namespaces=NS) == ""


@pytest.mark.parametrize("render", ["v1", "v2"])
def test_listing_refuses_bad_encoding_type(render: str) -> None:
    page = list_page(OBJECTS)
    with pytest.raises(S3Error) as caught:
        if render == "v1":
            list_objects_v1_xml(bucket="b", encoding_type="base64", page=page)
        else:
            list_objects_v2_xml(bucket="b", encoding_type="base64", page=page)
    assert caught.value.s3_code == "InvalidArgument"
    assert "encoding-type='base64'" in caught.value.message


@pytest.mark.parametrize("value", ["a\x01b", "a\rb", "a\x1fb", "x\ud800", "\uffff"])
def test_listing_refuses_text_xml_cannot_carry_unless_url_encoded(value: str) -> None:
    page = list_page(OBJECTS, prefix="nomatch")
    with pytest.raises(S3Error) as caught:
        list_objects_v2_xml(bucket="b", prefix=value, page=page)
    assert caught.value.s3_code == "InvalidArgument"
    assert "encoding-type=url" in caught.value.message
    if "\ud800" in value:
        with pytest.raises(S3Error):
            list_objects_v2_xml(bucket="b", prefix=value, encoding_type="url", page=page)
    else:
        xml = list_objects_v2_xml(bucket="b", prefix=value, encoding_type="url", page=page)
        root = parse_back(xml, "ListBucketResult")
        assert "%" in (root.findtext("s:Prefix", namespaces=NS) or "")


# A real boto3 client whose HTTP is replaced by the listing functions, so paginators, URL
# decoding and token handling are botocore's own.


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: object) -> Iterator[bytes]:
        yield self.body


Handler = Callable[[AWSPreparedRequest, dict[str, str]], tuple[int, bytes]]


def client_answering(operation: str, handler: Handler) -> Any:
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        endpoint_url="http://gateway.invalid",
    )

    def send(request: AWSPreparedRequest, **_: object) -> AWSResponse:
        query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
        status, body = handler(request, {name: values[0] for name, values in query.items()})
        return AWSResponse(request.url, status, {}, _Raw(body))

    client.meta.events.register(f"before-send.s3.{operation}", send)
    return client


def serve_v2(objects: list[ObjectInfo], seen: list[dict[str, str]]) -> Handler:
    def handle(_: AWSPreparedRequest, query: dict[str, str]) -> tuple[int, bytes]:
        seen.append(query)
        token = query.get("continuation-token")
        after = decode_token(token) if token else query.get("start-after", "")
        max_keys = parse_max_keys(query.get("max-keys"))
        page = list_page(
            objects,
            prefix=query.get("prefix", ""),
            delimiter=query.get("delimiter", ""),
            after=after,
            max_keys=max_keys,
        )
        return 200, list_objects_v2_xml(
            bucket="b",
            prefix=query.get("prefix", ""),
            delimiter=query.get("delimiter"),
            max_keys=max_keys,
            start_after=query.get("start-after"),
            continuation_token=token,
            encoding_type=query.get("encoding-type"),
            page=page,
        )

    return handle


def serve_v1(objects: list[ObjectInfo]) -> Handler:
    def handle(_: AWSPreparedRequest, query: dict[str, str]) -> tuple[int, bytes]:
        max_keys = parse_max_keys(query.get("max-keys"))
        page = list_page(
            objects,
            prefix=query.get("prefix", ""),
            delimiter=query.get("delimiter", ""),
            after=query.get("marker", ""),
            max_keys=max_keys,
        )
        return 200, list_objects_v1_xml(
            bucket="b",
            prefix=query.get("prefix", ""),
            delimiter=query.get("delimiter"),
            max_keys=max_keys,
            marker=query.get("marker"),
            encoding_type=query.get("encoding-type"),
            page=page,
        )

    return handle


@pytest.mark.parametrize("page_size", [1, 2, 1000])
@pytest.mark.parametrize(("prefix", "delimiter"), [("", ""), ("", "/"), ("dir/", "/"), ("a", "")])
def test_boto3_paginates_list_objects_v2(prefix: str, delimiter: str, page_size: int) -> None:
    seen: list[dict[str, str]] = []
    client = client_answering("ListObjectsV2", serve_v2(OBJECTS, seen))
    keys: list[str] = []
    prefixes: list[str] = []
    paginator = client.get_paginator("list_objects_v2")
    for response in paginator.paginate(
        Bucket="b", Prefix=prefix, Delimiter=delimiter, PaginationConfig={"PageSize": page_size}
    ):
        keys += [item["Key"] for item in response.get("Contents", [])]
        prefixes += [item["Prefix"] for item in response.get("CommonPrefixes", [])]
        assert response["Prefix"] == prefix
    whole = list_page(OBJECTS, prefix=prefix, delimiter=delimiter)
    assert keys == [o.key for o in whole.contents]
    assert prefixes == whole.common_prefixes
    assert all(query["encoding-type"] == "url" for query in seen)
    entries = len(whole.contents) + len(whole.common_prefixes)
    assert len(seen) == max(1, -(-entries // page_size))


def test_boto3_start_after_round_trips_encoded() -> None:
    seen: list[dict[str, str]] = []
    client = client_answering("ListObjectsV2", serve_v2(OBJECTS, seen))
    response = client.list_objects_v2(Bucket="b", StartAfter="a b+c")
    assert response["StartAfter"] == "a b+c"
    assert response["Contents"][0]["Key"] == "a&<b>\"'"
    assert seen[0]["start-after"] == "a b+c"


@pytest.mark.parametrize("page_size", [1, 3])
@pytest.mark.parametrize("delimiter", ["", "/"])
def test_boto3_paginates_list_objects_v1(delimiter: str, page_size: int) -> None:
    client = client_answering("ListObjects", serve_v1(OBJECTS))
    keys: list[str] = []
    prefixes: list[str] = []
    for response in client.get_paginator("list_objects").paginate(
        Bucket="b", Delimiter=delimiter, PaginationConfig={"PageSize": page_size}
    ):
        keys += [item["Key"] for item in response.get("Contents", [])]
        prefixes += [item["Prefix"] for item in response.get("CommonPrefixes", [])]
    whole = list_page(OBJECTS, delimiter=delimiter)
    assert keys == [o.key for o in whole.contents]
    assert prefixes == whole.common_prefixes


# ----------------------------------------------------------------------------- multipart


def test_initiate_multipart() -> None:
    xml = initiate_multipart_xml("repo.main", "dir/a&b é", "up-1")
    root = parse_back(xml, "InitiateMultipartUploadResult")
    assert root.findtext("s:Key", namespaces=NS) == "dir/a&b é"
    parsed = botocore_parse("CreateMultipartUpload", xml)
    assert (parsed["Bucket"], parsed["Key"], parsed["UploadId"]) == (
        "repo.main",
        "dir/a&b é",
        "up-1",
    )


def test_complete_multipart() -> None:
    xml = complete_multipart_xml("http://gw/repo.main/k", "repo.main", "k<1>", "abc-2")
    root = parse_back(xml, "CompleteMultipartUploadResult")
    assert root.findtext("s:ETag", namespaces=NS) == '"abc-2"'
    parsed = botocore_parse("CompleteMultipartUpload", xml)
    assert parsed["Location"] == "http://gw/repo.main/k"
    assert parsed["Bucket"] == "repo.main"
    assert parsed["Key"] == "k<1>"
    assert parsed["ETag"] == '"abc-2"'


def test_copy_object() -> None:
    xml = copy_object_xml(ETAG, T0 + 0.5)
    root = parse_back(xml, "CopyObjectResult")
    assert root.findtext("s:ETag", namespaces=NS) == f'"{ETAG}"'
    assert root.findtext("s:LastModified", namespaces=NS) == "2026-11-29T12:00:00.500Z"
    parsed = botocore_parse("CopyObject", xml)
    assert parsed["CopyObjectResult"] == {"ETag": f'"{ETAG}"', "LastModified": at(T0 + 0.5)}


def test_checksums_in_complete_copy_and_copy_part() -> None:
    composite = Checksum("CRC32C", "COMPOSITE", "AAAAAA==-2")
    parsed = botocore_parse(
        "CompleteMultipartUpload", complete_multipart_xml("/b/k", "b", "k", "abc", composite)
    )
    assert (parsed["ChecksumCRC32C"], parsed["ChecksumType"]) == ("AAAAAA==-2", "COMPOSITE")
    full = Checksum("CRC64NVME", "FULL_OBJECT", "AAAAAAAAAAA=")
    parsed = botocore_parse("CopyObject", copy_object_xml(ETAG, T0, full))
    assert parsed["CopyObjectResult"]["ChecksumCRC64NVME"] == "AAAAAAAAAAA="
    assert parsed["CopyObjectResult"]["ChecksumType"] == "FULL_OBJECT"
    part = Checksum("SHA256", "FULL_OBJECT", "c2hh")
    parsed = botocore_parse("UploadPartCopy", copy_part_xml(ETAG, T0, part))
    assert parsed["CopyPartResult"] == {
        "ETag": f'"{ETAG}"',
        "LastModified": at(T0),
        "ChecksumSHA256": "c2hh",
    }
    assert "Checksum" not in complete_multipart_xml("/b/k", "b", "k", "abc").decode()


def test_parse_complete_checksums() -> None:
    body = (
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag>"
        b"<ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></Part>"
        b"<Part><PartNumber>2</PartNumber><ETag>b</ETag></Part>"
        b"<Part><ETag>c</ETag><ChecksumSHA256> c2hh </ChecksumSHA256><ChecksumMD5>x</ChecksumMD5>"
        b"<PartNumber>3</PartNumber></Part></CompleteMultipartUpload>"
    )
    assert parse_complete(body) == [(1, "a"), (2, "b"), (3, "c")]
    assert parse_complete_checksums(body) == {1: {"CRC32C": "AAAAAA=="}, 3: {"SHA256": "c2hh"}}


@pytest.mark.parametrize(("is_truncated", "next_marker"), [(True, 2), (False, None), (False, 7)])
def test_list_parts(is_truncated: bool, next_marker: int | None) -> None:
    parts = [(1, "aa" * 32, 5 * 2**20, T0), (2, "bb" * 32, 17, T0 + 1)]
    xml = list_parts_xml(
        bucket="repo.main",
        key="k",
        upload_id="up-1",
        parts=parts,
        max_parts=2,
        part_number_marker=0,
        is_truncated=is_truncated,
        next_marker=next_marker,
    )
    root = parse_back(xml, "ListPartsResult")
    assert root.findtext("s:PartNumberMarker", namespaces=NS) == "0"
    assert root.findtext("s:IsTruncated", namespaces=NS) == ("true" if is_truncated else "false")
    parsed = botocore_parse("ListParts", xml)
    assert parsed["UploadId"] == "up-1"
    assert parsed["MaxParts"] == 2
    assert parsed["IsTruncated"] is is_truncated
    assert parsed.get("NextPartNumberMarker") == (next_marker if is_truncated else None)
    assert parsed["Parts"] == [
        {"PartNumber": 1, "ETag": f'"{"aa" * 32}"', "Size": 5 * 2**20, "LastModified": at(T0)},
        {"PartNumber": 2, "ETag": f'"{"bb" * 32}"', "Size": 17, "LastModified": at(T0 + 1)},
    ]


@pytest.mark.parametrize(
    ("algorithm", "kind", "shown"),
    [
        ("SHA256", "COMPOSITE", {1: "c2hhMQ==", 2: "c2hhMg=="}),
        ("CRC32", "FULL_OBJECT", {2: "AAAAAA=="}),  # part 1 uploaded before checksums: none
        (None, None, {}),  # an upload without an algorithm lists no checksums
    ],
)
def test_list_parts_checksums(algorithm: str | None, kind: str | None, shown: dict) -> None:
    parts = [(1, "aa" * 32, 5 * 2**20, T0), (2, "bb" * 32, 17, T0 + 1)]
    xml = list_parts_xml(
        bucket="repo.main",
        key="k",
        upload_id="up-1",
        parts=parts,
        max_parts=2,
        part_number_marker=0,
        is_truncated=False,
        next_marker=None,
        checksum_algorithm=algorithm,
        checksum_type=kind,
        part_checksums=shown,
    )
    parsed = botocore_parse("ListParts", xml)
    assert parsed.get("ChecksumAlgorithm") == algorithm
    assert parsed.get("ChecksumType") == kind
    assert parsed["StorageClass"] == "STANDARD"
    for part in parsed["Parts"]:
        got = {k: v for k, v in part.items() if k.startswith("Checksum")}
        want = (
            {f"Checksum{algorithm}": shown[part["PartNumber"]]}
            if part["PartNumber"] in shown
            else {}
        )
        assert got == want


def test_list_uploads() -> None:
    xml = list_uploads_xml(bucket="repo.main", uploads=[("a b", "up-1", T0), ("c", "up-2", T0)])
    root = parse_back(xml, "ListMultipartUploadsResult")
    assert root.findtext("s:MaxUploads", namespaces=NS) == "1000"
    assert root.findtext("s:KeyMarker", namespaces=NS) == ""
    parsed = botocore_parse("ListMultipartUploads", xml)
    assert parsed["IsTruncated"] is False
    assert [(u["Key"], u["UploadId"], u["Initiated"]) for u in parsed["Uploads"]] == [
        ("a b", "up-1", at(T0)),
        ("c", "up-2", at(T0)),
    ]


# ----------------------------------------------------------------------------- delete, location


@pytest.mark.parametrize("quiet", [False, True])
def test_delete_result(quiet: bool) -> None:
    xml = delete_result_xml(
        ["a&b", "é"], [("x<y", "AccessDenied", "branch 'main' is read-only")], quiet
    )
    root = parse_back(xml, "DeleteResult")
    deleted = [d.findtext("s:Key", namespaces=NS) for d in root.findall("s:Deleted", NS)]
    assert deleted == ([] if quiet else ["a&b", "é"])
    parsed = botocore_parse("DeleteObjects", xml)
    assert [d["Key"] for d in parsed.get("Deleted", [])] == ([] if quiet else ["a&b", "é"])
    assert parsed["Errors"] == [
        {"Key": "x<y", "Code": "AccessDenied", "Message": "branch 'main' is read-only"}
    ]


def test_location() -> None:
    xml = location_xml()
    root = parse_back(xml, "LocationConstraint")
    assert root.text is None and len(root) == 0
    parsed = botocore_parse("GetBucketLocation", xml)
    assert parsed.get("LocationConstraint") in (None, "")


# ----------------------------------------------------------------------------- parse_delete

S3_NS = f' xmlns="{NAMESPACE}"'


def delete_body(keys: list[str], quiet: str | None = None, ns: str = "") -> bytes:
    objects = "".join(f"<Object><Key>{key}</Key><VersionId>v</VersionId></Object>" for key in keys)
    flag = f"<Quiet>{quiet}</Quiet>" if quiet is not None else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Delete{ns}>{objects}{flag}</Delete>'.encode()


@pytest.mark.parametrize(
    ("body", "keys", "quiet"),
    [
        (delete_body(["a", "b/c"]), ["a", "b/c"], False),
        (delete_body(["a"], quiet="true", ns=S3_NS), ["a"], True),
        (delete_body(["a"], quiet="false", ns=S3_NS), ["a"], False),
        (delete_body(["a"], quiet=" TRUE "), ["a"], True),
        (
            delete_body(["a &amp; b", " sp ", "é", "&lt;x&gt;", "a"]),
            ["a & b", " sp ", "é", "<x>", "a"],
            False,
        ),
        (
            b'<s3:Delete xmlns:s3="' + NAMESPACE.encode() + b'"><s3:Object><s3:Key>k</s3:Key>'
            b"</s3:Object></s3:Delete>",
            ["k"],
            False,
        ),
        (b"\xef\xbb\xbf<Delete><Object><Key>bom</Key></Object></Delete>", ["bom"], False),
        (b"<Delete><!-- c --><Object><Key>k<!-- c -->2</Key></Object></Delete>", ["k2"], False),
        (delete_body([f"k{n}" for n in range(1000)]), [f"k{n}" for n in range(1000)], False),
    ],
)
def test_parse_delete(body: bytes, keys: list[str], quiet: bool) -> None:
    assert parse_delete(body) == (keys, quiet)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<Delete><Object><Key>&lol3;</Key></Object></Delete>"
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<Delete><Object><Key>&x;</Key></Object></Delete>"
)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "not well-formed"),
        (b"not xml", "not well-formed"),
        (b"<Delete><Object><Key>a</Key></Object>", "not well-formed"),  # truncated
        (b"<Delete><Object><Key>a</Key></Object></Delete><Delete/>", "not well-formed"),
        (
            b"<Delete><Object><Key>\xff</Key></Object></Delete>",
            "not UTF-8 (byte 0xff at offset 21)",
        ),
        ("<Delete><Object><Key>a</Key></Object></Delete>".encode("utf-16"), "not UTF-8"),
        (b"<Delete/>", "names no <Object>"),
        (b"<Delete><Quiet>true</Quiet></Delete>", "names no <Object>"),
        (b"<Delete><Object></Object></Delete>", "object #1 without a <Key>"),
        (b"<Delete><Object><Key/></Object></Delete>", "object #1 without a <Key>"),
        (
            b"<Delete><Object><Key>a</Key></Object><Object><VersionId>v</VersionId></Object></Delete>",
            "object #2 without a <Key>",
        ),
        (b"<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>", "2 <Key> elements"),
        (b"<Delete><Object><Key>a</Key></Object><Quiet>yes</Quiet></Delete>", "<Quiet>yes</Quiet>"),
        (b"<Remove><Object><Key>a</Key></Object></Remove>", "root element <Remove>"),
        (b"<Delete><Object><Key>\x01</Key></Object></Delete>", "not well-formed"),
        (b"<Delete><Object><Key>&#1;</Key></Object></Delete>", "not well-formed"),
        (b"<Delete><Object><Key>&undefined;</Key></Object></Delete>", "not well-formed"),
        (BILLION_LAUGHS, "DOCTYPE"),
        (EXTERNAL, "DOCTYPE"),
        (b'<!DOCTYPE Delete SYSTEM "http://example.invalid/x.dtd"><Delete/>', "DOCTYPE"),
        (delete_body([f"k{n}" for n in range(1001)]), "more than 1000 objects"),
        (b"<Delete>" + b" " * MAX_BODY + b"</Delete>", f"is {MAX_BODY + 17} bytes"),
    ],
)
def test_parse_delete_refuses(body: bytes, fragment: str) -> None:
    with pytest.raises(S3Error) as caught:
        parse_delete(body)
    assert caught.value.s3_code == "MalformedXML"
    assert caught.value.status == 400
    assert fragment in caught.value.message
    assert "DeleteObjects" in caught.value.message
    assert ("<Delete>" in caught.value.message) or ("split" in caught.value.message)


def test_doctype_is_refused_by_the_parser_too() -> None:
    # The text search in front of the parser catches DOCTYPEs first; this checks the
    # parser-level guard on its own.
    parser = ET.XMLParser(target=_NoDoctype())
    with pytest.raises(Exception, match="lolz") as caught:
        parser.feed(BILLION_LAUGHS)
        parser.close()
    assert not isinstance(caught.value, ET.ParseError)


def test_parse_delete_reads_what_boto3_sends() -> None:
    bodies: list[bytes] = []

    def handle(request: AWSPreparedRequest, _: dict[str, str]) -> tuple[int, bytes]:
        body = request.body
        assert isinstance(body, bytes)
        bodies.append(body)
        keys, quiet = parse_delete(body)
        return 200, delete_result_xml(keys, [], quiet)

    client = client_answering("DeleteObjects", handle)
    keys = ["a b+c", "a&<b>", "é/ü", " lead", "x" * 1024]
    response = client.delete_objects(Bucket="b", Delete={"Objects": [{"Key": key} for key in keys]})
    assert [d["Key"] for d in response["Deleted"]] == keys
    assert parse_delete(bodies[0]) == (keys, False)
    quiet = client.delete_objects(Bucket="b", Delete={"Objects": [{"Key": "a"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert parse_delete(bodies[1]) == (["a"], True)


# ----------------------------------------------------------------------------- parse_complete


def complete_body(parts: list[tuple[str, str]], ns: str = "", extra: str = "") -> bytes:
    inner = "".join(
        f"<Part>{extra}<PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
        for number, etag in parts
    )
    return f"<CompleteMultipartUpload{ns}>{inner}</CompleteMultipartUpload>".encode()


@pytest.mark.parametrize(
    ("body", "parts"),
    [
        (complete_body([("1", '"aa"'), ("2", '"bb"')]), [(1, "aa"), (2, "bb")]),
        (complete_body([("1", "&quot;aa&quot;")], ns=S3_NS), [(1, "aa")]),
        (complete_body([("3", "cc"), ("10000", " dd ")]), [(3, "cc"), (10000, "dd")]),
        (complete_body([(" 2 ", "aa")]), [(2, "aa")]),
        (
            complete_body([("1", "aa")], extra="<ChecksumCRC32>AAAAAA==</ChecksumCRC32>"),
            [(1, "aa")],
        ),
        (complete_body([("1", '"aa-1"')], extra="<Unknown><Nested/></Unknown>"), [(1, "aa-1")]),
        (
            b"<CompleteMultipartUpload><Other/><Part><ETag>e</ETag><PartNumber>4</PartNumber>"
            b"</Part></CompleteMultipartUpload>",
            [(4, "e")],
        ),
    ],
)
def test_parse_complete(body: bytes, parts: list[tuple[int, str]]) -> None:
    assert parse_complete(body) == parts


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        (complete_body([("2", "aa"), ("1", "bb")]), "InvalidPartOrder", "part 1 after part 2"),
        (complete_body([("1", "aa"), ("1", "bb")]), "InvalidPartOrder", "part 1 after part 1"),
        (complete_body([]), "MalformedXML", "lists no <Part>"),
        (complete_body([("x", "aa")]), "MalformedXML", "<PartNumber>x</PartNumber>"),
        (complete_body([("1.5", "aa")]), "MalformedXML", "not an integer"),
        (complete_body([("", "aa")]), "MalformedXML", "not an integer"),
        (complete_body([("0", "aa")]), "InvalidArgument", "part number 0"),
        (complete_body([("-1", "aa")]), "InvalidArgument", "part number -1"),
        (complete_body([("10001", "aa")]), "InvalidArgument", "from 1 to 10000"),
        (complete_body([("9" * 5000, "aa")]), "InvalidArgument", "from 1 to 10000"),
        (complete_body([("1", "")]), "MalformedXML", "empty <ETag>"),
        (complete_body([("1", '""')]), "MalformedXML", "empty <ETag>"),
        (
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
            b"</CompleteMultipartUpload>",
            "MalformedXML",
            "without <PartNumber> or <ETag>",
        ),
        (
            b"<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>",
            "MalformedXML",
            "without <PartNumber> or <ETag>",
        ),
        (
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber>"
            b"<ETag>a</ETag></Part></CompleteMultipartUpload>",
            "MalformedXML",
            "2 <PartNumber>",
        ),
        (b"<Complete><Part/></Complete>", "MalformedXML", "root element <Complete>"),
        (b"<CompleteMultipartUpload><Part>", "MalformedXML", "not well-formed"),
        (b'<!DOCTYPE x [<!ENTITY e "1">]><CompleteMultipartUpload/>', "MalformedXML", "DOCTYPE"),
        (b" " * (MAX_BODY + 1), "MalformedXML", f"{MAX_BODY + 1} bytes"),
    ],
)
def test_parse_complete_refuses(body: bytes, code: str, fragment: str) -> None:
    with pytest.raises(S3Error) as caught:
        parse_complete(body)
    assert caught.value.s3_code == code
    assert fragment in caught.value.message
    assert "CompleteMultipartUpload" in caught.value.message


def test_parse_complete_reads_what_boto3_sends() -> None:
    bodies: list[bytes] = []

    def handle(request: AWSPreparedRequest, _: dict[str, str]) -> tuple[int, bytes]:
        body = request.body
        assert isinstance(body, bytes)
        bodies.append(body)
        parts = parse_complete(body)
        return 200, complete_multipart_xml("http://gw/b/k", "b", "k", f"{parts[-1][1]}-2")

    client = client_answering("CompleteMultipartUpload", handle)
    response = client.complete_multipart_upload(
        Bucket="b",
        Key="k",
        UploadId="up-1",
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": f'"{ETAG}"', "ChecksumCRC32": "AAAAAA=="},
                {"PartNumber": 2, "ETag": '"ff"'},
            ]
        },
    )
    assert parse_complete(bodies[0]) == [(1, ETAG), (2, "ff")]
    assert response["ETag"] == '"ff-2"'


def test_parse_delete_entries_reads_conditions() -> None:
    from pachstream.gateway._conditions import DeleteCondition

    body = (
        b"<Delete><Object><Key>a</Key><ETag>&quot;e&quot;</ETag></Object>"
        b"<Object><Key>b</Key><Size>5</Size>"
        b"<LastModifiedTime>1970-01-01T00:00:10Z</LastModifiedTime></Object>"
        b"<Object><Key>c</Key></Object></Delete>"
    )
    assert parse_delete_entries(body) == (
        [
            ("a", DeleteCondition(etag='"e"')),
            ("b", DeleteCondition(size=5, last_modified=10.0)),
            ("c", None),
        ],
        False,
    )
    with pytest.raises(S3Error) as caught:
        parse_delete_entries(b"<Delete><Object><Key>a</Key><Size>x</Size></Object></Delete>")
    assert caught.value.s3_code == "InvalidArgument" and "<Size>" in caught.value.message


@pytest.mark.parametrize(("token", "echoed"), [(None, None), ("", ""), ("tok", "tok")])
def test_list_objects_v2_echoes_the_continuation_token(token, echoed) -> None:
    xml = list_objects_v2_xml(bucket="b", continuation_token=token, page=list_page(OBJECTS))
    root = parse_back(xml, "ListBucketResult")
    found = root.find("s:ContinuationToken", NS)
    assert (None if found is None else found.text or "") == echoed


@pytest.mark.parametrize(
    ("render", "operation", "owner"),
    [
        (lambda page: list_objects_v1_xml(bucket="b", page=page), "ListObjects", True),
        (lambda page: list_objects_v2_xml(bucket="b", page=page), "ListObjectsV2", False),
        (
            lambda page: list_objects_v2_xml(bucket="b", fetch_owner=True, page=page),
            "ListObjectsV2",
            True,
        ),
    ],
)
def test_listing_owner(render: Callable[[ListPage], bytes], operation: str, owner: bool) -> None:
    """V1 entries always carry their Owner, V2 ones with fetch-owner=true: the owner that
    GetObjectAcl names."""
    page = ListPage([ObjectInfo("k", 1, ETAG, T0)], [], False, None, None)
    [entry] = botocore_parse(operation, render(page))["Contents"]
    acl = botocore_parse("GetObjectAcl", acl_xml())["Owner"]
    assert entry.get("Owner") == (acl if owner else None)
    assert acl == {"ID": OWNER, "DisplayName": OWNER}


@pytest.mark.parametrize(
    ("body", "want"),
    [
        (b"", None),
        (b"<CreateBucketConfiguration/>", None),
        (
            b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            b"<LocationConstraint>eu-west-3</LocationConstraint></CreateBucketConfiguration>",
            "eu-west-3",
        ),
        (b"<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>", ""),
    ],
)
def test_parse_location_constraint(body: bytes, want: str | None) -> None:
    assert parse_location_constraint(body) == want


@pytest.mark.parametrize("body", [b"<Other/>", b"<CreateBucketConfiguration>", b"\xff"])
def test_parse_location_constraint_refuses_bad_bodies(body: bytes) -> None:
    with pytest.raises(S3Error) as caught:
        parse_location_constraint(body)
    assert caught.value.s3_code == "MalformedXML"
