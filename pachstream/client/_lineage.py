"""The lineage verbs of the SDK: file-level upstream/downstream and commit provenance.

Each answer is one call of a SQL function of the lineage tables (see docs/lineage.md), so a
user with psql gets the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pachstream.errors import FileNotFound, InvalidInput
from pachstream.refs import parse_commit_ref, parse_file_ref

# pachstream.lineage is imported where used: the package loads the materializer.
if TYPE_CHECKING:
    from pachstream.client._info import CommitInfo
    from pachstream.lineage._query import CommitLineage, Lineage

DEFAULT_DEPTH = 100
"""Levels followed when no depth is given: more than any real DAG has."""


class LineageVerbs:
    """upstream / downstream of a file, provenance of a commit."""

    _pool: Any
    if TYPE_CHECKING:

        async def inspect_commit(self, commit_ref: str) -> CommitInfo: ...

    async def upstream(self, file_ref: str, depth: int = DEFAULT_DEPTH) -> Lineage:
        """Every datum, job, pipeline version and input file behind ``repo@ref:/path``,
        transitively (``depth`` levels at most)."""
        return await self._file_lineage("upstream", file_ref, depth)

    async def downstream(self, file_ref: str, depth: int = DEFAULT_DEPTH) -> Lineage:
        """Every output derived from ``repo@ref:/path``'s content, transitively."""
        return await self._file_lineage("downstream", file_ref, depth)

    async def _file_lineage(
        self, direction: Literal["upstream", "downstream"], file_ref: str, depth: int
    ) -> Lineage:
        from pachstream.lineage._query import (
            DOWNSTREAM_SQL,
            FILE_AT_SQL,
            UPSTREAM_SQL,
            FileVersion,
            edges_from_rows,
            lineage,
        )

        _check_depth(depth)
        ref = parse_file_ref(file_ref)
        info = await self.inspect_commit(str(ref.commit))
        row = await self._pool.fetchrow(FILE_AT_SQL, info.id, ref.path)
        if row is None:
            raise FileNotFound(
                f"'{file_ref}': no file '{ref.path}' in commit {info.id} of repo '{info.repo}' "
                f"(a directory, or deleted?); see 'pachstream list file {ref.commit}:/'",
                repo=info.repo,
                commit_id=info.id,
                path=ref.path,
            )
        file = FileVersion(info.repo, info.id, ref.path, row["hash"])
        sql = UPSTREAM_SQL if direction == "upstream" else DOWNSTREAM_SQL
        rows = await self._pool.fetch(sql, info.repo, info.id, ref.path, depth)
        return lineage(direction, file, edges_from_rows(rows))

    async def commit_lineage(self, commit_ref: str, depth: int = DEFAULT_DEPTH) -> CommitLineage:
        """The input commits behind a commit and the output commits made from it."""
        from pachstream.lineage._query import (
            COMMIT_DOWNSTREAM_SQL,
            COMMIT_UPSTREAM_SQL,
            CommitLineage,
            commit_edges,
        )

        _check_depth(depth)
        info = await self.inspect_commit(str(parse_commit_ref(commit_ref)))
        up = await self._pool.fetch(COMMIT_UPSTREAM_SQL, info.id, depth)
        down = await self._pool.fetch(COMMIT_DOWNSTREAM_SQL, info.id, depth)
        return CommitLineage(info.repo, info.id, commit_edges(up), commit_edges(down))


def _check_depth(depth: int) -> None:
    if depth < 1:
        raise InvalidInput(
            f"depth {depth} follows nothing; give 1 (the datums next to it) or more",
            depth=depth,
        )
