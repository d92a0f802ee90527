"""The operator API's view of a project's webhook endpoints (issue 14): the same commands,
bodies and answers as ``/v1/webhook_endpoints`` (``api/routes/webhook_endpoints.py``),
which the project's own key calls, here for the operator on any project named in the
path. An unknown project answers 404 before any command runs, so nothing is recorded
under a project that does not exist."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import TallyDep
from api.operator_auth import OperatorDep
from api.routes.common import (
    IdempotencyKey,
    Limit,
    StartingAfterId,
    created_object,
    found_or_404,
    page,
    read_problems,
    respond,
    write_responses,
)
from api.routes.projects import OperatorReader, require_project
from api.routes.webhook_endpoints import with_secret
from api.schemas import webhook_endpoints as s
from api.schemas.common import Page
from commands import webhook_endpoints as c
from domain.limits import MAX_WEBHOOK_ENDPOINTS_PER_PROJECT

router = APIRouter(prefix="/v1/projects/{project_id}/webhook_endpoints", tags=["operator"])


@router.post(
    "",
    status_code=201,
    response_model=s.WebhookEndpointWithSecret,
    summary="Create a project's webhook endpoint",
    description="As `POST /v1/webhook_endpoints`: its `secret` is in this answer only; at "
    f"most {MAX_WEBHOOK_ENDPOINTS_PER_PROJECT} endpoints that are not deleted per project.",
    responses=write_responses(
        201, "not_found", "webhook_url_not_allowed", "secret_storage_disabled", "limit_reached"
    ),
)
def create_endpoint(
    project_id: UUID,
    body: s.CreateWebhookEndpointRequest,
    tally: TallyDep,
    operator: OperatorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    require_project(tally, project_id)
    command = c.CreateWebhookEndpoint(**body.model_dump())
    outcome = tally.execute(command, operator.context(project_id, key))
    return respond(with_secret(tally, outcome), s.WebhookEndpointWithSecret)


@router.get(
    "",
    response_model=Page[s.WebhookEndpoint],
    summary="List a project's webhook endpoints",
    responses=read_problems("not_found"),
)
def list_endpoints(
    project_id: UUID,
    tally: TallyDep,
    operator: OperatorReader,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[s.WebhookEndpoint]:
    from projections.webhook_endpoints import list_endpoints as query

    require_project(tally, project_id)
    rows, has_more = query(
        tally.views, tally.schema, project_id, limit=limit, starting_after=starting_after
    )
    return page(s.WebhookEndpoint, rows, has_more)


@router.get(
    "/{endpoint_id}",
    response_model=s.WebhookEndpoint,
    summary="Get a project's webhook endpoint",
    responses=read_problems("not_found"),
)
def get_endpoint(
    project_id: UUID, endpoint_id: UUID, tally: TallyDep, operator: OperatorReader
) -> s.WebhookEndpoint:
    from projections.webhook_endpoints import get_endpoint as query

    require_project(tally, project_id)
    found = query(tally.views, tally.schema, project_id, endpoint_id)
    return s.WebhookEndpoint.model_validate(found_or_404(found, "webhook endpoint", endpoint_id))


@router.post(
    "/{endpoint_id}",
    response_model=s.WebhookEndpoint,
    summary="Update a project's webhook endpoint",
    responses=write_responses(200, "not_found", "invalid_transition", "webhook_url_not_allowed"),
)
def update_endpoint(
    project_id: UUID,
    endpoint_id: UUID,
    body: s.UpdateWebhookEndpointRequest,
    tally: TallyDep,
    operator: OperatorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    require_project(tally, project_id)
    command = c.UpdateWebhookEndpoint(endpoint_id=endpoint_id, **body.model_dump())
    outcome = tally.execute(command, operator.context(project_id, key))
    return respond(created_object(outcome, "webhook_endpoint"), s.WebhookEndpoint)


@router.post(
    "/{endpoint_id}/rotate_secret",
    response_model=s.WebhookEndpointWithSecret,
    summary="Rotate a project's webhook endpoint's secret",
    description="As `POST /v1/webhook_endpoints/{endpoint_id}/rotate_secret`.",
    responses=write_responses(200, "not_found", "invalid_transition", "secret_storage_disabled"),
)
def rotate_secret(
    project_id: UUID,
    endpoint_id: UUID,
    body: s.RotateSecretRequest,
    tally: TallyDep,
    operator: OperatorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    require_project(tally, project_id)
    command = c.RotateWebhookSecret(endpoint_id=endpoint_id, **body.model_dump())
    outcome = tally.execute(command, operator.context(project_id, key))
    return respond(with_secret(tally, outcome), s.WebhookEndpointWithSecret)


@router.post(
    "/{endpoint_id}/delete",
    response_model=s.WebhookEndpoint,
    summary="Delete a project's webhook endpoint",
    responses=write_responses(200, "not_found", "invalid_transition"),
)
def delete_endpoint(
    project_id: UUID,
    endpoint_id: UUID,
    tally: TallyDep,
    operator: OperatorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    require_project(tally, project_id)
    command = c.DeleteWebhookEndpoint(endpoint_id=endpoint_id)
    outcome = tally.execute(command, operator.context(project_id, key))
    return respond(created_object(outcome, "webhook_endpoint"), s.WebhookEndpoint)
