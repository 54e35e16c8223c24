"""Rate limits against the real Redis of this run."""

from __future__ import annotations

import asyncio
import re
import socket
import time

import pytest
import redis.asyncio as aioredis
from starlette.datastructures import Headers

from server.ratelimit import (
    Bucket,
    Budget,
    Rate,
    RateConfig,
    RateLimiter,
    RateLimitUnavailable,
    address_key,
    client_ip,
    headers,
    unavailable_headers,
)
from sync.settings import Settings

SLOW = 0.001  # per minute: nothing comes back during a test


@pytest.fixture
def limiter(redis_client: aioredis.Redis, key_prefix: str) -> RateLimiter:
    return RateLimiter(redis_client, key_prefix)


async def test_burst_of_concurrent_checks_allows_exactly_burst(limiter):
    bucket = Bucket("jobs:ip:10.0.0.1", Rate(SLOW, 5))
    decisions = await asyncio.gather(*(limiter.check([bucket]) for _ in range(60)))
    assert sum(d.allowed for d in decisions) == 5
    refused = [d for d in decisions if not d.allowed]
    assert all(d.blocked_by == "jobs:ip" for d in refused)
    assert sorted(d.remaining["jobs:ip"] for d in decisions if d.allowed) == [0, 1, 2, 3, 4]


async def test_refused_by_room_bucket_spends_nothing_from_ip_bucket(limiter):
    ip = Bucket("jobs:ip:10.0.0.2", Rate(SLOW, 5), name="ip")
    room = Bucket("jobs:room:r1", Rate(SLOW, 1), name="room")
    first = await limiter.check([ip, room])
    assert first.allowed and first.remaining == {"ip": 4, "room": 0}
    for _ in range(3):
        refused = await limiter.check([ip, room])
        assert not refused.allowed
        assert refused.blocked_by == "room"
        assert refused.remaining["ip"] == 4  # untouched
    alone = await limiter.check([ip])
    assert alone.allowed and alone.remaining == {"ip": 3}


async def test_refused_decision_has_retry_after_and_headers(limiter):
    rate = Rate(60, 2)  # one back per second
    bucket = Bucket("jobs:ip:10.0.0.3", rate, name="jobs-ip")
    allowed = await limiter.check([bucket])
    h = headers(allowed)
    assert "Retry-After" not in h
    assert h["RateLimit-Policy"] == '"jobs-ip";q=2;w=2'
    assert re.fullmatch(r'"jobs-ip";r=1;t=[01]', h["RateLimit"])
    await limiter.check([bucket])
    refused = await limiter.check([bucket])
    assert not refused.allowed
    assert 0 < refused.retry_after <= 1.0
    h = headers(refused)
    assert h["Retry-After"] == "1"
    assert h["RateLimit"].startswith('"jobs-ip";r=0;')


async def test_units_come_back_at_the_rate(limiter):
    bucket = Bucket("jobs:ip:10.0.0.4", Rate(60 * 20, 1))  # one back every 50 ms
    assert (await limiter.check([bucket])).allowed
    refused = await limiter.check([bucket])
    assert not refused.allowed and 0 < refused.retry_after <= 0.05
    started = time.monotonic()
    while not (await limiter.check([bucket])).allowed:  # a refused check spends nothing
        assert time.monotonic() - started < 2, "the unit never came back"
    assert time.monotonic() - started >= refused.retry_after - 0.01


async def test_cost_above_one_spends_several_units(limiter):
    bucket = Bucket("cost:a", Rate(SLOW, 5), cost=3)
    assert (await limiter.check([bucket])).allowed
    second = await limiter.check([bucket])
    assert not second.allowed and second.remaining == {"cost": 2}
    assert (await limiter.check([Bucket("cost:a", Rate(SLOW, 5), cost=2)])).allowed


def test_cost_above_burst_is_refused_at_construction():
    with pytest.raises(ValueError):
        Bucket("x:y", Rate(10, 2), cost=3)


def test_rate_without_burst_is_refused():
    with pytest.raises(ValueError):
        Rate(10, 0)


async def test_daily_budget_refuses_past_limit_and_spends_nothing_else(limiter):
    ip = Bucket("jobs:ip:10.0.0.5", Rate(SLOW, 5), name="ip")
    budget = Budget("tokens:room:r2", limit=1000, cost=600, name="tokens")
    first = await limiter.check([ip, budget])
    assert first.allowed and first.remaining == {"ip": 4, "tokens": 400}
    second = await limiter.check([ip, budget])
    assert not second.allowed and second.blocked_by == "tokens"
    assert 0 < second.retry_after <= 86400  # until 00:00 UTC
    assert second.remaining["ip"] == 4
    h = headers(second)
    assert '"tokens";q=1000;w=86400' in h["RateLimit-Policy"]
    small = await limiter.check([Budget("tokens:room:r2", limit=1000, cost=400)])
    assert small.allowed and small.remaining == {"tokens:room": 0}


