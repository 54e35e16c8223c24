"""Container health probe: ``python healthcheck.py [server|worker]``; exit 0 when healthy.

``server`` asks the process's own ``GET /healthz`` (PostgreSQL and Redis answer).
``worker`` has no HTTP port: it makes the same two checks itself, with the worker's own
settings (``DATABASE_URL``, ``REDIS_URL``), so a worker that cannot reach its storage is
taken out of service the same way a server is.
"""

from __future__ import annotations

import asyncio
import os
import sys
import urllib.request


def server() -> int:
    port = os.environ.get("ARBOR_PORT", "8000")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
            return 0 if r.status == 200 else 1
    except Exception as exc:  # refused, timed out, 503: all unhealthy
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


async def _worker() -> int:
    import asyncpg
    import redis.asyncio as aioredis

    conn = await asyncio.wait_for(asyncpg.connect(os.environ["DATABASE_URL"]), 3)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()
    client = aioredis.from_url(os.environ["REDIS_URL"])
    try:
        await asyncio.wait_for(client.ping(), 3)
    finally:
        await client.aclose()
    return 0


def worker() -> int:
    try:
        return asyncio.run(_worker())
    except Exception as exc:
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "server"
    sys.exit(worker() if kind == "worker" else server())
