"""Ingest paths: records on the ingest topic become commits."""

from pachstream.ingest._consumer import IngestConsumer
from pachstream.ingest._records import CommitPolicy, IngestItem, parse_policies, parse_record

__all__ = ["CommitPolicy", "IngestConsumer", "IngestItem", "parse_policies", "parse_record"]
