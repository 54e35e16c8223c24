"""The ``arbor`` command: ``dev``, ``serve``, ``worker``, ``migrate``, ``review``.

This is an entry point: the only place (with ``worker/main.py``) that reads the
environment, builds :class:`~sync.settings.Settings`, and configures logging.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn

from sync.logs import configure
from sync.memory import FullPassGuard, tune_c_allocator
from sync.services import EmbeddedServices, start_embedded
from sync.settings import Secret, Settings
from sync.store import PostgresStore, migrate

from .app import create_app
from .supervisor import StopSignals, WorkerProcesses
from .wsproto import SUPPORTED as DIRECT_LANE
from .wsproto import ArborWebSocketProtocol


def uvicorn_config(app: Any, settings: Settings, host: str, port: int, *,
                   direct: bool = True) -> uvicorn.Config:
    """``direct=False`` serves websockets through plain ASGI only (tests compare the two)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if _has_uvloop() else "asyncio",
        # The stock sans-I/O protocol plus a direct lane for the sync hot path (wsproto.py).
        ws=ArborWebSocketProtocol if DIRECT_LANE and direct else "websockets-sansio",
        ws_max_size=settings.max_message_bytes * 2 + 1024,
        ws_ping_interval=settings.ping_interval,
        ws_ping_timeout=min(settings.ping_interval, 10.0),
        ws_per_message_deflate=False,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=30,
        proxy_headers=False,
    )


