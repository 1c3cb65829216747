"""pachstream: version-controlled, incremental data pipelines on Kafka."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pachstream.client import Client, SyncClient

__all__ = ["Client", "SyncClient"]


def __getattr__(name: str) -> Any:
    # Lazy: `pachstream --help` imports this package, and the client pulls in the drivers.
    if name in __all__:
        import pachstream.client

        return getattr(pachstream.client, name)
    raise AttributeError(f"module 'pachstream' has no attribute {name!r}")
