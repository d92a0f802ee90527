"""Idempotency records: the first answer to a keyed command, kept in the event store.

The record's id is a ``uuid5`` of the project and the key, so two saves of the same key
conflict in the store itself: exactly one wins, whatever the concurrency.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.errors import IdempotencyKeyReused
from domain.ids import uuid5

NAMESPACE = UUID("0b7f3c1e-8a2d-4c6f-b1e9-5d7a3f2c8e10")


def request_hash(command_name: str, body: dict[str, Any]) -> str:
    canonical = json.dumps([command_name, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyRecord(TallyAggregate):
    TOPIC = "tally:IdempotencyRecord"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:IdempotencyRecord.Created"

    @staticmethod
    def create_id(project_id: UUID, key: str) -> UUID:
        return uuid5(NAMESPACE, f"{project_id}:{key}")

    @event("Recorded", topic="tally:IdempotencyRecord.Recorded")
    def __init__(
        self, project_id: UUID, key: str, request_hash: str, status_code: int, response: Any
    ) -> None:
        self.project_id = project_id
        self.key = key
        self.request_hash = request_hash
        self.status_code = status_code
        self.response = response

    def check_same_request(self, other_hash: str) -> None:
        if other_hash != self.request_hash:
            raise IdempotencyKeyReused(
                f"idempotency key '{self.key}' was already used for a different request",
                key=self.key,
            )
