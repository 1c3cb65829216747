"""Which S3 operation a request is: a route table, whose default is a refusal.

A request is routed on its method, its target (the service ``/``, a bucket ``/b`` or an
object ``/b/k``) and the full set of its **sub-resources**: the query parameters that select
an operation (``?tagging``, ``?uploads``, ``?uploadId&partNumber``), as opposed to the
ordinary ones that only qualify it (``prefix``, ``max-keys``, ``response-content-type``,
the ``X-Amz-*`` of a presigned URL). Nothing else decides: a request whose (method, target,
sub-resources) is not in :data:`ROUTES` is refused with S3's ``501 NotImplemented``, naming
the operation when S3 has one, and changes nothing. So ``PUT /b/k?tagging`` is never a
PutObject whose body is the tag XML.

A query parameter that is neither a known ordinary parameter nor a known sub-resource counts
as a sub-resource (an operation S3 may add later); it is thus refused, never ignored.

``versionId``: pachstream buckets are unversioned, where S3 knows one version of each
object, the ``null`` version. ``versionId=null`` therefore names the object itself and is
accepted; any other value is refused with ``InvalidArgument`` (the past of a branch is read
through a commit bucket, ``COMMIT.BRANCH.REPO``).

Pure: no I/O; :func:`route` is table-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pachstream.gateway._errors import S3Error

Target = Literal["service", "bucket", "object"]
"""What a request's path names: ``/``, ``/BUCKET`` or ``/BUCKET/KEY``."""

ORDINARY = frozenset(
    {
        # listings
        "prefix", "delimiter", "encoding-type", "max-keys", "marker", "start-after",
        "continuation-token", "fetch-owner", "allow-unordered", "key-marker",
        "upload-id-marker", "version-id-marker", "max-uploads", "max-parts",
        "part-number-marker", "max-buckets", "bucket-region", "max-directory-buckets",
        # reads
        "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires",
        "versionId",
        # configurations addressed by id (their operations are refused anyway)
        "id", "annotationName", "annotation-prefix", "max-annotation-results",
        # the SDKs' operation hint, and presigned URLs (SigV4; SigV2 is refused by _sigv4)
        "x-id", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
        "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
        "X-Amz-Content-Sha256", "x-amz-checksum-mode", "AWSAccessKeyId", "Signature",
        "Expires",
    }
)  # fmt: skip
"""Query parameters that qualify an operation without selecting it."""

SUB_RESOURCES = frozenset(
    {
        "abac", "accelerate", "acl", "analytics", "annotation", "attributes", "cors",
        "delete", "encryption", "intelligent-tiering", "inventory", "legal-hold",
        "lifecycle", "list-type", "location", "logging", "metadataAnnotationTable",
        "metadataConfiguration", "metadataInventoryTable", "metadataJournalTable",
        "metadataTable", "metrics", "notification", "object-lock", "ownershipControls",
        "partNumber", "policy", "policyStatus", "publicAccessBlock", "renameObject",
        "replication", "requestPayment", "restore", "retention", "select", "select-type",
        "session", "tagging", "torrent", "uploadId", "uploads", "versioning", "versions",
        "website",
    }
)  # fmt: skip
"""The sub-resources of S3's API (every ``?name`` of its operations' request URIs, and the
multipart ``uploadId``/``partNumber``); any unknown parameter is treated as one too."""


@dataclass(frozen=True, slots=True)
class Route:
    """The operation a request is."""

    operation: str
    """S3's name for it (``PutObject``), or ``CorsPreflight`` for ``OPTIONS``."""


def _key(method: str, target: Target, *subs: str) -> tuple[str, Target, frozenset[str]]:
    return (method, target, frozenset(subs))


ROUTES: dict[tuple[str, Target, frozenset[str]], str] = {
    _key("GET", "service"): "ListBuckets",
    _key("HEAD", "bucket"): "HeadBucket",
    _key("GET", "bucket"): "ListObjects",
    _key("GET", "bucket", "list-type"): "ListObjectsV2",
    _key("GET", "bucket", "location"): "GetBucketLocation",
    _key("GET", "bucket", "uploads"): "ListMultipartUploads",
    _key("GET", "bucket", "versioning"): "GetBucketVersioning",
    _key("GET", "bucket", "acl"): "GetBucketAcl",
    _key("PUT", "bucket"): "CreateBucket",
    _key("DELETE", "bucket"): "DeleteBucket",
    _key("POST", "bucket", "delete"): "DeleteObjects",
    _key("GET", "object"): "GetObject",
    _key("HEAD", "object"): "HeadObject",
    _key("GET", "object", "partNumber"): "GetObject",
    _key("HEAD", "object", "partNumber"): "HeadObject",
    _key("PUT", "object"): "PutObject",
    _key("DELETE", "object"): "DeleteObject",
    _key("GET", "object", "tagging"): "GetObjectTagging",
    _key("GET", "object", "acl"): "GetObjectAcl",
    _key("GET", "object", "attributes"): "GetObjectAttributes",
    _key("POST", "object", "uploads"): "CreateMultipartUpload",
    _key("PUT", "object", "partNumber", "uploadId"): "UploadPart",
    _key("POST", "object", "uploadId"): "CompleteMultipartUpload",
    _key("DELETE", "object", "uploadId"): "AbortMultipartUpload",
    _key("GET", "object", "uploadId"): "ListParts",
    # Reads of a bucket configuration pachstream never has: S3's own "none" answer.
    _key("GET", "bucket", "cors"): "GetBucketCors",
    _key("GET", "bucket", "policy"): "GetBucketPolicy",
    _key("GET", "bucket", "lifecycle"): "GetBucketLifecycleConfiguration",
    _key("GET", "bucket", "tagging"): "GetBucketTagging",
    _key("GET", "bucket", "website"): "GetBucketWebsite",
    _key("GET", "bucket", "encryption"): "GetBucketEncryption",
    _key("GET", "bucket", "object-lock"): "GetObjectLockConfiguration",
    _key("GET", "bucket", "publicAccessBlock"): "GetPublicAccessBlock",
    _key("GET", "bucket", "ownershipControls"): "GetBucketOwnershipControls",
    _key("GET", "bucket", "replication"): "GetBucketReplication",
}
"""Every operation the gateway answers, by (method, target, sub-resources)."""

