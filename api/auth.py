"""API-key authentication: ``Authorization: Bearer tly_<key id>_<secret>``.

The key id selects the stored hash; the presented key is hashed and compared in constant
time. Every failure (missing, malformed, unknown, revoked, wrong secret) answers the same
401 ``unauthenticated``, so the answer never tells an attacker which part was right.
The key and the header are never logged.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.bootstrap import Tally
from commands.bus import Context
from commands.projects import hash_key, split_key
from domain.errors import Unauthenticated

# auto_error=False: we raise our own problem document instead of FastAPI's 403.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A project API key: `Authorization: Bearer tly_<key_id>_<secret>`.",
)

# Upper bound on a presented key, so that hashing a huge header costs nothing.
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class Caller:
    """The authenticated project and key. The key id is the actor recorded on events."""

    project_id: UUID
    key_id: str
    mode: str

    def context(self, idempotency_key: str | None = None) -> Context:
        return Context(self.project_id, self.key_id, idempotency_key)


def get_tally(request: Request) -> Tally:
    tally: Tally = request.app.state.tally
    return tally


def authenticate(tally: Tally, presented: str) -> Caller:
    from projections.api_keys import lookup_key

    refused = Unauthenticated("a valid API key is required (Authorization: Bearer <key>)")
    if len(presented) > MAX_KEY_CHARS:
        raise refused
    key_id = split_key(presented)
    if key_id is None:
        raise refused
    row: dict[str, Any] | None = lookup_key(tally.views, tally.schema, key_id)
    if row is None:
        # Hash anyway so an unknown key id takes as long as a wrong secret.
        hmac.compare_digest(hash_key(presented), "0" * 64)
        raise refused
    if not hmac.compare_digest(hash_key(presented), str(row["key_hash"])) or row["revoked"]:
        raise refused
    return Caller(project_id=UUID(str(row["project_id"])), key_id=key_id, mode=row["project_mode"])


def require_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """FastAPI dependency: the authenticated caller, or a 401 problem."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a valid API key is required (Authorization: Bearer <key>)")
    caller = authenticate(get_tally(request), credentials.credentials.strip())
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(require_caller)]
TallyDep = Annotated[Tally, Depends(get_tally)]
