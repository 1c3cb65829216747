"""The lineage verbs of the SDK: file-level upstream/downstream and commit provenance.

Each answer is one call of a SQL function of the lineage tables (see docs/lineage.md,
:mod:`pachstream.lineage.queries`), so a user with psql gets the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pachstream.errors import FileNotFound, InvalidInput
from pachstream.lineage import queries
from pachstream.lineage.queries import DEFAULT_DEPTH, CommitLineage, FileVersion, Lineage
from pachstream.refs import parse_commit_ref, parse_file_ref

if TYPE_CHECKING:
    from pachstream.client._info import CommitInfo


class LineageVerbs:
    """upstream / downstream of a file, provenance of a commit."""

    _pool: Any
    if TYPE_CHECKING:

        async def inspect_commit(self, commit_ref: str) -> CommitInfo: ...

    async def upstream(self, file_ref: str, depth: int = DEFAULT_DEPTH) -> Lineage:
        """Every datum, job, pipeline version and input file behind ``repo@ref:/path``,
        transitively (``depth`` levels at most).
        """
        return await self._file_lineage("upstream", file_ref, depth)

    async def downstream(self, file_ref: str, depth: int = DEFAULT_DEPTH) -> Lineage:
        """Every output derived from ``repo@ref:/path``'s content, transitively."""
        return await self._file_lineage("downstream", file_ref, depth)

    async def _file_lineage(
        self, direction: Literal["upstream", "downstream"], file_ref: str, depth: int
    ) -> Lineage:
        _check_depth(depth)
        ref = parse_file_ref(file_ref)
        info = await self.inspect_commit(str(ref.commit))
        found = await queries.file_at(self._pool, info.id, ref.path)
        if found is None:
            raise FileNotFound(
                f"'{file_ref}': no file '{ref.path}' in commit {info.id} of repo '{info.repo}' "
                f"(a directory, or deleted?); see 'pachstream list file {ref.commit}:/'",
                repo=info.repo,
                commit_id=info.id,
                path=ref.path,
            )
        file = FileVersion(info.repo, info.id, ref.path, found.hash)
        return await queries.file_lineage(self._pool, direction, file, depth)

    async def commit_lineage(self, commit_ref: str, depth: int = DEFAULT_DEPTH) -> CommitLineage:
        """The input commits behind a commit and the output commits made from it."""
        _check_depth(depth)
        info = await self.inspect_commit(str(parse_commit_ref(commit_ref)))
        return await queries.commit_lineage(self._pool, info.repo, info.id, depth)


def _check_depth(depth: int) -> None:
    if depth < 1:
        raise InvalidInput(
            f"depth {depth} follows nothing; give 1 (the datums next to it) or more",
            depth=depth,
        )


__all__ = ["DEFAULT_DEPTH", "LineageVerbs"]
