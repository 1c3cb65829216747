"""Schema migrations: concurrent starts, and a database newer than the code."""

from __future__ import annotations

import asyncio

import pytest

from pachstream.commits._processor import MIGRATIONS as COMMIT_MIGRATIONS
from pachstream.errors import ConfigError
from pachstream.lineage._schema import MIGRATIONS as LINEAGE_MIGRATIONS
from pachstream.pg import connect_pool, migrate


async def test_components_migrating_at_once_do_not_collide(settings):
    _, pg, _ = settings.require()
    pools = [await connect_pool(pg, settings.namespace) for _ in range(4)]
    try:
        # The race that once crashed a processor at start: both components, at the same time.
        versions = await asyncio.gather(
            *(
                migrate(p, name, m)
                for p, (name, m) in zip(
                    pools,
                    [("commits", COMMIT_MIGRATIONS), ("lineage", LINEAGE_MIGRATIONS)] * 2,
                    strict=True,
                )
            )
        )
        assert versions == [len(COMMIT_MIGRATIONS), len(LINEAGE_MIGRATIONS)] * 2
    finally:
        for p in pools:
            await p.close()


async def test_a_newer_schema_stops_with_a_clear_message(settings):
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)
    try:
        await migrate(pool, "lineage", LINEAGE_MIGRATIONS)
        await pool.execute("UPDATE schema_migrations SET version = 99 WHERE component = 'lineage'")
        with pytest.raises(ConfigError, match="version 99, newer than this pachstream knows"):
            await migrate(pool, "lineage", LINEAGE_MIGRATIONS)
    finally:
        await pool.close()


async def test_a_client_waits_for_the_lineage_processor_to_create_its_tables(settings):
    """Only the lineage processor migrates its tables: a client connecting to a namespace
    before it has (right after `pachstream up`) waits, then reads; without it, it gives up
    with Unavailable naming the namespace and leaves no table behind."""
    from pachstream.client import Client
    from pachstream.errors import Unavailable
    from pachstream.lineage import queries

    with pytest.raises(Unavailable, match=f"namespace '{settings.namespace}' are still missing"):
        await Client.connect(settings, timeout_s=0.3)
    _, pg, _ = settings.require()
    pool = await connect_pool(pg, settings.namespace)
    try:
        assert await queries.schema_version(pool) is None  # the client migrated nothing
        connecting = asyncio.create_task(Client.connect(settings, timeout_s=30))
        await asyncio.sleep(0.3)
        assert not connecting.done()
        await migrate(pool, "lineage", LINEAGE_MIGRATIONS)  # what the processor does on start
        async with await connecting as client:
            assert await client.list_repo() == []
        assert await queries.schema_version(pool) == queries.SCHEMA_VERSION
    finally:
        await pool.close()
