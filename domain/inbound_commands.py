"""A command that came in from the broker and was refused (issue 12, commands in).

Tally records the refusal in the log, so that the product learns of it as it learns of
everything else, through an integration event (``billing.command.rejected``, delivered
by webhook and broker like the others), and an auditor sees it in the history. A
message's commands ran nothing when it was refused; this is the one fact it leaves.

Its id is a ``uuid5`` of the project and the message's key (its id, or a hash of its
bytes when it had no usable id), so a message refused twice (redelivered) is recorded
once.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.ids import uuid5
from domain.limits import (
    MAX_CODE_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_ID_CHARS,
    MAX_REF_CHARS,
    check_text,
)

NAMESPACE = UUID("3c9e1b2a-7d4f-5e60-8a1b-2c3d4e5f6a7b")


class InboundCommand(TallyAggregate):
    """A refused message of a project's command queue: its id and type when it had
    them, the queue, and why (the error table's code and the detail)."""

    TOPIC = "tally:InboundCommand"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:InboundCommand.Created"

    @staticmethod
    def create_id(project_id: UUID, message_key: str) -> UUID:
        return uuid5(NAMESPACE, f"{project_id}:{message_key}")

    @event("Rejected", topic="tally:InboundCommand.Rejected")
    def __init__(
        self,
        project_id: UUID,
        message_key: str,
        message_id: str | None,
        message_type: str | None,
        queue: str,
        code: str,
        detail: str,
    ) -> None:
        self.project_id = project_id
        self.message_key = message_key
        self.message_id = message_id
        self.message_type = message_type
        self.queue = queue
        self.code = code
        self.detail = detail

    @classmethod
    def reject(
        cls,
        project_id: UUID,
        message_key: str,
        message_id: str | None,
        message_type: str | None,
        queue: str,
        code: str,
        detail: str,
    ) -> InboundCommand:
        check_text(message_key, "message_key", MAX_REF_CHARS, min_chars=1)
        check_text(queue, "queue", MAX_REF_CHARS, min_chars=1)
        check_text(code, "code", MAX_CODE_CHARS, min_chars=1)
        check_text(detail, "detail", MAX_DESCRIPTION_CHARS, free_text=True)
        # Both go out in billing.command.rejected: checked here as every other field, so
        # no event the integration_events read model cannot store is ever recorded.
        if message_id is not None:
            check_text(message_id, "message_id", MAX_ID_CHARS, min_chars=1)
        if message_type is not None:
            check_text(message_type, "message_type", MAX_CODE_CHARS, min_chars=1)
        return cls(
            project_id=project_id,
            message_key=message_key,
            message_id=message_id,
            message_type=message_type,
            queue=queue,
            code=code,
            detail=detail,
        )

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "object": "command_rejection",
            "message_id": self.message_id,
            "message_type": self.message_type,
            "queue": self.queue,
            "code": self.code,
            "detail": self.detail,
        }
