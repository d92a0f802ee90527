"""Review finding 12: a Redis that accepts connections and never answers costs one request
its timeout (``REDIS_TIMEOUT_S``), not every request: after a failure the limiter admits
without asking Redis for ``skip_redis_s``, then asks again. The "Redis" is a local TCP
server that accepts and never answers (no Redis, nothing of ours faked)."""

from __future__ import annotations

import asyncio
import time

from api.rate_limits import REDIS_TIMEOUT_S, RateLimiter
from domain.rate_limits import RatePolicy


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(-1)  # reads what comes, answers nothing, until the client leaves
    writer.close()


async def _timed(limiter: RateLimiter, policy: RatePolicy) -> float:
    started = time.monotonic()
    headers = await limiter.admit("api_key", "k", policy)
    assert headers  # admitted (fail-open), with the policy's header
    return time.monotonic() - started


async def _scenario() -> tuple[float, list[float], float]:
    server = await asyncio.start_server(_silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = RateLimiter(f"redis://127.0.0.1:{port}/0", "breaker-test", skip_redis_s=1.0)
    policy = RatePolicy(1, 60)  # one request a minute: every admit after the first is Redis-free
    try:
        first = await _timed(limiter, policy)
        skipped = [await _timed(limiter, policy) for _ in range(20)]
        await asyncio.sleep(1.05)
        again = await _timed(limiter, policy)
    finally:
        await limiter.close()
        server.close()
    return first, skipped, again


def test_a_silent_redis_is_skipped_for_a_while_after_a_timeout_then_asked_again() -> None:
    first, skipped, again = asyncio.run(_scenario())
    assert first >= REDIS_TIMEOUT_S * 0.9  # waited for the silent server once
    assert sum(skipped) < 0.05, skipped  # then admitted without asking it
    assert again >= REDIS_TIMEOUT_S * 0.9  # and asked again once the skip is over
