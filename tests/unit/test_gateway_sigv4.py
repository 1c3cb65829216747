"""SigV4 verification against signatures made by botocore, the client no one here wrote.

Each request is signed by botocore (its signer classes, or a whole S3 client whose send is
intercepted), then turned into what an aiohttp server sees: the raw path, the decoded query
pairs and the headers. Chunk and trailer signatures, which botocore cannot produce, come from
a small reference signer written here from the AWS documentation.
"""

import base64
import contextlib
import datetime
import hashlib
import hmac
import importlib.util
import io
import zlib
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple
from unittest import mock
from urllib.parse import parse_qsl, quote, urlsplit

import botocore.session
import pytest
from botocore.auth import HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, Sha1Checksum, Sha256Checksum
from multidict import CIMultiDict, CIMultiDictProxy

from pachstream.gateway._chunked import check_checksums, decode_aws_chunked, is_aws_chunked
from pachstream.gateway._errors import S3Error
from pachstream.gateway._metadata import parse_metadata
from pachstream.gateway._sigv4 import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    SignedRequest,
    check_payload,
    verify_request,
)

AK = "AKIDEXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
KEYS = {AK: SK, "OTHERKEY": "other-secret"}
HOST = "gw.example:9000"
T0 = datetime.datetime(2026, 11, 29, 12, 0, 0, tzinfo=datetime.UTC)
AMZ_T0 = "20261129T120000Z"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class Wire(NamedTuple):
    """A request as the aiohttp server hands it to verify_request."""

    method: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes


@contextlib.contextmanager
def _clock(at: datetime.datetime) -> Iterator[None]:
    """Make botocore sign at a fixed time (it reads the clock through this name), with its
    own signer or, where awscrt is installed, with the CRT's."""

    def now(remove_tzinfo: bool = True) -> datetime.datetime:
        return at.replace(tzinfo=None) if remove_tzinfo else at

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch("botocore.auth.get_current_datetime", now))
        if importlib.util.find_spec("awscrt") is not None:
            stack.enter_context(mock.patch("botocore.crt.auth.get_current_datetime", now))
        yield


def _to_wire(method: str, url: str, headers: Any, body: bytes) -> Wire:
    parts = urlsplit(url)
    wire_headers = {"host": parts.netloc}
    for name, value in headers.items():
        text = value.decode() if isinstance(value, bytes) else value
        wire_headers[name.lower()] = text.strip()  # HTTP parsers drop the outer whitespace
    query = parse_qsl(parts.query, keep_blank_values=True)
    return Wire(method, parts.path, query, wire_headers, body)


def _url(path: str, query: list[tuple[str, str | None]]) -> str:
    """The URL as botocore's S3 client writes it: a bare name for ``?uploads``."""
    pairs = [
        quote(n, safe="-_.~") + ("" if v is None else "=" + quote(v, safe="-_.~")) for n, v in query
    ]
    return f"http://{HOST}{path}" + ("?" + "&".join(pairs) if pairs else "")


def _sign(
    method: str,
    path: str,
    query: list[tuple[str, str | None]] = [],  # noqa: B006 - never mutated
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    access_key: str = AK,
    secret: str = SK,
    region: str = "us-east-1",
    at: datetime.datetime = T0,
    auth_cls: type[S3SigV4Auth] = S3SigV4Auth,
) -> Wire:
    request = AWSRequest(method, _url(path, query), headers=dict(headers or {}), data=body)
    with _clock(at):
        auth_cls(Credentials(access_key, secret), "s3", region).add_auth(request)
    return _to_wire(method, request.url, request.headers, body)


def _presign(
    method: str,
    path: str,
    query: list[tuple[str, str | None]] = [],  # noqa: B006 - never mutated
    *,
    expires: int = 3600,
    region: str = "us-east-1",
    at: datetime.datetime = T0,
) -> Wire:
    request = AWSRequest(method, _url(path, query))
    with _clock(at):
        S3SigV4QueryAuth(Credentials(AK, SK), "s3", region, expires=expires).add_auth(request)
    return _to_wire(method, request.url, {}, b"")


def _verify(wire: Wire, now: datetime.datetime = T0, keys: dict[str, str] = KEYS) -> SignedRequest:
    return verify_request(wire.method, wire.raw_path, wire.query, wire.headers, keys, now)


