"""Settling a job's budget reservation on the day it reserved and on a later UTC day
(sync/budgets.py ``Settler``), against the real Redis of this run and the limiter's own
counters. The day a job reserved on is written into its reservation, so a job that started
yesterday is a reservation whose day is yesterday's."""

from __future__ import annotations

import redis.asyncio as aioredis

from server.ratelimit import Budget, RateLimiter
from sync.budgets import Settler, day_from_reset

KEY = "budget:room:r1:tokens"


async def today(redis_client: aioredis.Redis) -> int:
    seconds, _ = await redis_client.time()
    return int(seconds) // 86400


async def counter(redis_client: aioredis.Redis, key_prefix: str) -> tuple[int | None, float]:
    d, n = await redis_client.hmget(f"{key_prefix}rl:{KEY}", ["d", "n"])
    return (int(d) if d is not None else None), (float(n) if n is not None else 0.0)


async def reserve(limiter: RateLimiter, cost: int) -> int:
    """Spend ``cost`` through the limiter, as a job request does; the day it reserved on."""
    decision = await limiter.check([Budget(KEY, limit=1000, cost=cost, name="tokens")])
    assert decision.allowed
    reset = next(p.reset for p in decision.policies if p.name == "tokens")
    return day_from_reset(reset)


async def test_a_job_settled_the_day_it_reserved_gives_back_what_it_did_not_use(
        redis_client, key_prefix):
    limiter, settler = RateLimiter(redis_client, key_prefix), Settler(redis_client, key_prefix)
    day = await reserve(limiter, 600)
    assert day == await today(redis_client)
    await settler.adjust({"day": day, "spent": {KEY: 600}}, {"tokens": 250})
    assert await counter(redis_client, key_prefix) == (day, 250)
    await settler.adjust({"day": day, "spent": {KEY: 100}}, {"tokens": 180})  # used more
    assert await counter(redis_client, key_prefix) == (day, 330)


async def test_a_job_from_yesterday_that_used_more_charges_the_extra_today(
        redis_client, key_prefix):
    limiter, settler = RateLimiter(redis_client, key_prefix), Settler(redis_client, key_prefix)
    day = await today(redis_client)
    # Nothing spent today yet: the extra starts today's counter.
    await settler.adjust({"day": day - 1, "spent": {KEY: 100}}, {"tokens": 400})
    assert await counter(redis_client, key_prefix) == (day, 300)
    # Today's use so far is kept and added to.
    await reserve(limiter, 200)
    await settler.adjust({"day": day - 1, "spent": {KEY: 100}}, {"tokens": 150})
    assert await counter(redis_client, key_prefix) == (day, 550)
    # The limiter sees it: 450 of 1000 are left today.
    refused = await limiter.check([Budget(KEY, limit=1000, cost=451, name="tokens")])
    assert not refused.allowed and refused.remaining["tokens"] == 450
    ttl = await redis_client.pttl(f"{key_prefix}rl:{KEY}")
    assert 3_600_000 < ttl <= 86_400_000 + 3_600_000, "the counter must expire after midnight"


async def test_a_job_from_yesterday_gives_nothing_back_today(redis_client, key_prefix):
    limiter, settler = RateLimiter(redis_client, key_prefix), Settler(redis_client, key_prefix)
    day = await reserve(limiter, 300)
    await settler.adjust({"day": day - 1, "spent": {KEY: 600}}, {"tokens": 0})
    assert await counter(redis_client, key_prefix) == (day, 300)


async def test_a_counter_left_from_yesterday_starts_over_with_the_extra(redis_client, key_prefix):
    settler = Settler(redis_client, key_prefix)
    day = await today(redis_client)
    await redis_client.hset(f"{key_prefix}rl:{KEY}", mapping={"d": day - 1, "n": 900})
    await settler.adjust({"day": day - 1, "spent": {KEY: 100}}, {"tokens": 160})
    assert await counter(redis_client, key_prefix) == (day, 60)
