"""The Starlette application: routes, lifespan (shared clients), and the one place where
errors become HTTP problems."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from sync import budgets
from sync.blobs import BlobStore, open_blob_store
from sync.blobs.errors import BlobError
from sync.cards import CardStore
from sync.checkpoint_work import CheckpointWork
from sync.errors import (
    ArborError,
    CapabilityError,
    CapabilityReason,
    DocumentTooDeepError,
    DocumentTooLargeError,
    InputError,
    InputReason,
    RoomNotFoundError,
    StoreError,
)
from sync.fanout import KIND_CONTROL, Fanout
from sync.jobs import JobSignals, JobStore, queue_name
from sync.keys import KeyBox, KeyRing, server_secret
from sync.models import ModelChoice, ModelInfo, PriceTable, parse_tool_models
from sync.rooms import RoomManager
from sync.settings import Settings
from sync.store import PostgresStore, migrate

from . import metrics
from .api import avatars, gallery, health, history, identity, jobs, models, oidc, own_art, rooms
from .api.images import get_image
from .api.uploads import blob_problem, complete_upload, create_upload, receive_upload
from .assets import HashedAssets
from .headers import PagePolicy, SecurityHeaders, blob_origins, origin
from .pages import card_routes, page_routes
from .problems import problem
from .ratelimit import (
    AddressHasher,
    Bucket,
    Budget,
    Decision,
    RateConfig,
    RateLimiter,
    RateLimitUnavailable,
    client_ip,
    unavailable_headers,
)
from .ratelimit import headers as rate_headers
from .urls import RefuseNul
from .ws import sync_endpoint

log = logging.getLogger(__name__)

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
APP_PATHS = ("/", "/r/{room}", "/gallery", "/p/{post}", "/u/{handle}", "/recover")


@dataclasses.dataclass
class Services:
    settings: Settings
    store: PostgresStore
    fanout: Fanout | None
    rooms: RoomManager
    blobs: BlobStore
    jobs: JobStore = dataclasses.field(init=False)
    signals: JobSignals = dataclasses.field(init=False)
    arq: ArqRedis = dataclasses.field(init=False)
    limiter: RateLimiter = dataclasses.field(init=False)
    rates: RateConfig = dataclasses.field(init=False)
    prices: PriceTable = dataclasses.field(init=False)
    choice: ModelChoice = dataclasses.field(init=False)
    keys: KeyRing = dataclasses.field(init=False)
    addresses: AddressHasher = dataclasses.field(init=False)  # keyed hashes of client IPs
    checkpoints: CheckpointWork = dataclasses.field(init=False)  # previews and restores
    cards: CardStore = dataclasses.field(default_factory=CardStore)  # link-preview cards
    rate_limited: dict[str, int] = dataclasses.field(default_factory=dict)
    sockets_by_ip: dict[str, int] = dataclasses.field(default_factory=dict)  # open websockets

    def client_ip(self, request: HTTPConnection) -> str:
        peer = request.client.host if request.client else None
        return client_ip(peer, request.headers, self.rates.trusted_proxies)

    async def check_limits(self, buckets: Sequence[Bucket | Budget], what: str
                           ) -> Response | None:
        """A 429 (or 503 when Redis is away) problem if the buckets refuse, else None."""
        return (await self.decide(buckets, what))[0]

    async def decide(self, entries: Sequence[Bucket | Budget], what: str
                     ) -> tuple[Response | None, Decision | None]:
        """Spend from the buckets and budgets: (a 429/503 problem, None) if refused, else
        (None, the decision)."""
        try:
            decision = await self.limiter.check(entries)
        except RateLimitUnavailable as exc:
            return problem(503, "cannot check rate limits right now; try again shortly",
                           kind="rate_limit_unavailable", headers=unavailable_headers(exc)), None
        if decision.allowed:
            return None, decision
        self.rate_limited[what] = self.rate_limited.get(what, 0) + 1
        wait = max(1, math.ceil(decision.retry_after))
        if (decision.blocked_by or "").startswith("budget-"):
            return problem(429, budgets.message(decision.blocked_by), kind="budget_exhausted",
                           headers=rate_headers(decision), retry_after=wait,
                           limit=decision.blocked_by), None
        return problem(429, f"Too many {what}; try again in {wait} s", kind="rate_limited",
                       headers=rate_headers(decision), retry_after=wait,
                       limit=decision.blocked_by), None

    async def available_models(self, room_id: str | None = None) -> list[ModelInfo]:
        """The models this deployment offers (and, for a room, those of its own keys)."""
        providers = {name for name, key in (("openai", self.settings.openai_api_key),
                                            ("gemini", self.settings.gemini_api_key)) if key}
        if room_id is not None:
            providers |= await self.keys.providers(room_id)
        return self.prices.models(providers)

    def room_load_buckets(self, request: HTTPConnection, room_id: str) -> list[Bucket]:
        """What an API call spends before it makes this process load ``room_id``: nothing
        if the room is held in memory, else one from the address's room-load bucket (the
        load decodes the whole stored document on the event loop)."""
        if room_id in self.rooms.rooms:
            return []
        return self.rates.room_load_buckets(self.client_ip(request))

    async def check_room_load(self, request: HTTPConnection, room_id: str) -> Response | None:
        """A 429 problem if loading ``room_id`` for this request is refused, else None."""
        return await self.check_limits(self.room_load_buckets(request, room_id),
                                       "canvas loads")

    async def check_job_limits(self, request: Request, room_id: str) -> Response | None:
        return await self.check_limits(self.rates.job_buckets(self.client_ip(request), room_id),
                                       "runs")


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
    services = Services(settings, store, fanout, manager, blobs=open_blob_store(settings))
    await start_job_services(services)
    return services


async def start_job_services(services: Services) -> None:
    settings = services.settings
    services.jobs = JobStore(services.store.pool)
    services.arq = await create_pool(RedisSettings.from_dsn(settings.redis_url.reveal()),
                                     default_queue_name=queue_name(settings.redis_prefix))
    services.signals = JobSignals(services.arq, settings.redis_prefix)
    services.limiter = RateLimiter(services.arq, settings.redis_prefix)
    services.rates = RateConfig.from_settings(settings)
    services.prices = PriceTable.load(settings.prices)
    services.choice = ModelChoice(parse_tool_models(settings.tool_models),
                                  settings.default_text_model, settings.default_image_model)
    secret = server_secret(settings)
    services.keys = KeyRing(services.store.pool, KeyBox(secret),
                            allow_private_base_urls=settings.allow_private_base_urls)
    services.addresses = AddressHasher(secret)
    services.checkpoints = CheckpointWork(workers=settings.checkpoint_workers,
                                          cache_bytes=settings.preview_cache_bytes)


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
    await services.checkpoints.close()
    await services.arq.aclose()
    await services.blobs.close()
    if services.fanout is not None:
        await services.fanout.stop()
    await services.store.close()


def _error_response(exc: ArborError) -> Response:
    answer = jobs.problem_for(exc) or models.problem_for(exc)
    if answer is not None:
        return answer
    if isinstance(exc, BlobError):
        return blob_problem(exc)
    if isinstance(exc, CapabilityError):
        if exc.reason in (CapabilityReason.MISSING, CapabilityReason.INVALID):
            return problem(401, exc.detail, kind=exc.reason.value,
                           headers={"WWW-Authenticate": "Bearer"})
        return problem(403, exc.detail, kind=exc.reason.value)
    if isinstance(exc, RoomNotFoundError):
        return problem(404, "no such canvas", kind="room_not_found")
    if isinstance(exc, DocumentTooLargeError):
        return problem(413, exc.detail, kind="document_too_large")
    if isinstance(exc, DocumentTooDeepError):
        return problem(422, exc.detail, kind="document_too_deep", limit=exc.limit)
    if isinstance(exc, InputError):
        return problem(413 if exc.reason is InputReason.TOO_LARGE else 400, exc.detail,
                       kind=exc.reason.value)
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

    routes: list[Any] = page_routes(index)  # each with its own title and card: pages.py
    if (dist / "assets").is_dir():
        routes.append(Mount("/assets", HashedAssets(directory=dist / "assets")))
    return routes


def create_app(settings: Settings, *, web_dist: Path | None = None) -> Starlette:
    page_policy = PagePolicy(settings.public_url)  # CSP and friends: server/headers.py

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await start_services(settings)
        app.state.services = services
        metrics.install(app.state, services)
        public_images = origin(settings.public_image_base_url)
        page_policy.blob_origins = (*await blob_origins(services.blobs),
                                    *([public_images] if public_images else []))
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
        Route("/api/tools", jobs.list_tools, methods=["GET"]),
        Route("/api/rooms/{room}/jobs", jobs.create_job, methods=["POST"]),
        Route("/api/rooms/{room}/jobs", jobs.list_jobs, methods=["GET"]),
        Route("/api/rooms/{room}/jobs/{job}", jobs.get_job, methods=["GET"]),
        Route("/api/rooms/{room}/jobs/{job}/cancel", jobs.cancel_job, methods=["POST"]),
        Route("/api/models", models.list_models, methods=["GET"]),
        Route("/api/rooms/{room}/estimate", models.estimate, methods=["POST"]),
        Route("/api/rooms/{room}/usage", models.usage, methods=["GET"]),
        Route("/api/rooms/{room}/keys", models.get_keys, methods=["GET"]),
        Route("/api/rooms/{room}/keys/{provider}", models.put_key, methods=["PUT"]),
        Route("/api/rooms/{room}/keys/{provider}", models.delete_key, methods=["DELETE"]),
        Route("/api/identity", identity.claim_identity, methods=["POST"]),
        Route("/api/identity", identity.get_identity, methods=["GET"]),
        Route("/api/identity", identity.update_identity, methods=["PATCH"]),
        Route("/api/identity/recover", identity.recover_identity, methods=["POST"]),
        Route("/api/auth/oidc", oidc.oidc_info, methods=["GET"]),
        Route("/api/auth/oidc/start", oidc.oidc_start, methods=["GET"]),
        Route("/api/auth/oidc/callback", oidc.oidc_callback, methods=["GET"]),
        Route("/api/identity/avatar", avatars.put_avatar, methods=["PUT"]),
        Route("/api/identity/avatar", avatars.delete_avatar, methods=["DELETE"]),
        Route("/images/people/{person}/{name}", avatars.public_avatar, methods=["GET"]),
        Route("/api/rooms/{room}/lineage/{block}", gallery.room_lineage, methods=["GET"]),
        Route("/api/rooms/{room}/publish", gallery.publish, methods=["POST"]),
        Route("/api/rooms/{room}/own-art", own_art.post_own_art, methods=["POST"]),
        Route("/api/posts", gallery.list_posts, methods=["GET"]),
        Route("/api/posts/newer", gallery.newer_posts, methods=["GET"]),
        Route("/api/posts/{post}", gallery.get_post, methods=["GET"]),
        Route("/api/posts/{post}", gallery.delete_post, methods=["DELETE"]),
        Route("/api/posts/{post}/images/{size}", gallery.post_image, methods=["GET"]),
        Route("/images/posts/{post}/{name}", gallery.public_image, methods=["GET"]),
        *card_routes(),
        Route("/api/posts/{post}/like", gallery.like_post, methods=["POST"]),
        Route("/api/posts/{post}/like", gallery.unlike_post, methods=["DELETE"]),
        Route("/api/posts/{post}/report", gallery.report_post, methods=["POST"]),
        Route("/api/posts/{post}/remix", gallery.remix_post, methods=["POST"]),
        Route("/api/people/{handle}", gallery.get_person, methods=["GET"]),
        Route("/api/people/{handle}/follow", gallery.follow_person, methods=["POST"]),
        Route("/api/people/{handle}/follow", gallery.unfollow_person, methods=["DELETE"]),
        Route("/api/feed/following", gallery.following_feed, methods=["GET"]),
        Route("/api/rooms/{room}/history", history.list_history, methods=["GET"]),
        Route("/api/rooms/{room}/history/{checkpoint}", history.get_checkpoint,
              methods=["GET"]),
        Route("/api/rooms/{room}/history/{checkpoint}/restore", history.restore_checkpoint,
              methods=["POST"]),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/metrics", metrics.metrics, methods=["GET"]),
        WebSocketRoute("/sync/{room}", sync_endpoint),
        *_web_routes(web_dist or WEB_DIST),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(SecurityHeaders, policy=page_policy), Middleware(RefuseNul)],
        exception_handlers={
            ArborError: arbor_error,
            ValueError: value_error,
            HTTPException: http_error,
        },
    )


__all__ = ["KIND_CONTROL", "Services", "create_app"]
