"""The commit processor: reads requests, applies :mod:`._core`, writes trees and facts.

One batch at a time::

    read requests → decode (garbage → dead-letter) → core.handle → build trees of finished
    commits → produce facts (acks=all) → stage open commits' new ops in the object store →
    one Postgres statement (:mod:`._store`): changed repo states, changed commits, consumed
    offsets → delete the staged batches of the commits the batch ended.

Exactness after kill -9: state and offsets are committed together, after the facts they led to
are acknowledged. A crash before the commit replays the batch from the old offsets, giving the
same facts with the same ids (consumers of the events topic are idempotent). Ops of an open
commit that were not staged yet are rebuilt by that replay, since their requests lie after
the committed offsets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson

from pachstream.codec import decode, encode
from pachstream.commits import _core, _store
from pachstream.commits._puts import PutsInFlight
from pachstream.commits.events import (
    INLINE_DIFF_LIMIT,
    CreateBranch,
    CreateRepo,
    DeleteBranch,
    DeleteCommit,
    DeleteRepo,
    FinishCommit,
    ModifyFiles,
    Reparented,
    RepoDeleted,
    SquashCommit,
    StartCommit,
)
from pachstream.errors import EventDecodeError, ObjectStoreRefused, Unavailable
from pachstream.kafka import Record
from pachstream.model import PIPELINE_REQUEST_TYPES, derive_id
from pachstream.objectstore import ObjectStore
from pachstream.processor import LogProcessor, collector_paused, reclaim_when_idle
from pachstream.settings import Settings
from pachstream.tree import Overlay, Root, TreeStore, pack_diff, to_diff_entry

log = logging.getLogger("pachstream.commits")

REQUEST_TYPES = (
    CreateRepo,
    DeleteRepo,
    CreateBranch,
    DeleteBranch,
    StartCommit,
    FinishCommit,
    ModifyFiles,
    DeleteCommit,
    SquashCommit,
)

MIGRATIONS = [
    """
    CREATE TABLE commits_offsets (
        topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,
        PRIMARY KEY (topic, partition));
    CREATE TABLE commits_repos (repo text PRIMARY KEY, state jsonb NOT NULL);
    CREATE TABLE commits_commits (
        repo text NOT NULL, commit_id text NOT NULL, branch text NOT NULL, parent text,
        root text, finished boolean NOT NULL, PRIMARY KEY (repo, commit_id));
    """,
    # A repo's recent request ids (RepoState.recent), a row each: they were a list in its
    # state (36 KB rewritten per checkpoint at the bound); a state still holding the list
    # is read as before and moves it here at its next checkpoint.
    """
    CREATE TABLE commits_recent (
        repo text NOT NULL, seq bigint NOT NULL, request_id text NOT NULL,
        PRIMARY KEY (repo, seq));
    """,
    # Only live commits stay in memory (RepoState.commits): a history request loads the
    # children of the commit it names by this index, not by a scan of the repo's history.
    "CREATE INDEX commits_commits_parent ON commits_commits (repo, parent);",
]


class CommitProcessor(LogProcessor):
    """Owns branch heads and open commits; the only writer of trees and commit facts."""

    name = "commits"
    migrations = MIGRATIONS
    max_records = 500

    def __init__(self, settings: Settings, *, objects: ObjectStore | None = None) -> None:
        super().__init__(settings, objects=objects)
        self._puts = PutsInFlight(self._objects)
        """The tree's and the diff's writes of a finish, sent together."""
        self._trees = TreeStore(self._puts)
        self.repos: dict[str, _core.RepoState] = {}
        self._unstaged: dict[str, list[bytes]] = {}
        """Open commit id → raw request records taken since the last checkpoint. Staged as
        they came (JSONL), never re-encoded; a crash before staging replays them from the log."""
        self.processed = 0
        """Requests handled since start (for logs and tests)."""

    def input_topic(self) -> str:
        """Writers' requests."""
        return self._topics.requests

    async def _restore(self, conn: Any) -> None:
        recent: dict[str, list[str]] = {}
        for row in await conn.fetch(
            "SELECT repo, request_id FROM commits_recent ORDER BY repo, seq"
        ):
            recent.setdefault(row["repo"], []).append(row["request_id"])
        for row in await conn.fetch("SELECT repo, state FROM commits_repos"):
            raw = orjson.loads(row["state"])
            self.repos[row["repo"]] = _core.RepoState.from_json(raw, recent.get(row["repo"]))
        # Only the live commits: the rest of the history stays rows until a request names it.
        live = [
            (name, cid) for name, repo in self.repos.items() for cid in _core.live_commits(repo)
        ]
        for name, infos in (await _store.load_commits(conn, _store.LOAD_COMMITS, live)).items():
            _core.take_commits(self.repos[name], infos)
        log.info(
            "commits: restored %d repos (%d live commits) at offsets %s",
            len(self.repos),
            len(live),
            self._offsets,
        )

    async def _step(self) -> None:
        records = await self._reader.read(timeout_ms=200)
        if not records:
            reclaim_when_idle()
            return
        with collector_paused():
            await self._handle(records)

    async def _handle(self, records: list[Record]) -> None:
        started = time.monotonic()
        out: list[tuple[str, str | None, bytes]] = []
        touched: set[str] = set()
        deleted: set[str] = set()
        garbage: list[str] = []
        offsets = dict(self._offsets)
        for rec in records:
            offsets[(rec.topic, rec.partition)] = rec.offset + 1
            req = self._request(rec, out)
            if req is None:
                continue
            if req.repo not in deleted:  # a namesake made in this batch has no rows yet
                await self._load_named(req)
            repo = self.repos.get(req.repo)
            was_open = list(repo.open.values()) if repo is not None else []
            step = _core.handle(self.repos, req)
            facts = list(step.facts)
            if isinstance(req, ModifyFiles) and step.finish is None and facts and facts[-1].ok:
                assert rec.value is not None and facts[-1].commit_id is not None
                self._unstaged.setdefault(facts[-1].commit_id, []).append(rec.value)
            if step.finish is not None:
                facts.extend(await self._finish(step.finish))
            if step.squash is not None:
                facts.extend(await self._squash(step.squash))
            garbage += _core.staged_garbage(was_open, self.repos.get(req.repo))
            touched.add(req.repo)
            if any(isinstance(f, RepoDeleted) for f in facts):
                deleted.add(req.repo)
            out.extend((self._topics.events, req.repo, encode(f)) for f in facts)
            self.processed += 1
        await self._producer.send_all(out)
        await self._stage(touched)
        await self._checkpoint(touched, deleted, offsets)
        self._offsets = offsets
        await self._collect(garbage)
        self.observe_batch(records, offsets, started)

    async def _collect(self, garbage: list[str]) -> None:
        """Delete the staged batches of commits this batch ended, now that it is checkpointed
        (before, a replay of the finish reads them). A failure leaves them behind, logged:
        nothing reads them again, and the batch is already done.
        """
        if not garbage:
            return
        try:
            await self._objects.delete(garbage)
        except (Unavailable, ObjectStoreRefused) as exc:
            log.warning(
                "commits: %d staged batches (%s...) left in the object store: %s",
                len(garbage),
                garbage[0],
                exc,
            )

    def _request(self, rec: Record, out: list[tuple[str, str | None, bytes]]) -> Any:
        """The request a record holds; None for one that is not this processor's (a pipeline
        request) or is garbage (dead-lettered into ``out`` with the reason).
        """
        try:
            req = decode(rec.value)
        except EventDecodeError as exc:
            # Skipped by name: `pachstream run commits` does not import the dispatcher's
            # event classes, so their decode fails here (every create pipeline of a
            # `pachstream up` stack was dead-lettered; found by `pachstream chaos`).
            if exc.fields.get("event_type") not in PIPELINE_REQUEST_TYPES:
                self.dead_letter(rec, exc, out)
            return None
        if req.TYPE in PIPELINE_REQUEST_TYPES:
            return None  # the dispatcher's to answer
        if not isinstance(req, REQUEST_TYPES):
            self.dead_letter(rec, EventDecodeError(f"a {req.TYPE!r} event is not a request"), out)
            return None
        if rec.key is not None and rec.key != req.repo.encode():
            reason = (
                f"record key {rec.key!r:.60} is not the request's repo {req.repo!r}; "
                "key requests by repo so that each repo stays ordered"
            )
            self.dead_letter(rec, EventDecodeError(reason), out)
            return None
        return req

    async def _load_named(self, req: Any) -> None:
        """Bring the commit a request names, its parent and its children into memory from
        their rows (a history request, or a branch moved to a commit: rare, a query each).
        """
        cid = _core.commit_named(req)
        repo = self.repos.get(req.repo)
        if cid is None or repo is None:
            return
        async with self._pool.acquire() as conn:
            loaded = await _store.load_commits(conn, _store.LOAD_NAMED, [(req.repo, cid)])
        _core.take_commits(repo, loaded.get(req.repo, {}))

    async def _finish(self, plan: _core.FinishPlan) -> list[Any]:
        """Build the commit's tree from its ops; then its facts."""
        overlay = plan.commit.overlay
        if overlay is None:  # restored after a restart: fold the staged batches again
            overlay = Overlay()
            records = [
                line
                for key in plan.commit.staged_keys()
                for line in (await self._objects.get(key)).splitlines()
            ]
            for record in records + self._unstaged.get(plan.commit.commit_id, []):
                overlay.apply(decode(record).ops)
        self._unstaged.pop(plan.commit.commit_id, None)
        parent = await self._trees.root(plan.parent_root)
        try:
            built = await self._trees.build(parent, overlay)
            inline = (
                [to_diff_entry(d) for d in built.diff]
                if len(built.diff) <= INLINE_DIFF_LIMIT
                else None
            )
            diff_ref = await self._store_diff(f"diffs/{plan.commit.commit_id}", built.diff, inline)
        finally:
            # The pack, the root and the diff stored before any fact names them.
            await self._puts.settle()
        return _core.complete_finish(
            self.repos,
            plan,
            built.root.key,
            built.root.count,
            built.root.size,
            [d[1] for d in built.diff],
            inline,
            diff_ref,
        )

    async def _squash(self, plan: _core.SquashPlan) -> list[Any]:
        """Diff each child of a squashed commit against its new parent; then the facts."""
        parent = await self._trees.root(plan.parent_root)
        try:
            children = await self._reparent(plan, parent)
        finally:
            await self._puts.settle()  # every new diff stored before the fact names it
        return _core.complete_squash(self.repos, plan, tuple(children))

    async def _reparent(self, plan: _core.SquashPlan, parent: Root) -> list[Reparented]:
        """Each child of a squashed commit diffed against its new parent (large diffs put)."""
        children = []
        for child, root in plan.children:
            diff = await self._trees.diff(parent, await self._trees.root(root))
            # A key of its own: the child's first diff stays readable by whoever holds it.
            counts = {"added": 0, "modified": 0, "deleted": 0}
            for row in diff:
                counts[row[1]] += 1
            inline = (
                tuple(to_diff_entry(d) for d in diff) if len(diff) <= INLINE_DIFF_LIMIT else None
            )
            key = f"diffs/{child}.{derive_id(plan.request_id, child)[:12]}"
            diff_ref = await self._store_diff(key, diff, inline)
            children.append(
                Reparented(
                    commit_id=child, parent=plan.parent, diff_ref=diff_ref, diff=inline, **counts
                )
            )
        return children

    async def _store_diff(self, key: str, diff: list[Any], inline: Sequence[Any] | None) -> str:
        """The ``diff_ref`` of a commit's fact: ``key``, written, when the diff is too large to
        travel inline; "" when it travels inline (no reader follows the reference then, and
        the write was one object-store round trip on the path of every small commit).
        """
        if inline is not None:
            return ""
        await self._puts.put(key, orjson.dumps(pack_diff(diff)))
        return key

    async def _stage(self, touched: set[str]) -> None:
        """Write the new requests of still-open commits to the object store, in order."""
        for name in touched:
            repo = self.repos.get(name)
            if repo is None:
                continue
            for commit in repo.open.values():
                records = self._unstaged.pop(commit.commit_id, None)
                if records:
                    key = _core.staged_key(commit.commit_id, commit.staged)
                    await self._objects.put(key, b"\n".join(records))
                    commit.staged += 1
        # Commits deleted with their branch or repo leave records behind: nothing to stage.
        self._unstaged.clear()

    async def _checkpoint(
        self, touched: set[str], deleted: set[str], offsets: dict[tuple[str, int], int]
    ) -> None:
        rows = _store.checkpoint_rows(self.repos, touched, deleted)
        async with self._pool.acquire() as conn:
            await _store.checkpoint(conn, rows, offsets)
        for name in touched:  # saved: what no branch needs leaves memory
            repo = self.repos.get(name)
            if repo is not None:
                _core.evict_commits(repo)
