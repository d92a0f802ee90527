"""The project's identity provider (issue 14): how customer JWTs for /v1/me are checked.
Set and read with the project key (docs/access.md)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.routes.common import (
    IdempotencyKey,
    Reader,
    execute,
    found_or_404,
    read_problems,
    respond,
    write_responses,
)
from api.schemas.identity import IdentityProviderRequest, IdentityProviderResult
from commands import identity_messages as im
from commands.provider_config import NO_SECRETS_KEY
from domain.provider_settings import SecretStorageDisabled

router = APIRouter(tags=["customer access"])


@router.get(
    "/v1/identity_provider",
    response_model=IdentityProviderResult,
    summary="The project's identity provider",
    description="How customer JWTs are checked; never the shared secret nor its "
    "ciphertext (`shared_secret_set` says whether one is stored). 404 before one is set.",
    responses=read_problems("not_found"),
)
def get_identity_provider(tally: TallyDep, caller: Reader) -> IdentityProviderResult:
    from projections.identity_providers import get_identity_provider as query

    row = query(tally.views, tally.schema, caller.project_id)
    found = found_or_404(row, "identity provider of project", caller.project_id)
    return IdentityProviderResult.model_validate({"identity_provider": found})


@router.put(
    "/v1/identity_provider",
    response_model=IdentityProviderResult,
    summary="Set the project's identity provider",
    description="Replaces the whole configuration. Customers then call /v1/me with a JWT "
    "it issued and the header `Tally-Project: <project id>`. A shared secret is stored "
    "encrypted (needs the server's TALLY_SECRETS_KEY) and never shown again. A key source "
    "that is not the kind's, an algorithm outside the kind's family, a jwks_url that is "
    "not https (http to a loopback host only in a test-mode project), or "
    "register_currency without unknown_customer register (or the other way round): 422 "
    "`invalid_combination`, nothing recorded.",
    responses=write_responses(
        200, "secret_storage_disabled", "invalid_combination", "unknown_currency"
    ),
)
def set_identity_provider(
    body: IdentityProviderRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    digest = ""
    if body.shared_secret is not None:
        box = tally.providers.secrets
        if box is None:
            raise SecretStorageDisabled(NO_SECRETS_KEY)
        digest = box.digest({"shared_secret": body.shared_secret.get_secret_value()})
    command = im.ConfigureIdentityProvider(**body.model_dump(), shared_secret_digest=digest)
    return respond(execute(tally, caller, command, key), IdentityProviderResult)
