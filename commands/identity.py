"""Handlers of customer access (issue 14): the project's identity provider and customer
sessions.

Secrets are sealed here before any aggregate records anything: the identity provider's
shared secret (kept sealed in its event), and a new session's token (only its SHA-256 is
recorded; the token itself is sealed into the command's answer, so that a retry under
the same Idempotency-Key shows the same token, and the API opens it once to show it).
Both need the server's TALLY_SECRETS_KEY, as webhook endpoint secrets do.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from commands import identity_messages as im
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.ledger import _new_id
from commands.now import context_now
from commands.provider_config import NO_SECRETS_KEY, Sealer
from domain.customer_sessions import CustomerSession
from domain.customers import Customer
from domain.errors import ValidationFailed
from domain.identity_providers import IdentityProvider
from domain.projects import Project
from domain.provider_settings import SecretStorageDisabled

SESSION_PREFIX = "tcs"


def hash_session_token(token: str) -> str:
    # The token's secret part is 256-bit random, so a plain SHA-256 is enough (as for
    # API keys, commands.projects.hash_key).
    return hashlib.sha256(token.encode()).hexdigest()


def split_session_token(token: str) -> str | None:
    """The session id (32 hex digits) inside ``tcs_<id>_<secret>``, or None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != SESSION_PREFIX or not parts[2]:
        return None
    session_id = parts[1]
    if len(session_id) != 32 or any(c not in "0123456789abcdef" for c in session_id):
        return None
    return session_id


def handlers(sealer: Sealer | None) -> dict[type[Any], Handler]:
    """The handlers, sealing with ``sealer`` (None: secrets cannot be stored)."""

    def sealer_or_refuse() -> Sealer:
        if sealer is None:
            raise SecretStorageDisabled(NO_SECRETS_KEY)
        return sealer

    def configure(uow: UnitOfWork, cmd: im.ConfigureIdentityProvider, ctx: Context) -> Result:
        project = uow.get(Project, ctx.project_id, ctx.project_id)
        values = cmd.model_dump(exclude={"shared_secret", "shared_secret_digest"})
        sealed = None
        if cmd.shared_secret is not None:
            box = sealer_or_refuse()
            plain = {"shared_secret": cmd.shared_secret.get_secret_value()}
            if not hmac.compare_digest(cmd.shared_secret_digest, box.digest(plain)):
                raise ValidationFailed("shared_secret_digest does not match shared_secret")
            sealed = box.seal(plain["shared_secret"])
        provider = uow.find(IdentityProvider, IdentityProvider.create_id(ctx.project_id))
        test_mode = project.mode == "test"
        if provider is None:
            provider = IdentityProvider.first(ctx.project_id, values, sealed, test_mode=test_mode)
            uow.add(provider)
        else:
            provider.configure(values, sealed, test_mode=test_mode)
        return Result.changed({"identity_provider": provider.summary()})

    def create_session(uow: UnitOfWork, cmd: im.CreateCustomerSession, ctx: Context) -> Result:
        uow.get(Customer, cmd.customer_id, ctx.project_id)
        box = sealer_or_refuse()
        session_id = _new_id(ctx, "customer_session")
        token = f"{SESSION_PREFIX}_{session_id.hex}_{secrets.token_urlsafe(32)}"
        now = context_now(ctx)
        session = CustomerSession.start(
            session_id,
            ctx.project_id,
            cmd.customer_id,
            hash_session_token(token),
            now,
            cmd.expires_in_s,
        )
        uow.add(session)
        shown = {**session.summary(now), "created": created(session)}
        body = {"customer_session": shown, "sealed_secret": box.seal(token)}
        return Result.created(body)

    def revoke_session(uow: UnitOfWork, cmd: im.RevokeCustomerSession, ctx: Context) -> Result:
        session = uow.get(CustomerSession, cmd.session_id, ctx.project_id)
        now = context_now(ctx)
        session.revoke(now)
        shown = {**session.summary(now), "created": created(session)}
        return Result.changed({"customer_session": shown})

    return {
        im.ConfigureIdentityProvider: configure,
        im.CreateCustomerSession: create_session,
        im.RevokeCustomerSession: revoke_session,
    }
