"""S3 errors as the gateway answers them: an S3 error code, an HTTP status and a message.

Codes and statuses follow Amazon S3's error responses so that every client maps them to its
own exceptions (``botocore.exceptions.ClientError`` and its ``Error.Code``, say). The message
names the object, the bad value and the fix, as every pachstream error does.
"""

from __future__ import annotations

from pachstream.errors import PachstreamError

STATUS: dict[str, int] = {
    "AccessDenied": 403,
    "AccessForbidden": 403,
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "BadDigest": 400,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "EntityTooLarge": 400,
    "EntityTooSmall": 400,
    "IncompleteBody": 400,
    "InternalError": 500,
    "InvalidAccessKeyId": 403,
    "InvalidArgument": 400,
    "InvalidBucketName": 400,
    "InvalidDigest": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "InvalidRange": 416,
    "InvalidRequest": 400,
    "KeyTooLongError": 400,
    "MalformedXML": 400,
    "MetadataTooLarge": 400,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "NoSuchBucket": 404,
    "NoSuchBucketPolicy": 404,
    "NoSuchCORSConfiguration": 404,
    "NoSuchKey": 404,
    "NoSuchLifecycleConfiguration": 404,
    "NoSuchPublicAccessBlockConfiguration": 404,
    "NoSuchTagSet": 404,
    "NoSuchUpload": 404,
    "NoSuchWebsiteConfiguration": 404,
    "NotImplemented": 501,
    "NotModified": 304,
    "OperationAborted": 409,
    "ObjectLockConfigurationNotFoundError": 404,
    "OwnershipControlsNotFoundError": 404,
    "PreconditionFailed": 412,
    "ReplicationConfigurationNotFoundError": 404,
    "RequestTimeTooSkewed": 403,
    "ServerSideEncryptionConfigurationNotFoundError": 404,
    "ServiceUnavailable": 503,
    "SignatureDoesNotMatch": 403,
    "XAmzContentSHA256Mismatch": 400,
}
"""HTTP status of each S3 error code the gateway answers."""


class S3Error(PachstreamError):
    """An S3 request the gateway refuses; rendered as an S3 XML ``<Error>`` document."""

    def __init__(self, s3_code: str, message: str, *, resource: str = "", **fields: object) -> None:
        if s3_code not in STATUS:
            raise ValueError(f"unknown S3 error code {s3_code!r}")
        super().__init__(message, s3_code=s3_code, resource=resource, **fields)
        self.s3_code = s3_code
        self.resource = resource

    @property
    def status(self) -> int:
        """The HTTP status S3 answers with this code."""
        return STATUS[self.s3_code]
