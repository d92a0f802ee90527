"""The write side of a project's payment-provider settings (``ConfigurePaymentProvider``).

Secrets a project hands over are sealed (encrypted) here, before the aggregate records
anything, so the plaintext never reaches an event. The sealing is an adapter
(``adapters.secrets.SecretBox``, built from ``TALLY_SECRETS_KEY``) that the composition
root passes to ``handlers()``; without one, storing a secret is refused.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any, Protocol

from commands import provider_messages as pm
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.messages import Command
from domain.errors import ValidationFailed
from domain.provider_settings import ProviderSettings, SecretStorageDisabled

NO_SECRETS_KEY = (
    "this server cannot store secrets: TALLY_SECRETS_KEY is not set. Name an environment "
    "variable in credential_env instead, or ask the operator to set the key"
)


class Sealer(Protocol):
    """Encrypts a secret into ``{"token", "key_id"}``; digests secrets for idempotency;
    re-encrypts a sealed value with the newest key (ValueError: it cannot decrypt it)."""

    @property
    def primary_key_id(self) -> str: ...

    def seal(self, plaintext: str) -> dict[str, str]: ...

    def digest(self, secrets: Mapping[str, str]) -> str: ...

    def reseal(self, sealed: Mapping[str, str]) -> dict[str, str]: ...


class ResealProviderCredentials(Command):
    """Re-encrypt the project's stored secrets with the newest key of TALLY_SECRETS_KEY,
    so that an older key can be dropped (``tally secrets reseal``). Carries no secret.

    Defined beside its handler rather than in ``provider_messages.py``, which other work
    is changing; the bus takes any ``Command``."""


def plaintexts(cmd: pm.ConfigurePaymentProvider) -> dict[str, str]:
    return {purpose: secret.get_secret_value() for purpose, secret in cmd.credentials.items()}


def sealed_credentials(cmd: pm.ConfigurePaymentProvider, sealer: Sealer | None) -> dict[str, Any]:
    """The command's secrets, encrypted; refuses when there is no key to encrypt with,
    or when the digest the idempotency check relied on is not the secrets'."""
    if not cmd.credentials:
        return {}
    if sealer is None:
        raise SecretStorageDisabled(NO_SECRETS_KEY)
    secrets = plaintexts(cmd)
    if not hmac.compare_digest(cmd.credentials_digest, sealer.digest(secrets)):
        # The API always sets it; a caller that did not would let a retry with other
        # secrets pass as the same request.
        raise ValidationFailed("credentials_digest does not match credentials")
    return {purpose: sealer.seal(secret) for purpose, secret in secrets.items()}


def handlers(sealer: Sealer | None) -> dict[type[Any], Handler]:
    """The handlers, sealing with ``sealer`` (None: secrets cannot be stored)."""

    def configure_provider(
        uow: UnitOfWork, cmd: pm.ConfigurePaymentProvider, ctx: Context
    ) -> Result:
        # Checked before sealing, so a bad request costs no encryption and says why.
        ProviderSettings.check(cmd.provider, dict(cmd.credential_env), tuple(cmd.credentials))
        sealed = sealed_credentials(cmd, sealer)
        settings = uow.find(ProviderSettings, ProviderSettings.create_id(ctx.project_id))
        if settings is None:
            settings = ProviderSettings.start(ctx.project_id)
            uow.add(settings)
        settings.configure(cmd.provider, dict(cmd.credential_env), cmd.api_base, sealed)
        return Result.changed({"payment_provider": settings.summary()})

    def reseal_credentials(uow: UnitOfWork, cmd: ResealProviderCredentials, ctx: Context) -> Result:
        settings = uow.find(ProviderSettings, ProviderSettings.create_id(ctx.project_id))
        if settings is None or not settings.sealed_credentials:
            return Result.unchanged({"resealed": [], "unreadable": {}, "kept": 0})
        if sealer is None:
            raise SecretStorageDisabled(NO_SECRETS_KEY)
        sealed = dict(settings.sealed_credentials)
        current = sealer.primary_key_id
        stale = sorted(p for p, value in sealed.items() if value["key_id"] != current)
        resealed: list[str] = []
        unreadable: dict[str, str] = {}
        for purpose in stale:
            try:
                sealed[purpose] = sealer.reseal(sealed[purpose])
                resealed.append(purpose)
            except ValueError as error:
                # Reported, not raised: the other projects of a reseal run go on, and the
                # operator learns which key this one still needs.
                unreadable[purpose] = str(error)
        if resealed:
            settings.reseal(sealed)
        kept = len(sealed) - len(stale)
        return Result.changed({"resealed": resealed, "unreadable": unreadable, "kept": kept})

    return {
        pm.ConfigurePaymentProvider: configure_provider,
        ResealProviderCredentials: reseal_credentials,
    }
