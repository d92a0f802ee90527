"""Inbound provider webhooks: ``POST /v1/webhooks/{provider}/{project_id}``.

No API key: the provider's signature authenticates the delivery (YooKassa's, which are
unsigned, are confirmed by fetching the object back). In the request Tally only
verifies and records: ``parse_webhook`` on the raw bytes, then one ``WebhookEvent`` per
new provider event id, committed before the answer. A bad, stale or forged signature
answers 400 ``invalid_signature`` and records nothing, and so does a delivery naming
an id that is not in its provider's format (``adapters/providers/ids.py``), before the
id is used anywhere; an unknown project, or a project that does not use this provider,
answers 404. Applying the events (confirming payments, activating subscriptions, ...)
happens after the commit, in the outbox worker.

Also the authenticated reads of what was received: ``GET /v1/webhook_events``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapters.outbox import provider_for
from adapters.providers.base import ProviderEvent
from api.auth import TallyDep, get_tally
from api.rate_limits import admit, limiter_of
from api.routes.common import (
    Limit,
    Reader,
    StartingAfter,
    fetch_one,
    fetch_page,
    problems,
    read_problems,
)
from api.schemas import webhooks as s
from api.schemas.common import Page
from api.tally import Tally
from commands import provider_messages as pm
from commands.bus import Context
from commands.provider_errors import InvalidSignature
from domain.errors import NotFound
from domain.limits import TEXT_PATTERN
from domain.provider_settings import PROVIDERS
from domain.rate_limits import RatePolicy, default_policy, policy_for
from projections.api_keys import get_project

router = APIRouter(tags=["webhooks"])

MAX_EVENTS = 100


def _unknown(provider: str, project_id: UUID) -> NotFound:
    return NotFound(f"no project {project_id} receives {provider} webhooks", id=str(project_id))


def _fields(event: ProviderEvent) -> dict[str, Any]:
    fields = dataclasses.asdict(event)
    fields["type"] = str(event.type)
    fields["references"] = dict(event.references)
    # The verified payload, as JSON (Stripe objects and datetimes become plain values).
    plain: dict[str, Any] = storable(json.loads(json.dumps(fields, default=str)))
    return plain


# What no read model can store: NUL (Postgres text and jsonb refuse it) and lone
# surrogates (UTF-8 cannot encode one).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def storable(value: Any) -> Any:
    """``value`` (plain JSON) with every NUL and lone surrogate, in keys and strings at any
    depth, replaced by U+FFFD, and every NaN or infinity by its text. A provider's
    payload is outside text, recorded for audit; one such value in it would make the
    event unstorable by every read model, so it is replaced rather than refused (a
    refusal would only make the provider redeliver)."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        # NaN and +-Infinity (Python's json reads them, and 1e400 as inf): JSON has no
        # such number and Postgres jsonb refuses them, so they are kept as their text.
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def receive_delivery(
    tally: Tally,
    provider_name: str,
    project_id: UUID,
    headers: Mapping[str, str],
    raw_body: bytes,
    source_address: str | None,
) -> dict[str, Any]:
    """Verify and record one delivery; the same path for every provider and the stub's
    own pages. Raises InvalidSignature (nothing recorded) or NotFound."""
    events = verify_delivery(tally, provider_name, project_id, headers, raw_body, source_address)
    return record_delivery(tally, provider_name, project_id, events)


def verify_delivery(
    tally: Tally,
    provider_name: str,
    project_id: UUID,
    headers: Mapping[str, str],
    raw_body: bytes,
    source_address: str | None,
) -> list[ProviderEvent]:
    """The delivery's events once its signature is verified; InvalidSignature or
    NotFound, nothing recorded."""
    # The projects read model, like every query: a project the read models do not know
    # yet cannot have handed its webhook address to a provider.
    if get_project(tally.views, tally.schema, project_id) is None:
        raise _unknown(provider_name, project_id)
    provider = provider_for(tally, project_id)
    if provider.name != provider_name:
        raise _unknown(provider_name, project_id)
    return provider.parse_webhook(headers, raw_body, source_address=source_address)


