"""Request and response models of the operator routes (``api/routes/projects.py``,
``api/routes/project_keys.py``; issue 14)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StrictInt

from api.objects import Instant, created_field
from api.schemas.common import ApiObject, Request, request_config
from api.schemas.nulls import ShownNull
from commands.limits_types import Label, ProjectName
from commands.messages.base import CurrencyCode
from commands.operator_messages import RatePolicyValue
from domain.limits import MAX_KEY_OVERLAP_S

PROJECT_ID = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
Mode = Literal["live", "test"]
RATE_LIMITS_DOC = (
    "The project's own rate limits by kind (`api_key`, `customer`, `webhook`), each "
    "`{requests, window_s}`; a kind not named here takes the server's default "
    "(docs/access.md)"
)


class CreateProjectRequest(Request):
    model_config = request_config([{"name": "Acme", "mode": "test"}])
    name: ProjectName
    mode: Mode = Field(default="live", description="test allows test clocks and test cards")


class UpdateProjectRequest(Request):
    model_config = request_config([{"name": "Acme Inc."}, {"default_currency": "EUR"}])
    name: ProjectName | None = Field(default=None, description="Omitted: unchanged")
    mode: Mode | None = Field(default=None, description="Omitted: unchanged")
    default_currency: CurrencyCode | None = Field(default=None, description="Omitted: unchanged")


class RateLimitsRequest(Request):
    model_config = request_config([{"api_key": {"requests": 200, "window_s": 1}}])
    api_key: RatePolicyValue | None = Field(
        default=None, description="Per API key of the project; null: back to the default"
    )
    customer: RatePolicyValue | None = Field(
        default=None, description="Per customer token; null: back to the default"
    )
    webhook: RatePolicyValue | None = Field(
        default=None,
        description="Per inbound webhook route (provider) of the project; null: back to "
        "the default",
    )


class Project(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": PROJECT_ID,
                    "object": "project",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "name": "Acme",
                    "mode": "test",
                    "default_currency": "EUR",
                    "rate_limits": {"api_key": {"requests": 200, "window_s": 1}},
                }
            ]
        },
    )
    id: UUID
    object: Literal["project"] = Field(default="project", description="Its type")
    name: str
    mode: Mode
    default_currency: ShownNull[str] = Field(default=None, description="ISO 4217, or null")
    rate_limits: dict[str, RatePolicyValue] = Field(
        default_factory=dict, description=RATE_LIMITS_DOC
    )
    created: Instant | None = created_field()


class IssueKeyRequest(Request):
    model_config = request_config([{"label": "ci"}])
    label: Label = ""


class RotateKeyRequest(Request):
    model_config = request_config([{"overlap_s": 3600, "label": "ci (rotated)"}])
    overlap_s: Annotated[StrictInt, Field(ge=0, le=MAX_KEY_OVERLAP_S)] = Field(
        default=86_400,
        description="How long the old key keeps working beside the new one (0: refused "
        f"from now; at most {MAX_KEY_OVERLAP_S} s, 30 days)",
    )
    label: Label = Field(default="", description="The new key's label")


class ApiKey(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "3f2a1b0c9d8e7f60",
                    "object": "api_key",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "project_id": PROJECT_ID,
                    "prefix": "tly_3f2a1b0c",
                    "label": "ci",
                    "status": "active",
                    "expires_at": None,
                }
            ]
        },
    )
    id: str = Field(description="The key id (the part after `tly_`)")
    object: Literal["api_key"] = Field(default="api_key", description="Its type")
    project_id: UUID
    prefix: str = Field(description="The key's first characters, to recognise it")
    label: str
    status: Literal["active", "expiring", "expired", "revoked"] = Field(
        description="`expiring`: rotated, works until `expires_at`"
    )
    expires_at: ShownNull[Instant] = Field(default=None, description="Set by a rotation")
    created: Instant | None = created_field()


class ApiKeyWithSecret(ApiKey):
    secret: str = Field(
        description="The whole key (`tly_<id>_<secret>`): shown in this answer only; Tally "
        "keeps its hash"
    )
    rotated: ApiKey | None = Field(default=None, description="The key a rotation replaced")


class RevokedApiKey(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "3f2a1b0c9d8e7f60",
                    "object": "api_key",
                    "status": "revoked",
                    "created": "2030-01-01T09:00:00.000000Z",
                }
            ]
        },
    )
    id: str
    object: Literal["api_key"] = Field(default="api_key", description="Its type")
    status: Literal["revoked"] = "revoked"
    created: Instant | None = created_field()
