"""Which provider object serves which project.

The server's provider (``TALLY_PAYMENT_PROVIDER``) is built once at start-up, so a
misconfiguration stops ``tally serve`` before it accepts a request. A project that
chose another provider or other credentials (``domain.provider_settings``) gets its own
provider object, built on first use and kept: from the variables it names, and from the
secrets it stored encrypted, which are decrypted here (``TALLY_SECRETS_KEY``) and live
only inside the provider object.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from adapters.providers.base import Clock, PaymentProvider
from adapters.providers.config import ProviderSettings
from adapters.providers.registry import build_provider
from adapters.secrets import SecretBox, SecretUnreadable
from commands.provider_errors import ProviderMisconfigured
from domain.errors import CredentialNotSet


class ProviderDirectory:
    def __init__(
        self,
        settings: ProviderSettings,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        secrets: SecretBox | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.environ = os.environ if environ is None else environ
        # Seals and opens the secrets projects store; None: TALLY_SECRETS_KEY is unset.
        self.secrets = secrets
        # Raises ProviderMisconfigured: the composition root refuses to start.
        self.default: PaymentProvider = build_provider(settings, self.environ, clock=clock)
        # Keyed by the sealed tokens, never by a plaintext secret.
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
        """The provider of a project; ``chosen`` is its ``ProviderSettings.provider_spec()``
        (None or no provider: the server's). Raises ProviderMisconfigured when a variable
        it names is unset or a secret it stored cannot be decrypted."""
        if project_id in self.overrides:
            return self.overrides[project_id]
        if not chosen or not chosen.get("provider"):
            return self.default
        name = str(chosen["provider"])
        credentials = dict(chosen.get("credential_env") or {})
        sealed: dict[str, dict[str, str]] = dict(chosen.get("sealed") or {})
        api_base = chosen.get("api_base") or None
        if name == self.default_name and not credentials and not sealed and not api_base:
            return self.default
        tokens = tuple(sorted((purpose, value["token"]) for purpose, value in sealed.items()))
        key = (name, tuple(sorted(credentials.items())), tokens, api_base)
        with self._lock:
            provider = self._built.get(key)
            if provider is None:
                secrets = self._open(name, sealed)
                provider = self._build(name, credentials, api_base, secrets)
                self._built[key] = provider
        return provider

    def check(self, chosen: Mapping[str, Any], secrets: Mapping[str, str] | None = None) -> None:
        """Build the provider ``chosen`` names with the plaintext ``secrets`` a request
        carries, or refuse with CredentialNotSet naming the variable that is missing (a
        project's settings are the client's input, not the server's configuration).
        Nothing is kept: a provider is cached only under its sealed tokens."""
        name = str(chosen.get("provider") or self.default_name)
        credentials = dict(chosen.get("credential_env") or {})
        try:
            self._build(name, credentials, chosen.get("api_base") or None, dict(secrets or {}))
        except ProviderMisconfigured as error:
            raise CredentialNotSet(error.detail, provider=error.provider) from None

    def _open(self, provider: str, sealed: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
        """The plaintext of each sealed secret; ProviderMisconfigured (naming the purpose
        and key ids, never a secret or a token) when one cannot be decrypted."""
        if not sealed:
            return {}
        if self.secrets is None:
            raise ProviderMisconfigured(
                f"the project's {provider} credentials ({', '.join(sorted(sealed))}) are "
                "stored encrypted, and TALLY_SECRETS_KEY is not set on this server",
                provider=provider,
            )
        opened: dict[str, str] = {}
        for purpose, value in sealed.items():
            try:
                opened[purpose] = self.secrets.open(value)
            except SecretUnreadable as error:
                raise ProviderMisconfigured(
                    f"the project's encrypted {provider} {purpose} cannot be decrypted: {error}",
                    provider=provider,
                    purpose=purpose,
                ) from None
        return opened

    def _build(
        self,
        name: str,
        credentials: dict[str, str],
        api_base: str | None,
        secrets: dict[str, str],
    ) -> PaymentProvider:
        overrides: dict[str, Any] = {
            f"{name}_{purpose}_env": env for purpose, env in credentials.items()
        }
        if api_base and name != "stub":
            overrides[f"{name}_api_base"] = api_base
        settings = self.settings.model_copy(update=overrides)
        return build_provider(
            settings,
            self.environ,
            name=name,  # type: ignore[arg-type]
            clock=self.clock,
            secrets=secrets,
        )
