"""The operator API's view of a project's identity provider (issue 14): the same command,
body and answer as ``/v1/identity_provider`` (``api/routes/identity_provider.py``), which
the project's own key calls, here for the operator on any project."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import TallyDep
from api.operator_auth import OperatorDep
from api.routes.common import (
    IdempotencyKey,
    found_or_404,
    read_problems,
    respond,
    write_responses,
)
from api.routes.projects import OperatorReader, require_project
from api.schemas.identity import IdentityProviderRequest, IdentityProviderResult
from api.tally import Tally
from commands import identity_messages as im
from commands.provider_config import NO_SECRETS_KEY
from domain.provider_settings import SecretStorageDisabled

router = APIRouter(tags=["operator"])


def identity_command(tally: Tally, body: IdentityProviderRequest) -> im.ConfigureIdentityProvider:
    """The command of a body, its shared secret digested as ``/v1/identity_provider``
    does (a retry with another secret is not the same request)."""
    digest = ""
    if body.shared_secret is not None:
        box = tally.providers.secrets
        if box is None:
            raise SecretStorageDisabled(NO_SECRETS_KEY)
        digest = box.digest({"shared_secret": body.shared_secret.get_secret_value()})
    return im.ConfigureIdentityProvider(**body.model_dump(), shared_secret_digest=digest)


@router.get(
    "/v1/projects/{project_id}/identity_provider",
    response_model=IdentityProviderResult,
    summary="A project's identity provider",
    description="As `GET /v1/identity_provider` answers it to the project's own keys.",
    responses=read_problems("not_found"),
)
def get_identity_provider(
    project_id: UUID, tally: TallyDep, operator: OperatorReader
) -> IdentityProviderResult:
    from projections.identity_providers import get_identity_provider as query

    row = query(tally.views, tally.schema, project_id)
    found = found_or_404(row, "identity provider of project", project_id)
    return IdentityProviderResult.model_validate({"identity_provider": found})


@router.put(
    "/v1/projects/{project_id}/identity_provider",
    response_model=IdentityProviderResult,
    summary="Set a project's identity provider",
    description="The same command, body and refusals as `PUT /v1/identity_provider`.",
    responses=write_responses(
        200, "not_found", "secret_storage_disabled", "invalid_combination", "unknown_currency"
    ),
)
def set_identity_provider(
    project_id: UUID,
    body: IdentityProviderRequest,
    tally: TallyDep,
    operator: OperatorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    require_project(tally, project_id)
    command = identity_command(tally, body)
    outcome = tally.execute(command, operator.context(project_id, key))
    return respond(outcome, IdentityProviderResult)
