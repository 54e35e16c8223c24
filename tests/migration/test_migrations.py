"""Every migration applies to an empty database exactly once, even when several processes
start at the same moment."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg

from sync.store.migrate import migrate, migration_files
from tests.conftest import _with_database


async def test_concurrent_migrations_apply_each_file_exactly_once(database_url):
    name = f"arbor_migrate_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = _with_database(database_url, name)
    try:
        results = await asyncio.gather(*(migrate(dsn) for _ in range(4)))
        applied = [m for r in results for m in r]
        expected = [f.stem for f in migration_files()]
        assert sorted(applied) == sorted(expected)  # each once, across all four callers
        assert await migrate(dsn) == []
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
            tables = {r["tablename"] for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        finally:
            await conn.close()
        assert [r["version"] for r in rows] == expected
        assert {"rooms", "room_snapshots", "room_updates"} <= tables
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def test_migration_files_are_numbered_without_gaps():
    numbers = [int(f.name[:4]) for f in migration_files()]
    assert numbers == list(range(1, len(numbers) + 1))
