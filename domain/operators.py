"""The operator: who runs this Tally deployment and manages its projects (issue 14).

One aggregate, at a fixed id, holds the operator keys (only their hashes). An operator key
is a principal of its own: it calls the operator routes (``/v1/projects``) and nothing
else, and a project key never calls those (``api/operator_auth.py``). The aggregate
belongs to itself, as a project does, so tenancy checks treat it like any aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.errors import LimitReached, NotFound, ValidationFailed
from domain.ids import uuid5
from domain.limits import MAX_LABEL_CHARS, MAX_OPERATOR_KEYS, check_text

NAMESPACE = UUID("8e4d2b1a-7c3f-4e9a-b6d5-0a1f2e3c4b5d")
OPERATOR_ID = uuid5(NAMESPACE, "tally:operator")


@dataclass
class OperatorKeyInfo:
    key_hash: str
    prefix: str
    label: str
    revoked: bool = False


class Operator(TallyAggregate):
    TOPIC = "tally:Operator"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:Operator.Created"

    @event("Started", topic="tally:Operator.Started")
    def __init__(self, id: UUID) -> None:
        self.project_id = id
        self.keys: dict[str, OperatorKeyInfo] = {}

    @classmethod
    def start(cls) -> Operator:
        return cls(id=OPERATOR_ID)

    def active_keys(self) -> int:
        return sum(not info.revoked for info in self.keys.values())

    def issue_key(self, key_id: str, key_hash: str, prefix: str, label: str) -> None:
        check_text(label, "label", MAX_LABEL_CHARS)
        if key_id in self.keys:
            raise ValidationFailed(f"operator key {key_id} already exists")
        if self.active_keys() >= MAX_OPERATOR_KEYS:
            raise LimitReached(
                f"there are at most {MAX_OPERATOR_KEYS} active operator keys (revoke one first)",
                limit=MAX_OPERATOR_KEYS,
            )
        self._key_issued(key_id=key_id, key_hash=key_hash, prefix=prefix, label=label)

    @event("KeyIssued", topic="tally:Operator.KeyIssued")
    def _key_issued(self, key_id: str, key_hash: str, prefix: str, label: str) -> None:
        self.keys[key_id] = OperatorKeyInfo(key_hash=key_hash, prefix=prefix, label=label)

    def revoke_key(self, key_id: str) -> None:
        info = self.keys.get(key_id)
        if info is None:
            raise NotFound(f"operator key {key_id} not found", id=key_id)
        if info.revoked:
            raise ValidationFailed(f"operator key {key_id} is already revoked")
        self._key_revoked(key_id=key_id)

    @event("KeyRevoked", topic="tally:Operator.KeyRevoked")
    def _key_revoked(self, key_id: str) -> None:
        self.keys[key_id].revoked = True