def _ref_signing_key(secret: str, date: str, region: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _path(key: str) -> str:
    """The raw path botocore's S3 client sends for an object key (path-style)."""
    return "/bucket/" + quote(key, safe="/~")


def _sig_of(wire: Wire) -> str:
    return wire.headers["authorization"].rpartition("Signature=")[2]


XML = b"<Delete><Object><Key>x</Key></Object></Delete>"
MD5_XML = base64.b64encode(hashlib.md5(XML).digest()).decode()

SIGNED = [
    pytest.param("GET", "/bucket/key.csv", [], {}, b"", "us-east-1", id="get"),
    pytest.param("GET", "/", [], {}, b"", "us-east-1", id="list-buckets"),
    pytest.param(
        "GET",
        "/bucket",
        [("list-type", "2"), ("prefix", "a b"), ("delimiter", "/")],
        {},
        b"",
        "us-east-1",
        id="list-v2-prefix-delimiter",
    ),
    pytest.param("PUT", _path("dir/a b.csv"), [], {}, b"x,y\n", "us-east-1", id="key-space"),
    pytest.param("PUT", _path("é/日本.csv"), [], {}, b"1", "us-east-1", id="key-unicode"),
    pytest.param("PUT", _path("a+b.csv"), [], {}, b"1", "us-east-1", id="key-plus"),
    pytest.param("PUT", _path("a=b.csv"), [], {}, b"1", "us-east-1", id="key-equals"),
    pytest.param("PUT", _path("a~b.csv"), [], {}, b"1", "us-east-1", id="key-tilde"),
    pytest.param("PUT", _path("x y/é+=~日本%.csv"), [], {}, b"1", "us-east-1", id="key-everything"),
    pytest.param("POST", "/bucket/k", [("uploads", None)], {}, b"", "us-east-1", id="uploads"),
    pytest.param(
        "POST",
        "/bucket",
        [("delete", None)],
        {"Content-MD5": MD5_XML, "Content-Type": "application/xml"},
        XML,
        "us-east-1",
        id="delete-objects",
    ),
    pytest.param(
        "PUT",
        "/bucket/k",
        [("partNumber", "2"), ("uploadId", "xyz")],
        {},
        b"part",
        "us-east-1",
        id="upload-part",
    ),
    pytest.param("GET", "/bucket/k", [], {}, b"", "eu-west-3", id="other-region"),
    pytest.param(
        "PUT",
        "/bucket/k",
        [],
        {"x-amz-meta-note": "  two   inner  spaces ", "x-amz-copy-source": "/bucket/a%20b"},
        b"",
        "us-east-1",
        id="headers-with-spaces",
    ),
]


@pytest.mark.parametrize(("method", "path", "query", "headers", "body", "region"), SIGNED)
def test_botocore_header_signatures_verify(
    method: str,
    path: str,
    query: list[tuple[str, str | None]],
    headers: dict[str, str],
    body: bytes,
    region: str,
) -> None:
    wire = _sign(method, path, query, headers, body, region=region)
    signed = _verify(wire)
    assert signed == SignedRequest(
        access_key=AK,
        payload=hashlib.sha256(body).hexdigest(),
        amz_date=AMZ_T0,
        scope=f"20261129/{region}/s3/aws4_request",
        signing_key=_ref_signing_key(SK, "20261129", region),
        seed_signature=_sig_of(wire),
    )
    check_payload(signed, body)


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        pytest.param("GET", _path("a b/é.csv"), [], id="get"),
        pytest.param("PUT", _path("x+y=z~.csv"), [], id="put"),
        pytest.param("GET", "/bucket", [("list-type", "2"), ("prefix", "a b")], id="list"),
        pytest.param("POST", "/bucket/k", [("uploads", None)], id="uploads"),
    ],
)
def test_botocore_presigned_urls_verify(
    method: str, path: str, query: list[tuple[str, str | None]]
) -> None:
    wire = _presign(method, path, query, expires=600)
    signed = _verify(wire, now=T0 + datetime.timedelta(minutes=5))
    assert signed.payload == UNSIGNED_PAYLOAD
    assert signed.access_key == AK
    assert signed.seed_signature == dict(wire.query)["X-Amz-Signature"]
    check_payload(signed, b"anything: a presigned body is not signed")


def test_unencoded_path_characters_get_the_sigv4_encoding() -> None:
    wire = _sign("PUT", "/bucket/a%3Db%2Bc%20d%C3%A9")
    assert _verify(wire._replace(raw_path="/bucket/a=b+c d\u00e9")).access_key == AK


def test_raw_path_with_the_query_still_attached_verifies() -> None:
    wire = _sign("GET", "/bucket", [("list-type", "2")])
    assert _verify(wire._replace(raw_path="/bucket?list-type=2")).access_key == AK


def test_header_names_in_any_case_and_multidicts() -> None:
    wire = _sign("PUT", "/bucket/k", [], {"x-amz-meta-a": "1"}, b"1")
    titled = {name.title(): value for name, value in wire.headers.items()}
    assert _verify(wire._replace(headers=titled)).access_key == AK
    proxy = CIMultiDictProxy(CIMultiDict(titled))
    assert verify_request(wire.method, wire.raw_path, wire.query, proxy, KEYS, T0).access_key == AK


def test_naive_now_is_utc() -> None:
    assert _verify(_sign("GET", "/bucket/k"), now=T0.replace(tzinfo=None)).access_key == AK


# ---- the worked examples of the AWS documentation ------------------------------------------
# Values from the S3 API reference pages "Signature Calculations for the Authorization Header:
# Transferring Payload in a Single Chunk", "... Query Parameters", "... in Multiple Chunks" and
# "Signature calculations for trailing headers". They pin the algorithm to AWS's own numbers
# rather than to a signer written from the same reading of the spec.

