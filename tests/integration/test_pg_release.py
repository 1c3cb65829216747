"""A pooled connection goes back to the pool without a round trip, unless it listened: then
it gets asyncpg's whole reset (UNLISTEN * among it)."""

from __future__ import annotations

import asyncio

from pachstream.pg import connect_pool


async def test_a_released_connection_costs_no_query_unless_it_listened(settings):
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            raw = conn._con  # the connection behind the pool's proxy
            await conn.execute("SELECT 1")
            assert raw.get_reset_query() == ""
            before = raw._protocol.queries_count
        assert raw._protocol.queries_count == before  # nothing sent on release

        async with pool.acquire() as conn:
            assert conn._con is raw

            def heard(*_: object) -> None:
                pass

            await conn.add_listener("pg_release_test", heard)
            assert "UNLISTEN *" in raw.get_reset_query()
            await conn.remove_listener("pg_release_test", heard)
            sent = raw._protocol.queries_count
        assert raw._protocol.queries_count == sent + 1  # the reset query, on release
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
    finally:
        await asyncio.wait_for(pool.close(), 30)
