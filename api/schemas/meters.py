"""Request and response models of the meters routes (``api/routes/meters.py``)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from api.objects import Instant, created_field
from api.schemas.common import ApiObject, Request, request_config
from api.schemas.created import EXISTED
from commands.limits_types import Code, Name
from commands.meter_messages import Aggregation, EventName, GroupBy, MeterFilters, PropertyName

METER_ID = "3c2b1a09-8f7e-5d6c-9b5a-4e3d2c1b0a9f"
METER_EXAMPLE: dict[str, Any] = {
    "code": "llm_tokens",
    "name": "LLM tokens",
    "event_name": "completion",
    "aggregation": "sum",
    "property": "tokens",
    "filters": {"region": ["eu", "us"]},
    "group_by": ["model"],
}


class DefineMeterRequest(Request):
    model_config = request_config(
        [METER_EXAMPLE, {"code": "api_calls", "name": "API calls", "event_name": "api_call",
                         "aggregation": "count"}]
    )  # fmt: skip
    code: Code = Field(description="Unique per project; metered prices name it as `meter`")
    name: Name
    event_name: EventName = Field(description="The usage events' `event_name` it counts")
    aggregation: Aggregation
    property: PropertyName | None = Field(
        default=None,
        description="The property it aggregates: required, except for `count` (which reads none)",
    )
    filters: MeterFilters = Field(default_factory=dict)
    group_by: GroupBy = Field(default_factory=list)


class Meter(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"id": METER_ID, "object": "meter", "created": "2030-01-01T09:00:00.000000Z",
                 **METER_EXAMPLE}
            ]
        },
    )  # fmt: skip
    id: UUID
    object: Literal["meter"] = Field(default="meter", description="Its type")
    code: str
    name: str
    event_name: str
    aggregation: Literal["count", "sum", "max", "unique_count", "latest", "weighted_sum"]
    property: str = Field(description="Empty for `count`")
    filters: dict[str, list[str]]
    group_by: list[str]
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class DefinedMeter(Meter):
    existed: bool | None = Field(default=None, description="The same definition: " + EXISTED)
