"""Request and response bodies of the payment provider routes
(``api/routes/payment_provider.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr

from api.schemas.common import Body, Result, examples
from commands.provider_messages import (
    ApiBase,
    CredentialPurpose,
    EnvVarName,
    ProviderName,
)


class ProviderSettingsRequest(Body):
    # The stub only: an example is also a request the fuzzing run sends.
    model_config = examples({"provider": "stub"})
    provider: ProviderName
    credential_env: dict[CredentialPurpose, EnvVarName] = Field(
        default_factory=dict,
        max_length=4,
        description="Credential purpose -> the NAME of the environment variable holding it "
        '(e.g. {"api_key": "ACME_STRIPE_KEY"}); the secret stays in the environment',
    )
    credentials: dict[
        CredentialPurpose,
        Annotated[SecretStr, Field(min_length=1, max_length=4096)],
    ] = Field(
        default_factory=dict,
        max_length=4,
        description="Credential purpose -> the secret itself, stored encrypted with the "
        'server\'s TALLY_SECRETS_KEY (e.g. {"webhook_secret": "whsec_..."}). Never shown '
        "again: answers say only `encrypted`. A purpose comes from credential_env or from "
        "credentials, not both. Refused (409 secret_storage_disabled) when the server has "
        "no key.",
    )
    api_base: ApiBase = ""


class ProviderSettingsResult(Result):
    payment_provider: dict[str, Any]
