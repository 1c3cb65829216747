"""The Python SDK: :class:`Client` (async) and :class:`SyncClient` (blocking)."""

from pachstream.client._client import Client, OpenCommit
from pachstream.client._info import BranchInfo, CommitInfo, DiffInfo, FileInfo, RepoInfo
from pachstream.client._sync import SyncClient

__all__ = [
    "BranchInfo",
    "Client",
    "CommitInfo",
    "DiffInfo",
    "FileInfo",
    "OpenCommit",
    "RepoInfo",
    "SyncClient",
]
