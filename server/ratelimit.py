"""Rate limits and daily budgets, checked atomically in Redis on the Redis server's clock.

Each ``Bucket`` is a GCRA token bucket (``Rate``: a sustained rate per minute and a burst);
each ``Budget`` is a counter that resets at 00:00 UTC (tokens, images or cost per room or per
address). One Lua script checks every entry of a request and spends from all of them or
from none: a request refused by the room's bucket costs nothing from the address's.
Time comes from ``redis.call('TIME')``, so every server process agrees.

``headers`` turns a decision into ``Retry-After`` and the IETF draft's ``RateLimit-Policy``
and ``RateLimit`` fields. When Redis cannot be reached, ``check`` raises
``RateLimitUnavailable`` (the API answers 503 with Retry-After: it fails closed).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import ipaddress
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import redis.asyncio as aioredis
import redis.exceptions

from sync.errors import ArborError
from sync.settings import Settings

log = logging.getLogger(__name__)

UNAVAILABLE_RETRY_AFTER: Final = 5.0

# KEYS: one per entry. ARGV[1]: the number of entries, then four values per entry:
#   "g", interval_us, tolerance_us, cost   a GCRA bucket; the key holds the theoretical
#                                          arrival time (us since the epoch)
#   "d", limit, 0, cost                    a daily budget; the key is a hash {d: day, n: used}
# Returns {allowed, retry_after_us, blocked_index (0-based, -1), then per entry
# remaining, reset_us}.
_SCRIPT: Final = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local day = math.floor(tonumber(t[1]) / 86400)
local midnight = (day + 1) * 86400 * 1000000
local n = tonumber(ARGV[1])
local allowed, worst, blocked = 1, 0, -1
local new, before, after, reset = {}, {}, {}, {}
for i = 1, n do
  local base = 2 + (i - 1) * 4
  local kind = ARGV[base]
  local a, b, cost = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local wait = 0
  if kind == 'g' then
    local tat = tonumber(redis.call('GET', KEYS[i])) or now
    if tat < now then tat = now end
    local new_tat = tat + a * cost
    before[i] = math.floor((now + b - tat) / a)
    after[i] = math.floor((now + b - new_tat) / a)
    reset[i] = tat - now
    if now < new_tat - b then
      wait = new_tat - b - now
    else
      new[i] = new_tat
    end
  else
    local h = redis.call('HMGET', KEYS[i], 'd', 'n')
    local used = 0
    if tonumber(h[1]) == day then used = tonumber(h[2]) or 0 end
    before[i] = a - used
    after[i] = a - used - cost
    reset[i] = midnight - now
    if used + cost > a then
      wait = reset[i]
    else
      new[i] = used + cost
    end
  end
  if wait > 0 then
    allowed = 0
    if wait > worst then worst, blocked = wait, i - 1 end
  end
end
local reply = {allowed, worst, blocked}
for i = 1, n do
  local remaining = before[i]
  if allowed == 1 then
    remaining = after[i]
    if ARGV[2 + (i - 1) * 4] == 'g' then
      reset[i] = new[i] - now
      redis.call('SET', KEYS[i], string.format('%.0f', new[i]), 'PX',
                 math.ceil(reset[i] / 1000) + 1000)
    else
      redis.call('HSET', KEYS[i], 'd', day, 'n', string.format('%.17g', new[i]))
      redis.call('PEXPIRE', KEYS[i], math.ceil(reset[i] / 1000) + 3600000)
    end
  end
  if remaining < 0 then remaining = 0 end
  reply[#reply + 1] = remaining
  reply[#reply + 1] = reset[i]
end
return reply
"""


class RateLimitUnavailable(ArborError):
    """Redis could not be asked; ``retry_after`` is a suggestion for the client."""

    def __init__(self, detail: str, retry_after: float = UNAVAILABLE_RETRY_AFTER) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class Rate:
    """``per_minute`` sustained, up to ``burst`` at once."""

    per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.per_minute > 0 and self.burst >= 1):
            raise ValueError(f"a rate needs per_minute > 0 and burst >= 1, got {self}")

    @property
    def interval(self) -> float:
        """Seconds for one unit to come back."""
        return 60.0 / self.per_minute

    @property
    def window(self) -> float:
        """Seconds for an empty bucket to fill up again."""
        return self.burst * self.interval


@dataclasses.dataclass(frozen=True)
class Bucket:
    """A token bucket at ``key`` spending ``cost`` units. ``name`` is its policy name in
    headers (default: the key without its last ``:`` part, so no address leaks out)."""

    key: str
    rate: Rate
    cost: float = 1
    name: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.cost <= self.rate.burst:
            raise ValueError(f"cost {self.cost} of {self.key!r} is outside 0..burst")

    @property
    def policy(self) -> str:
        return self.name or self.key.rpartition(":")[0] or self.key