def _has_uvloop() -> bool:
    """uvloop's C transports make every socket write cheaper (the sync hot path)."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def with_embedded(settings: Settings) -> tuple[Settings, EmbeddedServices]:
    """Start embedded PostgreSQL / Redis for whichever URL is unset."""
    services = start_embedded(settings.data_dir, postgres=not settings.database_url,
                              redis=not settings.redis_url)
    if services.database_url:
        settings = settings.replace(database_url=Secret(services.database_url))
        os.environ["DATABASE_URL"] = services.database_url  # for child processes
    if services.redis_url:
        settings = settings.replace(redis_url=Secret(services.redis_url))
        os.environ["REDIS_URL"] = services.redis_url
    return settings, services


def serve(settings: Settings, host: str, port: int, *,
          stops: StopSignals | None = None) -> None:
    """Serve until a signal; with ``stops`` (``arbor dev``), one noted there stops it too."""
    settings = settings.replace(host=host, port=port)
    if os.environ.get("PYTHONMALLOC") == "malloc":
        tune_c_allocator()
    # Everything imported and built so far lives as long as the process: keep it out of
    # the collector's full passes (they stop the event loop; measured: 125 -> 43 ms).
    gc.collect()
    gc.freeze()
    FullPassGuard(settings.gc_freeze_after_ms).install()  # 0: measures, never freezes
    if not DIRECT_LANE:
        logging.getLogger(__name__).warning(
            "this uvicorn lacks what the direct websocket lane needs; using its stock "
            "protocol (correct, but each socket write costs more CPU)")
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings, host, port))
    if stops is not None:
        stops.stops(server)
    server.run()


# How long ``arbor dev`` waits for a worker beyond its drain (queueing its unfinished jobs
# again, flushing the rooms it wrote to) before it kills it.
WORKER_STOP_MARGIN = 15.0


def cmd_dev(settings: Settings, args: argparse.Namespace) -> int:
    """Everything in one command. A stop signal sent to this process alone (an editor's
    stop button, ``kill``, a closed terminal) stops the server, then the workers, then the
    embedded Redis and PostgreSQL (see :mod:`server.supervisor`)."""
    with StopSignals() as stops:
        settings, services = with_embedded(settings)
        try:
            if stops.received is None:
                _dev(settings, args, stops)
        finally:
            services.stop()
    return stops.exit_code


def _dev(settings: Settings, args: argparse.Namespace, stops: StopSignals) -> None:
    asyncio.run(migrate(settings.database_url.reveal()))
    host, port = args.host or settings.host, args.port or settings.port
    settings = settings.replace(host=host, port=port)
    print(f"\n  Arbor is running: open {settings.base_url}/\n", flush=True)
    workers = WorkerProcesses(args.workers)
    try:
        serve(settings, host, port, stops=stops)
    finally:
        workers.stop(stops.received or signal.SIGTERM,
                     settings.worker_drain + WORKER_STOP_MARGIN)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.database_url or not settings.redis_url:
        print("arbor serve needs DATABASE_URL and REDIS_URL; `arbor dev` starts embedded "
              "ones instead", file=sys.stderr)
        return 2
    serve(settings, args.host or settings.host, args.port or settings.port)
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Become the worker: ``python -m worker`` in this very process. Same PID, so a
    signal sent to ``arbor worker`` reaches the worker and its drain, also as PID 1 of a
    container (which gets only the signals it handles); a parent waiting on a child would
    die alone and leave the child running. A fresh image also keeps the server package
    from importing the worker package."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "worker"])


def cmd_review(settings: Settings, args: argparse.Namespace) -> int:
    """Review posts hidden by reports: list them, reinstate one, or remove one."""
    if not settings.database_url:
        print("arbor review needs DATABASE_URL", file=sys.stderr)
        return 2
    return asyncio.run(_review(settings.database_url.reveal(), args.action, args.post))


async def _review(dsn: str, action: str, post: str | None) -> int:
    from sync.gallery import GalleryStore

    store = await PostgresStore.connect(dsn, max_size=2)
    try:
        gallery = GalleryStore(store.pool)
        if action == "list":
            hidden = await gallery.hidden_posts()
            for p in hidden:
                print(f"{p['id']}  {p['report_count']} reports  @{p['handle']}  "
                      f"{p['title']!r}  reasons: {p['reasons'] or '-'}")
            print(f"{len(hidden)} post(s) waiting for review")
            return 0
        if post is None:
            print(f"arbor review {action} needs a post id", file=sys.stderr)
            return 2
        done = await (gallery.reinstate(post) if action == "keep" else gallery.remove(post))
        print(f"{post}: {'reinstated' if action == 'keep' else 'removed'}" if done
              else f"{post}: no such post")
        return 0 if done else 1
    finally:
        await store.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    services = None
    if not settings.database_url:
        settings, services = with_embedded(settings.replace(redis_url=Secret("unused")))
    try:
        applied = asyncio.run(migrate(settings.database_url.reveal()))
        print("applied: " + (", ".join(applied) or "nothing (up to date)"))
    finally:
        if services is not None:
            services.stop()
    return 0


def _use_system_malloc() -> None:
    """Run this process again under ``PYTHONMALLOC=malloc`` unless ``PYTHONMALLOC`` is set.

    Python's own small-object allocator keeps a 1 MiB arena while any object in it lives,
    so after many rooms close most of their memory stays with the process; glibc's
    ``malloc_trim`` (see :mod:`sync.memory`) can give free pages back from the middle of
    its heap. Measured with ``bench/sync_load.py`` (e), 500 rooms opened and closed:
    +18 MB over the baseline with Python's allocator, +8 to +10 MB with glibc's; no
    difference in server CPU in (a) or (b) beyond run-to-run noise. The variable only
    works when set before the interpreter starts, hence the re-execution (same PID)."""
    if os.environ.get("PYTHONMALLOC") or not getattr(sys, "orig_argv", None):
        return
    os.execve(sys.executable, sys.orig_argv, {**os.environ, "PYTHONMALLOC": "malloc"})


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``arbor``'s command line. Post ids are URL-safe base64 and one in 64 starts
    with ``-``, which argparse would take for an option: ``arbor review remove -x1`` names
    a post, so a lone argument after ``keep``/``remove`` is always the post id."""
    argv = list(argv)
    if (argv[:1] == ["review"] and len(argv) == 3 and argv[1] in ("keep", "remove")
            and argv[2].startswith("-") and argv[2] not in ("--", "-h", "--help")):
        argv.insert(2, "--")
    parser = argparse.ArgumentParser(prog="arbor", description="Arbor canvas server")
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run everything locally (embedded services if unset)")
    dev.add_argument("--host")
    dev.add_argument("--port", type=int)
    dev.add_argument("--workers", type=int, default=1)
    srv = sub.add_parser("serve", help="run one server process")
    srv.add_argument("--host")
    srv.add_argument("--port", type=int)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("worker", help="run one job worker process")
    review = sub.add_parser("review", help="review gallery posts hidden by reports")
    review.add_argument("action", choices=["list", "keep", "remove"])
    review.add_argument("post", nargs="?")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if argv is None and args.command in ("serve", "dev"):
        _use_system_malloc()  # before anything is started
    settings = Settings.from_env()
    configure(settings.log_level, settings.log_format)
    commands = {"dev": cmd_dev, "serve": cmd_serve, "migrate": cmd_migrate,
                "worker": cmd_worker, "review": cmd_review}
    return commands[args.command](settings, args)


if __name__ == "__main__":
    sys.exit(main())
