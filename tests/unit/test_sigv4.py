"""The object store's request signatures are botocore's, byte for byte, and the gateway
accepts them: one SigV4 (:mod:`pachstream.sigv4`) for both sides."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from pachstream.gateway._sigv4 import check_payload, verify_request
from pachstream.objectstore import backoff_s, signed_host
from pachstream.sigv4 import EMPTY_SHA256, sign_headers

CASES = [
    # (method, host, path as sent, headers, body, region)
    ("PUT", "127.0.0.1:8333", "/pachstream/ns/content/ab12", {}, b"hello", "us-east-1"),
    ("PUT", "127.0.0.1:8333", "/pachstream/ns/empty", {}, b"", "us-east-1"),
    ("GET", "127.0.0.1:8333", "/pachstream/ns/manifests/x", {}, b"", "us-east-1"),
    ("GET", "localhost:9000", "/b/k", {"Range": "bytes=10-19"}, b"", "eu-west-1"),
    ("GET", "s3.example.com", "/b/a/b", {"Range": "bytes=5-"}, b"", "ap-south-1"),
    ("HEAD", "127.0.0.1:8333", "/pachstream/ns/blobs/h", {}, b"", "us-east-1"),
    # Keys as the store escapes them: spaces, UTF-8, '+', '%', '?', '#', '~', '//'.
    ("PUT", "h:1", "/b/sp%20ace/%C3%BC%2B%25x", {}, b"x" * 1000, "us-east-1"),
    ("GET", "h:1", "/b/q%3Fx%23y%26z%3D1/~t", {}, b"", "us-east-1"),
    ("PUT", "h:1", "/b/x//y", {}, b"\x00\xff", "us-east-1"),
    # A default port in the endpoint: botocore signs the host without it, as do we.
    ("GET", "minio:80", "/b/k", {}, b"", "us-east-1"),
]


def _botocore(method, host, path, headers, body, region):
    request = AWSRequest(method=method, url=f"http://{host}{path}", data=body, headers=headers)
    S3SigV4Auth(Credentials("AKIDEXAMPLE", "secret/Key+1"), "s3", region).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]} {c[2]}" for c in CASES])
def test_signatures_are_botocores(case):
    method, host, path, headers, body, region = case
    theirs = _botocore(*case)
    when = datetime.datetime.strptime(theirs["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    ours = sign_headers(
        method,
        signed_host("http", host),
        path,
        headers,
        payload,
        "AKIDEXAMPLE",
        "secret/Key+1",
        region,
        when,
    )
    assert ours["x-amz-content-sha256"] == theirs["X-Amz-Content-SHA256"]
    assert ours["Authorization"] == theirs["Authorization"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]} {c[2]}" for c in CASES])
def test_the_gateway_accepts_what_the_store_signs(case):
    method, host, path, headers, body, region = case
    now = datetime.datetime(2026, 12, 1, 20, 0, tzinfo=datetime.UTC)
    payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    signed = sign_headers(method, host, path, headers, payload, "ak", "sk", region, now)
    verified = verify_request(method, path, [], {**signed, "Host": host}, {"ak": "sk"}, now)
    check_payload(verified, body)
    assert verified.access_key == "ak"


def test_a_wrong_secret_is_refused_by_the_gateway():
    now = datetime.datetime(2026, 12, 1, 20, 0, tzinfo=datetime.UTC)
    signed = sign_headers("GET", "h", "/b/k", {}, EMPTY_SHA256, "ak", "other", "us-east-1", now)
    with pytest.raises(Exception, match="SignatureDoesNotMatch|does not match"):
        verify_request("GET", "/b/k", [], {**signed, "Host": "h"}, {"ak": "sk"}, now)


@pytest.mark.parametrize(("attempt", "most"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 20.0)])
def test_backoff_grows_to_botocores_bounds(attempt, most):
    waits = [backoff_s(attempt) for _ in range(200)]
    assert all(0.0 <= w <= most for w in waits)
    assert max(waits) > most / 2  # jittered over the whole range, not stuck near zero


@pytest.mark.parametrize(
    ("scheme", "netloc", "host"),
    [
        ("http", "127.0.0.1:8333", "127.0.0.1:8333"),
        ("http", "minio:80", "minio"),
        ("https", "s3.example.com:443", "s3.example.com"),
        ("http", "h:443", "h:443"),
        ("https", "h:80", "h:80"),
        ("https", "[::1]:443", "[::1]"),
        ("http", "[::1]:9000", "[::1]:9000"),
        ("http", "h", "h"),
    ],
)
def test_a_default_port_is_not_signed(scheme, netloc, host):
    # aiohttp sends "Host: minio" to http://minio:80 (checked against a socket): signing
    # "minio:80" would be refused with SignatureDoesNotMatch.
    assert signed_host(scheme, netloc) == host
