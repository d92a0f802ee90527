"""Rate limits (issue 14): a moving window per bucket, counted by the ``limits`` library in
Redis when ``TALLY_REDIS_URL`` is set (shared by every server worker and every server),
else in each process's memory by the same algorithm (``LocalWindows``, which says why
not the library's memory storage).

A bucket is one API key, one customer token's principal, one operator key, or one inbound
webhook route (project and provider); failures count apart, per source address
(``count_failure``: forged webhook deliveries, refused credentials). Its policy,
``requests`` per ``window_s`` seconds, is the project's own (set by the operator API)
or the default (``domain.limits``).

The strategy is the library's moving window: a request is admitted when fewer than
``requests`` were admitted in the ``window_s`` seconds before it. In Redis that decision
is one Lua script (check and record at once), so it is exact however many workers share
the bucket; in memory it is taken on the event loop's one thread. The fixed window would
admit up to twice the policy across a window's edge, and the sliding-window counter
weighs the previous window's count, so it can admit more than the policy in some
window; a moving window never does. Its cost is one list entry per admitted request
(at most ``requests`` per bucket).

With Redis, admitting costs one Redis round trip, awaited on the event loop (the library's async
storage over redis-py's asyncio client), never a thread. A refusal costs a second one
(the window's state, for ``Retry-After`` and ``RateLimit``). A success answers
``RateLimit-Policy`` only: its remaining quota would cost that second round trip on
every request. Without Redis the bucket is at hand, so a success answers ``RateLimit``
too.

Redis unreachable or slower than ``REDIS_TIMEOUT_S``: the request is admitted and one
warning is logged per ``WARN_EVERY_S`` (a rate limit protects the service; refusing
every request because its counter is away would be the outage it guards against), and
for ``SKIP_REDIS_S`` after it every request is admitted without asking Redis, so that a
Redis that never answers costs one request in five seconds its timeout, not each.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import RateLimited
from api.local_windows import LocalWindows
from domain.errors import Unauthenticated
from domain.rate_limits import RatePolicy, default_policy, policy_for

log = logging.getLogger("tally.rate_limits")

REDIS_TIMEOUT_S = 0.5
# After Redis fails or times out, requests are admitted without asking it for this long
# (review finding 12): a Redis that accepts connections and never answers would
# otherwise add REDIS_TIMEOUT_S to every request.
SKIP_REDIS_S = 5.0
WARN_EVERY_S = 60.0
# Blocked identities kept per process at most (``RateLimiter.count_failure``); past it,
# expired ones are dropped, and a new one is refused but not remembered.
MAX_BLOCKED = 100_000
# Where a request's headers wait for its answer (``RateLimitHeaders``), in its scope's state.
STATE_KEY = "rate_limit_headers"
# Response headers as ASGI sends them: (lower-case name, value) in bytes.
Headers = tuple[tuple[bytes, bytes], ...]


def policy_header(kind: str, policy: RatePolicy) -> str:
    """``RateLimit-Policy`` (draft-ietf-httpapi-ratelimit-headers-09): the policy named
    after the bucket's kind, quota ``q`` per window ``w`` seconds."""
    return f'"{kind}";q={policy.requests};w={policy.window_s}'


