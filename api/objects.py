"""What every object the API answers shares (docs/api.md): one timestamp format, and the
`object` and `created` fields.

A timestamp leaves the API as RFC 3339 in UTC with `Z` and always six fractional digits,
whichever side it came from: a command result holds Python datetimes, a read model's
row ISO strings with `+00:00`, and pydantic would write `Z` for one, drop zero
microseconds for another and keep an offset for a third.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

# What a response's timestamp looks like; the conventions test checks answers against it.
INSTANT_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"
INSTANT_EXAMPLE = "2030-01-01T00:00:00.000000Z"


def rfc3339(value: datetime) -> str:
    """``value`` in the API's one format; a naive datetime is taken as UTC (read models and
    the clock hand out aware ones, so that is only ever a test's own value)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: object) -> object:
    # Accept a string already in the API's format (a stored idempotent answer) as well.
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


Instant = Annotated[
    datetime,
    BeforeValidator(_parse),
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": INSTANT_PATTERN,
            "examples": [INSTANT_EXAMPLE],
        }
    ),
]


def created_field() -> Any:
    """The ``created`` field of an object: from a command result's ``created`` or a read
    model's ``created_at`` (the same instant: the event that created it)."""
    return Field(
        default=None,
        validation_alias=AliasChoices("created", "created_at"),
        description="When it was created (RFC 3339, UTC, microseconds)",
    )


class Typed(BaseModel):
    """A model with an ``object`` field (its type): always answered."""

    def model_post_init(self, context: Any, /) -> None:
        # ``object`` is never sent by a client: mark it set, so that a part answered as
        # recorded (``api.schemas.nulls.AsRecorded``: what the command did not answer is
        # left out) keeps it.
        self.__pydantic_fields_set__.add("object")
