"""The SDK's history verbs: commits as they land, the commits that changed a file, and datum
logs as they come.

Mixed into :class:`~pachstream.client.Client`. Everything is read from the query tables and
woken by the materializer's NOTIFY (with the client's 0.5 s poll as a fallback), like
``wait commit``: nothing here touches the broker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from pachstream.lineage import queries
from pachstream.lineage.queries import FileChange
from pachstream.paths import normalize_path
from pachstream.refs import parse_branch_ref

from ._notices import FALLBACK_S, Notices

if TYPE_CHECKING:
    from pachstream.client._info import CommitInfo, JobInfo, PipelineInfo

LATE_S = 60.0
"""How far behind the newest commit seen a late row is still looked for: rows of one branch
land in order, so this only covers clocks of different writers."""
DATUMS_GRACE_S = 5.0
"""After a job ends, how long ``follow_logs`` waits for datum rows still in flight."""


class HistoryVerbs:
    """subscribe_commit, find_commit, follow_logs."""

    # Provided by Client.
    _pool: Any
    _notices: Notices
    if TYPE_CHECKING:

        async def _listen(self) -> None: ...

        async def _need_repo(self, repo: str) -> None: ...

        async def inspect_commit(self, commit_ref: str) -> CommitInfo: ...

        async def inspect_job(self, job_id: str) -> JobInfo: ...

        async def inspect_pipeline(self, name: str) -> PipelineInfo: ...

        async def logs(
            self,
            *,
            pipeline: str | None = None,
            job_id: str | None = None,
            datum_id: str | None = None,
        ) -> list[dict[str, Any]]: ...

    async def _look(self) -> asyncio.Event:
        """The mark to take before a look (listening from the first one on)."""
        await self._listen()
        return self._notices.mark()

    async def _nap(self, mark: asyncio.Event) -> None:
        """Sleep until the materializer announces rows after ``mark``, :data:`FALLBACK_S` at
        most (an announcement may be lost with a connection).
        """
        await self._notices.wait(mark, FALLBACK_S)

    # ------------------------------------------------------------------ subscribe

    async def subscribe_commit(
        self, branch_ref: str, *, from_commit: str | None = None, new: bool = False
    ) -> AsyncIterator[CommitInfo]:
        """Each finished commit of a branch, oldest first, then each new one as it lands,
        forever (the caller stops). ``from_commit``: only commits after it; ``new``: only
        commits that finish from now on.
        """
        bref = parse_branch_ref(branch_ref)
        repo, branch = bref.repo, bref.branch
        await self._need_repo(repo)
        seen: set[str] = set()
        after = float("-inf")
        if from_commit is not None:
            ref = from_commit if "@" in from_commit else f"{repo}@{from_commit}"
            start = await self.inspect_commit(ref)
            after = start.started
            seen.add(start.id)
        since = float("-inf")
        if new:
            done = await queries.finished_commits(self._pool, repo, branch)
            seen.update(c.id for c in done)
            since = max((c.finished for c in done if c.finished is not None), default=since)
        while True:
            mark = await self._look()
            landed = await queries.finished_commits(
                self._pool, repo, branch, started_after=after, finished_since=since - LATE_S
            )
            for c in landed:
                if c.id in seen or c.finished is None:
                    continue
                seen.add(c.id)
                since = max(since, c.finished)
                yield c
            await self._nap(mark)

    # ------------------------------------------------------------------ find

    async def find_commit(
        self, commit_ref: str, path: str, *, limit: int | None = None
    ) -> list[FileChange]:
        """The commits in the history of ``commit_ref`` (itself included) that changed the
        file ``path`` (or, for a directory, anything below it), newest first. One query of
        the ``commit_files`` table along the parent chain.
        """
        head = await self.inspect_commit(commit_ref)
        return await queries.file_changes(self._pool, head.id, normalize_path(path), limit)

    async def last_changed(
        self, commit_id: str, path: str | None = None, *, paths: Sequence[str] | None = None
    ) -> dict[str, float]:
        """When files last changed, as of one commit: path → the finish time of the nearest
        commit, from ``commit_id`` back through its parents, whose diff names the path (one
        query of the ``commit_files`` table along the parent chain).

        Args:
            commit_id: A commit's id, as :meth:`inspect_commit` gives it (a server that has
                resolved the reference already asks by id).
            path: Only this file: the walk back stops at the first commit that names it.
                A path no commit names is absent from the answer.
            paths: Only these files (a listing page's, say): the answer's size is theirs,
                not the repo's. Ignored when ``path`` is given.

        """
        return await queries.last_changed(self._pool, commit_id, path, paths=paths)

    # ------------------------------------------------------------------ logs

    async def follow_logs(
        self,
        *,
        pipeline: str | None = None,
        job_id: str | None = None,
        datum_id: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Datum logs as datums finish: of one job until it has ended (then the iterator
        stops), or of a pipeline's newest job and every later one, forever. Each entry is
        what :meth:`logs` returns for one datum.
        """
        if job_id is not None:
            watched = [(await self.inspect_job(job_id)).id]
        elif pipeline is not None:
            await self.inspect_pipeline(pipeline)
            newest = await queries.newest_job_id(self._pool, pipeline)
            watched = [newest] if newest else []
        else:
            from pachstream.errors import InvalidInput

            raise InvalidInput("logs need a pipeline or a job: -p PIPELINE or -j JOB")
        seen: set[tuple[str, str]] = set()
        ended_at: float | None = None
        while True:
            mark = await self._look()
            if job_id is None and pipeline is not None:
                since = watched[0] if watched else ""
                for later in await queries.job_ids_since(self._pool, pipeline, since):
                    if later not in watched:
                        watched.append(later)
            for key in await queries.datum_keys(self._pool, watched, datum_id):
                if key in seen:
                    continue
                seen.add(key)
                for entry in await self.logs(job_id=key[0], datum_id=key[1]):
                    yield entry
            if job_id is not None:
                job = await self.inspect_job(job_id)
                if job.finished is not None:
                    ended_at = ended_at or time.monotonic()
                    done = sum(1 for j, _ in seen if j == job_id) >= (1 if datum_id else job.to_run)
                    if done or time.monotonic() - ended_at > DATUMS_GRACE_S:
                        return
            await self._nap(mark)


__all__ = ["FileChange", "HistoryVerbs"]
