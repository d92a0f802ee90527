"""``RateLimiter.count_failure`` with its buckets in the Redis at 6379 (review findings 3
and 7): two limiters (two server processes) share a failures bucket; each blocks the
identity once its own failure finds the bucket empty, with no Redis call for the
check."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from api.errors import RateLimited
from api.rate_limits import RateLimiter
from domain.rate_limits import RatePolicy

REDIS_URL = "redis://127.0.0.1:6379/0"


async def _scenario(prefix: str) -> None:
    one, two = RateLimiter(REDIS_URL, prefix), RateLimiter(REDIS_URL, prefix)
    policy = RatePolicy(2, 60)
    try:
        await one.count_failure("auth_failure", "192.0.2.1", policy)
        await two.count_failure("auth_failure", "192.0.2.1", policy)
        two.check_blocked("auth_failure", "192.0.2.1")  # not yet: the bucket had room
        with pytest.raises(RateLimited):  # the shared bucket is empty
            await one.count_failure("auth_failure", "192.0.2.1", policy)
        with pytest.raises(RateLimited):
            one.check_blocked("auth_failure", "192.0.2.1")
        two.check_blocked("auth_failure", "192.0.2.1")  # the other process learns later
        with pytest.raises(RateLimited):
            await two.count_failure("auth_failure", "192.0.2.1", policy)
        with pytest.raises(RateLimited):
            two.check_blocked("auth_failure", "192.0.2.1")
    finally:
        await one.close()
        await two.close()


def test_processes_share_a_failures_bucket_in_redis_and_each_blocks_on_its_own() -> None:
    asyncio.run(_scenario(f"fixrate-test-{uuid.uuid4().hex}"))
