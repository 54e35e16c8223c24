"""One frozen settings object, built once at each entry point from the environment.

Nothing below an entry point reads ``os.environ``: components receive the slice they need.
Every variable starts with ``ARBOR_`` except the names the ecosystem already uses
(``DATABASE_URL``, ``REDIS_URL``, ``OPENAI_*``, ``GEMINI_API_KEY``, ``AWS_*``).

Each variable is declared once, as a field of :class:`Settings`: its attribute name and type,
then ``var(env name, default as written in the environment, parser, help)``. The default
value, the parsing in :meth:`Settings.from_env`, the README's table (``python -m sync.settings
README.md`` rewrites it) and :data:`VARIABLES` are all read from that one line, so adding a
setting is adding one field; ``tests/unit/test_settings.py`` checks the README matches.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")
N = TypeVar("N", int, float)


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


# Parsers: (variable name, stripped text) -> value. The name is there so an error can say
# which variable was wrong.

def text(name: str, raw: str) -> str:
    return raw


def url(name: str, raw: str) -> str:
    """A base URL, without the trailing slash, so callers can append ``/path``."""
    return raw.rstrip("/")


def upper(name: str, raw: str) -> str:
    return raw.upper()


def secret(name: str, raw: str) -> Secret:
    return Secret(raw)


def path(name: str, raw: str) -> Path:
    return Path(raw)


def _number(name: str, raw: str, kind: type[N]) -> N:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(name, f"expected a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(name, "must not be negative")
    return value


def whole(name: str, raw: str) -> int:
    return _number(name, raw, int)


def real(name: str, raw: str) -> float:
    return _number(name, raw, float)


def millis(name: str, raw: str) -> float:
    """Whole milliseconds in the environment, seconds in the program."""
    return whole(name, raw) / 1000


def flag(name: str, raw: str) -> bool:
    raw = raw.lower()
    if raw not in ("true", "false", "1", "0", "yes", "no", ""):
        raise ConfigError(name, f"expected true or false, got {raw!r}")
    return raw in ("true", "1", "yes")


def names(name: str, raw: str) -> tuple[str, ...]:
    """A comma-separated list; blanks around and between commas are dropped."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def name_set(name: str, raw: str) -> frozenset[str]:
    return frozenset(names(name, raw))


def origins(name: str, raw: str) -> tuple[str, ...]:
    """Browser origins as a browser sends them in ``Origin``: no trailing slash."""
    return tuple(origin.rstrip("/") for origin in names(name, raw))


