"""The operator API's projects (issue 14): register, list, get, update name, mode and
default currency, rate limits, and the project's payment provider.

Every route here takes an operator key (``api.operator_auth``) and no project key; the
project's keys are in ``api/routes/project_keys.py``. The writes run the same commands
as ``tally projects ...`` (``commands/projects.py``).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import TallyDep
from api.customer_auth import load_aggregate
from api.errors import PositionNotIssued
from api.operator_auth import OperatorCaller, OperatorDep
from api.routes.common import (
    IdempotencyKey,
    Limit,
    StartingAfterId,
    _wait,
    behind,
    create_responses,
    created_object,
    found_or_404,
    page,
    read_problems,
    respond,
    write_responses,
)
from api.routes.payment_provider import configure_command, shown_settings
from api.schemas.common import Page
from api.schemas.payment_provider import ProviderSettingsRequest, ProviderSettingsResult
from api.schemas.projects import (
    CreateProjectRequest,
    Project,
    RateLimitsRequest,
    UpdateProjectRequest,
)
from api.tally import NO_PROJECT, Tally
from commands import messages as m
from commands import operator_messages as om
from domain.errors import NotFound
from domain.projects import Project as ProjectAggregate

router = APIRouter(tags=["operator"])


async def operator_read(
    tally: TallyDep,
    operator: OperatorDep,
    wait_for_position: Annotated[
        int | None,
        Query(
            ge=0,
            description="Wait until the read models hold this position (as "
            "every query of the API; docs/api.md)",
        ),
    ] = None,
) -> OperatorCaller:
    """The operator's ``read_after``: authenticates, then waits for the position if asked."""
    if wait_for_position is not None:
        timeout_s = tally.settings.read_wait_max_ms / 1000
        reached = await run_in_threadpool(_wait, tally, wait_for_position, timeout_s)
        if reached is None:
            raise PositionNotIssued(
                f"no write has answered position {wait_for_position} yet",
                position=wait_for_position,
            )
        if not reached:
            raise behind(tally, wait_for_position)
    return operator


OperatorReader = Annotated[OperatorCaller, Depends(operator_read)]


def require_project(tally: Tally, project_id: UUID) -> None:
    """404 unless the project exists, as the event store holds it now (so a project
    registered a moment ago is found before its read model has caught up)."""
    if load_aggregate(tally, project_id, ProjectAggregate) is None:
        raise NotFound(f"project {project_id} not found", id=str(project_id))


@router.post(
    "/v1/projects",
    response_model=Project,
    status_code=201,
    summary="Register a project",
    description="A new project (tenant), without keys: issue them with "
    "`POST /v1/projects/{project_id}/api_keys`.",
    responses=create_responses(Project, "Never: a project is new each time"),
)
def create_project(
    body: CreateProjectRequest, tally: TallyDep, operator: OperatorDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.CreateProject(name=body.name, mode=body.mode)
    outcome = tally.execute(command, operator.context(NO_PROJECT, key))
    return respond(created_object(outcome, "project"), Project)


@router.get(
    "/v1/projects",
    response_model=Page[Project],
    summary="List projects",
    description="In the order they were registered.",
    responses=read_problems(),
)
def list_projects(
    tally: TallyDep,
    operator: OperatorReader,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[Project]:
    from projections.api_keys import page_projects

    rows, has_more = page_projects(tally.views, tally.schema, limit, starting_after)
    return page(Project, rows, has_more)


@router.get(
    "/v1/projects/{project_id}",
    response_model=Project,
    summary="Get a project",
    responses=read_problems("not_found"),
)
def get_project(project_id: UUID, tally: TallyDep, operator: OperatorReader) -> Project:
    from projections.api_keys import get_project as query

    row = found_or_404(query(tally.views, tally.schema, project_id), "project", project_id)
    return Project.model_validate(row)


@router.post(
    "/v1/projects/{project_id}",
    response_model=Project,
    summary="Update a project",
    description="Its name, mode (`live` or `test`) and default currency; a field left out "
    "keeps its value.",
    responses=write_responses(200, "not_found", "unknown_currency"),
)
def update_project(
    project_id: UUID,
    body: UpdateProjectRequest,
    tally: TallyDep,
    operator: OperatorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = om.UpdateProject(project_id=project_id, **body.model_dump(exclude_none=True))
    outcome = tally.execute(command, operator.context(project_id, key))
    return respond(created_object(outcome, "project"), Project)


@router.post(
    "/v1/projects/{project_id}/rate_limits",
    response_model=Project,
    summary="Set a project's rate limits",
    description="Per kind named: the project's own policy, or null to go back to the "
    "server's default; a kind left out keeps what it has (docs/access.md).",
    responses=write_responses(200, "not_found"),
)
def set_rate_limits(
    project_id: UUID,
    body: RateLimitsRequest,
    tally: TallyDep,
    operator: OperatorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    named = {kind: getattr(body, kind) for kind in body.model_fields_set}
    command = om.SetRateLimits.model_validate({"project_id": project_id, "rate_limits": named})
    outcome = tally.execute(command, operator.context(project_id, key))
    return respond(created_object(outcome, "project"), Project)


@router.get(
    "/v1/projects/{project_id}/payment_provider",
    response_model=ProviderSettingsResult,
    summary="A project's payment provider",
    description="As `GET /v1/payment_provider` answers it to the project's own keys.",
    responses=read_problems("not_found"),
)
def get_provider(
    project_id: UUID, tally: TallyDep, operator: OperatorReader
) -> ProviderSettingsResult:
    require_project(tally, project_id)
    return shown_settings(tally, project_id)


@router.post(
    "/v1/projects/{project_id}/payment_provider",
    response_model=ProviderSettingsResult,
    summary="Choose a project's payment provider",
    description="The same command, body and refusals as `POST /v1/payment_provider`.",
    responses=write_responses(
        200,
        "not_found",
        "provider_misconfigured",
        "secret_storage_disabled",
        "credential_not_set",
        "invalid_combination",
    ),
)
def configure_provider(
    project_id: UUID,
    body: ProviderSettingsRequest,
    tally: TallyDep,
    operator: OperatorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    require_project(tally, project_id)
    command = configure_command(tally, body)
    outcome = tally.execute(command, operator.context(project_id, key))
    return respond(outcome, ProviderSettingsResult)
