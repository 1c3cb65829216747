"""Pipelines: specs, datums, incremental jobs and the dispatcher (the workers: pachstream.worker).

The names are imported on first use (PEP 562): the dispatcher loads aiokafka,
the object store and the trees, while the client reads a spec (``spec``) or the events
without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported now, not on first use: the function has its module's name, and once that module is
# imported (by `spec`, `plan`...) the import system would bind the module to this attribute.
from pachstream.dispatch.datums import datums

if TYPE_CHECKING:
    from pachstream.dispatch._dispatcher import Dispatcher
    from pachstream.dispatch.datums import (
        CrossInput,
        Datum,
        DatumInput,
        GroupInput,
        JoinInput,
        PfsInput,
        UnionInput,
    )
    from pachstream.dispatch.plan import (
        IndexEntry,
        JobPlan,
        merge_outputs,
        plan_job,
    )
    from pachstream.dispatch.spec import PipelineSpec, Transform, parse_specs
    from pachstream.errors import OutputConflict

_WHERE = {
    "CrossInput": "pachstream.dispatch.datums",
    "Datum": "pachstream.dispatch.datums",
    "DatumInput": "pachstream.dispatch.datums",
    "Dispatcher": "pachstream.dispatch._dispatcher",
    "GroupInput": "pachstream.dispatch.datums",
    "IndexEntry": "pachstream.dispatch.plan",
    "JobPlan": "pachstream.dispatch.plan",
    "JoinInput": "pachstream.dispatch.datums",
    "OutputConflict": "pachstream.errors",
    "PfsInput": "pachstream.dispatch.datums",
    "PipelineSpec": "pachstream.dispatch.spec",
    "Transform": "pachstream.dispatch.spec",
    "UnionInput": "pachstream.dispatch.datums",
    "merge_outputs": "pachstream.dispatch.plan",
    "parse_specs": "pachstream.dispatch.spec",
    "plan_job": "pachstream.dispatch.plan",
}

__all__ = [
    "CrossInput",
    "Datum",
    "Dispatcher",
    "DatumInput",
    "GroupInput",
    "IndexEntry",
    "JobPlan",
    "JoinInput",
    "OutputConflict",
    "PfsInput",
    "PipelineSpec",
    "Transform",
    "UnionInput",
    "datums",
    "merge_outputs",
    "parse_specs",
    "plan_job",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pachstream.dispatch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
