"""Request and response models of the usage routes (``api/routes/usage.py``): usage
events in (one or a batch) and current usage out. Limits: ``domain/limits/``."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from api.objects import Instant
from api.schemas.common import CUSTOMER_ID, SUBSCRIPTION_ID, Request, Response, request_config
from commands.limits_types import Ref, Timestamp
from commands.meter_messages import EventName, PropertyName, PropertyValue
from domain.limits import (
    DECIMAL_PATTERN,
    MAX_PROPERTIES,
    MAX_TRANSACTION_ID_CHARS,
    MAX_USAGE_BATCH,
    TEXT_PATTERN,
    USAGE_FUTURE_SKEW_S,
)

TransactionId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TRANSACTION_ID_CHARS,
        pattern=TEXT_PATTERN,
        description="Your id of the event, unique per project: a resend has one effect "
        "(answered `existed`)",
    ),
]
Properties = Annotated[
    dict[PropertyName, PropertyValue],
    Field(
        max_length=MAX_PROPERTIES,
        description=f"At most {MAX_PROPERTIES} properties, every value a string: numbers "
        f"as decimal strings ({DECIMAL_PATTERN}), never JSON numbers",
    ),
]
EXAMPLE: dict[str, Any] = {
    "transaction_id": "req_8f2c1a",
    "external_customer_id": "user_42",
    "event_name": "completion",
    "timestamp": "2030-01-15T10:04:05Z",
    "properties": {"tokens": "1250", "model": "large", "region": "eu"},
}


class UsageEventRequest(Request):
    model_config = request_config([EXAMPLE])
    transaction_id: TransactionId
    external_customer_id: Ref | None = Field(
        default=None, description="The customer's external id; or give `subscription_id`"
    )
    subscription_id: UUID | None = Field(
        default=None,
        description="The subscription it counts toward (its customer's usage too); or "
        "give `external_customer_id`. Both given: they must agree",
    )
    event_name: EventName = Field(description="Meters with this `event_name` count it")
    timestamp: Timestamp | None = Field(
        default=None,
        description=f"When it happened; omitted: when received. At most "
        f"{USAGE_FUTURE_SKEW_S} s ahead of the project's clock (the customer's test "
        "clock, if it has one)",
    )
    properties: Properties = Field(default_factory=dict)


BatchEvents = Annotated[
    list[dict[str, Any]],
    Field(min_length=1, max_length=MAX_USAGE_BATCH),
    # Each item is an object stated by UsageEventRequest, but checked on its own: an
    # item that breaks that schema is a refusal in the answer, not a refusal of the
    # batch, so the batch's own schema holds only what refuses the whole request.
    WithJsonSchema(
        {
            "type": "array",
            "items": {
                "type": "object",
                "description": "A usage event, as `UsageEventRequest` states it "
                "(`POST /v1/usage_events`)",
            },
            "minItems": 1,
            "maxItems": MAX_USAGE_BATCH,
            "description": "Each event is checked on its own against `UsageEventRequest` "
            "and the door: one that is refused is answered with its error (validation_error "
            "for its shape) and the others are kept",
        }
    ),
]


class UsageBatchRequest(Request):
    model_config = request_config([{"events": [EXAMPLE]}])
    events: BatchEvents


class UsageEvent(Response):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "object": "usage_event",
                    **EXAMPLE,
                    "timestamp": "2030-01-15T10:04:05.000000Z",
                    "customer_id": CUSTOMER_ID,
                    "subscription_id": None,
                    "existed": False,
                }
            ]
        },
    )
    object: Literal["usage_event"] = "usage_event"
    transaction_id: str
    customer_id: UUID
    subscription_id: UUID | None
    event_name: str
    timestamp: Instant
    properties: dict[str, str]
    existed: bool = Field(description="true: a resend of a stored event, nothing written")


class EventError(BaseModel):
    code: str = Field(description="The problem code the single route would answer")
    detail: str
    status: int = Field(description="The HTTP status the single route would answer")


class EventResult(BaseModel):
    index: int = Field(description="Its place in the request, from 0")
    transaction_id: str | None
    status: Literal["created", "existed", "refused"]
    error: EventError | None = None


class UsageBatchResult(Response):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "object": "usage_event_batch",
                    "created": 1,
                    "existed": 0,
                    "refused": 1,
                    "results": [
                        {"index": 0, "transaction_id": "req_1", "status": "created",
                         "error": None},
                        {"index": 1, "transaction_id": "req_2", "status": "refused",
                         "error": {"code": "unknown_event_name", "status": 422,
                                   "detail": "no meter counts usage events named 'x'"}},
                    ],
                }
            ]
        },
    )  # fmt: skip
    object: Literal["usage_event_batch"] = "usage_event_batch"
    created: int
    existed: int
    refused: int
    results: list[EventResult]


class UsageGroup(BaseModel):
    group: dict[str, str | None] = Field(
        description="The meter's group_by properties and their values ({} without)"
    )
    value: str | None = Field(
        description="The quantity as a decimal string; null for max and latest without events"
    )
    billed: str | None = Field(
        default=None,
        description="A subscription's invoiced period: the quantity its invoices billed "
        "for this group (late usage billed on the next invoice included); null when not "
        "billed",
    )


class MeterUsage(BaseModel):
    meter_id: UUID
    code: str
    aggregation: str
    groups: list[UsageGroup]


class Usage(Response):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "object": "usage",
                    "customer_id": CUSTOMER_ID,
                    "subscription_id": SUBSCRIPTION_ID,
                    "period_start": "2030-01-01T00:00:00.000000Z",
                    "period_end": "2030-02-01T00:00:00.000000Z",
                    "meters": [
                        {"meter_id": "3c2b1a09-8f7e-5d6c-9b5a-4e3d2c1b0a9f",
                         "code": "llm_tokens", "aggregation": "sum",
                         "groups": [{"group": {"model": "large"}, "value": "1250"}]}
                    ],
                }
            ]
        },
    )  # fmt: skip
    object: Literal["usage"] = "usage"
    customer_id: UUID
    subscription_id: UUID | None = None
    period_start: Instant
    period_end: Instant
    meters: list[MeterUsage]
