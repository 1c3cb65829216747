"""The query side: facts materialized into Postgres.

The names are imported on first use (PEP 562): the materializer loads aiokafka, the object
store and the commit events, while the client needs only the plain modules below this package
(``_schema``'s migrations, ``_query``'s records) to read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pachstream.lineage._materializer import Materializer, notify_channel

__all__ = ["Materializer", "notify_channel"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from pachstream.lineage import _materializer

        value = getattr(_materializer, name)
        globals()[name] = value  # once: later lookups skip this function
        return value
    raise AttributeError(f"module 'pachstream.lineage' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
