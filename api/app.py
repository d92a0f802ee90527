"""The FastAPI application: routers, error handlers, body limit, background work.

``create_app(tally)`` serves an already built Tally (tests do this). ``app_from_env()`` is
the import-string factory ``tally serve`` hands to uvicorn: each worker process builds its
own Tally from the ``TALLY_*`` environment in the app's lifespan and closes it on shutdown.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import asyncapi, docs_pages, errors, param_analysis, route_index
from api.bootstrap import build
from api.inbound.consumer import inbound_consumer
from api.key_lookups import KeyLookups
from api.proxies import trust_proxies
from api.rate_limits import RateLimitHeaders, make_limiter
from api.routes import (
    accounts,
    audit,
    backtests,
    billing_settings,
    billing_setup,
    carts,
    catalog,
    checkout,
    creators,
    credit_notes,
    credit_purchases,
    credits,
    customer_sessions,
    customers,
    exports,
    health,
    holds,
    identity_provider,
    invoice_documents,
    invoice_payments,
    invoices,
    journal,
    me,
    me_billing,
    meters,
    payment_methods,
    payment_provider,
    payments,
    project_identity,
    project_keys,
    project_webhooks,
    projects,
    provider_subscriptions,
    reports,
    stub_pages,
    subscription_lifecycle,
    subscriptions,
    test_clocks,
    transactions,
    transfers,
    usage,
    usage_thresholds,
    webhook_endpoints,
    webhooks,
)
from api.scheduler import Scheduler
from api.settings import Settings
from api.sweeper import Sweeper
from api.tally import Tally
from domain.limits import MAX_USAGE_BATCH_BYTES

log = logging.getLogger("tally.api")

DESCRIPTION = """\
Tally is an event-sourced billing ledger. Every write is a command recorded as events on
one ordered log; every read is a query over projections of that log.

* **Money** is an integer count of minor units (`1250` EUR is 12.50 EUR) plus an ISO 4217
  currency. Floats and strings are refused, and so is every integer (amounts,
  quantities, counts) written with a fraction or an exponent: `1250.0` and `1.25e3` are
  422 `validation_error` (JSON Schema counts them as integers; this API does not).
* **Authentication**: `Authorization: Bearer tly_<key_id>_<secret>`. A key sees only its
  project; another project's ids answer 404.
* **Idempotency**: every POST accepts `Idempotency-Key`. Same key, same body: the first
  response again with `Idempotency-Replayed: true`. Same key, other body: 409.
* **Read your writes**: every write answers a `Tally-Position` header; pass it as
  `?wait_for_position=` to a query. If the read models do not reach it in time the
  query answers 503 `read_model_behind` with `Retry-After`; a position no write has
  answered yet answers 422 `position_not_issued` at once. A read model stalled on an
  event it cannot apply (named by `/readyz`) is not waited for: a query of it answers
  what it held before that event.
* **Errors** are RFC 9457 problem documents (`application/problem+json`) with a stable
  `code`. 422: the request's own content is refused (invalid amount, unknown currency,
  currency mismatch, insufficient funds, capture above the hold, reversal above what is
  left). 409: the resource's state or another request is in the way (frozen, closed, not
  empty, hold expired or not active, illegal transition, already exists, idempotency key
  reused, concurrent update).
* **Lists** return `{"object": "list", "data": [...], "has_more": bool}`; page with `limit` (1-100,
  default 20) and `starting_after` (the last id you have).
* **Billing**: customers are registered (or retrieved) by your own `external_id`;
  products are plans by code with their features; prices are never edited (a changed
  price is a new one and the old is archived); subscriptions renew on their own (the
  scheduler), or, in test-mode projects, when their test clock is advanced.
