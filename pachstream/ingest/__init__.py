"""Ingest paths: the ingest topic, bucket notifications and the S3 gateway (:mod:`.gateway`)."""

from pachstream.config import CommitPolicy, NotifyConfig, parse_notify_config, parse_policies
from pachstream.ingest._consumer import IngestConsumer
from pachstream.ingest._records import (
    IngestItem,
    Notification,
    parse_notification,
    parse_record,
)

__all__ = [
    "CommitPolicy",
    "IngestConsumer",
    "IngestItem",
    "Notification",
    "NotifyConfig",
    "parse_notification",
    "parse_notify_config",
    "parse_policies",
    "parse_record",
]