async def test_no_entries_is_allowed(limiter):
    decision = await limiter.check([])
    assert decision.allowed and headers(decision) == {}


async def test_redis_unreachable_raises_rate_limit_unavailable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    client = aioredis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    limiter = RateLimiter(client, "arbor-test:")
    started = time.monotonic()
    with pytest.raises(RateLimitUnavailable) as info:
        await limiter.check([Bucket("jobs:ip:10.0.0.6", Rate(20, 5))])
    assert time.monotonic() - started < 5
    assert unavailable_headers(info.value)["Retry-After"] == "5"
    await client.aclose()


# ------------------------------------------------------------------------ client address

PROXIES = frozenset({"10.0.0.1", "192.168.0.0/16"})


def test_client_ip_is_the_peer_without_forwarded_for():
    assert client_ip("203.0.113.9", {}, PROXIES) == "203.0.113.9"


def test_client_ip_ignores_forwarded_for_from_untrusted_peer():
    h = {"x-forwarded-for": "1.2.3.4"}
    assert client_ip("203.0.113.9", h, PROXIES) == "203.0.113.9"
    assert client_ip("203.0.113.9", h, frozenset()) == "203.0.113.9"


def test_client_ip_honours_forwarded_for_from_trusted_proxy():
    h = {"X-Forwarded-For": "198.51.100.7"}
    assert client_ip("10.0.0.1", h, PROXIES) == "198.51.100.7"


def test_client_ip_takes_rightmost_untrusted_address_past_a_spoofed_one():
    # the client wrote 6.6.6.6 itself; our proxies appended the real address and each other
    h = {"x-forwarded-for": "6.6.6.6, 198.51.100.7, 192.168.4.4"}
    assert client_ip("10.0.0.1", h, PROXIES) == "198.51.100.7"


def test_client_ip_reads_repeated_forwarded_for_headers():
    h = Headers(raw=[(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"198.51.100.8")])
    assert client_ip("10.0.0.1", h, PROXIES) == "198.51.100.8"


def test_client_ip_with_garbage_in_forwarded_for_stops_at_last_good_hop():
    h = {"x-forwarded-for": "1.2.3.4, not-an-ip, 192.168.1.1"}
    assert client_ip("10.0.0.1", h, PROXIES) == "192.168.1.1"


def test_client_ip_with_only_trusted_hops_is_the_leftmost():
    h = {"x-forwarded-for": "192.168.1.2, 192.168.1.1"}
    assert client_ip("10.0.0.1", h, PROXIES) == "192.168.1.2"


def test_client_ip_handles_ports_and_mapped_addresses():
    h = {"x-forwarded-for": "[2001:db8::1]:4711, 198.51.100.9:80"}
    assert client_ip("::ffff:10.0.0.1", h, PROXIES) == "198.51.100.9"
    assert client_ip("::ffff:203.0.113.1", {}, PROXIES) == "203.0.113.1"


def test_client_ip_without_peer_is_unknown():
    assert client_ip(None, {"x-forwarded-for": "1.2.3.4"}, PROXIES) == "unknown"


def test_address_key_groups_ipv6_by_64():
    assert address_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert address_key("203.0.113.5") == "203.0.113.5"


def test_rate_config_from_settings():
    settings = Settings.from_env({"ARBOR_RATE_JOBS_BURST_IP": "7",
                                  "ARBOR_TRUSTED_PROXIES": "10.0.0.1, 172.16.0.0/12"})
    config = RateConfig.from_settings(settings)
    assert config.jobs_ip == Rate(20, 7)
    assert config.jobs_room == Rate(60, 20)
    assert config.handles_ip == Rate(6 / 60, 3)  # per hour, slower than rooms
    [handles] = config.handle_buckets("2001:db8:1:2:3:4:5:6")
    assert (handles.key, handles.policy) == ("handles:ip:2001:db8:1:2::/64", "handles-ip")
    assert config.trusted_proxies == {"10.0.0.1", "172.16.0.0/12"}
    ip, room = config.job_buckets("203.0.113.5", "abc")
    assert (ip.key, ip.policy, room.key, room.policy) == (
        "jobs:ip:203.0.113.5", "jobs-ip", "jobs:room:abc", "jobs-room")
