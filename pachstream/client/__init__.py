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

__all__ = [
    "BranchInfo",
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