"""


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, with or without Content-Length.

    The body is read here, up to the limit, and handed on to the app from memory, so a
    chunked upload cannot slip past a check that only trusts the declared length."""

    def __init__(self, app: ASGIApp, max_bytes: int, by_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Routes whose bodies are larger by design (a batch of usage events).
        self.by_path = by_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.by_path.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = errors.problem(
            "payload_too_large",
            f"the request body is larger than {limit} bytes",
            instance=scope.get("path"),
            max_bytes=limit,
        )
        await response(scope, receive, send)


class Background:
    """The projection worker, the hold sweeper and the subscription scheduler, when the
    settings ask for them."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.worker: Any = None
        self.listener: Any = None
        self.sweeper: Sweeper | None = None
        self.scheduler: Scheduler | None = None

    def start(self) -> None:
        settings = self.tally.settings
        if settings.run_projections:
            from projections.runner import ProjectionWorker

            self.worker = ProjectionWorker(
                self.tally.store, self.tally.views, self.tally.schema, settings.projection_batch
            )
            self.worker.start()
        else:
            # Another process applies the read models (serve's projection process, or
            # ``tally projections run``): its NOTIFY wakes this process's waiting readers.
            from projections.progress import ProgressListener
            from projections.registry import conninfo

            self.listener = ProgressListener(conninfo(self.tally.views), self.tally.schema)
            self.listener.start()
        if settings.run_sweeper:
            self.sweeper = Sweeper(self.tally)
            self.sweeper.start()
        if settings.run_scheduler:
            self.scheduler = Scheduler(self.tally)
            self.scheduler.start()
        if settings.run_outbox and self.tally.outbox is not None:
            self.tally.outbox.start()
        if settings.run_webhooks and self.tally.webhooks is not None:
            self.tally.webhooks.start()
        if settings.run_broker_publisher and self.tally.broker is not None:
            self.tally.broker.start()  # TALLY_BROKER_URL is set

    def stop(self) -> None:
        if self.tally.broker is not None:
            self.tally.broker.stop()
        if self.tally.webhooks is not None:
            self.tally.webhooks.stop()
        if self.tally.outbox is not None:
            self.tally.outbox.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.worker is not None:
            self.worker.stop()
        if self.listener is not None:
            self.listener.stop()


def create_app(tally: Tally | None = None, settings: Settings | None = None) -> FastAPI:
    """The API for ``tally``; without one, the lifespan builds (and closes) its own."""
    settings = tally.settings if tally is not None else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = getattr(app.state, "tally", None) is None
        if owned:
            app.state.tally = build(settings)
        background = Background(app.state.tally)
        app.state.background = background
        # Authentication's reads, on this loop (see api.key_lookups.KeyLookups).
        app.state.key_lookups = KeyLookups(app.state.tally.target.url, app.state.tally.schema)
        # Rate-limit buckets (issue 14): Redis or this process, on this loop.
        app.state.rate_limiter = make_limiter(app.state.tally.settings)
        background.start()
        # Commands in from the broker (issue 12), on this loop.
        inbound = inbound_consumer(app.state.tally)
        app.state.inbound = inbound
        if inbound is not None:
            inbound.start_soon()
        if owned:  # a served worker (tests hand their own Tally in, and keep the defaults)
            settle_heap()
        try:
            yield
        finally:
            if inbound is not None:
                await inbound.stop()
            await app.state.key_lookups.close()
            app.state.key_lookups = None
            await app.state.rate_limiter.close()
            app.state.rate_limiter = None
            background.stop()
            if owned:
                app.state.tally.close()
                app.state.tally = None

    app = FastAPI(
        title="Tally",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by docs_pages from packaged assets, not FastAPI's CDN pages.
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "accounts", "description": "Customer wallets and their movements"},
            {"name": "holds", "description": "Reserve, capture, void"},
            {"name": "transfers", "description": "Between two accounts"},
            {"name": "transactions", "description": "Confirm, fail, reverse"},
            {"name": "journal", "description": "Double-entry journal and system accounts"},
            {"name": "customers", "description": "Your users: register, update, entitlements"},
            {"name": "catalog", "description": "Products (plans), prices, the plan list"},
            {"name": "subscriptions", "description": "Create, change, cancel, pause, resume"},
            {"name": "usage", "description": "Meters, usage events, current usage"},
            {"name": "test clocks", "description": "Frozen time for test-mode projects"},
            {
                "name": "invoices",
                "description": "Drafts, lines, coupons, finalize, pay, void; PDF and HTML",
            },
            {"name": "credit notes", "description": "Lower a finalized invoice; refunds"},
            {"name": "tax rates and coupons", "description": "Tax rates, coupons, promo codes"},
            {"name": "billing settings", "description": "Numbering, dunning, credit balances"},
            {"name": "reports", "description": "Trial balance"},
            {"name": "audit", "description": "The head of the hash-chained log, backtests"},
            {"name": "exports", "description": "The project's events and journal as files"},
            {
                "name": "checkout",
                "description": "Hosted checkouts, carts, the portal, provider calls",
            },
            {"name": "payment methods", "description": "Saved provider references, never cards"},
            {"name": "payment provider", "description": "The project's provider and credentials"},
            {"name": "webhooks", "description": "Provider events in (signature-authenticated)"},
            {"name": "stub provider", "description": "The stub's hosted pages (token-authorized)"},
            {"name": "health", "description": "Liveness and readiness, no authentication"},
            {"name": "operator", "description": "Projects and their keys (operator keys only)"},
        ],
    )
    app.state.tally = tally
    app.state.background = None
    app.state.inbound = None
    errors.install(app)
    for module in (
        accounts,
        holds,
        transfers,
        transactions,
        journal,
        customers,
        catalog,
        subscriptions,
        subscription_lifecycle,
        test_clocks,
        invoices,
        invoice_payments,
        invoice_documents,
        credit_notes,
        billing_setup,
        billing_settings,
        reports,
        meters,
        credits,
        credit_purchases,
        creators,
        audit,
        backtests,
        exports,
        usage,
        usage_thresholds,
        checkout,
        payment_methods,
        payments,
        carts,
        payment_provider,
        provider_subscriptions,
        webhooks,
        webhook_endpoints,
        # Customer access (issue 14).
        identity_provider,
        customer_sessions,
        me,
        me_billing,
        stub_pages,
        health,
        # The operator API (issue 14): operator keys only.
        projects,
        project_keys,
        project_identity,
        project_webhooks,
    ):
        app.include_router(module.router)
    app.include_router(webhook_endpoints.deliveries)
    docs_pages.install(app)
    asyncapi.install(app)
    route_index.install(app)  # each request's route from a table, not a scan of them all
    param_analysis.install()  # each parameter's annotation analysed once, not per request
    # Inside BodyLimit: its 413 is answered before any bucket is counted.
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        by_path={"/v1/usage_events/batch": max(settings.max_body_bytes, MAX_USAGE_BATCH_BYTES)},
    )
    trust_proxies(app, settings.trusted_proxies)  # outermost: every bucket sees the client
    install_openapi(app)
    return app


def install_openapi(app: FastAPI) -> None:
    """Errors are documented as ``application/problem+json`` only (FastAPI also lists
    ``application/json`` for every response model), FastAPI's own validation-error
    schemas, which this API never answers, are dropped, integer bounds stay integers
    (``integral_bounds``) and maps refuse keys outside their pattern (``closed_maps``)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            for operation in (op for path in spec["paths"].values() for op in path.values()):
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and errors.PROBLEM_JSON in content:
                        content.pop("application/json", None)
            for name in ("HTTPValidationError", "ValidationError"):
                spec.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = closed_maps(integral_bounds(spec))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def integral_bounds(node: Any) -> Any:
    """``node`` with every whole-number bound written as an integer.

    FastAPI's OpenAPI models hold bounds as floats, so ``le=10**15`` was documented as
    ``1000000000000000.0``. A client (or a fuzzer) that sends the bound as written sends
    a number with a fraction part, which the API refuses (amounts are integers written
    as such): the document must state the bound as the integer it is."""
    if isinstance(node, dict):
        return {
            key: int(value)
            if key in BOUNDS and isinstance(value, float) and value.is_integer()
            else integral_bounds(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [integral_bounds(item) for item in node]
    return node


def closed_maps(node: Any) -> Any:
    """``node`` with ``additionalProperties: false`` beside every ``patternProperties``.

    pydantic documents a map whose keys have a pattern (metadata, credentials) as
    ``patternProperties: {<key pattern>: <value>}``, which leaves every other key open to
    any value, while it refuses such a key: the document must say so."""
    if isinstance(node, dict):
        closed = {key: closed_maps(value) for key, value in node.items()}
        if "patternProperties" in closed:
            closed.setdefault("additionalProperties", False)
        return closed
    if isinstance(node, list):
        return [closed_maps(item) for item in node]
    return node


def settle_heap() -> None:
    """Once a worker has started: the objects made so far (the app, its routes, models
    and schemas: about 260,000) live as long as the process, so they are moved out of
    the cyclic collector's generations (``gc.freeze``), and young collections wait for
    10,000 net allocations instead of 700. Every full collection walked them all, and a
    batch of 500 usage events set off hundreds of collections: in-process, 41 us of
    collector per event, 45 us of CPU per event before, 29 after (cycles are still
    collected, less often)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from the environment, one per worker."""
    settings = Settings()
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
    return create_app(settings=settings)
