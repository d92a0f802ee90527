"""Command messages of customer access (issue 14): the project's identity provider and
customer sessions. Beside ``commands/messages`` so that other work never edits the same
lines; the bus takes any ``Command``."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, SecretStr, StrictInt

from commands.messages import Command, CurrencyCode
from domain.identity_providers import HMAC_ALGORITHMS, PUBLIC_KEY_ALGORITHMS
from domain.limits import (
    CLAIM_NAME_PATTERN,
    CUSTOMER_SESSION_DEFAULT_S,
    MAX_AUDIENCE_CHARS,
    MAX_CLAIM_NAME_CHARS,
    MAX_CUSTOMER_SESSION_S,
    MAX_ISSUER_CHARS,
    MAX_SHARED_SECRET_CHARS,
    MAX_URL_CHARS,
    MIN_CUSTOMER_SESSION_S,
    MIN_SHARED_SECRET_CHARS,
    TEXT_PATTERN,
    WEBHOOK_URL_PATTERN,
)

Algorithm = Literal[HMAC_ALGORITHMS + PUBLIC_KEY_ALGORITHMS]  # type: ignore[valid-type]
JwksUrl = Annotated[str | None, Field(max_length=MAX_URL_CHARS, pattern=WEBHOOK_URL_PATTERN)]
SharedSecret = Annotated[
    SecretStr | None,
    Field(min_length=MIN_SHARED_SECRET_CHARS, max_length=MAX_SHARED_SECRET_CHARS),
]
Issuer = Annotated[str, Field(min_length=1, max_length=MAX_ISSUER_CHARS, pattern=TEXT_PATTERN)]
Audience = Annotated[str, Field(min_length=1, max_length=MAX_AUDIENCE_CHARS, pattern=TEXT_PATTERN)]
ClaimName = Annotated[
    str, Field(min_length=1, max_length=MAX_CLAIM_NAME_CHARS, pattern=CLAIM_NAME_PATTERN)
]
ExpiresIn = Annotated[StrictInt, Field(ge=MIN_CUSTOMER_SESSION_S, le=MAX_CUSTOMER_SESSION_S)]


class ConfigureIdentityProvider(Command):
    """Replace the project's identity provider. ``shared_secret`` is a ``SecretStr`` (its
    JSON form, which the bus hashes for idempotency, is ``**********``);
    ``shared_secret_digest`` (a keyed digest the API computes) tells two requests with
    different secrets apart, and the handler checks it matches."""

    kind: Literal["jwks", "shared_secret"]
    jwks_url: JwksUrl = None
    shared_secret: SharedSecret = None
    shared_secret_digest: Annotated[str, Field(pattern="^[0-9a-f]{0,64}$")] = ""
    issuer: Issuer
    audience: Audience
    algorithms: list[Algorithm] = Field(min_length=1, max_length=10)  # type: ignore[valid-type]
    customer_claim: ClaimName = "sub"
    unknown_customer: Literal["register", "refuse"] = "refuse"
    register_currency: CurrencyCode | None = None


class CreateCustomerSession(Command):
    customer_id: UUID
    expires_in_s: ExpiresIn = CUSTOMER_SESSION_DEFAULT_S


class RevokeCustomerSession(Command):
    session_id: UUID
