"""The query side: facts materialized into Postgres.

The lineage processor (:class:`Materializer`) owns its tables: it alone migrates and writes
them, and every other component reads them through :mod:`pachstream.lineage.queries`. Its
pure core, :func:`rows_for` (one fact → the statements that materialize it, with
:data:`BULK` saying which may be loaded by COPY), is public for the benches.

The names are imported on first use (PEP 562): the materializer loads aiokafka, the object
store and the commit events, while a reader needs only :mod:`~pachstream.lineage.queries`
(plain SQL and records).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pachstream.lineage import queries
    from pachstream.lineage._materializer import Materializer
    from pachstream.lineage._rows import BULK, rows_for
    from pachstream.lineage.queries import notify_channel

_WHERE = {
    "BULK": ("pachstream.lineage._rows", "BULK"),
    "Materializer": ("pachstream.lineage._materializer", "Materializer"),
    "notify_channel": ("pachstream.lineage.queries", "notify_channel"),
    "queries": ("pachstream.lineage.queries", None),
    "rows_for": ("pachstream.lineage._rows", "rows_for"),
}

__all__ = ["BULK", "Materializer", "notify_channel", "queries", "rows_for"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        module, attr = _WHERE[name]
        loaded = importlib.import_module(module)
        value = loaded if attr is None else getattr(loaded, attr)
        globals()[name] = value  # once: later lookups skip this function
        return value
    raise AttributeError(f"module 'pachstream.lineage' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
