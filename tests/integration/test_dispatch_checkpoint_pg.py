"""The dispatcher's one-statement checkpoint against Postgres: every kind of row, the offsets
and the outbox, written and replaced as a transaction of a statement per kind would."""

from __future__ import annotations

from typing import Any

from pachstream.dispatch import _store
from pachstream.pg import connect_pool, migrate


async def _tables(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "pipelines": "SELECT name, state::text FROM dispatch_pipelines ORDER BY 1",
        "jobs": "SELECT job_id, pipeline, header::text FROM dispatch_jobs ORDER BY 1",
        "results": "SELECT job_id, datum_id, state, outputs::text, carried, detail "
        "FROM dispatch_results ORDER BY 1, 2",
        "index": "SELECT pipeline, datum_id, hash, outputs::text FROM dispatch_index ORDER BY 1, 2",
        "meta": "SELECT key, value::text FROM dispatch_meta ORDER BY 1",
        "entries": "SELECT kind, name, value::text FROM dispatch_entries ORDER BY 1, 2",
        "offsets": "SELECT topic, partition, next_offset FROM dispatch_offsets ORDER BY 1, 2",
        "outbox": "SELECT seq, topic, key, value, partition FROM dispatch_outbox ORDER BY 1",
    }
    return {name: [tuple(r) for r in await conn.fetch(q)] for name, q in queries.items()}


async def test_a_checkpoint_writes_every_kind_and_the_next_replaces_what_it_names(
    settings,
) -> None:
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)
    try:
        await migrate(pool, "dispatch", _store.MIGRATIONS)
        async with pool.acquire() as conn:
            first: _store.Writes = [
                ("insert_job", [("j1", "p", '{"a": 1}'), ("j2", "q", "{}")]),
                (
                    "insert_result",
                    [
                        ("j1", "d1", "p", "success", "h", "{}", False, ""),
                        ("j1", "d2", "p", "failed", "h2", "{}", True, "exit 1"),
                    ],
                ),
                (
                    "upsert_index",
                    [("p", "d1", "h", "{}"), ("p", "d2", "h2", "{}"), ("q", "d", "x", "{}")],
                ),
                ("upsert_pipeline", [("p", '{"v": 1}'), ("q", '{"v": 1}')]),
                ("upsert_meta", [("heads", "{}"), ("sets", "{}")]),
                ("upsert_entry", [("head", "a@master", '["c1"]'), ("repo", "a", "true")]),
            ]
            outbox = [("events", "p", b"\x00fact", None), ("tasks", None, b"task", 3)]
            await _store.checkpoint(conn, first, {("requests", 0): 7, ("events", 1): 2}, outbox)
            t = await _tables(conn)
            assert t["jobs"] == [("j1", "p", '{"a": 1}'), ("j2", "q", "{}")]
            assert t["results"] == [
                ("j1", "d1", "success", "{}", False, ""),
                ("j1", "d2", "failed", "{}", True, "exit 1"),
            ]
            assert [r[:3] for r in t["index"]] == [
                ("p", "d1", "h"),
                ("p", "d2", "h2"),
                ("q", "d", "x"),
            ]
            assert t["pipelines"] == [("p", '{"v": 1}'), ("q", '{"v": 1}')]
            assert t["meta"] == [("heads", "{}"), ("sets", "{}")]
            assert t["entries"] == [("head", "a@master", '["c1"]'), ("repo", "a", "true")]
            assert t["offsets"] == [("events", 1, 2), ("requests", 0, 7)]
            assert t["outbox"] == [
                (0, "events", "p", b"\x00fact", None),
                (1, "tasks", None, b"task", 3),
            ]

            second: _store.Writes = [
                ("delete_pipeline", [("q",)]),
                ("delete_pipeline_index", [("q",)]),
                ("insert_job", [("j1", "p", '{"a": 2}')]),  # a replay: the first stays
                ("insert_result", [("j1", "d1", "p", "failed", "h", "{}", False, "")]),
                ("delete_index", [("p", "d2")]),
                ("upsert_index", [("p", "d1", "h9", "{}")]),
                ("upsert_pipeline", [("p", '{"v": 2}')]),
                ("delete_meta", [("heads",)]),
                ("delete_entry", [("repo", "a")]),
                ("upsert_entry", [("head", "a@master", '["c2"]'), ("retired", "q", "1")]),
            ]
            await _store.checkpoint(
                conn, second, {("requests", 0): 9}, [("events", "p", b"x", None)]
            )
            t2 = await _tables(conn)
            assert t2["jobs"] == t["jobs"] and t2["results"] == t["results"]
            assert [r[:3] for r in t2["index"]] == [("p", "d1", "h9")]
            assert t2["pipelines"] == [("p", '{"v": 2}')]
            assert t2["meta"] == [("sets", "{}")]
            assert t2["entries"] == [("head", "a@master", '["c2"]'), ("retired", "q", "1")]
            assert t2["offsets"] == [("events", 1, 2), ("requests", 0, 9)]
            assert t2["outbox"] == [(0, "events", "p", b"x", None)]

            await _store.checkpoint(conn, [], {}, [])  # a batch that only produced nothing
            assert (await _tables(conn))["outbox"] == []
    finally:
        await pool.close()


async def test_a_dispatcher_upgraded_from_whole_values_loads_the_same_state_from_rows(
    settings,
) -> None:
    """Repos, heads and retired versions stored the older way (whole values in
    dispatch_meta) load as before; the next checkpoint moves them to dispatch_entries, and
    what loads then is the same state."""
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)
    try:
        await migrate(pool, "dispatch", _store.MIGRATIONS)
        async with pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO dispatch_meta VALUES ($1, $2::jsonb)",
                [
                    ("repos", '["a", "b"]'),
                    ("heads", '{"a@master": ["c1", "root", "s1", 3]}'),
                    ("retired", '{"old": 2}'),
                    ("sets", "{}"),
                ],
            )
            before = await _store.load(conn)
            held = (before.repos, before.heads, before.retired)
            assert held == ({"a", "b"}, {"a@master": ["c1", "root", "s1", 3]}, {"old": 2})
            await _store.checkpoint(conn, _store.Changes().writes(before), {}, [])
            t = await _tables(conn)
            assert t["meta"] == [("sets", "{}")]
            assert [r[:2] for r in t["entries"]] == [
                ("head", "a@master"), ("repo", "a"), ("repo", "b"), ("retired", "old"),
            ]  # fmt: skip
            after = await _store.load(conn)
            assert (after.repos, after.heads, after.retired) == held
            assert not after.legacy_meta and not after.changed
    finally:
        await pool.close()
