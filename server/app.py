"""The Starlette application: routes, lifespan (shared clients), and the one place where
errors become HTTP problems."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from sync.blobs import BlobStore, open_blob_store
from sync.errors import (
    ArborError,
    CapabilityError,
    CapabilityReason,
    DocumentTooLargeError,
    RoomNotFoundError,
    StoreError,
)
from sync.fanout import KIND_CONTROL, Fanout
from sync.rooms import RoomManager
from sync.settings import Settings
from sync.store import PostgresStore, migrate

from .api import health, rooms
from .api.images import get_image
from .api.uploads import complete_upload, create_upload, receive_upload
from .problems import problem
from .ws import sync_endpoint

log = logging.getLogger(__name__)

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
APP_PATHS = ("/", "/r/{room}", "/gallery", "/p/{post}", "/u/{handle}")


@dataclasses.dataclass
class Services:
    settings: Settings
    store: PostgresStore
    fanout: Fanout | None
    rooms: RoomManager
    blobs: BlobStore


async def start_services(settings: Settings) -> Services:
    dsn = settings.database_url.reveal()
    await migrate(dsn)
    store = await PostgresStore.connect(dsn)
    fanout = None
    if settings.redis_url:
        fanout = Fanout.from_url(settings.redis_url.reveal(), prefix=settings.redis_prefix,
                                 process_id="", retention=settings.stream_retention)
    manager = RoomManager(store, fanout, settings)
    if fanout is not None:
        fanout.process_id = manager.process_id.encode()
        fanout.on_control = lambda room, data: _on_control(store, room, data)
        await fanout.start()
    await manager.start()
    return Services(settings, store, fanout, manager, blobs=open_blob_store(settings))


def _on_control(store: PostgresStore, room: Any, data: bytes) -> None:
    import asyncio

    if data == rooms.ROTATE:
        async def recheck() -> None:
            record = await store.get_room(room.id)
            if record is not None:
                rooms.close_rotated(room, record)

        asyncio.get_running_loop().create_task(recheck())


async def stop_services(services: Services) -> None:
    await services.rooms.shutdown()
    if services.fanout is not None:
        await services.fanout.stop()
    await services.store.close()


def _error_response(exc: ArborError) -> Response:
    if isinstance(exc, CapabilityError):
        if exc.reason in (CapabilityReason.MISSING, CapabilityReason.INVALID):
            return problem(401, exc.detail, kind=exc.reason.value,
                           headers={"WWW-Authenticate": "Bearer"})
        return problem(403, exc.detail, kind=exc.reason.value)
    if isinstance(exc, RoomNotFoundError):
        return problem(404, "no such canvas", kind="room_not_found")
    if isinstance(exc, DocumentTooLargeError):
        return problem(413, exc.detail, kind="document_too_large")
    if isinstance(exc, StoreError):
        log.error("storage error: %s", exc)
        return problem(503, "storage is unavailable; try again shortly", kind="store_unavailable",
                       headers={"Retry-After": "5"})
    return problem(400, exc.detail, kind=type(exc).__name__)


async def arbor_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ArborError)
    return _error_response(exc)


async def value_error(request: Request, exc: Exception) -> Response:
    return problem(400, str(exc), kind="invalid_request")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, str(exc.detail),
                   headers=dict(exc.headers) if exc.headers else None)


def _web_routes(dist: Path) -> list[Any]:
    index = dist / "index.html"
    if not index.is_file():
        async def no_build(request: Request) -> Response:
            return JSONResponse({"detail": "web app not built; run `make dev`"}, status_code=503)

        return [Route(path, no_build) for path in APP_PATHS]

    async def app_page(request: Request) -> Response:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    routes: list[Any] = [Route(path, app_page) for path in APP_PATHS]
    if (dist / "assets").is_dir():
        routes.append(Mount("/assets", StaticFiles(directory=dist / "assets")))
    return routes


def create_app(settings: Settings, *, web_dist: Path | None = None) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await start_services(settings)
        app.state.services = services
        try:
            yield
        finally:
            await stop_services(services)

    routes: list[Any] = [
        Route("/api/rooms", rooms.create_room, methods=["POST"]),
        Route("/api/rooms/{room}", rooms.get_room, methods=["GET"]),
        Route("/api/rooms/{room}/links/rotate", rooms.rotate_links, methods=["POST"]),
        Route("/api/rooms/{room}/uploads", create_upload, methods=["POST"]),
        Route("/api/rooms/{room}/uploads/{upload_id}/complete", complete_upload,
              methods=["POST"]),
        Route("/api/rooms/{room}/images/{key:path}", get_image, methods=["GET"]),
        Route("/api/blobs/upload", receive_upload, methods=["PUT"]),
        Route("/healthz", health.healthz, methods=["GET"]),
        WebSocketRoute("/sync/{room}", sync_endpoint),
        *_web_routes(web_dist or WEB_DIST),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ArborError: arbor_error,
            ValueError: value_error,
            HTTPException: http_error,
        },
    )


__all__ = ["KIND_CONTROL", "Services", "create_app"]
