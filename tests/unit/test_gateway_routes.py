"""The S3 gateway's route table: every request is an operation it implements, or refused."""

from __future__ import annotations

import pytest

from pachstream.gateway import S3Error
from pachstream.gateway._routes import (
    NONE_CONFIGURED,
    ROUTES,
    SUB_RESOURCES,
    operation_name,
    route,
    sub_resources,
)


@pytest.mark.parametrize(
    ("method", "target", "query", "copy", "want"),
    [
        ("GET", "service", {}, False, "ListBuckets"),
        ("GET", "service", {"max-buckets": "2", "prefix": "m"}, False, "ListBuckets"),
        ("HEAD", "bucket", {}, False, "HeadBucket"),
        ("GET", "bucket", {"prefix": "a/", "delimiter": "/"}, False, "ListObjects"),
        ("GET", "bucket", {"list-type": "2", "max-keys": "5"}, False, "ListObjectsV2"),
        ("GET", "bucket", {"location": ""}, False, "GetBucketLocation"),
        ("GET", "bucket", {"uploads": ""}, False, "ListMultipartUploads"),
        ("GET", "bucket", {"versioning": ""}, False, "GetBucketVersioning"),
        ("GET", "bucket", {"acl": ""}, False, "GetBucketAcl"),
        ("GET", "bucket", {"policy": ""}, False, "GetBucketPolicy"),
        ("PUT", "bucket", {}, False, "CreateBucket"),
        ("DELETE", "bucket", {}, False, "DeleteBucket"),
        ("POST", "bucket", {"delete": ""}, False, "DeleteObjects"),
        ("GET", "object", {}, False, "GetObject"),
        ("GET", "object", {"versionId": "null"}, False, "GetObject"),
        ("GET", "object", {"response-content-type": "text/plain"}, False, "GetObject"),
        (
            "GET",
            "object",
            {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Signature": "ab", "x-id": "GetObject"},
            False,
            "GetObject",
        ),
        ("HEAD", "object", {}, False, "HeadObject"),
        ("PUT", "object", {}, False, "PutObject"),
        ("PUT", "object", {}, True, "CopyObject"),
        ("DELETE", "object", {}, False, "DeleteObject"),
        ("GET", "object", {"tagging": ""}, False, "GetObjectTagging"),
        ("GET", "object", {"acl": ""}, False, "GetObjectAcl"),
        ("POST", "object", {"uploads": ""}, False, "CreateMultipartUpload"),
        ("PUT", "object", {"uploadId": "u", "partNumber": "1"}, False, "UploadPart"),
        ("PUT", "object", {"uploadId": "u", "partNumber": "1"}, True, "UploadPartCopy"),
        ("GET", "object", {"partNumber": "2"}, False, "GetObject"),
        ("HEAD", "object", {"partNumber": "1"}, False, "HeadObject"),
        ("POST", "object", {"uploadId": "u"}, False, "CompleteMultipartUpload"),
        ("DELETE", "object", {"uploadId": "u"}, False, "AbortMultipartUpload"),
        ("GET", "object", {"uploadId": "u", "max-parts": "3"}, False, "ListParts"),
        ("GET", "object", {"attributes": ""}, False, "GetObjectAttributes"),
        ("OPTIONS", "object", {"uploads": ""}, False, "CorsPreflight"),
    ],
)
def test_implemented(method: str, target, query: dict, copy: bool, want: str) -> None:
    assert route(method, target, query, copy_source=copy).operation == want


@pytest.mark.parametrize(
    ("method", "target", "query", "code", "names"),
    [
        # The requests that used to fall through to plain reads and writes.
        ("PUT", "object", {"tagging": ""}, "NotImplemented", "PutObjectTagging"),
        ("PUT", "object", {"acl": ""}, "NotImplemented", "PutObjectAcl"),
        ("DELETE", "object", {"tagging": ""}, "NotImplemented", "DeleteObjectTagging"),
        ("PUT", "bucket", {"acl": ""}, "NotImplemented", "PutBucketAcl"),
        ("PUT", "bucket", {"versioning": ""}, "NotImplemented", "PutBucketVersioning"),
        ("GET", "bucket", {"versions": ""}, "NotImplemented", "ListObjectVersions"),
        ("PUT", "bucket", {"cors": ""}, "NotImplemented", "PutBucketCors"),
        ("DELETE", "bucket", {"policy": ""}, "NotImplemented", "DeleteBucketPolicy"),
        ("PUT", "object", {"retention": ""}, "NotImplemented", "PutObjectRetention"),
        ("PUT", "object", {"legal-hold": ""}, "NotImplemented", "PutObjectLegalHold"),
        ("POST", "object", {"restore": ""}, "NotImplemented", "RestoreObject"),
        (
            "POST",
            "object",
            {"select": "", "select-type": "2"},
            "NotImplemented",
            "SelectObjectContent",
        ),
        ("PUT", "object", {"renameObject": ""}, "NotImplemented", "RenameObject"),
        ("PUT", "bucket", {"lifecycle": ""}, "NotImplemented", "PutBucketLifecycle"),
        ("GET", "bucket", {"logging": ""}, "NotImplemented", "GetBucketLogging"),
        ("POST", "bucket", {}, "NotImplemented", "PostObject"),
        # Combinations and unknown parameters: refused, never guessed at.
        ("PUT", "object", {"tagging": "", "acl": ""}, "NotImplemented", "acl&tagging"),
        ("PUT", "object", {"frobnicate": ""}, "NotImplemented", "'frobnicate'"),
        ("GET", "bucket", {"list-type": "2", "uploads": ""}, "NotImplemented", "list-type"),
        ("GET", "bucket", {"list-type": "3"}, "InvalidArgument", "list-type '3'"),
        ("GET", "object", {"versionId": "3HL4kqt"}, "InvalidArgument", "3HL4kqt"),
        ("DELETE", "object", {"versionId": "abc"}, "InvalidArgument", "unversioned"),
        # Methods that name no S3 operation on their target.
        ("POST", "object", {}, "MethodNotAllowed", "POST /BUCKET/KEY"),
        ("DELETE", "service", {}, "MethodNotAllowed", "DELETE /"),
        ("PATCH", "object", {}, "MethodNotAllowed", "PATCH"),
    ],
)
def test_refused(method: str, target, query: dict, code: str, names: str) -> None:
    with pytest.raises(S3Error) as caught:
        route(method, target, query)
    assert caught.value.s3_code == code
    assert names in caught.value.message
    if code == "NotImplemented":
        assert "nothing was changed" in caught.value.message


def test_sub_resources_are_not_ordinary_parameters() -> None:
    assert sub_resources({"prefix": "a", "tagging": "", "X-Amz-Date": "x", "zzz": ""}) == {
        "tagging",
        "zzz",
    }
    # Every routed key is made of known sub-resources only.
    for _method, _target, subs in ROUTES:
        assert subs <= SUB_RESOURCES


def test_every_operation_of_the_s3_api_is_routed_or_refused_by_name() -> None:
    """Each (method, sub-resource) pair of S3's request URIs gets a name, so its refusal
    names the operation a client called."""
    pairs = {
        ("PUT", "object", "acl"): "PutObjectAcl",
        ("GET", "object", "torrent"): "GetObjectTorrent",
        ("PUT", "bucket", "ownershipControls"): "PutBucketOwnershipControls",
        ("PUT", "bucket", "publicAccessBlock"): "PutPublicAccessBlock",
        ("PUT", "bucket", "intelligent-tiering"): "PutBucketIntelligentTieringConfiguration",
        ("DELETE", "bucket", "analytics"): "DeleteBucketAnalyticsConfiguration",
        ("PUT", "bucket", "notification"): "PutBucketNotificationConfiguration",
        ("PUT", "bucket", "object-lock"): "PutObjectLockConfiguration",
        ("GET", "bucket", "policyStatus"): "GetBucketPolicyStatus",
        ("PUT", "bucket", "accelerate"): "PutBucketAccelerateConfiguration",
        ("PUT", "bucket", "requestPayment"): "PutBucketRequestPayment",
    }
    for (method, target, sub), name in pairs.items():
        assert operation_name(method, target, frozenset({sub})) == name


def test_none_configured_reads_are_routed() -> None:
    routed = set(ROUTES.values())
    assert set(NONE_CONFIGURED) <= routed


# Operations route() gives beyond the table's values: a copy source turns these two into copies.
DERIVED = {"CopyObject", "UploadPartCopy"}


def test_every_routed_operation_has_a_handler() -> None:
    """The route table and the handler table agree: nothing routed falls on the floor, and no
    handler is unreachable."""
    from pachstream.gateway._server import HANDLERS

    routed = set(ROUTES.values()) | DERIVED
    assert set(HANDLERS) == routed


def test_every_handler_is_a_method_taking_the_call() -> None:
    import inspect

    from pachstream.gateway import S3Gateway
    from pachstream.gateway._server import HANDLERS

    for op, name in HANDLERS.items():
        method = getattr(S3Gateway, name, None)
        assert method is not None, f"{op}: S3Gateway has no {name}"
        assert inspect.iscoroutinefunction(method), name
        assert list(inspect.signature(method).parameters) == ["self", "call"], name


@pytest.mark.parametrize(
    ("method", "target", "query", "handler"),
    [
        ("GET", "service", {}, "_list_buckets"),
        ("GET", "bucket", {"list-type": "2"}, "_list_objects"),
        ("GET", "bucket", {"cors": ""}, "_op_none_configured"),
        ("PUT", "object", {}, "_put_object"),
        ("HEAD", "object", {"partNumber": "1"}, "_get_object"),
        ("POST", "object", {"uploadId": "u"}, "_complete_upload"),
        ("DELETE", "object", {"uploadId": "u"}, "_abort_upload"),
        ("POST", "bucket", {"delete": ""}, "_delete_objects"),
    ],
)
def test_route_then_handler(method: str, target, query: dict, handler: str) -> None:
    from pachstream.gateway._server import HANDLERS

    assert HANDLERS[route(method, target, query).operation] == handler
