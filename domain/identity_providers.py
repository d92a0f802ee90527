"""The identity provider a project trusts to name its customers (issue 14).

A project's end users call ``/v1/me`` with a JWT their own identity provider issued. The
project tells Tally how to check those tokens: where the provider's public keys are (a
JWKS URL) or the secret it signs with (a shared secret, sealed before it is recorded),
the issuer and audience to expect, the algorithms to accept, the claim that holds the
customer's external id, and what to do with a customer Tally does not know yet.

The algorithm families are tied to the kind of key, so HS/RS confusion cannot happen: a
shared secret accepts only HS* algorithms and a JWKS only asymmetric ones; ``none`` is
never accepted. One aggregate per project (a deterministic id), so configuring again
replaces the whole configuration, and the history keeps every version.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.errors import InvalidCombination, ValidationFailed
from domain.limits import (
    MAX_AUDIENCE_CHARS,
    MAX_CLAIM_NAME_CHARS,
    MAX_ISSUER_CHARS,
    MAX_URL_CHARS,
    check_text,
)
from domain.money import check_currency

NAMESPACE = UUID("8d3f6a2e-41c7-4b9e-a0d5-6c2b7e9f1a34")

JWKS = "jwks"
SHARED_SECRET = "shared_secret"  # noqa: S105 (a kind of provider, not a secret)
KINDS = (JWKS, SHARED_SECRET)
REGISTER = "register"
REFUSE = "refuse"
UNKNOWN_CUSTOMER = (REGISTER, REFUSE)

# The only algorithms a shared secret may sign with, and the only ones a JWKS may.
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
PUBLIC_KEY_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
ALGORITHMS_BY_KIND = {SHARED_SECRET: HMAC_ALGORITHMS, JWKS: PUBLIC_KEY_ALGORITHMS}

Sealed = dict[str, str]


def check_jwks_url(url: str, *, test_mode: bool) -> str:
    """An https URL; in a test-mode project also http to a loopback host (a local IdP)."""
    check_text(url, "jwks_url", MAX_URL_CHARS, min_chars=1)
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as error:
        raise InvalidCombination(f"jwks_url is not a valid URL: {error}") from None
    if not parts.hostname or parts.username or parts.password or " " in url:
        raise InvalidCombination("jwks_url must be an absolute URL without credentials")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and test_mode and _loopback(parts.hostname):
        return url
    raise InvalidCombination(
        "jwks_url must be https (http to a loopback host only in a test-mode project)"
    )


def _loopback(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1", "[::1]")


def check_algorithms(kind: str, algorithms: list[str]) -> list[str]:
    allowed = ALGORITHMS_BY_KIND[kind]
    if not algorithms:
        raise InvalidCombination("algorithms must name at least one algorithm")
    wrong = [a for a in algorithms if a not in allowed]
    if wrong:
        raise InvalidCombination(
            f"a {kind} identity provider accepts only {', '.join(allowed)}; not {', '.join(wrong)}",
            algorithms=wrong,
        )
    return sorted(set(algorithms))


def check_settings(values: dict[str, Any], *, test_mode: bool, has_secret: bool) -> None:
    """Refuse a configuration that cannot check tokens safely (nothing recorded)."""
    kind = values["kind"]
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}")
    if kind == JWKS:
        if has_secret or not values.get("jwks_url"):
            raise InvalidCombination("a jwks identity provider takes jwks_url and no shared_secret")
        check_jwks_url(values["jwks_url"], test_mode=test_mode)
    elif values.get("jwks_url") or not has_secret:
        raise InvalidCombination(
            "a shared_secret identity provider takes shared_secret, no jwks_url"
        )
    check_text(values["issuer"], "issuer", MAX_ISSUER_CHARS, min_chars=1)
    check_text(values["audience"], "audience", MAX_AUDIENCE_CHARS, min_chars=1)
    check_text(values["customer_claim"], "customer_claim", MAX_CLAIM_NAME_CHARS, min_chars=1)
    check_algorithms(kind, list(values["algorithms"]))
    if values["unknown_customer"] not in UNKNOWN_CUSTOMER:
        raise ValidationFailed(f"unknown_customer must be one of {', '.join(UNKNOWN_CUSTOMER)}")
    currency = values.get("register_currency")
    if values["unknown_customer"] == REGISTER:
        if not currency:
            raise InvalidCombination("unknown_customer register needs register_currency")
        check_currency(currency)
    elif currency:
        raise InvalidCombination("register_currency is only for unknown_customer register")


class IdentityProvider(TallyAggregate):
    TOPIC = "tally:IdentityProvider"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:IdentityProvider.Created"

    @staticmethod
    def create_id(project_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"identity_provider:{project_id}")

    @event("Started", topic="tally:IdentityProvider.Started")
    def __init__(self, id: UUID, project_id: UUID) -> None:
        self.project_id = project_id
        self.settings: dict[str, Any] = {}
        self.sealed_secret: Sealed | None = None

    @classmethod
    def start(cls, project_id: UUID) -> IdentityProvider:
        return cls(id=cls.create_id(project_id), project_id=project_id)

    @classmethod
    def first(
        cls,
        project_id: UUID,
        values: dict[str, Any],
        sealed_secret: Sealed | None,
        *,
        test_mode: bool,
    ) -> IdentityProvider:
        """A project's first configuration. Starting the aggregate records its Created
        event, so the settings are checked before it exists: a refusal records nothing."""
        check_settings(values, test_mode=test_mode, has_secret=sealed_secret is not None)
        provider = cls.start(project_id)
        provider.configure(values, sealed_secret, test_mode=test_mode)
        return provider

    def configure(
        self, values: dict[str, Any], sealed_secret: Sealed | None, *, test_mode: bool
    ) -> None:
        """Replace the configuration. ``values``: kind, jwks_url, issuer, audience,
        algorithms, customer_claim, unknown_customer, register_currency."""
        check_settings(values, test_mode=test_mode, has_secret=sealed_secret is not None)
        settings = {
            "kind": values["kind"],
            "jwks_url": values.get("jwks_url") or None,
            "issuer": values["issuer"],
            "audience": values["audience"],
            "algorithms": check_algorithms(values["kind"], list(values["algorithms"])),
            "customer_claim": values["customer_claim"],
            "unknown_customer": values["unknown_customer"],
            "register_currency": values.get("register_currency") or None,
        }
        self._configured(settings=settings, sealed_secret=sealed_secret)

    @event("Configured", topic="tally:IdentityProvider.Configured")
    def _configured(self, settings: dict[str, Any], sealed_secret: Sealed | None) -> None:
        self.settings = settings
        self.sealed_secret = sealed_secret

    @property
    def configured(self) -> bool:
        return bool(self.settings)

    def summary(self) -> dict[str, Any]:
        """What GET shows: never the secret nor its ciphertext."""
        return {
            "object": "identity_provider",
            "project_id": str(self.project_id),
            **self.settings,
            "shared_secret_set": self.sealed_secret is not None,
        }
