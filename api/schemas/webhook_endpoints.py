"""Request and response models of the webhook routes (``api/routes/webhook_endpoints.py``)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from api.objects import Instant, created_field
from api.schemas.common import ApiObject, Request, request_config
from api.schemas.nulls import ShownNull
from commands.limits_types import Description
from commands.webhook_endpoints import OverlapSeconds, Url
from domain.limits import MAX_URL_CHARS
from domain.webhook_endpoints import MAX_ENABLED_EVENTS
from projections.integration_catalog import CATALOG

ENDPOINT_ID = "4c3b2a19-0f8e-4d7c-a6b5-9e8d7c6b5a40"
EventType = Literal[tuple(["*", *(t.name for t in CATALOG)])]  # type: ignore[valid-type]
# The catalogue's types (and '*') as an enum in OpenAPI; the command checks them again.
KnownTypes = Annotated[
    list[EventType],  # type: ignore[valid-type]
    Field(min_length=1, max_length=MAX_ENABLED_EVENTS),
]
EVENTS_DOC = (
    f"The billing.* types to deliver (docs/events.md), or '*' for all; at most {MAX_ENABLED_EVENTS}"
)


class CreateWebhookEndpointRequest(Request):
    model_config = request_config(
        [
            {
                "url": "https://example.com/tally/webhooks",
                "enabled_events": ["billing.invoice.paid", "billing.subscription.canceled"],
                "description": "billing service",
            }
        ]
    )
    url: Url = Field(
        description=f"An absolute http(s) URL of at most {MAX_URL_CHARS} characters, with no "
        "space or control character (percent-encode them); in a live project not a private, "
        "loopback or link-local address"
    )
    enabled_events: KnownTypes = Field(default_factory=lambda: ["*"], description=EVENTS_DOC)
    description: Description = ""


class UpdateWebhookEndpointRequest(Request):
    model_config = request_config([{"enabled_events": ["*"]}, {"status": "disabled"}])
    url: Url | None = Field(default=None, description="Omitted: unchanged")
    enabled_events: KnownTypes | None = Field(default=None, description=EVENTS_DOC)
    description: Description | None = Field(default=None, description="Omitted: unchanged")
    status: Literal["enabled", "disabled"] | None = Field(
        default=None, description="Enabling a disabled endpoint resumes where it stopped"
    )


class RotateSecretRequest(Request):
    model_config = request_config([{"previous_expires_in_s": 86400}])
    previous_expires_in_s: OverlapSeconds = Field(
        default=86_400,
        description="How long the previous secret keeps signing beside the new one (0: "
        "it stops now; at most 7 days)",
    )


class WebhookEndpoint(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": ENDPOINT_ID,
                    "object": "webhook_endpoint",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "url": "https://example.com/tally/webhooks",
                    "enabled_events": ["*"],
                    "description": "billing service",
                    "status": "enabled",
                    "disabled_reason": "",
                    "previous_secret_expires_at": None,
                }
            ]
        },
    )
    id: UUID
    object: Literal["webhook_endpoint"] = Field(default="webhook_endpoint", description="Its type")
    url: str
    enabled_events: list[str]
    description: str = ""
    status: Literal["enabled", "disabled", "deleted"]
    disabled_reason: str = Field(default="", description="Why delivery disabled it, if it did")
    previous_secret_expires_at: ShownNull[Instant] = Field(
        default=None, description="Until then the previous secret signs too (after a rotation)"
    )
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class WebhookEndpointWithSecret(WebhookEndpoint):
    secret: str = Field(
        description="The signing secret (Standard Webhooks, `whsec_...`): shown only in the "
        "answer to the create or rotation (and to its replay under the same key)"
    )


class WebhookDelivery(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d",
                    "object": "webhook_delivery",
                    "created": "2030-01-01T09:00:01.000000Z",
                    "endpoint_id": ENDPOINT_ID,
                    "event_id": "evt_6c0d1f0e8a2b5c3d9e7f1a2b3c4d5e6f",
                    "event_type": "billing.invoice.paid",
                    "position": 42,
                    "ordinal": 0,
                    "status": "failed",
                    "http_status": 503,
                    "latency_ms": 120,
                    "response": "down for maintenance",
                    "error": "answered 503",
                    "redelivery": False,
                }
            ]
        },
    )
    id: UUID
    object: Literal["webhook_delivery"] = Field(default="webhook_delivery", description="Its type")
    endpoint_id: UUID
    event_id: str = Field(description="The envelope's id (the webhook-id header)")
    event_type: str
    position: int = Field(description="The event's position in the log")
    ordinal: int = Field(
        default=0, description="The event's ordinal at that position (the envelope's)"
    )
    status: Literal["succeeded", "failed"]
    http_status: int | None = Field(default=None, description="None: no answer came")
    latency_ms: int
    response: str = Field(description="The start of the receiver's answer (1000 characters)")
    error: str = Field(description="Why it failed ('' when it succeeded)")
    redelivery: bool
    created: Instant | None = created_field()
