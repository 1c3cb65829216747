"""The commit processor's one-statement checkpoint against Postgres: the rows it leaves are
those a transaction of delete-then-write statements left, also where one batch deletes and
writes the same row."""

from __future__ import annotations

from typing import Any

import orjson

from pachstream.commits._core import CommitInfo
from pachstream.commits._processor import MIGRATIONS
from pachstream.commits._store import (
    CHECKPOINT,
    FORGET_ALL,
    LOAD_COMMITS,
    LOAD_NAMED,
    CheckpointRows,
    checkpoint,
    checkpoint_args,
    load_commits,
)
from pachstream.pg import connect_pool, migrate


async def _tables(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "repos": "SELECT repo, state::text FROM commits_repos ORDER BY 1",
        "commits": "SELECT repo, commit_id, branch, parent, root, finished "
        "FROM commits_commits ORDER BY 1, 2",
        "offsets": "SELECT topic, partition, next_offset FROM commits_offsets ORDER BY 1, 2",
        "recent": "SELECT repo, seq, request_id FROM commits_recent ORDER BY 1, 2",
    }
    return {name: [tuple(r) for r in await conn.fetch(q)] for name, q in queries.items()}


def _commit(repo: str, cid: str, root: str | None = None, done: bool = True) -> tuple[Any, ...]:
    return (repo, cid, "master", None, root, done)


async def test_checkpoints_write_drop_and_rewrite_rows_as_a_transaction_would(settings) -> None:
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)
    try:
        await migrate(pool, "commits", MIGRATIONS)
        async with pool.acquire() as conn:
            await checkpoint(
                conn,
                CheckpointRows(
                    repos=[("a", '{"v": 1}'), ("b", '{"v": 1}')],
                    commits=[_commit("a", "a1", "r1"), _commit("a", "a2", None, False),
                             _commit("b", "b1", "rb")],
                    recent=[("a", 1, "qa1"), ("a", 2, "qa2"), ("a", 3, "qa3"), ("b", 1, "qb1"),
                            ("b", 2, "qb2")],
                    forget=[("a", 0), ("b", 0)],
                ),
                {("requests", 0): 5, ("requests", 1): 2},
            )  # fmt: skip
            t = await _tables(conn)
            assert t["repos"] == [("a", '{"v": 1}'), ("b", '{"v": 1}')]
            assert t["commits"] == [
                _commit("a", "a1", "r1"),
                _commit("a", "a2", None, False),
                _commit("b", "b1", "rb"),
            ]
            assert t["offsets"] == [("requests", 0, 5), ("requests", 1, 2)]
            assert len(t["recent"]) == 5

            # One batch: a2 finished, a1 removed and made again (same id), b deleted and
            # created again with a new commit, an offset moved.
            await checkpoint(
                conn,
                CheckpointRows(
                    dropped=["b"],
                    removed=[("a", "a1")],
                    repos=[("a", '{"v": 2}'), ("b", '{"v": 9}')],
                    commits=[_commit("a", "a1", "r1x"), _commit("a", "a2", "r2"),
                             _commit("b", "b2", "rb2")],
                    # a: one more id, the two oldest past its bound; b: the new b's one id.
                    recent=[("a", 4, "qa4"), ("b", 1, "qnew")],
                    forget=[("a", 2), ("b", FORGET_ALL)],
                ),
                {("requests", 1): 9},
            )  # fmt: skip
            t = await _tables(conn)
            assert t["repos"] == [("a", '{"v": 2}'), ("b", '{"v": 9}')]
            assert t["commits"] == [
                _commit("a", "a1", "r1x"),
                _commit("a", "a2", "r2"),
                _commit("b", "b2", "rb2"),  # b1 went with the old b
            ]
            assert t["offsets"] == [("requests", 0, 5), ("requests", 1, 9)]
            assert t["recent"] == [("a", 3, "qa3"), ("a", 4, "qa4"), ("b", 1, "qnew")]

            # a removed commit and a deleted repo, nothing written again.
            await checkpoint(
                conn,
                CheckpointRows(
                    dropped=["b"],
                    removed=[("a", "a2")],
                    repos=[("a", '{"v": 3}')],
                    forget=[("b", FORGET_ALL)],
                ),
                {},
            )
            t = await _tables(conn)
            assert t["repos"] == [("a", '{"v": 3}')]
            assert t["commits"] == [_commit("a", "a1", "r1x")]
            assert t["recent"] == [("a", 3, "qa3"), ("a", 4, "qa4")]
            assert t["offsets"] == [("requests", 0, 5), ("requests", 1, 9)]
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {settings.namespace} CASCADE")
        await pool.close()