DOC_KEYS = {"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
DOC_NOW = datetime.datetime(2013, 5, 24, tzinfo=datetime.UTC)
DOC_CREDENTIAL = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
_SECOND = datetime.timedelta(seconds=1)


def _doc_auth(signed_headers: str, signature: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={DOC_CREDENTIAL},"
        f"SignedHeaders={signed_headers},Signature={signature}"
    )


def test_aws_documented_get_object() -> None:
    headers = {
        "host": "examplebucket.s3.amazonaws.com",
        "range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
        "authorization": _doc_auth(
            "host;range;x-amz-content-sha256;x-amz-date",
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
    }
    signed = verify_request("GET", "/test.txt", [], headers, DOC_KEYS, DOC_NOW)
    assert signed.scope == "20130524/us-east-1/s3/aws4_request"
    with pytest.raises(S3Error) as caught:
        verify_request("GET", "/test.txt", [], headers | {"range": "bytes=0-8"}, DOC_KEYS, DOC_NOW)
    assert caught.value.s3_code == "SignatureDoesNotMatch"


def test_aws_documented_presigned_url() -> None:
    query = [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", DOC_CREDENTIAL),
        ("X-Amz-Date", "20130524T000000Z"),
        ("X-Amz-Expires", "86400"),
        ("X-Amz-SignedHeaders", "host"),
        ("X-Amz-Signature", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
    ]
    headers = {"host": "examplebucket.s3.amazonaws.com"}
    later = DOC_NOW + datetime.timedelta(days=1)
    signed = verify_request("GET", "/test.txt", query, headers, DOC_KEYS, later)
    assert signed.payload == UNSIGNED_PAYLOAD
    with pytest.raises(S3Error) as caught:
        verify_request("GET", "/test.txt", query, headers, DOC_KEYS, later + _SECOND)
    assert caught.value.s3_code == "AccessDenied"


DOC_CHUNKED = {
    STREAMING_SIGNED: (
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        "x-amz-decoded-content-length;x-amz-storage-class",
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
        b"",
    ),
    STREAMING_SIGNED_TRAILER: (
        "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
        "x-amz-storage-class;x-amz-trailer",
        "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
        b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
        b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
        b"\r\n",
    ),
}


def _doc_chunked(payload: str) -> tuple[Wire, SignedRequest]:
    signed_headers, seed, sig1, sig2, sig3, trailer = DOC_CHUNKED[payload]
    body = (
        b"10000;chunk-signature=%s\r\n%s\r\n" % (sig1.encode(), b"a" * 65536)
        + b"400;chunk-signature=%s\r\n%s\r\n" % (sig2.encode(), b"a" * 1024)
        + b"0;chunk-signature=%s\r\n%s\r\n" % (sig3.encode(), trailer)
    )
    headers = {
        "content-encoding": "aws-chunked",
        "host": "s3.amazonaws.com",
        "x-amz-content-sha256": payload,
        "x-amz-date": "20130524T000000Z",
        "x-amz-decoded-content-length": "66560",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "authorization": _doc_auth(signed_headers, seed),
    }
    if payload == STREAMING_SIGNED:
        headers["content-length"] = str(len(body))
        assert len(body) == 66824  # the documented Content-Length
    else:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32c"
    wire = Wire("PUT", "/examplebucket/chunkObject.txt", [], headers, body)
    signed = verify_request(wire.method, wire.raw_path, [], headers, DOC_KEYS, DOC_NOW)
    assert signed.seed_signature == seed
    return wire, signed


@pytest.mark.parametrize(
    ("payload", "trailers"),
    [
        (STREAMING_SIGNED, {}),
        (STREAMING_SIGNED_TRAILER, {"x-amz-checksum-crc32c": "sOO8/Q=="}),
    ],
)
def test_aws_documented_chunked_uploads(payload: str, trailers: dict[str, str]) -> None:
    wire, signed = _doc_chunked(payload)
    assert decode_aws_chunked(wire.body, signed) == (b"a" * 66560, trailers)
    check_checksums(b"a" * 66560, wire.headers, trailers)
    with pytest.raises(S3Error) as caught:
        decode_aws_chunked(wire.body.replace(b"aaaa\r\n0;", b"aaab\r\n0;"), signed)
    assert caught.value.s3_code == "SignatureDoesNotMatch"


def test_aws_documented_trailer_signature_covers_the_trailer() -> None:
    wire, signed = _doc_chunked(STREAMING_SIGNED_TRAILER)
    with pytest.raises(S3Error) as caught:
        decode_aws_chunked(wire.body.replace(b"sOO8/Q==", b"sOO8/R=="), signed)
    assert caught.value.s3_code == "SignatureDoesNotMatch"
    assert "trailers" in caught.value.message


# ---- header-signed requests that must fail ---------------------------------------------------

BASE = _sign(
    "PUT",
    _path("dir/a b.csv"),
    [("partNumber", "2"), ("uploadId", "xyz")],
    {"x-amz-meta-note": "hello"},
    b"part-data",
)


def _with(wire: Wire, **changes: str | None) -> Wire:
    headers = dict(wire.headers)
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return wire._replace(headers=headers)


def _edit_auth(wire: Wire, old: str, new: str) -> Wire:
    assert old in wire.headers["authorization"]
    return _with(wire, authorization=wire.headers["authorization"].replace(old, new))


def _flip_last(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


TAMPERED: list[Any] = [
    pytest.param(
        lambda w: w._replace(raw_path=w.raw_path.replace("a%20b", "a%20c")),
        "SignatureDoesNotMatch",
        id="path",
    ),
    pytest.param(
        lambda w: w._replace(query=[("partNumber", "3"), ("uploadId", "xyz")]),
        "SignatureDoesNotMatch",
        id="query-value",
    ),
    pytest.param(
        lambda w: w._replace(query=[*w.query, ("versionId", "1")]),
        "SignatureDoesNotMatch",
        id="query-added",
    ),
    pytest.param(
        lambda w: w._replace(query=w.query[:1]), "SignatureDoesNotMatch", id="query-dropped"
    ),
    pytest.param(lambda w: w._replace(method="POST"), "SignatureDoesNotMatch", id="method"),
    pytest.param(
        lambda w: _with(w, x_amz_meta_note="hellO"), "SignatureDoesNotMatch", id="header-value"
    ),
    pytest.param(lambda w: _with(w, host="evil:9000"), "SignatureDoesNotMatch", id="host"),
    pytest.param(
        lambda w: _with(w, x_amz_content_sha256=EMPTY_SHA256),
        "SignatureDoesNotMatch",
        id="payload-hash",
    ),
    pytest.param(
        lambda w: _with(w, authorization=_flip_last(w.headers["authorization"])),
        "SignatureDoesNotMatch",
        id="signature",
    ),
    pytest.param(
        lambda w: _edit_auth(w, f"Credential={AK}", "Credential=NOSUCHKEY"),
        "InvalidAccessKeyId",
        id="unknown-key",
    ),
    pytest.param(lambda w: _with(w, authorization=None), "AccessDenied", id="no-auth"),
    pytest.param(
        lambda w: _with(w, authorization=f"AWS {AK}:frJIUN8DYpKDtOLCwo//yllqDzg="),
        "AuthorizationHeaderMalformed",
        id="sigv2",
    ),
    pytest.param(
        lambda w: _edit_auth(w, "AWS4-HMAC-SHA256 ", "AWS4-ECDSA-P256-SHA256 "),
        "AuthorizationHeaderMalformed",
        id="sigv4a",
    ),
    pytest.param(
        lambda w: _edit_auth(w, "/s3/", "/iam/"), "AuthorizationHeaderMalformed", id="service"
    ),
    pytest.param(
        lambda w: _edit_auth(w, "/aws4_request", "/aws4_requests"),
        "AuthorizationHeaderMalformed",
        id="terminator",
    ),
    pytest.param(
        lambda w: _edit_auth(w, "/us-east-1/", "/"),
        "AuthorizationHeaderMalformed",
        id="scope-parts",
    ),
    pytest.param(
        lambda w: _edit_auth(w, "/20261129/", "/20261128/"),
        "AuthorizationHeaderMalformed",
        id="scope-date",
    ),
    pytest.param(
        lambda w: _edit_auth(w, "SignedHeaders=host;", "SignedHeaders="),
        "AuthorizationHeaderMalformed",
        id="host-unsigned",
    ),
    pytest.param(
        lambda w: _edit_auth(w, ", Signature=", ", Sig="),
        "AuthorizationHeaderMalformed",
        id="no-signature",
    ),
    pytest.param(
        lambda w: _edit_auth(w, "SignedHeaders=", "Signed="),
        "AuthorizationHeaderMalformed",
        id="no-signed-headers",
    ),
    pytest.param(
        lambda w: _with(w, x_amz_meta_note=None),
        "AuthorizationHeaderMalformed",
        id="signed-header-absent",
    ),
    pytest.param(
        lambda w: _with(w, x_amz_content_sha256=None), "InvalidArgument", id="no-content-sha256"
    ),
    pytest.param(
        lambda w: _with(w, x_amz_content_sha256="abc"), "InvalidArgument", id="bad-content-sha256"
    ),
    pytest.param(lambda w: _with(w, x_amz_date=None), "AccessDenied", id="no-amz-date"),
    pytest.param(
        lambda w: _with(w, x_amz_date="2026-11-29T12:00:00Z"), "AccessDenied", id="bad-amz-date"
    ),
    pytest.param(
        lambda w: w._replace(query=[*w.query, ("X-Amz-Algorithm", "AWS4-HMAC-SHA256")]),
        "InvalidArgument",
        id="both-auth-mechanisms",
    ),
]


def test_base_request_verifies() -> None:
    assert _verify(BASE).access_key == AK


@pytest.mark.parametrize(("tamper", "code"), TAMPERED)
def test_tampered_header_signed_request_fails(tamper: Callable[[Wire], Wire], code: str) -> None:
    with pytest.raises(S3Error) as caught:
        _verify(tamper(BASE))
    assert caught.value.s3_code == code
    assert SK not in caught.value.message


def test_wrong_secret_does_not_match_and_names_the_key() -> None:
    wire = _sign("GET", "/bucket/k", secret="not-the-secret")
    with pytest.raises(S3Error) as caught:
        _verify(wire)
    assert caught.value.s3_code == "SignatureDoesNotMatch"
    assert caught.value.status == 403
    assert AK in caught.value.message
    assert "does not match the signature you provided" in caught.value.message


def test_other_configured_key_verifies_with_its_own_secret() -> None:
    wire = _sign("GET", "/bucket/k", access_key="OTHERKEY", secret="other-secret")
    assert _verify(wire).access_key == "OTHERKEY"


def test_unsigned_request_tells_how_to_sign() -> None:
    with pytest.raises(S3Error) as caught:
        _verify(_with(BASE, authorization=None))
    assert "AWS_ACCESS_KEY_ID" in caught.value.message
    assert "Signature Version 4" in caught.value.message


@pytest.mark.parametrize(
    ("minutes", "code"),
    [(-20, "RequestTimeTooSkewed"), (20, "RequestTimeTooSkewed"), (-14, None), (14, None)],
)
def test_request_time_skew(minutes: int, code: str | None) -> None:
    now = T0 + datetime.timedelta(minutes=minutes)
    if code is None:
        assert _verify(BASE, now=now).access_key == AK
        return
    with pytest.raises(S3Error) as caught:
        _verify(BASE, now=now)
    assert caught.value.s3_code == code


# ---- presigned URLs that must fail -----------------------------------------------------------

PRESIGNED = _presign("GET", _path("a b/é.csv"), expires=600)


def _query_without(wire: Wire, name: str) -> Wire:
    return wire._replace(query=[(n, v) for n, v in wire.query if n != name])


def _query_set(wire: Wire, name: str, value: str) -> Wire:
    return wire._replace(query=[(n, value if n == name else v) for n, v in wire.query])


PRESIGNED_BAD: list[Any] = [
    pytest.param(lambda w: w, T0 + datetime.timedelta(seconds=601), "AccessDenied", id="expired"),
    pytest.param(
        lambda w: w, T0 - datetime.timedelta(minutes=20), "RequestTimeTooSkewed", id="future"
    ),
    pytest.param(
        lambda w: _query_without(w, "X-Amz-Credential"),
        T0,
        "AuthorizationQueryParametersError",
        id="no-credential",
    ),
    pytest.param(
        lambda w: _query_without(w, "X-Amz-Algorithm"),
        T0,
        "AuthorizationQueryParametersError",
        id="no-algorithm",
    ),
    pytest.param(
        lambda w: _query_without(w, "X-Amz-Signature"),
        T0,
        "AuthorizationQueryParametersError",
        id="no-signature",
    ),
    pytest.param(
        lambda w: _query_set(w, "X-Amz-Algorithm", "AWS4-HMAC-SHA1"),
        T0,
        "AuthorizationQueryParametersError",
        id="algorithm",
    ),
    *[
        pytest.param(
            lambda w, e=expires: _query_set(w, "X-Amz-Expires", e),
            T0,
            "AuthorizationQueryParametersError",
            id=f"expires-{expires}",
        )
        for expires in ("0", "604801", "ten", "-5")
    ],
    pytest.param(
        lambda w: _query_set(w, "X-Amz-Date", "yesterday"),
        T0,
        "AuthorizationQueryParametersError",
        id="bad-date",
    ),
    pytest.param(
        lambda w: _query_set(w, "X-Amz-Credential", f"{AK}/20261129/us-east-1/sqs/aws4_request"),
        T0,
        "AuthorizationQueryParametersError",
        id="service",
    ),
    pytest.param(
        lambda w: w._replace(query=[*w.query, ("X-Amz-Date", AMZ_T0)]),
        T0,
        "AuthorizationQueryParametersError",
        id="repeated-param",
    ),
    pytest.param(
        lambda w: _query_set(w, "X-Amz-Credential", "NOSUCHKEY/20261129/us-east-1/s3/aws4_request"),
        T0,
        "InvalidAccessKeyId",
        id="unknown-key",
    ),
    pytest.param(
        lambda w: w._replace(raw_path=w.raw_path + "x"), T0, "SignatureDoesNotMatch", id="path"
    ),
    pytest.param(
        lambda w: _query_set(w, "X-Amz-Expires", "6000"),
        T0,
        "SignatureDoesNotMatch",
        id="longer-expiry",
    ),
    pytest.param(lambda w: w._replace(method="DELETE"), T0, "SignatureDoesNotMatch", id="method"),
    pytest.param(
        lambda w: _query_set(w, "X-Amz-Signature", _flip_last(dict(w.query)["X-Amz-Signature"])),
        T0,
        "SignatureDoesNotMatch",
        id="signature",
    ),
    pytest.param(
        lambda w: _with(w, x_amz_copy_source="/bucket/secret"),
        T0,
        "AccessDenied",
        id="unsigned-amz-header",
    ),
]


@pytest.mark.parametrize(
    "now", [T0, T0 + datetime.timedelta(seconds=600), T0 - datetime.timedelta(minutes=14)]
)
def test_presigned_valid_until_expiry(now: datetime.datetime) -> None:
    assert _verify(PRESIGNED, now=now).payload == UNSIGNED_PAYLOAD


@pytest.mark.parametrize(("tamper", "now", "code"), PRESIGNED_BAD)
def test_presigned_failures(
    tamper: Callable[[Wire], Wire], now: datetime.datetime, code: str
) -> None:
    with pytest.raises(S3Error) as caught:
        _verify(tamper(PRESIGNED), now=now)
    assert caught.value.s3_code == code


def test_presigned_expiry_message_names_the_times() -> None:
    with pytest.raises(S3Error, match="Request has expired") as caught:
        _verify(PRESIGNED, now=T0 + datetime.timedelta(hours=1))
    assert AMZ_T0 in caught.value.message
    assert "20261129T130000Z" in caught.value.message


# ---- a whole botocore S3 client --------------------------------------------------------------


class _Sent(Exception):
    """Stops the client once it has built, signed and would send a request."""


@pytest.fixture(scope="module")
def capture() -> Iterator[Callable[[str, str, dict[str, Any]], Wire]]:
    clients = {}
    for scheme in ("http", "https"):
        client = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=f"{scheme}://{HOST}",
            region_name="eu-west-3",
            aws_access_key_id=AK,
            aws_secret_access_key=SK,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        clients[scheme] = client
    sent: list[Any] = []

    def on_send(request: Any, **_: Any) -> None:
        sent.append(request)
        raise _Sent

    for client in clients.values():
        client.meta.events.register("before-send.s3", on_send)

    def run(scheme: str, operation: str, params: dict[str, Any]) -> Wire:
        with _clock(T0), pytest.raises(_Sent):
            getattr(clients[scheme], operation)(**params)
        request = sent[-1]
        body = request.body.read() if hasattr(request.body, "read") else request.body or b""
        return _to_wire(request.method, request.url, request.headers, body)

    yield run
    for client in clients.values():
        client.close()


CLIENT_CALLS = [
    ("put_object", {"Bucket": "b", "Key": "a b/é+=~日本.csv", "Body": b"hello world"}),
    ("get_object", {"Bucket": "b", "Key": "a b/é+=~日本.csv"}),
    ("list_objects_v2", {"Bucket": "b", "Prefix": "a b", "Delimiter": "/"}),
    ("create_multipart_upload", {"Bucket": "b", "Key": "k"}),
    (
        "upload_part",
        {"Bucket": "b", "Key": "k", "PartNumber": 2, "UploadId": "xyz", "Body": b"abc"},
    ),
    ("delete_objects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}]}}),
    ("head_bucket", {"Bucket": "b"}),
]


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize(("operation", "params"), CLIENT_CALLS, ids=[c[0] for c in CLIENT_CALLS])
def test_botocore_client_requests_verify_end_to_end(
    capture: Callable[[str, str, dict[str, Any]], Wire],
    scheme: str,
    operation: str,
    params: dict[str, Any],
) -> None:
    wire = capture(scheme, operation, params)
    signed = _verify(wire)
    assert signed.scope == "20261129/eu-west-3/s3/aws4_request"
    if is_aws_chunked(wire.headers):
        payload, trailers = decode_aws_chunked(wire.body, signed)
    else:
        check_payload(signed, wire.body)
        payload, trailers = wire.body, {}
    check_checksums(payload, wire.headers, trailers)
    assert payload == params.get("Body", payload)


def test_botocore_client_https_put_is_aws_chunked_with_a_crc32_trailer(
    capture: Callable[[str, str, dict[str, Any]], Wire],
) -> None:
    wire = capture("https", "put_object", {"Bucket": "b", "Key": "k", "Body": b"hello world"})
    signed = _verify(wire)
    assert signed.payload == STREAMING_UNSIGNED_TRAILER
    payload, trailers = decode_aws_chunked(wire.body, signed)
    assert payload == b"hello world"
    crc = Crc32Checksum()
    crc.update(b"hello world")
    assert trailers == {"x-amz-checksum-crc32": crc.b64digest()}
    check_checksums(payload, wire.headers, trailers)
    with pytest.raises(S3Error) as caught:
        check_checksums(
            b"hello worle", wire.headers | {"x-amz-decoded-content-length": "11"}, trailers
        )
    assert caught.value.s3_code == "BadDigest"


# Content-Encoding as a client sets it (s3-tests' test_object_content_encoding_aws_chunked)
# and the encoding S3 stores. Over http botocore sends the body as is with its sha256, whatever
# Content-Encoding says; over https it frames the body itself (STREAMING-UNSIGNED-PAYLOAD-TRAILER)
# and appends aws-chunked. Only the STREAMING-* payload hash says the body is framed.
CONTENT_ENCODINGS = [
    ("gzip", "gzip"),
    ("deflate, gzip", "deflate, gzip"),
    ("gzip, aws-chunked", "gzip"),
    ("aws-chunked, gzip", "gzip"),
    ("aws-chunked", None),
    ("aws-chunked, aws-chunked", None),
]


@pytest.mark.parametrize("body", [b"", b"0\r\n\r\n", b"not framed at all"])
@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize(("sent", "stored"), CONTENT_ENCODINGS)
def test_content_encoding_aws_chunked_does_not_make_a_body_framed(
    capture: Callable[[str, str, dict[str, Any]], Wire],
    scheme: str,
    sent: str,
    stored: str | None,
    body: bytes,
) -> None:
    params = {"Bucket": "b", "Key": "k", "Body": body, "ContentEncoding": sent}
    wire = capture(scheme, "put_object", params)
    signed = _verify(wire)
    framed = is_aws_chunked(wire.headers)
    assert framed == signed.payload.startswith("STREAMING-")
    if framed:
        payload, trailers = decode_aws_chunked(wire.body, signed)
    else:
        check_payload(signed, wire.body)
        payload, trailers = wire.body, {}
    check_checksums(payload, wire.headers, trailers)
    assert payload == body
    assert (
        parse_metadata(CIMultiDictProxy(CIMultiDict(wire.headers))).get("Content-Encoding")
        == stored
    )


@pytest.mark.parametrize(
    ("headers", "framed"),
    [
        ({"content-encoding": "gzip, aws-chunked", "x-amz-content-sha256": EMPTY_SHA256}, False),
        ({"content-encoding": "aws-chunked", "x-amz-content-sha256": UNSIGNED_PAYLOAD}, False),
        ({"content-encoding": "aws-chunked"}, False),
        ({}, False),
        ({"content-encoding": "aws-chunked", "x-amz-content-sha256": STREAMING_SIGNED}, True),
        ({"x-amz-content-sha256": STREAMING_SIGNED_TRAILER}, True),
        ({"content-encoding": "gzip", "x-amz-content-sha256": STREAMING_UNSIGNED_TRAILER}, True),
        # Not a payload hash verify_request accepts: never decoded unchecked.
        ({"x-amz-content-sha256": STREAMING_SIGNED.lower()}, False),
    ],
)
def test_is_aws_chunked_follows_the_payload_hash(headers: dict[str, str], framed: bool) -> None:
    assert is_aws_chunked(CIMultiDictProxy(CIMultiDict(headers))) is framed


def test_botocore_client_presigned_url_verifies() -> None:
    session = botocore.session.get_session()
    client = session.create_client(
        "s3",
        endpoint_url=f"http://{HOST}",
        region_name="eu-west-3",
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        config=Config(s3={"addressing_style": "path"}),
    )
    with _clock(T0):
        url = client.generate_presigned_url(
            "put_object", Params={"Bucket": "b", "Key": "a b/é+=~.csv"}, ExpiresIn=60
        )
    client.close()
    wire = _to_wire("PUT", url, {}, b"")
    assert _verify(wire, now=T0 + datetime.timedelta(seconds=59)).payload == UNSIGNED_PAYLOAD
    with pytest.raises(S3Error) as caught:
        _verify(wire, now=T0 + datetime.timedelta(seconds=61))
    assert caught.value.s3_code == "AccessDenied"


# ---- check_payload ---------------------------------------------------------------------------


def _signed(payload: str) -> SignedRequest:
    return SignedRequest(AK, payload, AMZ_T0, "20261129/us-east-1/s3/aws4_request", b"k", "s")


@pytest.mark.parametrize(
    ("payload", "body", "code"),
    [
        (hashlib.sha256(b"data").hexdigest(), b"data", None),
        (hashlib.sha256(b"data").hexdigest().upper(), b"data", None),
        (EMPTY_SHA256, b"", None),
        (hashlib.sha256(b"data").hexdigest(), b"dat", "XAmzContentSHA256Mismatch"),
        (EMPTY_SHA256, b"data", "XAmzContentSHA256Mismatch"),
        (UNSIGNED_PAYLOAD, b"anything", None),
        (STREAMING_SIGNED, b"checked chunk by chunk", None),
    ],
)
def test_check_payload(payload: str, body: bytes, code: str | None) -> None:
    if code is None:
        check_payload(_signed(payload), body)
        return
    with pytest.raises(S3Error) as caught:
        check_payload(_signed(payload), body)
    assert caught.value.s3_code == code


def test_payload_hash_mismatch_of_a_real_request() -> None:
    wire = _sign("PUT", "/bucket/k", body=b"the body that was signed")
    with pytest.raises(S3Error) as caught:
        check_payload(_verify(wire), b"the body that arrived")
    assert caught.value.s3_code == "XAmzContentSHA256Mismatch"


# ---- aws-chunked bodies ----------------------------------------------------------------------


class _StreamingAuth(S3SigV4Auth):
    """botocore's S3 signer, signing the seed request of a signed-chunk upload."""

    streaming = STREAMING_SIGNED

    def payload(self, request: Any) -> str:
        return self.streaming


class _StreamingTrailerAuth(_StreamingAuth):
    streaming = STREAMING_SIGNED_TRAILER


def _ref_sign(key: bytes, kind: str, previous: str, *hashes: str) -> str:
    """Reference chunk/trailer signer, from the AWS 'streaming SigV4' documentation."""
    scope = "20261129/us-east-1/s3/aws4_request"
    string_to_sign = "\n".join((kind, AMZ_T0, scope, previous, *hashes))
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _signed_chunks(seed: str, chunks: list[bytes], trailers: dict[str, str] | None = None) -> bytes:
    key = _ref_signing_key(SK, "20261129", "us-east-1")
    out = b""
    previous = seed
    for data in [*chunks, b""]:
        sha = hashlib.sha256(data).hexdigest()
        previous = _ref_sign(key, "AWS4-HMAC-SHA256-PAYLOAD", previous, EMPTY_SHA256, sha)
        out += b"%x;chunk-signature=%s\r\n" % (len(data), previous.encode())
        if data:
            out += data + b"\r\n"
    if trailers is None:
        return out + b"\r\n"
    # Canonical trailers are sorted by name, as the AWS SDK for .NET signs them.
    lines = "".join(f"{name}:{value}\n" for name, value in sorted(trailers.items()))
    trailer_sig = _ref_sign(
        key, "AWS4-HMAC-SHA256-TRAILER", previous, hashlib.sha256(lines.encode()).hexdigest()
    )
    for name, value in trailers.items():
        out += f"{name}:{value}\r\n".encode()
    return out + f"x-amz-trailer-signature:{trailer_sig}\r\n\r\n".encode()


def _streaming_request(auth_cls: type[_StreamingAuth] = _StreamingAuth) -> SignedRequest:
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "11"}
    signed = _verify(_sign("PUT", "/bucket/k", [], headers, auth_cls=auth_cls))
    assert signed.payload == auth_cls.streaming
    return signed


CHUNKS = [b"hello", b" ", b"world"]


@pytest.mark.parametrize(
    "chunks", [CHUNKS, [b"hello world"], [], [bytes(range(256)) * 300, b"tail"]]
)
def test_signed_chunks_decode(chunks: list[bytes]) -> None:
    signed = _streaming_request()
    body = _signed_chunks(signed.seed_signature, chunks)
    assert decode_aws_chunked(body, signed) == (b"".join(chunks), {})
    assert decode_aws_chunked(body, None) == (b"".join(chunks), {})


def _flip_byte(body: bytes, needle: bytes) -> bytes:
    at = body.index(needle)
    return body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]


CHUNK_BAD: list[Any] = [
    pytest.param(lambda b: _flip_byte(b, b"world"), "SignatureDoesNotMatch", id="data-byte"),
    pytest.param(
        lambda b: b.replace(b"hello", b"HELLO"), "SignatureDoesNotMatch", id="data-changed"
    ),
    pytest.param(
        lambda b: b.replace(b";chunk-signature=", b";chunk-signaturX=", 1),
        "SignatureDoesNotMatch",
        id="signature-missing",
    ),
    pytest.param(
        lambda b: b.replace(b"1;chunk-signature=", b"1;chunk-signature=0", 1),
        "SignatureDoesNotMatch",
        id="signature-changed",
    ),
    pytest.param(
        lambda b: b.replace(b"0;chunk-signature=", b"0;chunk-signature=0"),
        "SignatureDoesNotMatch",
        id="final-chunk-signature",
    ),
    pytest.param(
        lambda b: b[: b.index(b"1;chunk")] + b[b.index(b"5;chunk", 10) :],
        "SignatureDoesNotMatch",
        id="chunk-dropped",
    ),
    pytest.param(
        lambda b: b.replace(
            b"\r\nhello\r\n", b"\r\nhello\r\n5;chunk-signature=%s\r\nworld\r\n" % b[18:82]
        ),
        "SignatureDoesNotMatch",
        id="chunk-replayed",
    ),
]

FRAMING_BAD: list[Any] = [
    pytest.param(lambda b: b[: b.index(b"world") + 2], "IncompleteBody", id="cut-in-data"),
    pytest.param(lambda b: b[: b.index(b"world") - 10], "IncompleteBody", id="cut-in-header"),
    pytest.param(lambda b: b[: b.index(b"world") + 5], "IncompleteBody", id="cut-before-crlf"),
    pytest.param(lambda b: b[:-2], "IncompleteBody", id="no-final-crlf"),
    pytest.param(lambda b: b"", "IncompleteBody", id="empty"),
    pytest.param(lambda b: b"zz" + b[1:], "InvalidArgument", id="size-not-hex"),
    pytest.param(lambda b: b"0x" + b, "InvalidArgument", id="size-0x"),
    pytest.param(lambda b: b";chunk-signature=" + b, "InvalidArgument", id="size-missing"),
    pytest.param(lambda b: b"4" + b[1:], "InvalidArgument", id="size-too-small"),
    pytest.param(lambda b: b + b"junk", "InvalidArgument", id="bytes-after-end"),
    pytest.param(
        lambda b: b.replace(b"\r\n\r\n", b"\r\nno-colon\r\n\r\n"),
        "InvalidArgument",
        id="trailer-without-colon",
    ),
]


@pytest.mark.parametrize(("tamper", "code"), CHUNK_BAD)
def test_bad_chunk_signatures(tamper: Callable[[bytes], bytes], code: str) -> None:
    signed = _streaming_request()
    body = _signed_chunks(signed.seed_signature, CHUNKS)
    assert body.startswith(b"5;chunk-signature=")
    with pytest.raises(S3Error) as caught:
        decode_aws_chunked(tamper(body), signed)
    assert caught.value.s3_code == code


@pytest.mark.parametrize("verify", [True, False])
@pytest.mark.parametrize(("tamper", "code"), FRAMING_BAD)
def test_bad_chunk_framing(tamper: Callable[[bytes], bytes], code: str, verify: bool) -> None:
    signed = _streaming_request()
    body = _signed_chunks(signed.seed_signature, CHUNKS)
    with pytest.raises(S3Error) as caught:
        decode_aws_chunked(tamper(body), signed if verify else None)
    assert caught.value.s3_code == code


def test_signed_chunks_from_another_request_do_not_match() -> None:
    signed = _streaming_request()
    body = _signed_chunks(_flip_last(signed.seed_signature), CHUNKS)
    with pytest.raises(S3Error) as caught:
        decode_aws_chunked(body, signed)
    assert caught.value.s3_code == "SignatureDoesNotMatch"
    assert AK in caught.value.message


def _crc32_b64(data: bytes) -> str:
    crc = Crc32Checksum()
    crc.update(data)
    return str(crc.b64digest())


def test_signed_trailer_decodes_and_checks() -> None:
    signed = _streaming_request(_StreamingTrailerAuth)
    trailer = {"x-amz-checksum-crc32": _crc32_b64(b"hello world")}
    body = _signed_chunks(signed.seed_signature, CHUNKS, trailer)
    payload, trailers = decode_aws_chunked(body, signed)
    assert (payload, trailers) == (b"hello world", trailer)
    check_checksums(payload, {"x-amz-trailer": "x-amz-checksum-crc32"}, trailers)


def test_signed_trailers_in_any_order() -> None:
    signed = _streaming_request(_StreamingTrailerAuth)
    trailer = {"x-amz-meta-z": "last", "x-amz-checksum-crc32": _crc32_b64(b"hello world")}
    body = _signed_chunks(signed.seed_signature, CHUNKS, trailer)
    assert body.index(b"x-amz-meta-z") < body.index(b"x-amz-checksum-crc32")
    assert decode_aws_chunked(body, signed) == (b"hello world", trailer)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda b: b.replace(b"crc32:", b"crc32:A", 1), id="trailer-value"),
        pytest.param(
            lambda b: b.replace(b"x-amz-trailer-signature:", b"x-amz-trailer-signaturX:"),
            id="trailer-signature-missing",
        ),
        pytest.param(
            lambda b: b.replace(b"x-amz-trailer-signature:", b"x-amz-trailer-signature:0"),
            id="trailer-signature-changed",
        ),
    ],
)
def test_bad_signed_trailers(tamper: Callable[[bytes], bytes]) -> None:
    signed = _streaming_request(_StreamingTrailerAuth)
    trailer = {"x-amz-checksum-crc32": _crc32_b64(b"hello world")}
    body = tamper(_signed_chunks(signed.seed_signature, CHUNKS, trailer))
    with pytest.raises(S3Error) as caught:
        decode_aws_chunked(body, signed)
    assert caught.value.s3_code == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("checksum_cls", "name"),
    [
        (Crc32Checksum, "x-amz-checksum-crc32"),
        (Sha1Checksum, "x-amz-checksum-sha1"),
        (Sha256Checksum, "x-amz-checksum-sha256"),
    ],
)
@pytest.mark.parametrize("chunk_size", [1, 4, 1024])
def test_botocore_unsigned_trailer_bodies(checksum_cls: Any, name: str, chunk_size: int) -> None:
    data = b"col1,col2\n1,\xc3\xa9\n" * 7
    body = AwsChunkedWrapper(io.BytesIO(data), checksum_cls, name, chunk_size=chunk_size).read()
    signed = _signed(STREAMING_UNSIGNED_TRAILER)
    payload, trailers = decode_aws_chunked(body, signed)
    assert payload == data
    assert list(trailers) == [name]
    headers = {"x-amz-trailer": name, "x-amz-decoded-content-length": str(len(data))}
    check_checksums(payload, headers, trailers)
    with pytest.raises(S3Error) as caught:
        check_checksums(payload[:-1] + b"?", headers, trailers)
    assert caught.value.s3_code == "BadDigest"


