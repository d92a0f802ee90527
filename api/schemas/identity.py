"""Request and response bodies of the identity provider and customer session routes
(``api/routes/identity_provider.py``, ``api/routes/customer_sessions.py``)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from api.objects import Instant, created_field
from api.schemas.common import ApiObject, Body, Resource, Result, examples
from commands.identity_messages import (
    Algorithm,
    Audience,
    ClaimName,
    ExpiresIn,
    Issuer,
    JwksUrl,
    SharedSecret,
)
from commands.messages import CurrencyCode
from domain.limits import CUSTOMER_SESSION_DEFAULT_S, TOKEN_SKEW_S

CUSTOMER_ID = "0b5c9a8e-1f2d-4e3c-9b4a-5d6e7f8a9b0c"
SESSION_ID = "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"


class IdentityProviderRequest(Body):
    model_config = examples(
        {
            "kind": "jwks",
            "jwks_url": "https://example.eu.auth0.com/.well-known/jwks.json",
            "issuer": "https://example.eu.auth0.com/",
            "audience": "https://billing.example.com",
            "algorithms": ["RS256"],
            "customer_claim": "sub",
            "unknown_customer": "refuse",
        }
    )
    kind: Literal["jwks", "shared_secret"] = Field(
        description="Where the keys come from: a JWKS URL (RS*, PS*, ES*, EdDSA) or a shared "
        "secret (HS* only)"
    )
    jwks_url: JwksUrl = Field(
        default=None,
        description="https (in a test-mode project also http to a loopback host); fetched, "
        "kept, and fetched again for an unknown `kid` at most every 30 s",
    )
    shared_secret: SharedSecret = Field(
        default=None,
        description="The HMAC secret (32 to 512 characters), stored encrypted with the "
        "server's TALLY_SECRETS_KEY (409 secret_storage_disabled without one); never shown",
    )
    issuer: Issuer = Field(description="The `iss` every token must carry")
    audience: Audience = Field(description="A value the token's `aud` must hold")
    algorithms: list[Algorithm] = Field(  # type: ignore[valid-type]
        min_length=1,
        max_length=10,
        description="Accepted `alg` values (`none` never is; HS* only with a shared secret)",
    )
    customer_claim: ClaimName = Field(
        default="sub", description="The claim holding the customer's external_id"
    )
    unknown_customer: Literal["register", "refuse"] = Field(
        default="refuse",
        description="A token naming a customer Tally does not know: registered with "
        "`register_currency`, or refused (401)",
    )
    register_currency: CurrencyCode | None = None


class IdentityProviderShown(Resource):
    object: Literal["identity_provider"] = "identity_provider"
    kind: Literal["jwks", "shared_secret"]
    jwks_url: str | None = None
    issuer: str
    audience: str
    algorithms: list[str]
    customer_claim: str
    unknown_customer: Literal["register", "refuse"]
    register_currency: str | None = None
    shared_secret_set: bool = Field(description="Whether a shared secret is stored")
    clock_skew_s: int = Field(
        default=TOKEN_SKEW_S, description="Skew allowed on exp, nbf and iat, in seconds"
    )


class IdentityProviderResult(Result):
    identity_provider: IdentityProviderShown


class CustomerSessionRequest(Body):
    model_config = examples({"customer_id": CUSTOMER_ID, "expires_in_s": 3600})
    customer_id: UUID
    expires_in_s: ExpiresIn = Field(
        default=CUSTOMER_SESSION_DEFAULT_S, description="Seconds until it expires (60 to 86400)"
    )


class CustomerSession(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": SESSION_ID,
                    "object": "customer_session",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "customer_id": CUSTOMER_ID,
                    "expires_at": "2030-01-01T10:00:00.000000Z",
                    "revoked_at": None,
                    "status": "active",
                }
            ]
        },
    )
    id: UUID
    object: Literal["customer_session"] = Field(default="customer_session")
    customer_id: UUID
    expires_at: Instant
    revoked_at: Instant | None = None
    status: Literal["active", "revoked", "expired"]
    created: Instant | None = created_field()


class CustomerSessionWithToken(CustomerSession):
    token: str = Field(
        description="`tcs_<id>_<secret>`: give it to the customer's browser, which calls "
        "/v1/me with `Authorization: Bearer <token>`. Shown only in this answer (and its "
        "replay under the same Idempotency-Key)"
    )
