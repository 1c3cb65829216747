"""The embedded Postgres compares text byte by byte, as Python sorts paths, whatever the
machine's locale: its database is made with the builtin C.UTF-8 locale, not the libc one of
``LANG`` (whose comparisons go through strcoll, and which orders as a language does)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg

from pachstream.stack.servers import start_postgres, stop_servers

PATHS = ["/a_b", "/aB", "/a-b", "/A", "/a b", "/ab", "/é", "/z", "/Z", "/~", "/a/b", "/a.b", "/日"]
"""Paths a language's collation orders otherwise than code points do (case, punctuation,
spaces, accents, scripts)."""


async def _ask(dsn: str) -> tuple[asyncpg.Record, list[str], str]:
    conn = await asyncpg.connect(dsn)
    try:
        db = await conn.fetchrow(
            "SELECT datlocprovider, datlocale FROM pg_database WHERE datname = current_database()"
        )
        ordered = await conn.fetchval(
            "SELECT array_agg(p ORDER BY p) FROM unnest($1::text[]) p", PATHS
        )
        # Characters are still classified by Unicode, not as plain C would (bytes).
        upper = await conn.fetchval("SELECT upper('é日a')")
        return db, list(ordered), upper
    finally:
        await conn.close()


def test_a_new_database_orders_text_by_code_point_under_any_locale(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    # A machine set to a language: initdb would take it for the database's collation.
    before = {k: os.environ.get(k) for k in ("LANG", "LC_ALL", "LC_COLLATE")}
    os.environ.update(LANG="en_US.UTF-8", LC_COLLATE="en_US.UTF-8")
    os.environ.pop("LC_ALL", None)
    try:
        pg = start_postgres(tmp_path / "postgres", logs)
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        db, ordered, upper = asyncio.run(_ask(pg.address))
    finally:
        stop_servers([pg], 20)
    assert (db["datlocprovider"], db["datlocale"]) == (b"b", "C.UTF-8")
    assert ordered == sorted(PATHS)
    assert upper == "É日A"
