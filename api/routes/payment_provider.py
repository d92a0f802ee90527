"""The project's payment provider settings (credentials by name, or encrypted)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.routes.common import (
    IdempotencyKey,
    Reader,
    execute,
    read_problems,
    respond,
    write_responses,
)
from api.schemas.payment_provider import ProviderSettingsRequest, ProviderSettingsResult
from api.tally import Tally
from commands import provider_messages as pm
from commands.provider_config import NO_SECRETS_KEY
from domain.provider_settings import ProviderSettings, SecretStorageDisabled

router = APIRouter()


@router.get(
    "/v1/payment_provider",
    response_model=ProviderSettingsResult,
    tags=["payment provider"],
    summary="The project's payment provider",
    description="Where each credential comes from (`credentials`: `env:NAME` or "
    "`encrypted`), and for variables whether each is set; never a secret nor its "
    "ciphertext.",
    responses=read_problems(),
)
def get_settings(tally: TallyDep, caller: Reader) -> ProviderSettingsResult:
    return shown_settings(tally, caller.project_id)


def shown_settings(tally: Tally, project_id: UUID) -> ProviderSettingsResult:
    """What the project's provider settings show (also the operator API's answer)."""
    from projections.payments import get_provider_settings

    row = get_provider_settings(tally.views, tally.schema, project_id)
    chosen = row or {"provider": tally.providers.default_name, "credential_env": {}}
    env = tally.providers.environ
    named = dict(chosen.get("credential_env") or {})
    shown = {
        "provider": chosen["provider"] or tally.providers.default_name,
        "project_specific": row is not None,
        "credential_env": {
            purpose: {"env": name, "set": bool(env.get(name))} for purpose, name in named.items()
        },
        # Rows projected before encrypted credentials existed have no "credentials".
        "credentials": chosen.get("credentials")
        or {purpose: f"env:{name}" for purpose, name in sorted(named.items())},
        "api_base": chosen.get("api_base"),
    }
    return ProviderSettingsResult(payment_provider=shown)


@router.post(
    "/v1/payment_provider",
    response_model=ProviderSettingsResult,
    tags=["payment provider"],
    summary="Choose the project's payment provider",
    description="Each credential is named by environment variable (`credential_env`) or "
    "sent to be stored encrypted (`credentials`, needs the server's TALLY_SECRETS_KEY; "
    "never shown again), each purpose one way and only the purposes the provider takes "
    "(else 422 `invalid_combination`): stripe and paddle `api_key`, `webhook_secret`; "
    "yookassa `shop_id`, `secret_key`; stub `webhook_secret`. The provider is built at "
    "once from them: a missing variable is "
    "refused (422 `credential_not_set`) and nothing is recorded. Each call replaces the "
    "whole configuration.",
    responses=write_responses(
        200,
        "provider_misconfigured",
        "secret_storage_disabled",
        "credential_not_set",
        "invalid_combination",
    ),
)
def configure(
    body: ProviderSettingsRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    return respond(
        execute(tally, caller, configure_command(tally, body), key), ProviderSettingsResult
    )


def configure_command(tally: Tally, body: ProviderSettingsRequest) -> pm.ConfigurePaymentProvider:
    """The command of a provider configuration (also the operator API's), refused
    before anything is recorded when its settings cannot build a provider, or its
    secrets cannot be stored."""
    secrets = {purpose: value.get_secret_value() for purpose, value in body.credentials.items()}
    ProviderSettings.check(body.provider, dict(body.credential_env), tuple(secrets))
    box = tally.providers.secrets
    if secrets and box is None:
        raise SecretStorageDisabled(NO_SECRETS_KEY)
    tally.providers.check(body.model_dump(exclude={"credentials"}), secrets)
    return pm.ConfigurePaymentProvider(
        provider=body.provider,
        credential_env=body.credential_env,
        credentials=body.credentials,
        credentials_digest=box.digest(secrets) if box is not None and secrets else "",
        api_base=body.api_base,
    )
