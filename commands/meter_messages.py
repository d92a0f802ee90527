"""The meter commands and the annotated types of meter definitions (issue 13).

Kept apart from ``commands/messages.py`` so that usage work and the other commands
change different files."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from commands.limits_types import Code, Name
from commands.messages import Command
from domain.limits import (
    EVENT_NAME_PATTERN,
    MAX_EVENT_NAME_CHARS,
    MAX_FILTER_VALUES,
    MAX_GROUP_BY,
    MAX_METER_FILTERS,
    MAX_PROPERTY_NAME_CHARS,
    MAX_PROPERTY_VALUE_CHARS,
    PROPERTY_NAME_PATTERN,
    TEXT_PATTERN,
)

EventName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_EVENT_NAME_CHARS,
        pattern=EVENT_NAME_PATTERN,
        description="Letters, digits and _ . : -",
    ),
]
PropertyName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_PROPERTY_NAME_CHARS,
        pattern=PROPERTY_NAME_PATTERN,
        description="Letters, digits and _ . -",
    ),
]
PropertyValue = Annotated[str, Field(max_length=MAX_PROPERTY_VALUE_CHARS, pattern=TEXT_PATTERN)]
Aggregation = Annotated[
    str,
    Field(
        pattern="^(count|sum|max|unique_count|latest|weighted_sum)$",
        description="How the meter folds its events (docs/usage.md)",
    ),
]
FilterValues = Annotated[list[PropertyValue], Field(min_length=1, max_length=MAX_FILTER_VALUES)]
MeterFilters = Annotated[
    dict[PropertyName, FilterValues],
    Field(
        max_length=MAX_METER_FILTERS,
        description="Property name to the values it may take: the meter counts only the "
        f"events that pass every filter; at most {MAX_METER_FILTERS} filters of 1 to "
        f"{MAX_FILTER_VALUES} values",
    ),
]
GroupBy = Annotated[
    list[PropertyName],
    Field(
        max_length=MAX_GROUP_BY,
        description=f"Up to {MAX_GROUP_BY} properties whose values split the usage",
    ),
]


class DefineMeter(Command):
    code: Code
    name: Name
    event_name: EventName
    aggregation: Aggregation
    property: PropertyName | None = None
    filters: MeterFilters = Field(default_factory=dict)
    group_by: GroupBy = Field(default_factory=list)