def one_of(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        if raw not in choices:
            raise ConfigError(name, f"expected {' or '.join(choices)}")
        return raw
    return parse


def at_least(floor: N, parse: Callable[[str, str], N]) -> Callable[[str, str], N]:
    """Raise a too-small value to ``floor`` (a worker with 0 slots would never run a job)."""
    def parse_at_least(name: str, raw: str) -> N:
        return max(floor, parse(name, raw))
    return parse_at_least


@dataclasses.dataclass(frozen=True)
class Variable:
    """One environment variable: what the README shows and how ``Settings.from_env`` reads it."""

    env: str
    default: str
    parse: Callable[[str, str], Any]
    help: str

    def read(self, environ: Mapping[str, str]) -> Any:
        return self.parse(self.env, environ.get(self.env, self.default).strip())


def var(env: str, default: str, parse: Callable[[str, str], T], help_: str) -> T:
    """Declare a :class:`Settings` field read from ``env``; the typed default is ``default`` parsed.

    Typed as returning the field's value so mypy checks the parser against the annotation.
    """
    value = parse(env, default)
    variable = Variable(env, default, parse, help_)
    return dataclasses.field(default=value, metadata={"variable": variable})


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: Secret = var("DATABASE_URL", "", secret,
        "PostgreSQL URL; unset: `arbor dev` starts an embedded PostgreSQL")
    redis_url: Secret = var("REDIS_URL", "", secret,
        "Redis URL; unset: `arbor dev` starts an embedded Redis")
    data_dir: Path = var("ARBOR_DATA_DIR", ".arbor", path,
        "local data folder (embedded services, blobs on disk)")
    host: str = var("ARBOR_HOST", "127.0.0.1", text, "address `arbor serve` binds")
    port: int = var("ARBOR_PORT", "8000", whole, "port `arbor serve` binds")
    public_url: str = var("ARBOR_PUBLIC_URL", "", url,
        "base URL used in share links (default http://HOST:PORT)")
    allowed_origins: tuple[str, ...] = var("ARBOR_ALLOWED_ORIGINS", "", origins,
        "comma-separated browser origins allowed on the websocket (default: same origin only; `*` "
        "allows any)")
    redis_prefix: str = var("ARBOR_REDIS_PREFIX", "arbor:", text,
        "prefix of every Redis key this deployment uses")
    flush_interval: float = var("ARBOR_FLUSH_INTERVAL_MS", "250", millis,
        "longest wait before accepted updates are written to PostgreSQL")
    compact_after_updates: int = var("ARBOR_COMPACT_AFTER_UPDATES", "500", whole,
        "compact a room's update log into one snapshot past this many rows (each room at its own "
        "point, up to half as many again)")
    room_grace: float = var("ARBOR_ROOM_GRACE_SECONDS", "10", real,
        "how long an empty room stays in memory")
    max_message_bytes: int = var("ARBOR_MAX_MESSAGE_BYTES", "1048576", whole,
        "largest websocket message accepted (else close 1009)")
    max_doc_bytes: int = var("ARBOR_MAX_DOC_BYTES", "16777216", whole,
        "largest document a room may grow to")
    send_queue_max: int = var("ARBOR_SEND_QUEUE_MAX", "512", whole,
        "messages queued for one slow client before it is dropped")
    send_queue_max_bytes: int = var("ARBOR_SEND_QUEUE_MAX_BYTES", "33554432", whole,
        "bytes queued for one slow client before it is dropped (keep it above "
        "`ARBOR_MAX_DOC_BYTES`: a joiner is sent the whole canvas)")
    ws_messages_per_second: float = var("ARBOR_WS_MESSAGES_PER_SECOND", "300", real,
        "messages one websocket may send a second, on average (each 4 KiB of a message counts "
        "as one more); past it (and the burst) the server reads its next message only when it "
        "is due (0: no limit)")
    ws_messages_burst: int = var("ARBOR_WS_MESSAGES_BURST", "3000", whole,
        "messages one websocket may send at once above that rate")
    ws_connections_per_ip: int = var("ARBOR_WS_CONNECTIONS_PER_IP", "500", whole,
        "websockets one address may hold open on one server process; more are refused with 1013 "
        "(0: no limit)")
    ping_interval: float = var("ARBOR_PING_INTERVAL_SECONDS", "20", real,
        "websocket ping interval; a peer that does not answer within 10 s (or this, if shorter) "
        "is dropped, so a dead one leaves within 30 s")
    awareness_timeout: float = var("ARBOR_AWARENESS_TIMEOUT_SECONDS", "30", real,
        "presence not renewed for this long is removed")
    awareness_tick: float = var("ARBOR_AWARENESS_TICK_MS", "20", millis,
        "awareness changes are coalesced and sent once per tick")
    gc_freeze_after_ms: float = var("ARBOR_GC_FREEZE_AFTER_MS", "10", real,
        "`arbor serve` freezes what room joins build (every 100 joins, and after a full pass of "
        "Python's garbage collector that stopped it this long) so later passes skip it (0: never)")
    stream_retention: float = var("ARBOR_STREAM_RETENTION_SECONDS", "120", real,
        "how long updates stay in a room's Redis stream")
    persist_buffer_max_bytes: int = var("ARBOR_PERSIST_BUFFER_MAX_BYTES", "67108864", whole,
        "unsaved updates one process holds while PostgreSQL is down before it logs and refuses "
        "further writes")
    blob_secret: Secret = var("ARBOR_BLOB_SECRET", "", secret,
        "key that signs upload URLs for blobs on disk (default: random, kept in DATA_DIR/blobs)")
    s3_bucket: str = var("ARBOR_S3_BUCKET", "", text,
        "S3-compatible bucket for images; unset: blobs go to DATA_DIR/blobs on disk")
    s3_endpoint_url: str = var("ARBOR_S3_ENDPOINT_URL", "", url,
        "S3-compatible endpoint, reachable by browsers (R2, MinIO, SeaweedFS; default: AWS)")
    s3_region: str = var("ARBOR_S3_REGION", "us-east-1", text, "bucket region (`auto` for R2)")
    s3_path_style: bool = var("ARBOR_S3_PATH_STYLE", "false", flag,
        "`true`: the bucket goes in the URL path, not the host name")
    s3_access_key_id: str = var("AWS_ACCESS_KEY_ID", "", text,
        "S3 access key (default: boto3's own credential chain)")
    s3_secret_access_key: Secret = var("AWS_SECRET_ACCESS_KEY", "", secret, "S3 secret key")
    max_upload_bytes: int = var("ARBOR_MAX_UPLOAD_BYTES", "20971520", whole,
        "largest image file a person may upload")
    max_image_pixels: int = var("ARBOR_MAX_IMAGE_PIXELS", "40000000", whole,
        "largest image (width x height) accepted")
    upload_ttl: float = var("ARBOR_UPLOAD_TTL_SECONDS", "900", real,
        "how long an upload URL stays valid")
    image_url_ttl: float = var("ARBOR_IMAGE_URL_TTL_SECONDS", "3600", real,
        "canvas images in S3 are presigned per window of this many seconds: the same URL all "
        "window long (so browsers reuse what they fetched), valid until the next window ends")
    public_image_base_url: str = var("ARBOR_PUBLIC_IMAGE_BASE_URL", "", url,
        "public URL of the bucket (or a CDN in front of it) that serves published images by "
        "key (`{url}/posts/{post}/{hash}.webp`); unset: the server serves them, with a year's "
        "public immutable caching")
    job_max_attempts: int = var("ARBOR_JOB_MAX_ATTEMPTS", "3", at_least(1, whole),
        "attempts of a job before it fails (transient errors, lost workers)")
    job_timeout: float = var("ARBOR_JOB_TIMEOUT_SECONDS", "300", real,
        "longest one attempt of a job may run")
    room_job_concurrency: int = var("ARBOR_ROOM_JOB_CONCURRENCY", "2", at_least(1, whole),
        "jobs of one room running at once (the rest wait)")
    worker_concurrency: int = var("ARBOR_WORKER_CONCURRENCY", "8", at_least(1, whole),
        "jobs one worker process runs at once")
    job_heartbeat: float = var("ARBOR_JOB_HEARTBEAT_SECONDS", "5", at_least(0.05, real),
        "how often a worker heartbeats its running jobs and sweeps for lost ones")
    job_stale_after: float = var("ARBOR_JOB_STALE_SECONDS", "30", real,
        "a running job silent for this long lost its worker and is queued again")
    job_lost_after: float = var("ARBOR_JOB_LOST_SECONDS", "60", real,
        "a queued job not picked up for this long is handed to the queue again")
    worker_drain: float = var("ARBOR_WORKER_DRAIN_SECONDS", "5", at_least(0.0, real),
        "on SIGTERM/SIGINT/SIGHUP a worker takes no new job and gives its running ones this long "
        "to finish, then queues the rest again and exits (a second signal: at once); keep it a "
        "few seconds under the stop timeout of what runs it")
    checkpoint_minutes: float = var("ARBOR_CHECKPOINT_MINUTES", "10", real,
        "minutes of activity between automatic history checkpoints of a room")
    allow_private_base_urls: bool = var("ARBOR_ALLOW_PRIVATE_BASE_URLS", "false", flag,
        "`true`: a room's own OpenAI-compatible base URL may point at private or loopback "
        "addresses (for local model servers). `false`: it must be public when it is set, and the "
        "worker checks the address again at every connection, so a name re-pointed later is "
        "refused too; set it the same on servers and workers")
    log_format: str = var("ARBOR_LOG_FORMAT", "text", one_of("text", "json"), "`text` or `json`")
    log_level: str = var("ARBOR_LOG_LEVEL", "INFO", upper, "log level")
    openai_api_key: Secret = var("OPENAI_API_KEY", "", secret,
        "OpenAI API key; unset: OpenAI models are not offered")
    openai_base_url: str = var("OPENAI_BASE_URL", "", url,
        "OpenAI-compatible endpoint, ending in /v1 (default: OpenAI's own)")
    gemini_api_key: Secret = var("GEMINI_API_KEY", "", secret,
        "Gemini API key; unset: Gemini models are not offered")
    gemini_base_url: str = var("ARBOR_GEMINI_BASE_URL", "", url,
        "Gemini endpoint without the API version (default: Google's)")
    offline_delay: float = var("ARBOR_OFFLINE_DELAY_MS", "30", millis,
        "pause between chunks streamed by the offline provider")
    default_text_model: str = var("ARBOR_DEFAULT_TEXT_MODEL", "", text,
        "model id for text tools (default: the first configured provider's, else offline)")
    default_image_model: str = var("ARBOR_DEFAULT_IMAGE_MODEL", "", text,
        "model id for image tools (default: the first configured provider's, else offline)")
    tool_models: str = var("ARBOR_TOOL_MODELS", "", text,
        "default model per tool, `tool=provider:model,...` (e.g. `variations=openai:gpt-image-2`)")
    prices: str = var("ARBOR_PRICES", "", text,
        "model prices in US dollars: a JSON object, or the path of a JSON file, of model id → "
        "`input_per_mtok`, `output_per_mtok`, `per_image` (default: built-in prices; offline is "
        "free)")
    secret_key: Secret = var("ARBOR_SECRET_KEY", "", secret,
        "secret that encrypts the API keys canvases bring (default: random, kept in "
        "DATA_DIR/secret_key; set it when server and worker hosts differ)")
    budget_room_daily_usd: float = var("ARBOR_BUDGET_ROOM_DAILY_USD", "0", real,
        "estimated dollars one canvas may spend per UTC day (0: unlimited)")
    budget_room_daily_images: int = var("ARBOR_BUDGET_ROOM_DAILY_IMAGES", "0", whole,
        "images one canvas may make per UTC day (0: unlimited)")
    budget_room_daily_tokens: int = var("ARBOR_BUDGET_ROOM_DAILY_TOKENS", "0", whole,
        "model tokens one canvas may use per UTC day (0: unlimited)")
    budget_ip_daily_usd: float = var("ARBOR_BUDGET_IP_DAILY_USD", "0", real,
        "estimated dollars one client address may spend per UTC day (0: unlimited)")
    budget_ip_daily_images: int = var("ARBOR_BUDGET_IP_DAILY_IMAGES", "0", whole,
        "images one client address may make per UTC day (0: unlimited)")
    budget_ip_daily_tokens: int = var("ARBOR_BUDGET_IP_DAILY_TOKENS", "0", whole,
        "model tokens one client address may use per UTC day (0: unlimited)")
    rate_jobs_per_min_ip: float = var("ARBOR_RATE_JOBS_PER_MIN_IP", "20", real,
        "jobs one client address may start per minute")
    rate_jobs_burst_ip: int = var("ARBOR_RATE_JOBS_BURST_IP", "5", whole,
        "jobs one client address may start at once")
    rate_jobs_per_min_room: float = var("ARBOR_RATE_JOBS_PER_MIN_ROOM", "60", real,
        "jobs one room may start per minute")
    rate_jobs_burst_room: int = var("ARBOR_RATE_JOBS_BURST_ROOM", "20", whole,
        "jobs one room may start at once")
    rate_rooms_per_min_ip: float = var("ARBOR_RATE_ROOMS_PER_MIN_IP", "10", real,
        "rooms one client address may create per minute")
    rate_rooms_burst_ip: int = var("ARBOR_RATE_ROOMS_BURST_IP", "3", whole,
        "rooms one client address may create at once")
    rate_likes_per_min: float = var("ARBOR_RATE_LIKES_PER_MIN", "30", real,
        "likes, follows and reports one person may make per minute (an address: four times that)")
    rate_handles_per_hour_ip: float = var("ARBOR_RATE_HANDLES_PER_HOUR_IP", "6", real,
        "gallery handles one client address may claim per hour")
    rate_handles_burst_ip: int = var("ARBOR_RATE_HANDLES_BURST_IP", "3", whole,
        "gallery handles one client address may claim at once")
    rate_previews_per_min_ip: float = var("ARBOR_RATE_PREVIEWS_PER_MIN_IP", "30", real,
        "history previews (`GET /api/rooms/{room}/history/{id}`) one client address may ask for "
        "per minute")
    rate_previews_burst_ip: int = var("ARBOR_RATE_PREVIEWS_BURST_IP", "10", whole,
        "history previews one client address may ask for at once")
    rate_restores_per_min_room: float = var("ARBOR_RATE_RESTORES_PER_MIN_ROOM", "6", real,
        "checkpoints one canvas may restore per minute (one at a time: a second restore while "
        "one runs is refused with 409)")
    rate_restores_burst_room: int = var("ARBOR_RATE_RESTORES_BURST_ROOM", "3", whole,
        "checkpoints one canvas may restore at once")
    rate_room_loads_per_min_ip: float = var("ARBOR_RATE_ROOM_LOADS_PER_MIN_IP", "30", real,
        "API calls per minute from one client address that make the server load a canvas it "
        "does not hold in memory (runs, cancels, estimates, lineages, publishing, upload "
        "completions, restores)")
    rate_room_loads_burst_ip: int = var("ARBOR_RATE_ROOM_LOADS_BURST_IP", "10", whole,
        "such API calls one client address may make at once")
    preview_cache_bytes: int = var("ARBOR_PREVIEW_CACHE_BYTES", "67108864", whole,
        "bytes of rendered history previews each server process keeps (least recently used "
        "dropped first; a checkpoint never changes)")
    checkpoint_workers: int = var("ARBOR_CHECKPOINT_WORKERS", "1", at_least(1, whole),
        "child processes per server process that decode checkpoints for previews and restores "
        "(so many at once at most; started on first use)")
    reports_to_hide: int = var("ARBOR_REPORTS_TO_HIDE", "3", at_least(2, whole),
        "reports that hide a gallery post pending review: from this many different addresses, by "
        "handles claimed at as many different addresses (never fewer than 2)")
    report_min_handle_age_hours: float = var("ARBOR_REPORT_MIN_HANDLE_AGE_HOURS", "24", real,
        "a report counts toward hiding a post only if its handle was at least this old when it "
        "reported")
    metrics_allow: tuple[str, ...] = var("ARBOR_METRICS_ALLOW", "private", names,
        "comma-separated client addresses or CIDR ranges that may read /metrics; `private`: "
        "loopback and private networks (as a scraper inside the cluster has); `*`: any address; "
        "empty: none")
    metrics_token: Secret = var("ARBOR_METRICS_TOKEN", "", secret,
        "when set, /metrics also requires `Authorization: Bearer` with this token")
    trusted_proxies: frozenset[str] = var("ARBOR_TRUSTED_PROXIES", "", name_set,
        "comma-separated proxy addresses (or CIDR ranges) whose X-Forwarded-For is believed")
    oidc_issuer: str = var("ARBOR_OIDC_ISSUER", "", url,
        "OpenID Connect provider people may sign in with: its issuer URL (empty: sign-in by "
        "handle and recovery link only)")
    oidc_client_id: str = var("ARBOR_OIDC_CLIENT_ID", "", text,
        "client id this deployment registered at the OpenID Connect provider")
    oidc_client_secret: Secret = var("ARBOR_OIDC_CLIENT_SECRET", "", secret,
        "client secret that goes with ARBOR_OIDC_CLIENT_ID")
    oidc_name: str = var("ARBOR_OIDC_NAME", "", text,
        "the provider's name on the sign-in button, \"Sign in with NAME\" (default: the "
        "issuer's host)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every variable from ``env`` (default ``os.environ``), then apply ``overrides``.

        A malformed value raises :class:`ConfigError` naming the variable, even when an
        override replaces it, so a broken environment never goes unnoticed.
        """
        environ = os.environ if env is None else env
        values: dict[str, Any] = {
            field.name: field.metadata["variable"].read(environ)
            for field in dataclasses.fields(cls)
        }
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def variables() -> list[Variable]:
    """Every variable, in the order the README lists them."""
    return [field.metadata["variable"] for field in dataclasses.fields(Settings)]


# (name, default, help) of every variable, for checks that only need the names.
VARIABLES: list[tuple[str, str, str]] = [(v.env, v.default, v.help) for v in variables()]


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
    text_ = readme.read_text()
    start, end = "<!-- variables:start -->", "<!-- variables:end -->"
    new = re.sub(re.escape(start) + ".*?" + re.escape(end),
                 lambda _: f"{start}\n{markdown_table()}\n{end}", text_, flags=re.S)
    readme.write_text(new)
