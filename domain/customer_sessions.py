"""Customer sessions (issue 14): short-lived tokens a project key mints for one customer.

For teams without an identity provider: their backend asks Tally for a token scoped to
one customer (``POST /v1/customer_sessions``) and hands it to that customer's browser,
which calls ``/v1/me`` with it. The token is ``tcs_<session id>_<secret>``; only its
SHA-256 is recorded. A session ends at ``expires_at`` or when it is revoked, whichever
comes first; the authentication reads the session from the event log on every request,
so a revocation is refused from the next request on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.errors import InvalidTransition, ValidationFailed
from domain.limits import MAX_CUSTOMER_SESSION_S, MIN_CUSTOMER_SESSION_S

ACTIVE = "active"
REVOKED = "revoked"
EXPIRED = "expired"


def check_duration(expires_in_s: int) -> int:
    if not MIN_CUSTOMER_SESSION_S <= expires_in_s <= MAX_CUSTOMER_SESSION_S:
        raise ValidationFailed(
            f"expires_in_s must be {MIN_CUSTOMER_SESSION_S} to {MAX_CUSTOMER_SESSION_S}",
            expires_in_s=expires_in_s,
        )
    return expires_in_s


class CustomerSession(TallyAggregate):
    TOPIC = "tally:CustomerSession"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:CustomerSession.Created"

    @event("Started", topic="tally:CustomerSession.Started")
    def __init__(
        self,
        id: UUID,
        project_id: UUID,
        customer_id: UUID,
        token_hash: str,
        expires_at: datetime,
    ) -> None:
        self.project_id = project_id
        self.customer_id = customer_id
        self.token_hash = token_hash
        self.expires_at = expires_at
        self.revoked_at: datetime | None = None

    @classmethod
    def start(
        cls,
        session_id: UUID,
        project_id: UUID,
        customer_id: UUID,
        token_hash: str,
        now: datetime,
        expires_in_s: int,
    ) -> CustomerSession:
        expires_at = now + timedelta(seconds=check_duration(expires_in_s))
        return cls(
            id=session_id,
            project_id=project_id,
            customer_id=customer_id,
            token_hash=token_hash,
            expires_at=expires_at,
        )

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return REVOKED
        return ACTIVE if now < self.expires_at else EXPIRED

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is not None:
            raise InvalidTransition(
                f"customer session {self.id} is already revoked", state=REVOKED, trigger="revoke"
            )
        self._revoked(revoked_at=now)

    @event("Revoked", topic="tally:CustomerSession.Revoked")
    def _revoked(self, revoked_at: datetime) -> None:
        self.revoked_at = revoked_at

    def summary(self, now: datetime) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "object": "customer_session",
            "customer_id": str(self.customer_id),
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "status": self.status(now),
        }