def test_unsigned_trailer_with_a_wrong_crc_is_a_bad_digest() -> None:
    body = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    payload, trailers = decode_aws_chunked(body, _signed(STREAMING_UNSIGNED_TRAILER))
    assert payload == b"hello world"
    with pytest.raises(S3Error) as caught:
        check_checksums(payload, {}, trailers)
    assert caught.value.s3_code == "BadDigest"
    assert "x-amz-checksum-crc32" in caught.value.message


def test_unsigned_trailer_without_the_final_empty_line_is_complete() -> None:
    body = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n"
    assert decode_aws_chunked(body, None) == (b"hello world", {"x-amz-checksum-crc32": "DUoRhQ=="})


# ---- check_checksums -------------------------------------------------------------------------

DATA = b"some,csv\n1,2\n"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


CHECKSUMS: list[Any] = [
    pytest.param({"Content-MD5": _b64(hashlib.md5(DATA).digest())}, {}, None, id="md5"),
    pytest.param({"Content-MD5": _b64(hashlib.md5(b"x").digest())}, {}, "BadDigest", id="md5-bad"),
    pytest.param({"Content-MD5": "not base64!"}, {}, "InvalidDigest", id="md5-garbage"),
    pytest.param({"Content-MD5": "AAAA"}, {}, "InvalidDigest", id="md5-short"),
    pytest.param({"x-amz-checksum-crc32": _crc32_b64(DATA)}, {}, None, id="crc32"),
    pytest.param(
        {"x-amz-checksum-crc32": _b64(zlib.crc32(b"x").to_bytes(4, "big"))},
        {},
        "BadDigest",
        id="crc32-bad",
    ),
    pytest.param({"x-amz-checksum-sha1": _b64(hashlib.sha1(DATA).digest())}, {}, None, id="sha1"),
    pytest.param(
        {"x-amz-checksum-sha256": _b64(hashlib.sha256(b"x").digest())},
        {},
        "BadDigest",
        id="sha256-bad",
    ),
    pytest.param({"x-amz-checksum-sha256": "AAAA"}, {}, "BadDigest", id="sha256-short"),
    pytest.param({"x-amz-checksum-sha256": "bad"}, {}, "BadDigest", id="sha256-not-base64"),
    # CRC32C and CRC64NVME are checked too (awscrt computes them).
    pytest.param({"x-amz-checksum-crc32c": "AAAAAA=="}, {}, "BadDigest", id="crc32c-bad"),
    pytest.param({"x-amz-checksum-crc32c": "AAAA"}, {}, "BadDigest", id="crc32c-short"),
    pytest.param({"x-amz-checksum-crc64nvme": "AAAAAAAAAAA="}, {}, "BadDigest", id="crc64nvme-bad"),
    pytest.param({}, {"x-amz-checksum-crc32c": "sOO8/Q=="}, "BadDigest", id="trailer-crc32c-bad"),
    pytest.param({}, {"x-amz-checksum-crc32": _crc32_b64(DATA)}, None, id="trailer-crc32"),
    pytest.param({}, {"X-Amz-Checksum-CRC32": "AAAAAA=="}, "BadDigest", id="trailer-crc32-bad"),
    pytest.param(
        {"x-amz-trailer": "x-amz-checksum-crc32"}, {}, "IncompleteBody", id="trailer-missing"
    ),
    pytest.param(
        {"x-amz-decoded-content-length": str(len(DATA) + 1)},
        {},
        "IncompleteBody",
        id="decoded-length",
    ),
    pytest.param({"Content-Type": "text/csv"}, {}, None, id="nothing-to-check"),
]


@pytest.mark.parametrize(("headers", "trailers", "code"), CHECKSUMS)
def test_check_checksums(
    headers: dict[str, str], trailers: dict[str, str], code: str | None
) -> None:
    if code is None:
        check_checksums(DATA, headers, trailers)
        return
    with pytest.raises(S3Error) as caught:
        check_checksums(DATA, headers, trailers)
    assert caught.value.s3_code == code


def test_a_signature_v2_presigned_url_is_named_as_such() -> None:
    """boto3 presigns with Version 2 unless told s3v4: the answer says so and how to fix it."""
    request = AWSRequest(method="GET", url="http://127.0.0.1:1600/master.raw/a.txt")
    HmacV1QueryAuth(Credentials(AK, SK), expires=60).add_auth(request)
    parts = urlsplit(request.url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    assert {"AWSAccessKeyId", "Signature", "Expires"} <= {n for n, _ in query}
    with pytest.raises(S3Error) as caught:
        verify_request("GET", parts.path, query, {"host": "127.0.0.1:1600"}, KEYS, T0)
    assert caught.value.s3_code == "AuthorizationQueryParametersError"
    assert "Signature Version 2" in caught.value.message
    assert "signature_version='s3v4'" in caught.value.message