def record_delivery(
    tally: Tally, provider_name: str, project_id: UUID, events: list[ProviderEvent]
) -> dict[str, Any]:
    """Record a verified delivery's events (one ``WebhookEvent`` per new event id)."""
    if not events:
        return {"recorded": 0, "duplicates": 0, "events": []}
    body: dict[str, Any] = {"recorded": [], "duplicates": []}
    for start in range(0, len(events), MAX_EVENTS):
        chunk = [_fields(e) for e in events[start : start + MAX_EVENTS]]
        command = pm.RecordWebhookEvents(provider=provider_name, events=chunk)
        outcome = tally.execute(command, Context(project_id, f"webhook:{provider_name}"))
        body["recorded"] += outcome.body["recorded"]
        body["duplicates"] += outcome.body["duplicates"]
    if body["recorded"] and tally.outbox is not None:
        tally.outbox.kick()  # apply them now, after the commit
    return {
        "recorded": len(body["recorded"]),
        "duplicates": len(body["duplicates"]),
        "events": [*body["recorded"], *body["duplicates"]],
    }


async def webhook_policy(tally: Tally, provider: str, project_id: UUID) -> RatePolicy:
    """The route's ``webhook`` policy (issue 14: one bucket per project and provider). An
    unknown project or provider gets no bucket (404), so made-up routes cannot fill
    Redis with buckets."""
    project = await run_in_threadpool(get_project, tally.views, tally.schema, project_id)
    if project is None or provider not in PROVIDERS:
        raise _unknown(provider, project_id)
    return policy_for("webhook", project["rate_limits"] or None)


@router.post(
    "/v1/webhooks/{provider}/{project_id}",
    response_model=s.WebhookAnswer,
    summary="Receive a provider's webhook",
    description="Authenticated by the provider's signature, not an API key. Each provider "
    "event is recorded once (a redelivery answers 200 and counts as a duplicate) and "
    "applied after the answer. 400 `invalid_signature`: forged, tampered, stale, "
    "unconfirmed, or naming an id that is not in the provider's id format; nothing was "
    "recorded and nothing was asked of the provider. 503 `provider_unavailable`: the "
    "provider could not be asked what the event needs before it is recorded (YooKassa: "
    "confirming the notification; Stripe: the payment of a paid invoice, or the customer "
    "of a payment method's event); nothing was recorded and the provider redelivers.",
    responses=problems("not_found", "invalid_signature", "provider_unavailable"),
)
async def receive(provider: str, project_id: UUID, request: Request) -> JSONResponse:
    tally = get_tally(request)
    policy = await webhook_policy(tally, provider, project_id)
    source = request.client.host if request.client else None
    # Forged deliveries count in a bucket of their own, per source address (review
    # finding 3): counted in the route's bucket they would lock out the provider's.
    limiter, forged = limiter_of(request), f"{project_id}:{provider}:{source}"
    limiter.check_blocked("webhook_signature", forged)
    raw_body = await request.body()
    headers = dict(request.headers)
    try:
        # Verification may call the provider (YooKassa): off the event loop.
        events = await run_in_threadpool(
            verify_delivery, tally, provider, project_id, headers, raw_body, source
        )
    except InvalidSignature:
        policy_forged = default_policy("webhook_signature")
        await limiter.count_failure("webhook_signature", forged, policy_forged)
        raise
    await admit(request, "webhook", f"{project_id}:{provider}", policy)
    body = await run_in_threadpool(record_delivery, tally, provider, project_id, events)
    return JSONResponse(body, status_code=200)


@router.get(
    "/v1/webhook_events",
    response_model=Page[s.WebhookEvent],
    summary="List received provider events",
    responses=read_problems(),
)
def list_events(
    tally: TallyDep,
    caller: Reader,
    limit: Limit = 20,
    starting_after: StartingAfter = None,
    status: Annotated[
        str | None, Query(pattern="^(received|applied|ignored|parked|failed)$")
    ] = None,
    type: Annotated[str | None, Query(max_length=60, pattern=TEXT_PATTERN)] = None,
) -> Page[s.WebhookEvent]:
    from projections.payments import list_webhook_events

    return fetch_page(
        s.WebhookEvent,
        list_webhook_events,
        tally,
        caller,
        status=status,
        type=type,
        limit=limit,
        starting_after=starting_after,
    )


@router.get(
    "/v1/webhook_events/{event_id}",
    response_model=s.WebhookEvent,
    summary="Get a received provider event",
    responses=read_problems("not_found"),
)
def get_event(event_id: UUID, tally: TallyDep, caller: Reader) -> s.WebhookEvent:
    from projections.payments import get_webhook_event

    return fetch_one(s.WebhookEvent, get_webhook_event, tally, caller, event_id, "webhook event")
