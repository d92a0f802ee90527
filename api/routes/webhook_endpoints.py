"""Webhook endpoints and deliveries (issue 12): where Tally sends a project's
``billing.*`` events (docs/events.md), signed as the Standard Webhooks spec says.

The signing secret is answered once, by the create (and by a rotation); GET never shows
it. A rotation keeps the previous secret signing for ``previous_expires_in_s``, so both
signatures arrive in ``webhook-signature`` until the receiver has switched. Every
delivery attempt is listed at ``/v1/webhook_deliveries`` and can be sent again.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.routes.common import (
    POSITION_HEADER,
    IdempotencyKey,
    Limit,
    Reader,
    StartingAfterId,
    created_object,
    execute,
    fetch_one,
    fetch_page,
    found_or_404,
    read_problems,
    respond,
    write_responses,
)
from api.schemas import webhook_endpoints as s
from api.schemas.common import Page
from api.tally import Tally
from commands import webhook_endpoints as c
from commands.bus import Outcome
from domain.limits import MAX_WEBHOOK_ENDPOINTS_PER_PROJECT

router = APIRouter(prefix="/v1/webhook_endpoints", tags=["webhooks"])
deliveries = APIRouter(prefix="/v1/webhook_deliveries", tags=["webhooks"])


def with_secret(tally: Tally, outcome: Outcome) -> Outcome:
    """The endpoint, with its new secret opened (the answer holds it sealed)."""
    shown = created_object(outcome, "webhook_endpoint")
    secret = tally.providers.secrets.open(outcome.body["sealed_secret"])
    return Outcome(shown.happened, {**shown.body, "secret": secret}, shown.replayed, shown.position)


def _endpoint(tally: Tally, project_id: UUID, endpoint_id: UUID) -> dict[str, Any]:
    from projections.webhook_endpoints import get_endpoint

    found = get_endpoint(tally.views, tally.schema, project_id, endpoint_id)
    return found_or_404(found, "webhook endpoint", endpoint_id)


@router.post(
    "",
    status_code=201,
    response_model=s.WebhookEndpointWithSecret,
    summary="Create a webhook endpoint",
    description="Its `secret` is in this answer only. It gets the project's events from "
    "now on, in log order. Needs the server's TALLY_SECRETS_KEY (to store the secret). "
    f"A project has at most {MAX_WEBHOOK_ENDPOINTS_PER_PROJECT} endpoints that are not "
    "deleted: one more answers 409 `limit_reached`.",
    responses=write_responses(
        201, "webhook_url_not_allowed", "secret_storage_disabled", "limit_reached"
    ),
)
def create_endpoint(
    body: s.CreateWebhookEndpointRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = c.CreateWebhookEndpoint(**body.model_dump())
    outcome = execute(tally, caller, command, key)
    return respond(with_secret(tally, outcome), s.WebhookEndpointWithSecret)


@router.get(
    "",
    response_model=Page[s.WebhookEndpoint],
    summary="List webhook endpoints",
    responses=read_problems(),
)
def list_endpoints(
    tally: TallyDep, caller: Reader, limit: Limit = 20, starting_after: StartingAfterId = None
) -> Page[s.WebhookEndpoint]:
    from projections.webhook_endpoints import list_endpoints as query

    return fetch_page(
        s.WebhookEndpoint, query, tally, caller, limit=limit, starting_after=starting_after
    )


@router.get(
    "/{endpoint_id}",
    response_model=s.WebhookEndpoint,
    summary="Get a webhook endpoint",
    responses=read_problems("not_found"),
)
def get_endpoint(endpoint_id: UUID, tally: TallyDep, caller: Reader) -> s.WebhookEndpoint:
    from projections.webhook_endpoints import get_endpoint as query

    return fetch_one(s.WebhookEndpoint, query, tally, caller, endpoint_id, "webhook endpoint")


@router.post(
    "/{endpoint_id}",
    response_model=s.WebhookEndpoint,
    summary="Update a webhook endpoint",
    responses=write_responses(200, "not_found", "invalid_transition", "webhook_url_not_allowed"),
)
def update_endpoint(
    endpoint_id: UUID,
    body: s.UpdateWebhookEndpointRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = c.UpdateWebhookEndpoint(endpoint_id=endpoint_id, **body.model_dump())
    outcome = execute(tally, caller, command, key)
    return respond(created_object(outcome, "webhook_endpoint"), s.WebhookEndpoint)


@router.post(
    "/{endpoint_id}/rotate_secret",
    response_model=s.WebhookEndpointWithSecret,
    summary="Rotate a webhook endpoint's secret",
    description="A new secret, in this answer only; the previous one keeps signing beside it "
    "for `previous_expires_in_s`.",
    responses=write_responses(200, "not_found", "invalid_transition", "secret_storage_disabled"),
)
def rotate_secret(
    endpoint_id: UUID,
    body: s.RotateSecretRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = c.RotateWebhookSecret(endpoint_id=endpoint_id, **body.model_dump())
    outcome = execute(tally, caller, command, key)
    return respond(with_secret(tally, outcome), s.WebhookEndpointWithSecret)


@router.post(
    "/{endpoint_id}/delete",
    response_model=s.WebhookEndpoint,
    summary="Delete a webhook endpoint",
    description="Nothing more is sent to it; it leaves the list.",
    responses=write_responses(200, "not_found", "invalid_transition"),
)
def delete_endpoint(
    endpoint_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    outcome = execute(tally, caller, c.DeleteWebhookEndpoint(endpoint_id=endpoint_id), key)
    return respond(created_object(outcome, "webhook_endpoint"), s.WebhookEndpoint)


@deliveries.get(
    "",
    response_model=Page[s.WebhookDelivery],
    summary="List webhook delivery attempts",
    description="Every attempt, oldest first: status, HTTP status, latency and the start of "
    "the receiver's answer.",
    responses=read_problems("not_found"),
)
def list_deliveries(
    tally: TallyDep,
    caller: Reader,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
    endpoint_id: Annotated[UUID | None, Query(description="Of this endpoint only")] = None,
) -> Page[s.WebhookDelivery]:
    from adapters.webhook_attempts import list_attempts

    if endpoint_id is not None:
        _endpoint(tally, caller.project_id, endpoint_id)
    return fetch_page(
        s.WebhookDelivery, list_attempts, tally, caller,
        limit=limit, starting_after=starting_after, endpoint_id=endpoint_id,
    )  # fmt: skip


@deliveries.get(
    "/{delivery_id}",
    response_model=s.WebhookDelivery,
    summary="Get a webhook delivery attempt",
    responses=read_problems("not_found"),
)
def get_delivery(delivery_id: UUID, tally: TallyDep, caller: Reader) -> s.WebhookDelivery:
    from adapters.webhook_attempts import get_attempt

    return fetch_one(s.WebhookDelivery, get_attempt, tally, caller, delivery_id, "delivery")


@deliveries.post(
    "/{delivery_id}/redeliver",
    status_code=201,
    response_model=s.WebhookDelivery,
    summary="Send an attempt's event again",
    description="Sends the event again now, with the same `webhook-id`, to the same endpoint, "
    "and answers the new attempt (which may have failed: see its `status`). The endpoint's "
    "place in the log does not move. Under the same `Idempotency-Key` it answers that "
    "attempt again and sends nothing. It records no event: `Tally-Position` is the "
    "event's own position.",
    responses=write_responses(201, "not_found"),
)
def redeliver(
    delivery_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    attempt = tally.webhooks.redeliver(caller.project_id, delivery_id, key)
    shown = s.WebhookDelivery.model_validate(found_or_404(attempt, "delivery", delivery_id))
    headers = {POSITION_HEADER: str(shown.position)}
    return JSONResponse(shown.model_dump(mode="json"), status_code=201, headers=headers)
