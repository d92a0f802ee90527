"""The write side of a project's payment-provider settings (``ConfigurePaymentProvider``)."""

from __future__ import annotations

from typing import Any

from commands import provider_messages as pm
from commands.bus import Context, Handler
from commands.unit_of_work import UnitOfWork
from domain.provider_settings import ProviderSettings

Result = tuple[int, dict[str, Any]]


def configure_provider(uow: UnitOfWork, cmd: pm.ConfigurePaymentProvider, ctx: Context) -> Result:
    settings = uow.find(ProviderSettings, ProviderSettings.create_id(ctx.project_id))
    if settings is None:
        ProviderSettings.check(cmd.provider, dict(cmd.credential_env))
        settings = ProviderSettings.start(ctx.project_id)
        uow.add(settings)
    settings.configure(cmd.provider, dict(cmd.credential_env), cmd.api_base)
    return 200, {"payment_provider": settings.summary()}


HANDLERS: dict[type[Any], Handler] = {
    pm.ConfigurePaymentProvider: configure_provider,
}
