"""The SDK's history verbs: commits as they land, the commits that changed a file, and datum
logs as they come.

Mixed into :class:`~pachstream.client.Client`. Everything is read from the query tables and
woken by the materializer's NOTIFY (with the client's 0.5 s poll as a fallback), like
``wait commit``: nothing here touches the broker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pachstream.paths import normalize_path
from pachstream.refs import parse_branch_ref

if TYPE_CHECKING:
    from pachstream.client._info import CommitInfo, JobInfo, PipelineInfo

POLL_S = 0.5
"""Longest sleep between two looks when a NOTIFY is missed."""
LATE_S = 60.0
"""How far behind the newest commit seen a late row is still looked for: rows of one branch
land in order, so this only covers clocks of different writers."""
DATUMS_GRACE_S = 5.0
"""After a job ends, how long ``follow_logs`` waits for datum rows still in flight."""


@dataclass(frozen=True, slots=True)
class FileChange:
    """One commit that changed a file (``find commit``)."""

    commit: CommitInfo
    """The commit."""
    path: str
    """The path it changed (the file itself, or one below the directory asked about)."""
    change: str
    """``added``, ``modified`` or ``deleted``."""
    size_bytes: int | None
    """The new size (None when deleted)."""
    hash: str | None
    """The new content hash (None when deleted)."""

    def to_json(self) -> dict[str, Any]:
        """Plain values for JSON output."""
        return {**asdict(self), "commit": self.commit.to_json()}


class HistoryVerbs:
    """subscribe_commit, find_commit, follow_logs."""

    # Provided by Client.
    _pool: Any
    _changed: asyncio.Event
    if TYPE_CHECKING:

        async def _listen(self) -> None: ...

        def _commit_info(self, r: Any) -> CommitInfo: ...

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

    async def _nap(self, timeout_s: float) -> None:
        """Sleep until the materializer announces rows, ``timeout_s`` at most."""
        await self._listen()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout=max(0.0, min(timeout_s, POLL_S)))
        except TimeoutError:
            pass

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
            rows = await self._pool.fetch(
                "SELECT id, finished FROM commits WHERE repo = $1 AND branch = $2 "
                "AND finished IS NOT NULL",
                repo,
                branch,
            )
            seen.update(r["id"] for r in rows)
            since = max((r["finished"] for r in rows), default=since)
        while True:
            self._changed.clear()
            rows = await self._pool.fetch(
                "SELECT * FROM commits WHERE repo = $1 AND branch = $2 AND finished IS NOT NULL "
                "AND started > $3 AND finished >= $4 ORDER BY finished, started, id",
                repo,
                branch,
                after,
                since - LATE_S,
            )
            for r in rows:
                if r["id"] in seen:
                    continue
                seen.add(r["id"])
                since = max(since, r["finished"])
                yield self._commit_info(r)
            await self._nap(POLL_S)

    # ------------------------------------------------------------------ find

    async def find_commit(
        self, commit_ref: str, path: str, *, limit: int | None = None
    ) -> list[FileChange]:
        """The commits in the history of ``commit_ref`` (itself included) that changed the
        file ``path`` (or, for a directory, anything below it), newest first. One query of
        the ``commit_files`` table along the parent chain.
        """
        head = await self.inspect_commit(commit_ref)
        target = normalize_path(path)
        prefix = "/" if target == "/" else target + "/"
        rows = await self._pool.fetch(
            "WITH RECURSIVE chain AS (SELECT id, parent, 0 AS depth FROM commits WHERE id = $1 "
            "UNION ALL SELECT c.id, c.parent, chain.depth + 1 FROM commits c "
            "JOIN chain ON c.id = chain.parent) "
            "SELECT c.*, f.path AS f_path, f.change AS f_change, f.size AS f_size, "
            "f.hash AS f_hash FROM chain JOIN commit_files f ON f.commit_id = chain.id "
            "JOIN commits c ON c.id = chain.id "
            "WHERE f.path = $2 OR starts_with(f.path, $3) "
            "ORDER BY chain.depth, f.path LIMIT $4",
            head.id,
            target,
            prefix,
            limit,
        )
        return [
            FileChange(self._commit_info(r), r["f_path"], r["f_change"], r["f_size"], r["f_hash"])
            for r in rows
        ]

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
            newest = await self._pool.fetchrow(
                "SELECT id, started FROM started_jobs WHERE pipeline = $1 "
                "ORDER BY started DESC, id LIMIT 1",
                pipeline,
            )
            watched = [newest["id"]] if newest else []
        else:
            from pachstream.errors import InvalidInput

            raise InvalidInput("logs need a pipeline or a job: -p PIPELINE or -j JOB")
        seen: set[tuple[str, str]] = set()
        ended_at: float | None = None
        while True:
            self._changed.clear()
            if job_id is None:
                for r in await self._pool.fetch(
                    "SELECT id FROM started_jobs WHERE pipeline = $1 AND started >= "
                    "coalesce((SELECT started FROM started_jobs WHERE id = $2), 0) "
                    "ORDER BY started, id",
                    pipeline,
                    watched[0] if watched else "",
                ):
                    if r["id"] not in watched:
                        watched.append(r["id"])
            rows = await self._pool.fetch(
                "SELECT job_id, datum_id FROM datums WHERE job_id = ANY($1::text[]) "
                "AND ($2::text IS NULL OR datum_id = $2) ORDER BY job_id, datum_id",
                watched,
                datum_id,
            )
            for r in rows:
                key = (r["job_id"], r["datum_id"])
                if key in seen:
                    continue
                seen.add(key)
                for entry in await self.logs(job_id=r["job_id"], datum_id=r["datum_id"]):
                    yield entry
            if job_id is not None:
                job = await self.inspect_job(job_id)
                if job.finished is not None:
                    ended_at = ended_at or time.monotonic()
                    done = sum(1 for j, _ in seen if j == job_id) >= (1 if datum_id else job.to_run)
                    if done or time.monotonic() - ended_at > DATUMS_GRACE_S:
                        return
            await self._nap(POLL_S)


__all__ = ["FileChange", "HistoryVerbs"]
