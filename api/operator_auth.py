"""Operator-key authentication (issue 14): ``Authorization: Bearer tlyop_<key id>_<secret>``.

An operator key is a principal of its own. It is accepted by the operator routes
(``/v1/projects...``, which depend on ``require_operator``) and by nothing else: every
other route authenticates a project key (``api.auth``), whose prefix is ``tly``, so an
operator key's ``tlyop`` never parses there; and a project key never parses here. Both
directions answer the same 401 ``unauthenticated`` as any other bad key.

Each request reads the operator's keys from the event store (the ``Operator``
aggregate: a handful of events, by primary key), so a key issued or revoked is
accepted or refused from the next request on, in every server worker, with no read
model in between.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import MAX_KEY_CHARS, get_tally
from api.rate_limits import admit, failures_counted
from api.tally import Tally
from commands.bus import Context
from commands.operators import split_operator_key
from commands.projects import hash_key
from domain.errors import Unauthenticated
from domain.operators import OPERATOR_ID, Operator, OperatorKeyInfo
from domain.rate_limits import default_policy

operator_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="OperatorKey",
    description="An operator key (`tally operator keys create`): "
    "`Authorization: Bearer tlyop_<key_id>_<secret>`. Only the operator routes take it.",
)

REFUSAL = "a valid operator key is required (Authorization: Bearer tlyop_...)"


@dataclass(frozen=True)
class OperatorCaller:
    """The authenticated operator key; its id (``operator:<key id>``) is the actor
    recorded on the events it causes."""

    key_id: str

    @property
    def actor(self) -> str:
        return f"operator:{self.key_id}"

    def context(self, project_id: UUID, idempotency_key: str | None = None) -> Context:
        return Context(project_id, self.actor, idempotency_key)


def operator_keys(tally: Tally) -> dict[str, OperatorKeyInfo]:
    """The operator's keys as the event store holds them now (none before the first)."""
    try:
        operator: object = tally.store.repository.get(OPERATOR_ID)
    except AggregateNotFoundError:
        return {}
    assert isinstance(operator, Operator)
    return operator.keys


async def require_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(operator_bearer)],
) -> OperatorCaller:
    """FastAPI dependency of every operator route: the operator key, or a 401 problem."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated(REFUSAL)
    presented = credentials.credentials.strip()
    key_id = split_operator_key(presented) if len(presented) <= MAX_KEY_CHARS else None
    if key_id is None:
        raise Unauthenticated(REFUSAL)
    async with failures_counted(request):  # review finding 7
        keys = await run_in_threadpool(operator_keys, get_tally(request))
        info = keys.get(key_id)
        # Hashed and compared whatever was found, so an unknown key id takes as long.
        matches = hmac.compare_digest(hash_key(presented), info.key_hash if info else "0" * 64)
        if info is None or not matches or info.revoked:
            raise Unauthenticated(REFUSAL)
    await admit(request, "operator", key_id, default_policy("operator"))
    return OperatorCaller(key_id)


OperatorDep = Annotated[OperatorCaller, Depends(require_operator)]
