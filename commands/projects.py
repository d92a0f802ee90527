"""Handlers for projects and API keys. These run from the CLI, without idempotency keys:
a key's secret must never be kept in an idempotency record."""

from __future__ import annotations

import hashlib
import secrets

from commands import messages as m
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
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


def create_project(uow: UnitOfWork, cmd: m.CreateProject, ctx: Context) -> Result:
    project = Project.create(cmd.name, cmd.mode)
    uow.add(project)
    summary = {"id": str(project.id), "name": project.name, "mode": project.mode}
    return Result.created({"project": {**summary, "created": created(project)}})


def issue_api_key(uow: UnitOfWork, cmd: m.IssueApiKey, ctx: Context) -> Result:
    project = uow.get(Project, cmd.project_id, cmd.project_id)
    key_id = secrets.token_hex(8)
    secret_key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    project.issue_key(key_id, hash_key(secret_key), secret_key[:12], cmd.label)
    # The secret appears in this response once and nowhere else.
    return Result.created({"key_id": key_id, "secret": secret_key, "project_id": str(project.id)})


def revoke_api_key(uow: UnitOfWork, cmd: m.RevokeApiKey, ctx: Context) -> Result:
    project = uow.get(Project, cmd.project_id, cmd.project_id)
    project.revoke_key(cmd.key_id)
    return Result.changed({"key_id": cmd.key_id, "revoked": True})


HANDLERS: dict[type[m.Command], Handler] = {
    m.CreateProject: create_project,
    m.IssueApiKey: issue_api_key,
    m.RevokeApiKey: revoke_api_key,
}
