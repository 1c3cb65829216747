"""Ingest paths: records on the ingest topic become commits."""

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