@dataclasses.dataclass(frozen=True)
class Budget:
    """A daily allowance at ``key`` (resets 00:00 UTC) spending ``cost`` of ``limit``."""

    key: str
    limit: float
    cost: float
    name: str = ""

    @property
    def policy(self) -> str:
        return self.name or self.key.rpartition(":")[0] or self.key


@dataclasses.dataclass(frozen=True)
class PolicyState:
    """One checked entry as the headers describe it: ``quota`` units per ``window`` seconds,
    ``remaining`` now, full again (or reset) in ``reset`` seconds."""

    name: str
    quota: float
    window: float
    remaining: int
    reset: float


@dataclasses.dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float
    blocked_by: str | None
    remaining: dict[str, int]
    policies: tuple[PolicyState, ...] = ()


class _Script(Protocol):
    async def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any: ...


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix + "rl:"
        self._script: _Script = redis.register_script(_SCRIPT)

    async def check(self, entries: Sequence[Bucket | Budget]) -> Decision:
        """Spend from every entry, or (if any refuses) from none."""
        if not entries:
            return Decision(True, 0.0, None, {})
        keys: list[str] = []
        args: list[Any] = [len(entries)]
        for e in entries:
            keys.append(self._prefix + e.key)
            if isinstance(e, Bucket):
                interval = e.rate.interval * 1e6
                args += ["g", repr(interval), repr(interval * e.rate.burst), repr(e.cost)]
            else:
                args += ["d", repr(e.limit), "0", repr(e.cost)]
        try:
            reply = await self._script(keys=keys, args=args)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            log.warning("rate limits unavailable: %s", exc)
            raise RateLimitUnavailable("rate limits cannot be checked right now") from exc
        allowed, worst, blocked = int(reply[0]), int(reply[1]), int(reply[2])
        policies = []
        for i, e in enumerate(entries):
            remaining, reset = int(reply[3 + 2 * i]), int(reply[4 + 2 * i]) / 1e6
            if isinstance(e, Bucket):
                policies.append(PolicyState(e.policy, e.rate.burst, e.rate.window, remaining,
                                            reset))
            else:
                policies.append(PolicyState(e.policy, e.limit, 86400.0, remaining, reset))
        return Decision(
            allowed=bool(allowed),
            retry_after=0.0 if allowed else worst / 1e6,
            blocked_by=None if blocked < 0 else entries[blocked].policy,
            remaining={p.name: p.remaining for p in policies},
            policies=tuple(policies),
        )


def _sf_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")


def headers(decision: Decision) -> dict[str, str]:
    """``Retry-After`` (when refused), ``RateLimit-Policy`` and ``RateLimit``."""
    out: dict[str, str] = {}
    if not decision.allowed:
        out["Retry-After"] = str(max(1, math.ceil(decision.retry_after)))
    if decision.policies:
        out["RateLimit-Policy"] = ", ".join(
            f"{_sf_string(p.name)};q={_num(p.quota)};w={max(1, math.ceil(p.window))}"
            for p in decision.policies)
        out["RateLimit"] = ", ".join(
            f"{_sf_string(p.name)};r={p.remaining};t={max(0, math.ceil(p.reset))}"
            for p in decision.policies)
    return out


def unavailable_headers(error: RateLimitUnavailable) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(error.retry_after)))}


# ------------------------------------------------------------------------- client address

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=16)
def _networks(trusted: frozenset[str]) -> tuple[Network, ...]:
    nets = []
    for entry in trusted:
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            log.warning("ignoring trusted proxy %r: not an address or range", entry)
    return tuple(nets)


def _parse(value: str) -> Address | None:
    v = value.strip().strip('"')
    if v.startswith("["):  # [v6]:port
        v = v[1:].partition("]")[0]
    elif v.count(":") == 1:  # v4:port
        v = v.partition(":")[0]
    try:
        ip = ipaddress.ip_address(v)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _forwarded_for(headers: Mapping[str, str]) -> list[str]:
    getlist = getattr(headers, "getlist", None)
    values = list(getlist("x-forwarded-for")) if getlist is not None else [
        v for k, v in headers.items() if k.lower() == "x-forwarded-for"]
    return [part for value in values for part in value.split(",") if part.strip()]


def client_ip(peer: str | None, headers: Mapping[str, str],
              trusted_proxies: frozenset[str]) -> str:
    """The address to rate-limit: the socket peer, unless the peer is a trusted proxy; then
    the right-most address of X-Forwarded-For that is not a trusted proxy (addresses left of
    it were written by the client and prove nothing)."""
    nets = _networks(trusted_proxies)
    peer_ip = _parse(peer) if peer else None
    if peer_ip is None:
        return peer or "unknown"

    def trusted(ip: Address) -> bool:
        return any(ip.version == n.version and ip in n for n in nets)

    if not trusted(peer_ip):
        return str(peer_ip)
    hop = peer_ip
    for raw in reversed(_forwarded_for(headers)):
        ip = _parse(raw)
        if ip is None:  # garbage from the client side: the last good hop is all we know
            return str(hop)
        if not trusted(ip):
            return str(ip)
        hop = ip
    return str(hop)


