"""Ingest paths: the ingest topic, bucket notifications and the S3 gateway (:mod:`.gateway`)."""

from pachstream.ingest._consumer import IngestConsumer
from pachstream.ingest._records import (
    CommitPolicy,
    IngestItem,
    Notification,
    NotifyConfig,
    parse_notification,
    parse_notify_config,
    parse_policies,
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
