"""Request and response bodies of the webhook routes (``api/routes/webhooks.py``)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from api.objects import Instant, Typed, created_field
from api.schemas.common import Result, examples


class WebhookEvent(Result, Typed):
    model_config = examples(
        {
            "id": "9c8b7a6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
            "object": "webhook_event",
            "provider": "stripe",
            "event_id": "evt_1PqR2s",
            "type": "checkout.session.completed",
            "status": "applied",
            "created": "2030-01-01T09:00:00.000000Z",
        },
        extra="allow",
    )
    id: UUID
    object: Literal["webhook_event"] = Field(default="webhook_event", description="Its type")
    provider: str
    event_id: str
    type: str
    status: str = Field(description="received, applied, ignored, parked or failed")
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class WebhookAnswer(Result):
    recorded: int
    duplicates: int
    events: list[WebhookEvent]
