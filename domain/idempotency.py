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


# The statuses version 1 records kept, and the result kind the API answers each for
# (commands.bus.Happened, api/routes/common.py STATUS_BY_HAPPENED). Every kind but these
# two answers 200, so 200 may stand for any of them: "changed" is one. Frozen history:
# this never changes, whatever kinds come later.
_V1_HAPPENED = {201: "created", 202: "accepted", 200: "changed"}


def happened_for_status(status_code: int) -> str:
    """What happened, for a version-1 record that kept the status it answered."""
    return _V1_HAPPENED[status_code]


class IdempotencyRecord(TallyAggregate):
    """The first answer to a keyed command: what happened (``happened``, the command
    result's kind, e.g. ``"created"``) and the result's body.

    Version 2 keeps ``happened`` where version 1 kept the HTTP status the handler chose
    (issue 17: handlers say what happened; the API alone decides the status, from
    ``happened``, for a first answer and its replays alike). Records of version 1, and
    stored states of them, upcast: each status becomes the kind the API answers it for,
    so an old record replays with the status and body it was first answered with."""

    TOPIC = "tally:IdempotencyRecord"
    class_version = 2

    class Created(TallyAggregate.Created):
        TOPIC = "tally:IdempotencyRecord.Created"

    class Recorded(Created):
        """Version 2 has ``happened`` instead of ``status_code``."""

        TOPIC = "tally:IdempotencyRecord.Recorded"
        class_version = 2

        project_id: UUID
        key: str
        request_hash: str
        happened: str
        response: Any

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["happened"] = happened_for_status(state.pop("status_code"))

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["happened"] = happened_for_status(state.pop("status_code"))

    @staticmethod
    def create_id(project_id: UUID, key: str) -> UUID:
        return uuid5(NAMESPACE, f"{project_id}:{key}")

    @event(Recorded)
    def __init__(
        self, project_id: UUID, key: str, request_hash: str, happened: str, response: Any
    ) -> None:
        self.project_id = project_id
        self.key = key
        self.request_hash = request_hash
        self.happened = happened
        self.response = response

    def check_same_request(self, other_hash: str) -> None:
        if other_hash != self.request_hash:
            raise IdempotencyKeyReused(
                f"idempotency key '{self.key}' was already used for a different request",
                key=self.key,
            )
