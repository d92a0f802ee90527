"""Handlers for projects and API keys. These run from the CLI, without idempotency keys:
a key's secret must never be kept in an idempotency record."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from commands import messages as m
from commands import operator_messages as om
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.now import context_now
from domain.projects import Project

KEY_PREFIX = "tly"


def hash_key(secret_key: str) -> str:
    # Keys are 256-bit random, so a plain SHA-256 is enough; a slow KDF would only make
    # every authenticated request slower without adding security.
    return hashlib.sha256(secret_key.encode()).hexdigest()


def split_key(secret_key: str) -> str | None:
    """Return the key id inside ``tly_<key id>_<secret>``, or None if malformed."""
    parts = secret_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def new_key(prefix: str = KEY_PREFIX) -> tuple[str, str]:
    """A new key's id and its whole secret ``<prefix>_<key id>_<random>``."""
    key_id = secrets.token_hex(8)
    return key_id, f"{prefix}_{key_id}_{secrets.token_urlsafe(32)}"


def project_summary(project: Project) -> dict[str, Any]:
    return {
        "id": str(project.id),
        "name": project.name,
        "mode": project.mode,
        "default_currency": project.default_currency,
        "rate_limits": dict(project.rate_limits or {}),
        "created": created(project),
    }


def create_project(uow: UnitOfWork, cmd: m.CreateProject, ctx: Context) -> Result:
    project = Project.create(cmd.name, cmd.mode)
    uow.add(project)
    return Result.created({"project": project_summary(project)})


def issue_api_key(uow: UnitOfWork, cmd: m.IssueApiKey, ctx: Context) -> Result:
    project = uow.get(Project, cmd.project_id, cmd.project_id)
    key_id, secret_key = new_key()
    # A project's first key (made with it) is not counted: ``now`` is None only there.
    now = ctx.now if project.keys else None
    project.issue_key(key_id, hash_key(secret_key), secret_key[:12], cmd.label, now)
    # The secret appears in this response once and nowhere else.
    return Result.created({"key_id": key_id, "secret": secret_key, "project_id": str(project.id)})


def rotate_api_key(uow: UnitOfWork, cmd: om.RotateApiKey, ctx: Context) -> Result:
    project = uow.get(Project, cmd.project_id, cmd.project_id)
    key_id, secret_key = new_key()
    expires_at = project.rotate_key(
        cmd.key_id,
        (key_id, hash_key(secret_key), secret_key[:12], cmd.label),
        cmd.overlap_s,
        context_now(ctx),
    )
    return Result.created(
        {
            "key_id": key_id,
            "secret": secret_key,
            "project_id": str(project.id),
            "rotated": {
                "key_id": cmd.key_id,
                "prefix": project.keys[cmd.key_id].prefix,
                "label": project.keys[cmd.key_id].label,
                "expires_at": expires_at,
            },
        }
    )


def update_project(uow: UnitOfWork, cmd: om.UpdateProject, ctx: Context) -> Result:
    project = uow.get(Project, cmd.project_id, cmd.project_id)
    changed = project.update(cmd.name, cmd.mode, cmd.default_currency)
    body = {"project": project_summary(project)}
    return Result.changed(body) if changed else Result.unchanged(body)


def set_rate_limits(uow: UnitOfWork, cmd: om.SetRateLimits, ctx: Context) -> Result:
    project = uow.get(Project, cmd.project_id, cmd.project_id)
    limits: dict[str, Any] = {
        kind: None if value is None else value.model_dump()
        for kind, value in cmd.rate_limits.items()
    }
    changed = project.set_rate_limits(limits)
    body = {"project": project_summary(project)}
    return Result.changed(body) if changed else Result.unchanged(body)


def revoke_api_key(uow: UnitOfWork, cmd: m.RevokeApiKey, ctx: Context) -> Result:
    project = uow.get(Project, cmd.project_id, cmd.project_id)
    project.revoke_key(cmd.key_id)
    return Result.changed({"key_id": cmd.key_id, "revoked": True})


HANDLERS: dict[type[m.Command], Handler] = {
    m.CreateProject: create_project,
    m.IssueApiKey: issue_api_key,
    m.RevokeApiKey: revoke_api_key,
    om.RotateApiKey: rotate_api_key,
    om.UpdateProject: update_project,
    om.SetRateLimits: set_rate_limits,
}