NONE_CONFIGURED: dict[str, tuple[str, str]] = {
    "GetBucketCors": ("NoSuchCORSConfiguration", "CORS configuration"),
    "GetBucketPolicy": ("NoSuchBucketPolicy", "bucket policy"),
    "GetBucketLifecycleConfiguration": ("NoSuchLifecycleConfiguration", "lifecycle configuration"),
    "GetBucketTagging": ("NoSuchTagSet", "tag set"),
    "GetBucketWebsite": ("NoSuchWebsiteConfiguration", "website configuration"),
    "GetBucketEncryption": (
        "ServerSideEncryptionConfigurationNotFoundError",
        "server-side encryption configuration",
    ),
    "GetObjectLockConfiguration": (
        "ObjectLockConfigurationNotFoundError",
        "object lock configuration",
    ),
    "GetPublicAccessBlock": (
        "NoSuchPublicAccessBlockConfiguration",
        "public access block configuration",
    ),
    "GetBucketOwnershipControls": ("OwnershipControlsNotFoundError", "ownership controls"),
    "GetBucketReplication": (
        "ReplicationConfigurationNotFoundError",
        "replication configuration",
    ),
}
"""Configuration reads answered by S3's error for "this bucket has none" (code, what)."""

_REFUSED: dict[tuple[str, Target, frozenset[str]], str] = {
    _key("POST", "bucket"): "PostObject",
    _key("PUT", "object", "acl"): "PutObjectAcl",
    _key("PUT", "object", "tagging"): "PutObjectTagging",
    _key("DELETE", "object", "tagging"): "DeleteObjectTagging",
    _key("GET", "object", "legal-hold"): "GetObjectLegalHold",
    _key("PUT", "object", "legal-hold"): "PutObjectLegalHold",
    _key("GET", "object", "retention"): "GetObjectRetention",
    _key("PUT", "object", "retention"): "PutObjectRetention",
    _key("POST", "object", "restore"): "RestoreObject",
    _key("POST", "object", "select", "select-type"): "SelectObjectContent",
    _key("GET", "object", "torrent"): "GetObjectTorrent",
    _key("PUT", "object", "renameObject"): "RenameObject",
    _key("PUT", "object", "encryption"): "UpdateObjectEncryption",
    _key("GET", "bucket", "versions"): "ListObjectVersions",
    _key("GET", "bucket", "policyStatus"): "GetBucketPolicyStatus",
    _key("GET", "bucket", "session"): "CreateSession",
    _key("POST", "bucket", "metadataConfiguration"): "CreateBucketMetadataConfiguration",
    _key("POST", "bucket", "metadataTable"): "CreateBucketMetadataTableConfiguration",
}
"""Operations refused whose name is not simply Verb + Bucket + sub-resource."""

_SUB_NAMES = {
    "abac": "BucketAbac",
    "accelerate": "BucketAccelerateConfiguration",
    "acl": "BucketAcl",
    "analytics": "BucketAnalyticsConfiguration",
    "cors": "BucketCors",
    "encryption": "BucketEncryption",
    "intelligent-tiering": "BucketIntelligentTieringConfiguration",
    "inventory": "BucketInventoryConfiguration",
    "lifecycle": "BucketLifecycleConfiguration",
    "logging": "BucketLogging",
    "metadataAnnotationTable": "BucketMetadataAnnotationTableConfiguration",
    "metadataConfiguration": "BucketMetadataConfiguration",
    "metadataInventoryTable": "BucketMetadataInventoryTableConfiguration",
    "metadataJournalTable": "BucketMetadataJournalTableConfiguration",
    "metadataTable": "BucketMetadataTableConfiguration",
    "metrics": "BucketMetricsConfiguration",
    "notification": "BucketNotificationConfiguration",
    "object-lock": "ObjectLockConfiguration",
    "ownershipControls": "BucketOwnershipControls",
    "policy": "BucketPolicy",
    "publicAccessBlock": "PublicAccessBlock",
    "replication": "BucketReplication",
    "requestPayment": "BucketRequestPayment",
    "tagging": "BucketTagging",
    "versioning": "BucketVersioning",
    "website": "BucketWebsite",
}
_OBJECT_SUB_NAMES = {
    "acl": "ObjectAcl",
    "tagging": "ObjectTagging",
    "annotation": "ObjectAnnotation",
}
_VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}