class RateLimiter:
    """The buckets of one server process (their counts: Redis, or this process)."""

    def __init__(
        self, redis_url: str | None, prefix: str, skip_redis_s: float = SKIP_REDIS_S
    ) -> None:
        self.shared = redis_url is not None
        self.skip_redis_s = skip_redis_s
        # Redis is not asked before this (time.monotonic()): it failed or timed out.
        self._skip_until = -math.inf
        self.storage: Any = None
        self.local: LocalWindows | None = None
        if redis_url is not None:
            self.storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=prefix,
                socket_timeout=REDIS_TIMEOUT_S,
                socket_connect_timeout=REDIS_TIMEOUT_S,
            )
            self.limiter = MovingWindowRateLimiter(self.storage)
        else:
            self.local = LocalWindows()
        self._items: dict[RatePolicy, RateLimitItem] = {}
        self._headers: dict[tuple[str, RatePolicy], Headers] = {}
        self._warned_at = -math.inf
        # Identities whose failures bucket is empty: (when a place frees, its policy).
        self._blocked: dict[tuple[str, str], tuple[float, RatePolicy]] = {}

    def _admitted(self, kind: str, policy: RatePolicy) -> Headers:
        """The headers of an admitted request, as ASGI sends them (made once per policy;
        never changed)."""
        headers = self._headers.get((kind, policy))
        if headers is None:
            value = policy_header(kind, policy).encode()
            headers = self._headers[kind, policy] = ((b"ratelimit-policy", value),)
        return headers

    def _item(self, policy: RatePolicy) -> RateLimitItem:
        item = self._items.get(policy)
        if item is None:
            item = self._items[policy] = RateLimitItemPerSecond(policy.requests, policy.window_s)
        return item

    async def admit(self, kind: str, identity: str, policy: RatePolicy) -> Headers:
        """Count one request of the bucket (``kind``, ``identity``): the headers of its
        answer, or ``RateLimited`` (with its own headers) when the bucket is empty."""
        if self.local is not None:
            return self._admit_local(self.local, kind, identity, policy)
        reset_at = await self._hit(kind, identity, policy)
        if reset_at is None:
            return self._admitted(kind, policy)
        raise refusal(kind, policy, reset_at)

    def _admit_local(
        self, local: LocalWindows, kind: str, identity: str, policy: RatePolicy
    ) -> Headers:
        """``admit`` without Redis: the bucket is at hand, so an admitted answer also
        carries ``RateLimit`` (review finding 11), its remaining quota and the seconds
        until the oldest entry leaves the window (a place frees)."""
        key, now = _local_key(kind, identity, policy), time.time()
        reset_at = local.hit(key, policy, now)
        if reset_at is not None:
            raise refusal(kind, policy, reset_at)
        times = local.buckets[key][0]
        remaining = policy.requests - len(times)
        reset = max(1, math.ceil(times[0] + policy.window_s - now))
        value = f'"{kind}";r={remaining};t={reset}'.encode()
        return (*self._admitted(kind, policy), (b"ratelimit", value))

    def check_blocked(self, kind: str, identity: str) -> None:
        """``RateLimited`` while ``count_failure`` has found the bucket empty, until a
        place frees; nothing asked of Redis (the check runs before every delivery or
        authentication, so it must cost nothing)."""
        found = self._blocked.get((kind, identity))
        if found is not None:
            reset_at, policy = found
            if reset_at > time.time():
                raise refusal(kind, policy, reset_at)
            del self._blocked[kind, identity]

    async def count_failure(self, kind: str, identity: str, policy: RatePolicy) -> None:
        """Count one failure (a forged delivery, a refused credential) in its bucket.
        When the bucket is empty, ``identity`` is blocked in this process until a place
        frees (``check_blocked``), and ``RateLimited`` is raised. Each process learns it
        from its own next failure, so with N workers up to N more get through."""
        reset_at = await self._hit(kind, identity, policy)
        if reset_at is None:
            return
        if len(self._blocked) >= MAX_BLOCKED:
            now = time.time()
            self._blocked = {k: v for k, v in self._blocked.items() if v[0] > now}
        if len(self._blocked) < MAX_BLOCKED:
            self._blocked[kind, identity] = (reset_at, policy)
        raise refusal(kind, policy, reset_at)

    async def _hit(self, kind: str, identity: str, policy: RatePolicy) -> float | None:
        """Count one request of the bucket: None when admitted (or Redis away), else
        when a place frees."""
        if self.local is not None:
            return self.local.hit(_local_key(kind, identity, policy), policy, time.time())
        if time.monotonic() < self._skip_until:
            return None  # Redis failed a moment ago: admitted without asking it
        item = self._item(policy)
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S):
                if await self.limiter.hit(item, kind, identity):
                    return None
                reset_at, _remaining = await self.limiter.get_window_stats(item, kind, identity)
        except Exception as exc:  # Redis away or slow: admitted (see the module's docstring)
            self._skip_until = time.monotonic() + self.skip_redis_s
            self._warn(exc)
            return None
        return float(reset_at)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            # The class only: a Redis error's text may quote its URL (and password).
            log.warning("rate limit storage unavailable, admitting: %s", type(exc).__name__)

    async def close(self) -> None:
        if self.shared:
            bridge = getattr(self.storage, "bridge", None)
            client = getattr(bridge, "storage", None)
            if client is not None:
                await client.aclose()


