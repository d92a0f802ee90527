"""Which payment provider a project uses, and where its credentials come from.

A project without settings uses the server's default (``TALLY_PAYMENT_PROVIDER``).
Credentials are never stored: the settings hold the *names* of the environment
variables that hold them (``{"api_key": "ACME_STRIPE_KEY"}``), so no secret is in the
event log, in an API answer or in a log line.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.errors import ValidationFailed

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


class ProviderSettings(TallyAggregate):
    TOPIC = "tally:ProviderSettings"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:ProviderSettings.Created"

    @staticmethod
    def create_id(project_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"provider_settings:{project_id}")

    @event("Started", topic="tally:ProviderSettings.Started")
    def __init__(self, id: UUID, project_id: UUID) -> None:
        self.project_id = project_id
        self.provider = ""
        self.credential_env: dict[str, str] = {}
        self.api_base = ""

    @classmethod
    def start(cls, project_id: UUID) -> ProviderSettings:
        return cls(id=cls.create_id(project_id), project_id=project_id)

    @staticmethod
    def check(provider: str, credential_env: dict[str, str]) -> None:
        if provider not in PROVIDERS:
            raise ValidationFailed(f"unknown payment provider {provider!r}", provider=provider)
        for purpose, name in credential_env.items():
            if purpose not in PURPOSES[provider]:
                raise ValidationFailed(
                    f"{provider} takes no credential {purpose!r}; it takes "
                    f"{', '.join(PURPOSES[provider])}",
                    purpose=purpose,
                )
            if not ENV_NAME.match(name):
                # Never echo the value: it may be a pasted secret.
                raise ValidationFailed(
                    f"credential_env.{purpose} must name an environment variable "
                    "(A-Z, 0-9 and _), not hold a secret",
                    purpose=purpose,
                )

    def configure(self, provider: str, credential_env: dict[str, str], api_base: str) -> None:
        self.check(provider, credential_env)
        self._configured(provider=provider, credential_env=dict(credential_env), api_base=api_base)

    @event("Configured", topic="tally:ProviderSettings.Configured")
    def _configured(self, provider: str, credential_env: dict[str, str], api_base: str) -> None:
        self.provider = provider
        self.credential_env = credential_env
        self.api_base = api_base

    def summary(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "credential_env": dict(self.credential_env),
            "api_base": self.api_base or None,
        }