_WHY: dict[str, str] = {
    "acl": "access is governed by the gateway's keys, not per-object ACLs",
    "tagging": "objects carry no tags",
    "versioning": "a bucket is a branch; read its past through a commit bucket COMMIT.BRANCH.REPO",
    "versions": "a bucket is a branch; read its past through a commit bucket COMMIT.BRANCH.REPO",
    "cors": "the gateway's CORS policy is set where the gateway is configured",
    "uploadId": "see docs/s3-gateway.md for the multipart operations",
    "uploads": "see docs/s3-gateway.md for the multipart operations",
    "PostObject": "browser form uploads (POST with a signed policy) are not supported; "
    "upload with a presigned PUT URL instead (the gateway answers CORS preflights)",
}


def sub_resources(params: Mapping[str, str] | list[str]) -> frozenset[str]:
    """The query parameters of a request that select its operation (unknown ones included)."""
    return frozenset(p for p in params if p not in ORDINARY)


def operation_name(method: str, target: Target, subs: frozenset[str]) -> str | None:
    """S3's name of the operation a request would be, implemented or not (None: no such)."""
    key = (method, target, subs)
    if key in ROUTES:
        return ROUTES[key]
    if key in _REFUSED:
        return _REFUSED[key]
    if len(subs) != 1 or method not in _VERBS or target == "service":
        return None
    [sub] = subs
    name = (_OBJECT_SUB_NAMES if target == "object" else _SUB_NAMES).get(sub)
    if name is None:
        return None
    return _VERBS[method] + name


def _describe(method: str, target: Target, subs: frozenset[str]) -> str:
    path = {"service": "/", "bucket": "/BUCKET", "object": "/BUCKET/KEY"}[target]
    query = "&".join(sorted(subs))
    return f"{method} {path}" + (f"?{query}" if query else "")


def route(
    method: str, target: Target, params: Mapping[str, str], *, copy_source: bool = False
) -> Route:
    """The operation of a request, or the S3Error refusing it (nothing is done then).

    Args:
        method: The HTTP method.
        target: What the path names.
        params: The query parameters (name → value).
        copy_source: Whether the request has an ``x-amz-copy-source`` header (which turns
            PutObject into CopyObject and UploadPart into UploadPartCopy).

    """
    if method == "OPTIONS":
        return Route("CorsPreflight")  # a browser's preflight, for whatever the URL is
    subs = sub_resources(params)
    version = params.get("versionId")
    if version is not None and version != "null":
        raise S3Error(
            "InvalidArgument",
            f"versionId '{version}' names no version: pachstream buckets are unversioned, so "
            "each object has only the version 'null' (the object itself); read the past "
            "through a commit bucket COMMIT.BRANCH.REPO",
        )
    op = ROUTES.get((method, target, subs))
    if op is not None:
        if copy_source and op == "PutObject":
            return Route("CopyObject")
        if copy_source and op == "UploadPart":
            return Route("UploadPartCopy")
        if op == "ListObjectsV2" and params.get("list-type") != "2":
            raise S3Error(
                "InvalidArgument",
                f"list-type '{params.get('list-type')}' is not supported; use list-type=2 "
                "(ListObjectsV2) or no list-type (ListObjects)",
            )
        return Route(op)
    described = _describe(method, target, subs)
    known = operation_name(method, target, subs)
    unknown = sorted(subs - SUB_RESOURCES)
    if known is not None:
        why = next((_WHY[s] for s in [known, *sorted(subs)] if s in _WHY), "")
        raise S3Error(
            "NotImplemented",
            f"{known} ({described}) is not supported by the pachstream S3 gateway"
            + (f": {why}" if why else "")
            + "; nothing was changed (see docs/s3-gateway.md for the operations it supports)",
        )
    if not subs:
        raise S3Error(
            "MethodNotAllowed",
            f"{described} is not an S3 operation; on a bucket the gateway answers GET (list), "
            "HEAD, PUT (create), DELETE and POST ?delete, on an object GET, HEAD, PUT and "
            "DELETE, on / GET (list buckets)",
        )
    if unknown:
        raise S3Error(
            "NotImplemented",
            f"{described}: query parameter(s) {', '.join(repr(u) for u in unknown)} are not "
            "S3 parameters the pachstream S3 gateway knows, so the request is refused rather "
            "than guessed at; nothing was changed",
        )
    raise S3Error(
        "NotImplemented",
        f"{described} is not an S3 operation the pachstream S3 gateway supports; nothing was "
        "changed (see docs/s3-gateway.md for the operations it supports)",
    )


__all__ = [
    "NONE_CONFIGURED",
    "ORDINARY",
    "ROUTES",
    "SUB_RESOURCES",
    "Route",
    "Target",
    "operation_name",
    "route",
    "sub_resources",
]
