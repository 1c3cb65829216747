"""The commit processor's one-statement checkpoint against Postgres: the rows it leaves are
those a transaction of delete-then-write statements left, also where one batch deletes and
writes the same row."""

from __future__ import annotations

from typing import Any

from pachstream.commits._processor import MIGRATIONS
from pachstream.commits._store import FORGET_ALL, CheckpointRows, checkpoint
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
