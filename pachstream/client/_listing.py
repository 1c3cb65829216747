"""Directory listings answered by Postgres instead of the tree's shards.

A tree is sharded by the hash of each path (see :mod:`pachstream.tree`), so the files of one
directory lie in every shard: listing a directory from the tree reads every shard (about
900 object-store reads for 2,000 files). The ``commit_files`` table holds each commit's
changed paths, written in the same transaction that marks the commit finished; so for a
finished commit, the live files under a prefix are the latest change of each path along the
commit's ancestry that is not a delete (``file_at`` does the same for one path). One query,
grouped by child in Postgres (:func:`pachstream.lineage.queries.dir_entries`): a listing
returns one row per entry shown. What is left here is pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pachstream.client._info import FileInfo

if TYPE_CHECKING:
    from pachstream.lineage.queries import DirEntry


def dir_prefix(path: str) -> str:
    """The prefix of the paths below a canonical directory path. Pure."""
    return "/" if path == "/" else path + "/"


def children(repo: str, commit_id: str, path: str, entries: list[DirEntry]) -> list[FileInfo]:
    """A directory's entries as FileInfos, sorted by path as the tree listing was. Pure."""
    prefix = dir_prefix(path)
    out = [
        FileInfo(
            repo,
            commit_id,
            prefix + e.name,
            "dir" if e.is_dir else "file",
            e.size,
            None if e.is_dir else e.hash,
        )
        for e in entries
    ]
    return sorted(out, key=lambda f: f.path)
