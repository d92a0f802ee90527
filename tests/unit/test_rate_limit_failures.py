"""``RateLimiter.count_failure`` and ``check_blocked`` (review findings 3 and 7), counted
in the process: failures fill their bucket, the one that finds it empty is refused and
blocks its identity (and only it) until a place frees, then it is free again."""

from __future__ import annotations

import asyncio
import time

import pytest

from api.errors import RateLimited
from api.rate_limits import RateLimiter
from domain.rate_limits import RatePolicy


async def _scenario(limiter: RateLimiter, policy: RatePolicy) -> None:
    for _ in range(policy.requests):
        limiter.check_blocked("auth_failure", "192.0.2.1")
        await limiter.count_failure("auth_failure", "192.0.2.1", policy)
    with pytest.raises(RateLimited) as refused:
        await limiter.count_failure("auth_failure", "192.0.2.1", policy)
    assert refused.value.headers["RateLimit-Policy"] == '"auth_failure";q=2;w=1'
    with pytest.raises(RateLimited):
        limiter.check_blocked("auth_failure", "192.0.2.1")
    limiter.check_blocked("auth_failure", "192.0.2.2")  # another address: free
    limiter.check_blocked("webhook_signature", "192.0.2.1")  # another kind: free


def test_a_failures_bucket_blocks_its_identity_until_a_place_frees() -> None:
    limiter, policy = RateLimiter(None, "unit"), RatePolicy(2, 1)
    asyncio.run(_scenario(limiter, policy))
    time.sleep(1.05)
    limiter.check_blocked("auth_failure", "192.0.2.1")  # the window has passed
    asyncio.run(limiter.count_failure("auth_failure", "192.0.2.1", policy))
