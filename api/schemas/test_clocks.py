"""Request and response models of the test clock routes (``api/routes/test_clocks.py``)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AliasChoices, ConfigDict, Field

from api.objects import Instant, created_field
from api.schemas.common import ApiObject, Request, Response, request_config
from commands.limits_types import TIMESTAMP_RULE, Label, Timestamp

CLOCK_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


class CreateTestClockRequest(Request):
    model_config = request_config(
        [{"name": "annual renewal", "frozen_time": "2030-01-01T00:00:00Z"}]
    )
    name: Label = ""
    frozen_time: Timestamp


class AdvanceTestClockRequest(Request):
    model_config = request_config([{"frozen_time": "2030-03-01T00:00:00Z"}])
    # The same name as the create's and the clock's own field (docs/api.md); ``to``, its
    # name before, is still read for one release.
    frozen_time: Timestamp = Field(
        validation_alias=AliasChoices("frozen_time", "to"),
        description="The clock's new time, not before its current time (`to`, its name "
        f"before, is still accepted for one release). {TIMESTAMP_RULE}",
    )


class TestClock(ApiObject):
    __test__ = False  # not a pytest test class, whatever its name says
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": CLOCK_ID,
                    "object": "test_clock",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "name": "annual renewal",
                    "frozen_time": "2030-01-01T00:00:00.000000Z",
                    "subscriptions": 3,
                }
            ]
        },
    )
    id: UUID
    object: Literal["test_clock"] = Field(default="test_clock", description="Its type")
    name: str = ""
    frozen_time: Instant
    subscriptions: int = Field(default=0, description="Subscriptions living on this clock")
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class AdvanceResult(Response):
    test_clock: TestClock
    steps: dict[str, int] = Field(
        default_factory=dict,
        description="What the advance did, by kind: renewed, trial_ended, canceled, ...",
        examples=[{"trial_ended": 1, "renewed": 2}],
    )
