"""The PostgreSQL pool's reset: asyncpg's default sends four statements each time a
connection comes back (a round trip after every use); Arbor keeps only what asyncpg always
does, so an unfinished transaction is still rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sync.store import PostgresStore


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresStore]:
    # one connection: every acquire gets the same session back
    s = await PostgresStore.connect(database_url, min_size=1, max_size=1)
    try:
        yield s
    finally:
        await s.close()


async def test_a_connection_comes_back_without_a_reset_round_trip(store):
    # Tried: a session setting made before the connection went back to the pool. The
    # default reset (RESET ALL among others) would have cleared it.
    async with store._conn() as c:
        await c.execute("SET application_name = 'arbor-pool-test'")
    async with store._conn() as c:
        assert await c.fetchval("SHOW application_name") == "arbor-pool-test"


async def test_an_unfinished_transaction_is_still_rolled_back(store):
    # Tried: a transaction begun by hand and never finished before the connection went
    # back to the pool.
    async with store._conn() as c:
        await c.execute("CREATE TEMP TABLE IF NOT EXISTS pool_probe (x int)")
        await c.execute("BEGIN")
        await c.execute("INSERT INTO pool_probe VALUES (1)")
    async with store._conn() as c:
        assert not c.is_in_transaction()
        assert await c.fetchval("SELECT count(*) FROM pool_probe") == 0
