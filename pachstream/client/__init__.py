"""The Python SDK: :class:`Client` (async) and :class:`SyncClient` (blocking)."""

from pachstream.client._client import Client, OpenCommit
from pachstream.client._info import (
    BranchInfo,
    CommitInfo,
    DatumInfo,
    DiffInfo,
    FileInfo,
    JobInfo,
    PipelineInfo,
    RepoInfo,
)
from pachstream.client._sync import SyncClient
from pachstream.lineage._query import (
    CommitEdge,
    CommitLineage,
    FileVersion,
    Lineage,
    LineageEdge,
)

__all__ = [
    "BranchInfo",
    "CommitEdge",
    "CommitLineage",
    "FileVersion",
    "Lineage",
    "LineageEdge",
    "Client",
    "CommitInfo",
    "DatumInfo",
    "DiffInfo",
    "FileInfo",
    "JobInfo",
    "OpenCommit",
    "PipelineInfo",
    "RepoInfo",
    "SyncClient",
]
