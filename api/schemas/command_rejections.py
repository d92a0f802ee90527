"""The object of ``billing.command.rejected`` (issue 12, commands in): a command from the
broker that Tally refused and dead-lettered. It has no GET route: the event and the
dead letter are where it is seen."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from api.objects import Instant, created_field
from api.schemas.common import ApiObject


class CommandRejection(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "2f4e6a8c-0b1d-5e3f-9a7c-5d6e7f8a9b0c",
                    "object": "command_rejection",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "message_id": "msg_01HF3Z",
                    "message_type": "user.subscribed",
                    "queue": "tally.commands.5b0f0a53-8d1c-4a8e-9c61-2f6f3f1f1a10",
                    "code": "no_matching_price",
                    "detail": "plan 'pro' has no active recurring price in USD",
                }
            ]
        },
    )
    id: UUID
    object: Literal["command_rejection"] = Field(
        default="command_rejection", description="Its type"
    )
    message_id: str | None = Field(
        description="The message's id; null when it had no well-formed one"
    )
    message_type: str | None = Field(
        description="The message's type (user.subscribed, ...); null when it had no known one"
    )
    queue: str = Field(description="The queue it came from: tally.commands.<project id>")
    code: str = Field(description="Why: the error code the API would answer (docs/api.md)")
    detail: str = Field(description="Why, in words")
    created: Instant | None = created_field()