def address_key(ip: str) -> str:
    """The bucket key of an address: IPv6 by its /64 (one subscriber's usual share)."""
    parsed = _parse(ip)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed) if parsed is not None else ip


class AddressHasher:
    """A keyed hash of a client address, for the rows that must tell addresses apart (who
    liked or reported a post, where a handle was claimed) without storing one.

    HMAC-SHA256 under a key derived from the server secret (``ARBOR_SECRET_KEY`` or the one
    kept in the data folder): a plain hash of an IPv4 address is reversed by hashing all
    2^32 of them, a keyed one is not without the secret. The address is first reduced to its
    :func:`address_key` (IPv6: its /64), so one subscriber's many IPv6 addresses are one.
    If the secret changes, old rows stop matching new ones: they then count as other
    addresses, which errs towards counting people apart, as before these hashes existed."""

    _CONTEXT: Final = b"arbor client address v1"

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the address hasher needs a secret")
        self._key = hashlib.sha256(self._CONTEXT + b"\x00" + secret).digest()

    def __call__(self, ip: str) -> bytes:
        """16 bytes: collisions are negligible for telling a post's likers apart."""
        return hmac.new(self._key, address_key(ip).encode(), hashlib.sha256).digest()[:16]


# ------------------------------------------------------------------------- the policies


@dataclasses.dataclass(frozen=True)
class RateConfig:
    """The slice of ``Settings`` the limits need, and the buckets each action checks."""

    jobs_ip: Rate = Rate(20, 5)
    jobs_room: Rate = Rate(60, 20)
    rooms_ip: Rate = Rate(10, 3)
    handles_ip: Rate = Rate(6 / 60, 3)
    previews_ip: Rate = Rate(30, 10)
    restores_room: Rate = Rate(6, 3)
    room_loads_ip: Rate = Rate(30, 10)
    trusted_proxies: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateConfig:
        return cls(
            jobs_ip=Rate(settings.rate_jobs_per_min_ip, settings.rate_jobs_burst_ip),
            jobs_room=Rate(settings.rate_jobs_per_min_room, settings.rate_jobs_burst_room),
            rooms_ip=Rate(settings.rate_rooms_per_min_ip, settings.rate_rooms_burst_ip),
            handles_ip=Rate(settings.rate_handles_per_hour_ip / 60,
                            settings.rate_handles_burst_ip),
            previews_ip=Rate(settings.rate_previews_per_min_ip, settings.rate_previews_burst_ip),
            restores_room=Rate(settings.rate_restores_per_min_room,
                               settings.rate_restores_burst_room),
            room_loads_ip=Rate(settings.rate_room_loads_per_min_ip,
                               settings.rate_room_loads_burst_ip),
            trusted_proxies=settings.trusted_proxies,
        )

    def job_buckets(self, ip: str, room: str, cost: float = 1) -> list[Bucket]:
        return [Bucket(f"jobs:ip:{address_key(ip)}", self.jobs_ip, cost, "jobs-ip"),
                Bucket(f"jobs:room:{room}", self.jobs_room, cost, "jobs-room")]

    def room_buckets(self, ip: str) -> list[Bucket]:
        return [Bucket(f"rooms:ip:{address_key(ip)}", self.rooms_ip, 1, "rooms-ip")]

    def handle_buckets(self, ip: str) -> list[Bucket]:
        """Claiming a gallery handle: its own bucket, slower than the rooms', because a
        handle is a voice (a like, a report) and rooms are not."""
        return [Bucket(f"handles:ip:{address_key(ip)}", self.handles_ip, 1, "handles-ip")]

    def preview_buckets(self, ip: str) -> list[Bucket]:
        """A history preview: decoding a checkpoint (up to the document cap) costs seconds
        of a child process's time, and sending it megabytes."""
        return [Bucket(f"previews:ip:{address_key(ip)}", self.previews_ip, 1, "previews-ip")]

    def restore_buckets(self, room: str) -> list[Bucket]:
        """A restore: the whole checkpoint and canvas are decoded, and the canvas rewritten
        for everyone in it."""
        return [Bucket(f"restores:room:{room}", self.restores_room, 1, "restores-room")]

    def room_load_buckets(self, ip: str) -> list[Bucket]:
        """An API call that loads a canvas the process does not hold: the stored document is
        decoded on the event loop (pycrdt holds the GIL throughout, so no thread helps)."""
        return [Bucket(f"room-loads:ip:{address_key(ip)}", self.room_loads_ip, 1,
                       "room-loads-ip")]


__all__ = [
    "AddressHasher",
    "Bucket",
    "Budget",
    "Decision",
    "PolicyState",
    "Rate",
    "RateConfig",
    "RateLimitUnavailable",
    "RateLimiter",
    "address_key",
    "client_ip",
    "headers",
    "unavailable_headers",
]