def _local_key(kind: str, identity: str, policy: RatePolicy) -> str:
    # The bucket's key names its policy, as the library's does (a changed policy starts
    # a new bucket).
    return f"{kind}/{identity}/{policy.requests}/{policy.window_s}"


def refusal(kind: str, policy: RatePolicy, reset_at: float) -> RateLimited:
    """The 429 of an empty bucket whose oldest entry leaves the window at ``reset_at``."""
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return RateLimited(
        f"more than {policy.requests} requests in {policy.window_s} s for this {kind}; "
        f"retry after {retry_after} s",
        limit=policy.requests,
        window_s=policy.window_s,
        retry_after_s=retry_after,
        headers={
            "Retry-After": str(retry_after),
            "RateLimit-Policy": policy_header(kind, policy),
            "RateLimit": f'"{kind}";r=0;t={retry_after}',
        },
    )


def limiter_of(request: Request) -> RateLimiter:
    """The app's limiter; made here if the app runs without its lifespan."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        settings = request.app.state.tally.settings
        limiter = request.app.state.rate_limiter = make_limiter(settings)
    return limiter


def make_limiter(settings: Any) -> RateLimiter:
    url = None if settings.redis_url is None else settings.redis_url.get_secret_value()
    return RateLimiter(url, f"{settings.rate_limit_prefix}:{settings.db_schema}")


async def admit(request: Request, kind: str, identity: str, policy: RatePolicy) -> None:
    """Count the request against its bucket (429 ``rate_limited`` when empty); its
    answer gets the bucket's headers (``RateLimitHeaders``)."""
    headers = await limiter_of(request).admit(kind, identity, policy)
    request.scope.setdefault("state", {})[STATE_KEY] = headers


async def admit_customer(request: Request, project_id: UUID, rate_key: str) -> None:
    """Count a customer's request (``api.customer_auth``: one bucket per customer,
    whichever token it shows) under its project's ``customer`` policy, read from the
    projects read model (customer requests are not the hot path; project keys get
    their policy with the key's own lookup)."""
    from projections.api_keys import get_project

    tally = request.app.state.tally
    row = await run_in_threadpool(get_project, tally.views, tally.schema, project_id)
    policy = policy_for("customer", row["rate_limits"] if row else None)
    await admit(request, "customer", rate_key, policy)


class RateLimitHeaders:
    """Adds a request's rate-limit headers (``admit``) to its answer, whatever the route
    answers (a response object of its own, too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: Headers | None = scope.get("state", {}).get(STATE_KEY)
                # A refusal carries its own (RateLimited's headers), so not twice.
                if headers and message.get("status") != 429:
                    message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, with_headers)


class failures_counted:  # noqa: N801 (used as a function: ``async with failures_counted(r)``)
    """Around the lookup of a well-formed credential (review finding 7): refused 429
    while the client address's ``auth_failure`` bucket is empty, before anything is
    looked up; each ``Unauthenticated`` inside is counted in that bucket, and the one
    that finds it empty answers 429. A credential refused by its form alone (a wrong
    prefix, too long) costs no lookup and is not counted. A class, not
    ``contextlib.asynccontextmanager``: it runs on every authenticated request, and the
    generator version took about 12 us per request in a loop on the loaded build box,
    this one 2 to 8 us."""

    __slots__ = ("address", "limiter")

    def __init__(self, request: Request) -> None:
        self.limiter = limiter_of(request)
        client = request.scope.get("client")
        self.address = str(client[0]) if client else "unknown"

    async def __aenter__(self) -> None:
        self.limiter.check_blocked("auth_failure", self.address)

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None and issubclass(kind, Unauthenticated):
            policy = default_policy("auth_failure")
            await self.limiter.count_failure("auth_failure", self.address, policy)
