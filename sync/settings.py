"""One frozen settings object, built once at each entry point from the environment.

Nothing below an entry point reads ``os.environ``: components receive the slice they need.
Every variable starts with ``ARBOR_`` except the names the ecosystem already uses
(``DATABASE_URL``, ``REDIS_URL``, ``OPENAI_*``, ``GEMINI_API_KEY``, ``AWS_*``).
The README lists every variable; ``tests/unit/test_settings.py`` checks that it does.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError


class Secret:
    """A string that never shows itself in ``repr`` or ``str`` (so never in a log line)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# name -> (field, parser, default, help). The README table is generated from this list.
VARIABLES: list[tuple[str, str, str]] = [
    ("DATABASE_URL", "", "PostgreSQL URL; unset: `arbor dev` starts an embedded PostgreSQL"),
    ("REDIS_URL", "", "Redis URL; unset: `arbor dev` starts an embedded Redis"),
    ("ARBOR_DATA_DIR", ".arbor", "local data folder (embedded services, blobs on disk)"),
    ("ARBOR_HOST", "127.0.0.1", "address `arbor serve` binds"),
    ("ARBOR_PORT", "8000", "port `arbor serve` binds"),
    ("ARBOR_PUBLIC_URL", "", "base URL used in share links (default http://HOST:PORT)"),
    ("ARBOR_ALLOWED_ORIGINS", "", "comma-separated browser origins allowed on the websocket "
     "(default: same origin only; `*` allows any)"),
    ("ARBOR_REDIS_PREFIX", "arbor:", "prefix of every Redis key this deployment uses"),
    ("ARBOR_FLUSH_INTERVAL_MS", "250", "longest wait before accepted updates are written to "
     "PostgreSQL"),
    ("ARBOR_COMPACT_AFTER_UPDATES", "500", "compact a room's update log into one snapshot past "
     "this many rows (each room at its own point, up to half as many again)"),
    ("ARBOR_ROOM_GRACE_SECONDS", "10", "how long an empty room stays in memory"),
    ("ARBOR_MAX_MESSAGE_BYTES", "1048576", "largest websocket message accepted (else close 1009)"),
    ("ARBOR_MAX_DOC_BYTES", "16777216", "largest document a room may grow to"),
    ("ARBOR_SEND_QUEUE_MAX", "512", "messages queued for one slow client before it is dropped"),
    ("ARBOR_SEND_QUEUE_MAX_BYTES", "33554432", "bytes queued for one slow client before it is "
     "dropped (keep it above `ARBOR_MAX_DOC_BYTES`: a joiner is sent the whole canvas)"),
    ("ARBOR_WS_MESSAGES_PER_SECOND", "300",
     "messages one websocket may send a second, on average; past it (and the burst) the "
     "server reads its next message only when it is due (0: no limit)"),
    ("ARBOR_WS_MESSAGES_BURST", "3000", "messages one websocket may send at once above that rate"),
    ("ARBOR_WS_CONNECTIONS_PER_IP", "500",
     "websockets one address may hold open on one server process; more are refused with 1013 "
     "(0: no limit)"),
    ("ARBOR_PING_INTERVAL_SECONDS", "20", "websocket ping interval; a peer that does not "
     "answer within 10 s (or this, if shorter) is dropped, so a dead one leaves within 30 s"),
    ("ARBOR_AWARENESS_TIMEOUT_SECONDS", "30", "presence not renewed for this long is removed"),
    ("ARBOR_AWARENESS_TICK_MS", "20", "awareness changes are coalesced and sent once per tick"),
    ("ARBOR_GC_FREEZE_AFTER_MS", "10", "`arbor serve` freezes what room joins build (every 100 "
     "joins, and after a full pass of Python's garbage collector that stopped it this long) so "
     "later passes skip it (0: never)"),
    ("ARBOR_STREAM_RETENTION_SECONDS", "120", "how long updates stay in a room's Redis stream"),
    ("ARBOR_PERSIST_BUFFER_MAX_BYTES", "67108864", "unsaved updates one process holds while "
     "PostgreSQL is down before it logs and refuses further writes"),
    ("ARBOR_BLOB_SECRET", "", "key that signs upload URLs for blobs on disk (default: random, "
     "kept in DATA_DIR/blobs)"),
    ("ARBOR_S3_BUCKET", "", "S3-compatible bucket for images; unset: blobs go to "
     "DATA_DIR/blobs on disk"),
    ("ARBOR_S3_ENDPOINT_URL", "", "S3-compatible endpoint, reachable by browsers (R2, MinIO, "
     "SeaweedFS; default: AWS)"),
    ("ARBOR_S3_REGION", "us-east-1", "bucket region (`auto` for R2)"),
    ("ARBOR_S3_PATH_STYLE", "false", "`true`: the bucket goes in the URL path, not the host name"),
    ("AWS_ACCESS_KEY_ID", "", "S3 access key (default: boto3's own credential chain)"),
    ("AWS_SECRET_ACCESS_KEY", "", "S3 secret key"),
    ("ARBOR_MAX_UPLOAD_BYTES", "20971520", "largest image file a person may upload"),
    ("ARBOR_MAX_IMAGE_PIXELS", "40000000", "largest image (width x height) accepted"),
    ("ARBOR_UPLOAD_TTL_SECONDS", "900", "how long an upload URL stays valid"),
    ("ARBOR_IMAGE_URL_TTL_SECONDS", "300", "how long a redirect to a presigned image URL is valid"),
    ("ARBOR_JOB_MAX_ATTEMPTS", "3", "attempts of a job before it fails (transient errors, "
     "lost workers)"),
    ("ARBOR_JOB_TIMEOUT_SECONDS", "300", "longest one attempt of a job may run"),
    ("ARBOR_ROOM_JOB_CONCURRENCY", "2", "jobs of one room running at once (the rest wait)"),
    ("ARBOR_WORKER_CONCURRENCY", "8", "jobs one worker process runs at once"),
    ("ARBOR_JOB_HEARTBEAT_SECONDS", "5", "how often a worker heartbeats its running jobs and "
     "sweeps for lost ones"),
    ("ARBOR_JOB_STALE_SECONDS", "30", "a running job silent for this long lost its worker and "
     "is queued again"),
    ("ARBOR_JOB_LOST_SECONDS", "60", "a queued job not picked up for this long is handed to the "
     "queue again"),
    ("ARBOR_WORKER_DRAIN_SECONDS", "5", "on SIGTERM/SIGINT/SIGHUP a worker takes no new job "
     "and gives its running ones this long to finish, then queues the rest again and exits "
     "(a second signal: at once); keep it a few seconds under the stop timeout of what runs it"),
    ("ARBOR_CHECKPOINT_MINUTES", "10", "minutes of activity between automatic history "
     "checkpoints of a room"),
    ("ARBOR_ALLOW_PRIVATE_BASE_URLS", "false", "`true`: a room's own OpenAI-compatible "
     "base URL may point at private or loopback addresses (for local model servers)"),
    ("ARBOR_LOG_FORMAT", "text", "`text` or `json`"),
    ("ARBOR_LOG_LEVEL", "INFO", "log level"),
    ("OPENAI_API_KEY", "", "OpenAI API key; unset: OpenAI models are not offered"),
    ("OPENAI_BASE_URL", "", "OpenAI-compatible endpoint, ending in /v1 (default: OpenAI's own)"),
    ("GEMINI_API_KEY", "", "Gemini API key; unset: Gemini models are not offered"),
    ("ARBOR_GEMINI_BASE_URL", "", "Gemini endpoint without the API version (default: Google's)"),
    ("ARBOR_OFFLINE_DELAY_MS", "30", "pause between chunks streamed by the offline provider"),
    ("ARBOR_DEFAULT_TEXT_MODEL", "", "model id for text tools (default: the first configured "
     "provider's, else offline)"),
    ("ARBOR_DEFAULT_IMAGE_MODEL", "", "model id for image tools (default: the first configured "
     "provider's, else offline)"),
    ("ARBOR_TOOL_MODELS", "", "default model per tool, `tool=provider:model,...` (e.g. "
     "`variations=openai:gpt-image-2`)"),
    ("ARBOR_PRICES", "", "model prices in US dollars: a JSON object, or the path of a JSON "
     "file, of model id → `input_per_mtok`, `output_per_mtok`, `per_image` (default: built-in "
     "prices; offline is free)"),
    ("ARBOR_SECRET_KEY", "", "secret that encrypts the API keys canvases bring (default: "
     "random, kept in DATA_DIR/secret_key; set it when server and worker hosts differ)"),
    ("ARBOR_BUDGET_ROOM_DAILY_USD", "0", "estimated dollars one canvas may spend per UTC day "
     "(0: unlimited)"),
    ("ARBOR_BUDGET_ROOM_DAILY_IMAGES", "0", "images one canvas may make per UTC day "
     "(0: unlimited)"),
    ("ARBOR_BUDGET_ROOM_DAILY_TOKENS", "0", "model tokens one canvas may use per UTC day "
     "(0: unlimited)"),
    ("ARBOR_BUDGET_IP_DAILY_USD", "0", "estimated dollars one client address may spend per UTC "
     "day (0: unlimited)"),
    ("ARBOR_BUDGET_IP_DAILY_IMAGES", "0", "images one client address may make per UTC day "
     "(0: unlimited)"),
    ("ARBOR_BUDGET_IP_DAILY_TOKENS", "0", "model tokens one client address may use per UTC day "
     "(0: unlimited)"),
    ("ARBOR_RATE_JOBS_PER_MIN_IP", "20", "jobs one client address may start per minute"),
    ("ARBOR_RATE_JOBS_BURST_IP", "5", "jobs one client address may start at once"),
    ("ARBOR_RATE_JOBS_PER_MIN_ROOM", "60", "jobs one room may start per minute"),
    ("ARBOR_RATE_JOBS_BURST_ROOM", "20", "jobs one room may start at once"),
    ("ARBOR_RATE_ROOMS_PER_MIN_IP", "10", "rooms one client address may create per minute"),
    ("ARBOR_RATE_ROOMS_BURST_IP", "3", "rooms one client address may create at once"),
    ("ARBOR_RATE_LIKES_PER_MIN", "30", "likes, follows and reports one person may make per "
     "minute (an address: four times that)"),
    ("ARBOR_RATE_HANDLES_PER_HOUR_IP", "6", "gallery handles one client address may claim per "
     "hour"),
    ("ARBOR_RATE_HANDLES_BURST_IP", "3", "gallery handles one client address may claim at once"),
    ("ARBOR_REPORTS_TO_HIDE", "3", "reports that hide a gallery post pending review: from this "
     "many different addresses, by handles claimed at as many different addresses (never fewer "
     "than 2)"),
    ("ARBOR_REPORT_MIN_HANDLE_AGE_HOURS", "24", "a report counts toward hiding a post only if "
     "its handle was at least this old when it reported"),
    ("ARBOR_METRICS_ALLOW", "private", "comma-separated client addresses or CIDR ranges that "
     "may read /metrics; `private`: loopback and private networks (as a scraper inside the "
     "cluster has); `*`: any address; empty: none"),
    ("ARBOR_METRICS_TOKEN", "", "when set, /metrics also requires `Authorization: Bearer` "
     "with this token"),
    ("ARBOR_TRUSTED_PROXIES", "", "comma-separated proxy addresses (or CIDR ranges) whose "
     "X-Forwarded-For is believed"),
]


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    redis_url: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    data_dir: Path = Path(".arbor")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    allowed_origins: tuple[str, ...] = ()
    redis_prefix: str = "arbor:"
    flush_interval: float = 0.25
    compact_after_updates: int = 500
    room_grace: float = 10.0
    max_message_bytes: int = 1 << 20
    max_doc_bytes: int = 16 << 20
    send_queue_max: int = 512
    send_queue_max_bytes: int = 32 << 20
    ws_messages_per_second: float = 300.0
    ws_messages_burst: int = 3000
    ws_connections_per_ip: int = 500
    ping_interval: float = 20.0
    awareness_timeout: float = 30.0
    awareness_tick: float = 0.02
    gc_freeze_after_ms: float = 10.0
    stream_retention: float = 120.0
    persist_buffer_max_bytes: int = 64 << 20
    blob_secret: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_path_style: bool = False
    s3_access_key_id: str = ""
    s3_secret_access_key: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    max_upload_bytes: int = 20 << 20
    max_image_pixels: int = 40_000_000
    upload_ttl: float = 900.0
    image_url_ttl: float = 300.0
    job_max_attempts: int = 3
    job_timeout: float = 300.0
    room_job_concurrency: int = 2
    worker_concurrency: int = 8
    job_heartbeat: float = 5.0
    job_stale_after: float = 30.0
    job_lost_after: float = 60.0
    worker_drain: float = 5.0
    checkpoint_minutes: float = 10.0
    allow_private_base_urls: bool = False
    log_format: str = "text"
    log_level: str = "INFO"
    openai_api_key: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    openai_base_url: str = ""
    gemini_api_key: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    gemini_base_url: str = ""
    offline_delay: float = 0.03
    default_text_model: str = ""
    default_image_model: str = ""
    tool_models: str = ""
    prices: str = ""
    secret_key: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    budget_room_daily_usd: float = 0.0
    budget_room_daily_images: int = 0
    budget_room_daily_tokens: int = 0
    budget_ip_daily_usd: float = 0.0
    budget_ip_daily_images: int = 0
    budget_ip_daily_tokens: int = 0
    rate_jobs_per_min_ip: float = 20.0
    rate_jobs_burst_ip: int = 5
    rate_jobs_per_min_room: float = 60.0
    rate_jobs_burst_room: int = 20
    rate_rooms_per_min_ip: float = 10.0
    rate_rooms_burst_ip: int = 3
    rate_likes_per_min: float = 30.0
    rate_handles_per_hour_ip: float = 6.0
    rate_handles_burst_ip: int = 3
    reports_to_hide: int = 3
    report_min_handle_age_hours: float = 24.0
    trusted_proxies: frozenset[str] = frozenset()
    metrics_allow: tuple[str, ...] = ("private",)
    metrics_token: Secret = dataclasses.field(default_factory=lambda: Secret(""))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        e = os.environ if env is None else env

        def get(name: str) -> str:
            for var, default, _ in VARIABLES:
                if var == name:
                    return e.get(name, default).strip()
            raise KeyError(name)

        def num(name: str, kind: type[int] | type[float]) -> Any:
            raw = get(name)
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(name, f"expected a number, got {raw!r}") from None
            if value < 0:
                raise ConfigError(name, "must not be negative")
            return value

        def flag(name: str) -> bool:
            raw = get(name).lower()
            if raw not in ("true", "false", "1", "0", "yes", "no", ""):
                raise ConfigError(name, f"expected true or false, got {raw!r}")
            return raw in ("true", "1", "yes")

        log_format = get("ARBOR_LOG_FORMAT")
        if log_format not in ("text", "json"):
            raise ConfigError("ARBOR_LOG_FORMAT", "expected text or json")
        origins = tuple(o.strip().rstrip("/") for o in get("ARBOR_ALLOWED_ORIGINS").split(",")
                        if o.strip())
        values: dict[str, Any] = dict(
            database_url=Secret(get("DATABASE_URL")),
            redis_url=Secret(get("REDIS_URL")),
            data_dir=Path(get("ARBOR_DATA_DIR")),
            host=get("ARBOR_HOST"),
            port=num("ARBOR_PORT", int),
            public_url=get("ARBOR_PUBLIC_URL").rstrip("/"),
            allowed_origins=origins,
            redis_prefix=get("ARBOR_REDIS_PREFIX"),
            flush_interval=num("ARBOR_FLUSH_INTERVAL_MS", int) / 1000,
            compact_after_updates=num("ARBOR_COMPACT_AFTER_UPDATES", int),
            room_grace=num("ARBOR_ROOM_GRACE_SECONDS", float),
            max_message_bytes=num("ARBOR_MAX_MESSAGE_BYTES", int),
            max_doc_bytes=num("ARBOR_MAX_DOC_BYTES", int),
            send_queue_max=num("ARBOR_SEND_QUEUE_MAX", int),
            send_queue_max_bytes=num("ARBOR_SEND_QUEUE_MAX_BYTES", int),
            ws_messages_per_second=num("ARBOR_WS_MESSAGES_PER_SECOND", float),
            ws_messages_burst=num("ARBOR_WS_MESSAGES_BURST", int),
            ws_connections_per_ip=num("ARBOR_WS_CONNECTIONS_PER_IP", int),
            ping_interval=num("ARBOR_PING_INTERVAL_SECONDS", float),
            awareness_timeout=num("ARBOR_AWARENESS_TIMEOUT_SECONDS", float),
            awareness_tick=num("ARBOR_AWARENESS_TICK_MS", int) / 1000,
            gc_freeze_after_ms=num("ARBOR_GC_FREEZE_AFTER_MS", float),
            stream_retention=num("ARBOR_STREAM_RETENTION_SECONDS", float),
            persist_buffer_max_bytes=num("ARBOR_PERSIST_BUFFER_MAX_BYTES", int),
            blob_secret=Secret(get("ARBOR_BLOB_SECRET")),
            s3_bucket=get("ARBOR_S3_BUCKET"),
            s3_endpoint_url=get("ARBOR_S3_ENDPOINT_URL").rstrip("/"),
            s3_region=get("ARBOR_S3_REGION"),
            s3_path_style=flag("ARBOR_S3_PATH_STYLE"),
            s3_access_key_id=get("AWS_ACCESS_KEY_ID"),
            s3_secret_access_key=Secret(get("AWS_SECRET_ACCESS_KEY")),
            max_upload_bytes=num("ARBOR_MAX_UPLOAD_BYTES", int),
            max_image_pixels=num("ARBOR_MAX_IMAGE_PIXELS", int),
            upload_ttl=num("ARBOR_UPLOAD_TTL_SECONDS", float),
            image_url_ttl=num("ARBOR_IMAGE_URL_TTL_SECONDS", float),
            job_max_attempts=max(1, num("ARBOR_JOB_MAX_ATTEMPTS", int)),
            job_timeout=num("ARBOR_JOB_TIMEOUT_SECONDS", float),
            room_job_concurrency=max(1, num("ARBOR_ROOM_JOB_CONCURRENCY", int)),
            worker_concurrency=max(1, num("ARBOR_WORKER_CONCURRENCY", int)),
            job_heartbeat=max(0.05, num("ARBOR_JOB_HEARTBEAT_SECONDS", float)),
            job_stale_after=num("ARBOR_JOB_STALE_SECONDS", float),
            job_lost_after=num("ARBOR_JOB_LOST_SECONDS", float),
            worker_drain=max(0.0, num("ARBOR_WORKER_DRAIN_SECONDS", float)),
            checkpoint_minutes=num("ARBOR_CHECKPOINT_MINUTES", float),
            allow_private_base_urls=flag("ARBOR_ALLOW_PRIVATE_BASE_URLS"),
            log_format=log_format,
            log_level=get("ARBOR_LOG_LEVEL").upper(),
            openai_api_key=Secret(get("OPENAI_API_KEY")),
            openai_base_url=get("OPENAI_BASE_URL").rstrip("/"),
            gemini_api_key=Secret(get("GEMINI_API_KEY")),
            gemini_base_url=get("ARBOR_GEMINI_BASE_URL").rstrip("/"),
            offline_delay=num("ARBOR_OFFLINE_DELAY_MS", int) / 1000,
            default_text_model=get("ARBOR_DEFAULT_TEXT_MODEL"),
            default_image_model=get("ARBOR_DEFAULT_IMAGE_MODEL"),
            tool_models=get("ARBOR_TOOL_MODELS"),
            prices=get("ARBOR_PRICES"),
            secret_key=Secret(get("ARBOR_SECRET_KEY")),
            budget_room_daily_usd=num("ARBOR_BUDGET_ROOM_DAILY_USD", float),
            budget_room_daily_images=num("ARBOR_BUDGET_ROOM_DAILY_IMAGES", int),
            budget_room_daily_tokens=num("ARBOR_BUDGET_ROOM_DAILY_TOKENS", int),
            budget_ip_daily_usd=num("ARBOR_BUDGET_IP_DAILY_USD", float),
            budget_ip_daily_images=num("ARBOR_BUDGET_IP_DAILY_IMAGES", int),
            budget_ip_daily_tokens=num("ARBOR_BUDGET_IP_DAILY_TOKENS", int),
            rate_jobs_per_min_ip=num("ARBOR_RATE_JOBS_PER_MIN_IP", float),
            rate_jobs_burst_ip=num("ARBOR_RATE_JOBS_BURST_IP", int),
            rate_jobs_per_min_room=num("ARBOR_RATE_JOBS_PER_MIN_ROOM", float),
            rate_jobs_burst_room=num("ARBOR_RATE_JOBS_BURST_ROOM", int),
            rate_rooms_per_min_ip=num("ARBOR_RATE_ROOMS_PER_MIN_IP", float),
            rate_rooms_burst_ip=num("ARBOR_RATE_ROOMS_BURST_IP", int),
            rate_likes_per_min=num("ARBOR_RATE_LIKES_PER_MIN", float),
            rate_handles_per_hour_ip=num("ARBOR_RATE_HANDLES_PER_HOUR_IP", float),
            rate_handles_burst_ip=num("ARBOR_RATE_HANDLES_BURST_IP", int),
            reports_to_hide=max(2, num("ARBOR_REPORTS_TO_HIDE", int)),
            report_min_handle_age_hours=num("ARBOR_REPORT_MIN_HANDLE_AGE_HOURS", float),
            trusted_proxies=frozenset(p.strip() for p in get("ARBOR_TRUSTED_PROXIES").split(",")
                                      if p.strip()),
            metrics_allow=tuple(a.strip() for a in get("ARBOR_METRICS_ALLOW").split(",")
                                if a.strip()),
            metrics_token=Secret(get("ARBOR_METRICS_TOKEN")),
        )
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def markdown_table() -> str:
    """The README's table of variables (``python -m sync.settings`` rewrites it)."""
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for name, default, help_ in VARIABLES:
        shown = f"`{default}`" if default else "(unset)"
        rows.append(f"| `{name}` | {shown} | {help_} |")
    return "\n".join(rows)


if __name__ == "__main__":
    import re
    import sys

    readme = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    text = readme.read_text()
    start, end = "<!-- variables:start -->", "<!-- variables:end -->"
    new = re.sub(re.escape(start) + ".*?" + re.escape(end),
                 lambda _: f"{start}\n{markdown_table()}\n{end}", text, flags=re.S)
    readme.write_text(new)
