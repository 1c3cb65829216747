"""The S3 gateway: an S3-compatible HTTP endpoint whose buckets are branches of repos.

``pachstream up`` starts it (``pachstream run s3gateway``); see docs/s3-gateway.md.
"""

from pachstream.gateway._core import Bucket, CommitTiming, key_to_path, parse_bucket
from pachstream.gateway._cors import CorsPolicy
from pachstream.gateway._errors import S3Error
from pachstream.gateway._open_commit import GATEWAY_DESCRIPTION
from pachstream.gateway._server import S3Gateway

__all__ = [
    "GATEWAY_DESCRIPTION",
    "Bucket",
    "CommitTiming",
    "CorsPolicy",
    "S3Error",
    "S3Gateway",
    "key_to_path",
    "parse_bucket",
]
