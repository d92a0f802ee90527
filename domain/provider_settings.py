"""Which payment provider a project uses, and where its credentials come from.

A project without settings uses the server's default (``TALLY_PAYMENT_PROVIDER``).
Each credential purpose (``api_key``, ``webhook_secret``, ...) comes from one of two
places:

* an environment variable the settings *name* (``credential_env``:
  ``{"api_key": "ACME_STRIPE_KEY"}``), so the secret never reaches Tally's storage; or
* a secret the project handed over, *sealed* (encrypted with ``TALLY_SECRETS_KEY``
  before the command reached this aggregate): ``{"token": ..., "key_id": ...}``. The
  domain never sees the plaintext, and ``summary()`` (hence every API answer and read
  model's summary) says only that the purpose is ``"encrypted"``.

A purpose named by neither uses the server's own variable for it.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.errors import DomainError, InvalidCombination, ValidationFailed
from domain.limits import check_text

NAMESPACE = UUID("2a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d")
PROVIDERS = ("stripe", "paddle", "yookassa", "stub")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
# Which credential purposes each provider reads (see adapters/providers/config.py).
PURPOSES: dict[str, tuple[str, ...]] = {
    "stripe": ("api_key", "webhook_secret"),
    "paddle": ("api_key", "webhook_secret"),
    "yookassa": ("shop_id", "secret_key"),
    "stub": ("webhook_secret",),
}
# Every purpose some provider reads, as the API's schemas state it (the chosen provider
# takes only its own, an invalid_combination otherwise).
PURPOSE_PATTERN = "^(" + "|".join(sorted({p for ps in PURPOSES.values() for p in ps})) + ")$"
# A Fernet token of a secret of at most 4096 bytes is about 5.6 kB.
MAX_TOKEN_CHARS = 8192
MAX_API_BASE_CHARS = 500  # as the API states it (commands.provider_messages.ApiBase)

Sealed = dict[str, str]


class SecretStorageDisabled(DomainError):
    """A project asked to store a secret, and the server has no ``TALLY_SECRETS_KEY``
    to encrypt it with. Nothing is written; naming an environment variable still works."""

    code = "secret_storage_disabled"


class ProviderSettings(TallyAggregate):
    TOPIC = "tally:ProviderSettings"
    # Version 2 keeps ``sealed_credentials``; older stored states (the read model's
    # ``state`` column) get an empty one.
    class_version = 2

    class Created(TallyAggregate.Created):
        TOPIC = "tally:ProviderSettings.Created"

    class Configured(TallyAggregate.Event):
        """Version 2 adds ``sealed``: purpose -> ``{"token", "key_id"}``, ciphertext only."""

        TOPIC = "tally:ProviderSettings.Configured"
        class_version = 2

        provider: str
        credential_env: dict[str, str]
        api_base: str
        sealed: dict[str, Sealed]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["sealed"] = {}

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["sealed_credentials"] = {}

    @staticmethod
    def create_id(project_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"provider_settings:{project_id}")

    @event("Started", topic="tally:ProviderSettings.Started")
    def __init__(self, id: UUID, project_id: UUID) -> None:
        self.project_id = project_id
        self.provider = ""
        self.credential_env: dict[str, str] = {}
        self.sealed_credentials: dict[str, Sealed] = {}
        self.api_base = ""

    @classmethod
    def start(cls, project_id: UUID) -> ProviderSettings:
        return cls(id=cls.create_id(project_id), project_id=project_id)

    @staticmethod
    def check(provider: str, credential_env: dict[str, str], stored: tuple[str, ...] = ()) -> None:
        """Refuse an unknown provider, a purpose the provider does not take, a variable
        name that is not one, and a purpose given both ways (``stored``: the purposes
        whose secret is handed over to be stored encrypted)."""
        if provider not in PROVIDERS:
            raise ValidationFailed(f"unknown payment provider {provider!r}", provider=provider)
        for purpose in [*credential_env, *stored]:
            if purpose not in PURPOSES[provider]:
                raise InvalidCombination(
                    f"{provider} takes no credential {purpose!r}; it takes "
                    f"{', '.join(PURPOSES[provider])}",
                    purpose=purpose,
                )
        for purpose, name in credential_env.items():
            if not ENV_NAME.match(name):
                # Never echo the value: it may be a pasted secret.
                raise ValidationFailed(
                    f"credential_env.{purpose} must name an environment variable "
                    "(A-Z, 0-9 and _), not hold a secret; to store a secret, send it "
                    f"as credentials.{purpose}",
                    purpose=purpose,
                )
        if both := sorted(set(credential_env) & set(stored)):
            raise InvalidCombination(
                f"credential {both[0]!r} is given both as credential_env (a variable name) "
                "and as credentials (a secret to store); give each purpose one way",
                purpose=both[0],
            )

    def configure(
        self,
        provider: str,
        credential_env: dict[str, str],
        api_base: str,
        sealed: dict[str, Sealed] | None = None,
    ) -> None:
        """Replace the whole configuration; ``sealed`` holds already encrypted secrets."""
        sealed = {purpose: dict(value) for purpose, value in (sealed or {}).items()}
        check_text(api_base, "api_base", MAX_API_BASE_CHARS)
        self.check(provider, credential_env, tuple(sealed))
        for purpose, value in sealed.items():
            # A programmer error, not a client's: the handler seals every secret.
            assert set(value) == {"token", "key_id"}, f"{purpose} is not a sealed value"
            assert 0 < len(value["token"]) <= MAX_TOKEN_CHARS, f"{purpose}: token size"
        self._configured(
            provider=provider,
            credential_env=dict(credential_env),
            api_base=api_base,
            sealed=sealed,
        )

    def reseal(self, sealed: dict[str, Sealed]) -> None:
        """Record the same configuration with its stored secrets sealed again (under the
        newest key, after a key rotation): a ``Configured`` event like any other, so the
        read model and every reader handle it as they already do."""
        assert set(sealed) == set(self.sealed_credentials), "reseal keeps the same purposes"
        self.configure(self.provider, dict(self.credential_env), self.api_base, sealed)

    @event(Configured)
    def _configured(
        self,
        provider: str,
        credential_env: dict[str, str],
        api_base: str,
        sealed: dict[str, Sealed],
    ) -> None:
        self.provider = provider
        self.credential_env = credential_env
        self.sealed_credentials = sealed
        self.api_base = api_base

    def credential_sources(self) -> dict[str, str]:
        """Where each named purpose comes from: ``"env:NAME"`` or ``"encrypted"``."""
        sources = {purpose: f"env:{name}" for purpose, name in self.credential_env.items()}
        sources.update({purpose: "encrypted" for purpose in self.sealed_credentials})
        return dict(sorted(sources.items()))

    def summary(self) -> dict[str, Any]:
        """What API answers and the read model show: never a secret nor its ciphertext."""
        return {
            "provider": self.provider,
            "credential_env": dict(self.credential_env),
            "credentials": self.credential_sources(),
            "api_base": self.api_base or None,
        }

    def provider_spec(self) -> dict[str, Any]:
        """What the provider directory builds the project's provider from: the summary
        plus the sealed secrets (ciphertext; only the directory decrypts them)."""
        return {
            **self.summary(),
            "sealed": {purpose: dict(value) for purpose, value in self.sealed_credentials.items()},
        }