async def test_a_named_commit_loads_with_its_parent_and_children_and_nothing_else(
    settings,
) -> None:
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)

    def line(repo: str, cid: str, parent: str | None) -> tuple[Any, ...]:
        return (repo, cid, "master", parent, f"root-{cid}", True)

    try:
        await migrate(pool, "commits", MIGRATIONS)
        async with pool.acquire() as conn:
            # a: c1 ← c2 ← c3 ← c4, and c2 ← d1 (a second child); b: a namesake c2.
            commits = [line("a", "c1", None), line("a", "c2", "c1"), line("a", "c3", "c2"),
                       line("a", "c4", "c3"), line("a", "d1", "c2"), line("b", "c2", None),
                       line("b", "k", "c2")]  # fmt: skip
            await checkpoint(conn, CheckpointRows(commits=commits), {})

            def ids(loaded: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
                return {repo: sorted(infos) for repo, infos in loaded.items()}

            named = await load_commits(conn, LOAD_NAMED, [("a", "c2")])
            assert ids(named) == {"a": ["c1", "c2", "c3", "d1"]}
            assert named["a"]["c3"] == CommitInfo("master", "c2", "root-c3", True)
            assert ids(await load_commits(conn, LOAD_NAMED, [("a", "c1")])) == {"a": ["c1", "c2"]}
            assert ids(await load_commits(conn, LOAD_NAMED, [("a", "c4")])) == {"a": ["c3", "c4"]}
            assert await load_commits(conn, LOAD_NAMED, [("a", "nope")]) == {}
            assert await load_commits(conn, LOAD_NAMED, []) == {}
            live = await load_commits(conn, LOAD_COMMITS, [("a", "c4"), ("b", "c2"), ("b", "x")])
            assert ids(live) == {"a": ["c4"], "b": ["c2"]}
            # The children come by the (repo, parent) index, not a scan of the history.
            await conn.execute("SET enable_seqscan = off")
            plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {LOAD_NAMED}", ["a"], ["c2"]))
            assert "commits_commits_parent" in plan
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {settings.namespace} CASCADE")
        await pool.close()


def _reads(node: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(table, node type, whether it reads by a key condition) of each table read in a plan."""
    out = []
    kind = node["Node Type"]
    if "Relation Name" in node and kind != "ModifyTable":
        keyed = kind != "Seq Scan" and ("Index Cond" in node or "Recheck Cond" in node)
        out.append((node["Relation Name"], kind, keyed))
    for child in node.get("Plans", []):
        out += _reads(child)
    return out


async def test_a_checkpoint_reaches_commit_rows_by_their_key_never_by_a_scan(settings) -> None:
    """A checkpoint scanned every commit of every repo (72 ms with a million): each of its
    reads of ``commits_commits`` must be able to use an index (with sequential scans priced
    out, a plan that has no other way still scans)."""
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)
    try:
        await migrate(pool, "commits", MIGRATIONS)
        async with pool.acquire() as conn:
            rows = CheckpointRows(
                dropped=["gone"],
                removed=[("a", "a1")],
                repos=[("a", '{"v": 1}')],
                commits=[_commit("a", "a2", "r2")],
                recent=[("a", 2, "q2")],
                forget=[("a", 1)],
            )
            await conn.execute("SET enable_seqscan = off")
            (raw,) = await conn.fetchrow(
                f"EXPLAIN (FORMAT JSON) {CHECKPOINT}", *checkpoint_args(rows, {("requests", 0): 1})
            )
            reads = _reads(orjson.loads(raw)[0]["Plan"])
            tables = {table for table, _, _ in reads}
            assert {"commits_commits", "commits_recent", "commits_repos"} <= tables, reads
            unkeyed = [(table, node) for table, node, keyed in reads if not keyed]
            assert unkeyed == [], unkeyed
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {settings.namespace} CASCADE")
        await pool.close()
