"""The query side: facts materialized into Postgres."""

from pachstream.lineage._materializer import Materializer, notify_channel

__all__ = ["Materializer", "notify_channel"]
