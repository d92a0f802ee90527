"""Which provider object serves which project.

The server's provider (``TALLY_PAYMENT_PROVIDER``) is built once at start-up, so a
misconfiguration stops ``tally serve`` before it accepts a request. A project that
chose another provider or other credentials (``domain.provider_settings``) gets its own
provider object, built on first use from the variables it names and kept.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from adapters.providers.base import Clock, PaymentProvider
from adapters.providers.config import ProviderSettings
from adapters.providers.errors import ProviderMisconfigured
from adapters.providers.registry import build_provider
from domain.errors import ValidationFailed


class ProviderDirectory:
    def __init__(
        self,
        settings: ProviderSettings,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.environ = os.environ if environ is None else environ
        # Raises ProviderMisconfigured: the composition root refuses to start.
        self.default: PaymentProvider = build_provider(settings, self.environ, clock=clock)
        self._built: dict[tuple[Any, ...], PaymentProvider] = {}
        self._lock = threading.Lock()
        # Tests put a provider here to stand for a project's (an outage, a fake API).
        self.overrides: dict[UUID, PaymentProvider] = {}

    @property
    def default_name(self) -> str:
        return self.default.name

    def for_project(
        self, project_id: UUID, chosen: Mapping[str, Any] | None = None
    ) -> PaymentProvider:
        """The provider of a project; ``chosen`` is its ``ProviderSettings.summary()``
        (None or no provider: the server's)."""
        if project_id in self.overrides:
            return self.overrides[project_id]
        if not chosen or not chosen.get("provider"):
            return self.default
        name = str(chosen["provider"])
        credentials = dict(chosen.get("credential_env") or {})
        api_base = chosen.get("api_base") or None
        if name == self.default_name and not credentials and not api_base:
            return self.default
        key = (name, tuple(sorted(credentials.items())), api_base)
        with self._lock:
            provider = self._built.get(key)
            if provider is None:
                provider = self._build(name, credentials, api_base)
                self._built[key] = provider
        return provider

    def check(self, chosen: Mapping[str, Any]) -> None:
        """Build the provider ``chosen`` names, or refuse with ValidationFailed naming
        the variable that is missing (a project's settings are the client's input, not
        the server's configuration)."""
        try:
            self.for_project(UUID(int=0), chosen)
        except ProviderMisconfigured as error:
            raise ValidationFailed(error.detail, provider=error.provider) from None

    def _build(
        self, name: str, credentials: dict[str, str], api_base: str | None
    ) -> PaymentProvider:
        overrides: dict[str, Any] = {
            f"{name}_{purpose}_env": env for purpose, env in credentials.items()
        }
        if api_base and name != "stub":
            overrides[f"{name}_api_base"] = api_base
        settings = self.settings.model_copy(update=overrides)
        return build_provider(settings, self.environ, name=name, clock=self.clock)  # type: ignore[arg-type]
