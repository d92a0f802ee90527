"""Command messages of the operator (issue 14): operator keys, and the changes to a project
only the operator makes (its name and mode, its rate limits, rotating its keys).

Their own module, beside ``commands.messages``, which other work is changing; the bus
takes any ``Command``. Handlers: ``commands.operators`` and ``commands.projects``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from commands.limits_types import Id, Label, ProjectName
from commands.messages.base import Command, CurrencyCode
from domain.limits import MAX_KEY_OVERLAP_S, MAX_RATE_REQUESTS, MAX_RATE_WINDOW_S


class IssueOperatorKey(Command):
    label: Label = ""


class RevokeOperatorKey(Command):
    key_id: Id


class UpdateProject(Command):
    """Change what is given; a field left out (None) keeps its value."""

    project_id: UUID
    name: ProjectName | None = None
    mode: Annotated[str, Field(pattern="^(live|test)$")] | None = None
    default_currency: CurrencyCode | None = None


class RotateApiKey(Command):
    """Issue a new key and have ``key_id`` refused ``overlap_s`` seconds from now."""

    project_id: UUID
    key_id: Id
    overlap_s: Annotated[StrictInt, Field(ge=0, le=MAX_KEY_OVERLAP_S)] = 86_400
    label: Label = ""


class RatePolicyValue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    requests: Annotated[
        StrictInt,
        Field(ge=1, le=MAX_RATE_REQUESTS, description="Requests admitted per window"),
    ]
    window_s: Annotated[
        StrictInt,
        Field(ge=1, le=MAX_RATE_WINDOW_S, description="The moving window, in seconds"),
    ]


RateKind = Literal["api_key", "customer", "webhook"]


class SetRateLimits(Command):
    """Per kind named, the project's own policy; null puts the kind back to its default,
    and a kind left out keeps what it has."""

    project_id: UUID
    rate_limits: dict[RateKind, RatePolicyValue | None] = Field(max_length=3)
