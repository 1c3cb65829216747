"""pachstream: version-controlled, incremental data pipelines on Kafka."""

from pachstream.client import Client, SyncClient

__all__ = ["Client", "SyncClient"]
