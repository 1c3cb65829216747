"""Directory listings answered by Postgres instead of the tree's shards.

A tree is sharded by the hash of each path (see :mod:`pachstream.tree`), so the files of one
directory lie in every shard: listing a directory from the tree reads every shard (about
900 object-store reads for 2,000 files). The ``commit_files`` table holds each commit's
changed paths, written in the same transaction that marks the commit finished; so for a
finished commit, the live files under a prefix are the latest change of each path along the
commit's ancestry that is not a delete (``file_at`` does the same for one path). One query,
grouped by child in Postgres: a listing returns one row per entry shown.

These are read-only queries of the lineage tables, kept here until the lineage schema has
them as SQL functions.
"""

from __future__ import annotations

from typing import Any

from pachstream.client._info import FileInfo

_LIVE = """
WITH RECURSIVE chain(id, n) AS (
    SELECT $1::text, 0
    UNION ALL
    SELECT c.parent, chain.n + 1 FROM chain JOIN commits c ON c.id = chain.id
    WHERE c.parent IS NOT NULL
), latest AS (
    SELECT DISTINCT ON (f.path) f.path, f.change, f.hash, f.size
    FROM chain JOIN commit_files f ON f.commit_id = chain.id
    WHERE starts_with(f.path, $2::text)
    ORDER BY f.path, chain.n
), live AS (
    SELECT path, substr(path, length($2::text) + 1) AS rest, hash, size
    FROM latest WHERE change <> 'deleted'
)
"""

CHILDREN_SQL = (
    _LIVE
    + """
SELECT split_part(rest, '/', 1) AS name,
       bool_or(strpos(rest, '/') > 0) AS is_dir,
       coalesce(sum(size), 0)::bigint AS size,
       max(hash) FILTER (WHERE strpos(rest, '/') = 0) AS hash
FROM live GROUP BY 1
"""
)
"""The entries directly under a prefix (``$2``, ending in ``/``) as of commit ``$1``: name,
whether it is a directory, its size (a directory's: every file below it) and a file's hash."""

SUMMARY_SQL = _LIVE + "SELECT count(*) AS files, coalesce(sum(size), 0)::bigint AS size FROM live"
"""How many live files lie under a prefix as of a commit, and their bytes."""

FILES_SQL = _LIVE + "SELECT path, hash, size FROM live"
"""Every live file under a prefix as of a commit."""

FILE_SQL = "SELECT hash, size FROM file_at($1, $2)"
"""One file as of a commit (no row: absent or deleted)."""


def dir_prefix(path: str) -> str:
    """The prefix of the paths below a canonical directory path. Pure."""
    return "/" if path == "/" else path + "/"


def children(repo: str, commit_id: str, path: str, rows: list[Any]) -> list[FileInfo]:
    """:data:`CHILDREN_SQL` rows as FileInfos, sorted by path as the tree listing was. Pure."""
    prefix = dir_prefix(path)
    out = [
        FileInfo(
            repo,
            commit_id,
            prefix + r["name"],
            "dir" if r["is_dir"] else "file",
            r["size"],
            None if r["is_dir"] else r["hash"],
        )
        for r in rows
    ]
    return sorted(out, key=lambda f: f.path)
