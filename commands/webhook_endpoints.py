"""Webhook endpoints (issue 12): the commands and their handlers.

A signing secret is made here (``whsec_`` and 24 random bytes in base64, the Standard
Webhooks format) and sealed with the server's ``TALLY_SECRETS_KEY`` (``Sealer``) before
the aggregate records anything, so the log holds only ciphertext. The create and rotate
answers carry the sealed value under ``sealed_secret``; the API opens it to show the
secret once (and the same secret again when a request is replayed under its key).

Messages are defined beside their handlers, as ``commands.provider_config`` does; the
bus takes any ``Command``.
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StrictInt

from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.ledger import _new_id
from commands.limits_types import Description
from commands.messages import Command
from commands.now import context_now
from commands.provider_config import NO_SECRETS_KEY, Sealer
from domain.copies import plain_copy
from domain.limits import MAX_URL_CHARS, WEBHOOK_URL_PATTERN
from domain.projects import Project
from domain.provider_settings import SecretStorageDisabled
from domain.webhook_endpoints import (
    MAX_ENABLED_EVENTS,
    MAX_SECRET_OVERLAP,
    WebhookEndpoint,
    check_enabled_events,
    check_url,
)

SECRET_BYTES = 24
Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_CHARS, pattern=WEBHOOK_URL_PATTERN)]
EventTypes = Annotated[list[str], Field(min_length=1, max_length=MAX_ENABLED_EVENTS)]
OverlapSeconds = Annotated[StrictInt, Field(ge=0, le=int(MAX_SECRET_OVERLAP.total_seconds()))]


class CreateWebhookEndpoint(Command):
    url: Url
    enabled_events: EventTypes = Field(default_factory=lambda: ["*"])
    description: Description = ""


class UpdateWebhookEndpoint(Command):
    endpoint_id: UUID
    url: Url | None = None
    enabled_events: EventTypes | None = None
    description: Description | None = None
    status: Annotated[str, Field(pattern="^(enabled|disabled)$")] | None = None


class RotateWebhookSecret(Command):
    endpoint_id: UUID
    # How long the previous secret keeps signing beside the new one.
    previous_expires_in_s: OverlapSeconds = 86_400


class DeleteWebhookEndpoint(Command):
    endpoint_id: UUID


class DisableWebhookEndpoint(Command):
    """Delivery's own command: the endpoint kept failing (``reason`` says since when)."""

    endpoint_id: UUID
    reason: Description


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def endpoint_summary(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {**endpoint.summary(), "created": created(endpoint)}


def _test_mode(uow: UnitOfWork, ctx: Context) -> bool:
    return uow.get(Project, ctx.project_id, ctx.project_id).mode == "test"


def handlers(sealer: Sealer | None, types: frozenset[str]) -> dict[type[Any], Handler]:
    """The handlers, sealing secrets with ``sealer`` (None: endpoints cannot be made,
    since their secret could not be stored); ``types`` are the public event types an
    endpoint may ask for (``projections.integration_catalog.TYPES``, handed in by the
    composition root: commands do not import projections)."""

    def seal() -> dict[str, str]:
        if sealer is None:
            raise SecretStorageDisabled(NO_SECRETS_KEY)
        return sealer.seal(new_secret())

    def create(uow: UnitOfWork, cmd: CreateWebhookEndpoint, ctx: Context) -> Result:
        url = check_url(cmd.url, test_mode=_test_mode(uow, ctx))
        wanted = check_enabled_events(list(cmd.enabled_events), types)
        project = uow.get(Project, ctx.project_id, ctx.project_id)
        endpoint_id = _new_id(ctx, "webhook_endpoint")
        project.check_can_add_webhook_endpoint()
        sealed = seal()
        endpoint = WebhookEndpoint.register(
            endpoint_id, ctx.project_id, url, wanted, cmd.description, sealed
        )
        project.add_webhook_endpoint(endpoint_id)
        uow.add(endpoint)
        body = {"webhook_endpoint": endpoint_summary(endpoint), "sealed_secret": plain_copy(sealed)}
        return Result.created(body)

    def update(uow: UnitOfWork, cmd: UpdateWebhookEndpoint, ctx: Context) -> Result:
        endpoint = uow.get(WebhookEndpoint, cmd.endpoint_id, ctx.project_id)
        url = None if cmd.url is None else check_url(cmd.url, test_mode=_test_mode(uow, ctx))
        wanted = cmd.enabled_events
        endpoint.update(
            url=url,
            enabled_events=None if wanted is None else check_enabled_events(list(wanted), types),
            description=cmd.description,
        )
        if cmd.status == "enabled" and endpoint.status != "enabled":
            endpoint.enable()
        elif cmd.status == "disabled" and endpoint.status != "disabled":
            endpoint.disable("disabled through the API")
        return Result.changed({"webhook_endpoint": endpoint_summary(endpoint)})

    def rotate(uow: UnitOfWork, cmd: RotateWebhookSecret, ctx: Context) -> Result:
        endpoint = uow.get(WebhookEndpoint, cmd.endpoint_id, ctx.project_id)
        until = context_now(ctx) + timedelta(seconds=cmd.previous_expires_in_s)
        sealed = seal()
        endpoint.rotate_secret(sealed, until)
        body = {"webhook_endpoint": endpoint_summary(endpoint), "sealed_secret": plain_copy(sealed)}
        return Result.changed(body)

    def delete(uow: UnitOfWork, cmd: DeleteWebhookEndpoint, ctx: Context) -> Result:
        endpoint = uow.get(WebhookEndpoint, cmd.endpoint_id, ctx.project_id)
        endpoint.delete()
        uow.get(Project, ctx.project_id, ctx.project_id).remove_webhook_endpoint(endpoint.id)
        return Result.changed({"webhook_endpoint": endpoint_summary(endpoint)})

    def disable(uow: UnitOfWork, cmd: DisableWebhookEndpoint, ctx: Context) -> Result:
        endpoint = uow.get(WebhookEndpoint, cmd.endpoint_id, ctx.project_id)
        if endpoint.status == "enabled":
            endpoint.disable(cmd.reason)
        return Result.changed({"webhook_endpoint": endpoint_summary(endpoint)})

    return {
        CreateWebhookEndpoint: create,
        UpdateWebhookEndpoint: update,
        RotateWebhookSecret: rotate,
        DeleteWebhookEndpoint: delete,
        DisableWebhookEndpoint: disable,
    }
