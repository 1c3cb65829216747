"""The Python SDK: :class:`Client` (async) and :class:`SyncClient` (blocking).

The names are imported on first use (PEP 562), so that importing the package (the CLI does,
for every command) does not load the Kafka, S3 and Postgres drivers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pachstream.client._client import Client, OpenCommit
    from pachstream.client._info import (
        BranchInfo,
        CommitInfo,
        CommitSetInfo,
        DatumInfo,
        DiffInfo,
        FileInfo,
        JobInfo,
        PipelineInfo,
        RepoInfo,
    )
    from pachstream.client._pipelines import spec_notes
    from pachstream.client._sync import SyncClient
    from pachstream.lineage.queries import (
        CommitEdge,
        CommitLineage,
        FileVersion,
        Lineage,
        LineageEdge,
    )

_WHERE = {
    "Client": "pachstream.client._client",
    "OpenCommit": "pachstream.client._client",
    "BranchInfo": "pachstream.client._info",
    "CommitInfo": "pachstream.client._info",
    "CommitSetInfo": "pachstream.client._info",
    "DatumInfo": "pachstream.client._info",
    "DiffInfo": "pachstream.client._info",
    "FileInfo": "pachstream.client._info",
    "JobInfo": "pachstream.client._info",
    "PipelineInfo": "pachstream.client._info",
    "RepoInfo": "pachstream.client._info",
    "spec_notes": "pachstream.client._pipelines",
    "SyncClient": "pachstream.client._sync",
    "CommitEdge": "pachstream.lineage.queries",
    "CommitLineage": "pachstream.lineage.queries",
    "FileVersion": "pachstream.lineage.queries",
    "Lineage": "pachstream.lineage.queries",
    "LineageEdge": "pachstream.lineage.queries",
}

__all__ = [
    "BranchInfo",
    "CommitEdge",
    "CommitLineage",
    "FileVersion",
    "Lineage",
    "LineageEdge",
    "Client",
    "CommitInfo",
    "CommitSetInfo",
    "DatumInfo",
    "DiffInfo",
    "FileInfo",
    "JobInfo",
    "OpenCommit",
    "PipelineInfo",
    "RepoInfo",
    "SyncClient",
    "spec_notes",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pachstream.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
