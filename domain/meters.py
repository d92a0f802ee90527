"""Meters (Lago's billable metrics, Stripe's meters): what usage a project counts.

A meter counts the usage events of one name (``event_name``) whose properties pass its
filters, aggregates one of their properties (``property``; ``count`` reads none) and
splits the result by the values of up to ``MAX_GROUP_BY`` properties (``group_by``).
Its ``code`` is unique per project (the id derives from it). A meter never changes once
defined: what it counted must keep meaning the same thing, so defining the same code
again with the same definition answers the meter, and with another one is refused.
The arithmetic of each aggregation is in ``domain.usage``.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.copies import plain_copy
from domain.errors import AlreadyExists, InvalidCombination, ValidationFailed
from domain.limits import (
    CODE_PATTERN,
    EVENT_NAME_PATTERN,
    MAX_CODE_CHARS,
    MAX_EVENT_NAME_CHARS,
    MAX_FILTER_VALUES,
    MAX_GROUP_BY,
    MAX_METER_FILTERS,
    MAX_NAME_CHARS,
    MAX_PROPERTY_NAME_CHARS,
    MAX_PROPERTY_VALUE_CHARS,
    PROPERTY_NAME_PATTERN,
    check_text,
)

NAMESPACE = UUID("5b1e0c4a-8d2f-4c6b-9e7a-3f1d2c4b6a8e")
AGGREGATIONS = ("count", "sum", "max", "unique_count", "latest", "weighted_sum")
# Aggregations whose property must hold a decimal string (unique_count counts any text).
NUMERIC = frozenset({"sum", "max", "latest", "weighted_sum"})
Filters = dict[str, list[str]]


def _check_pattern(value: str, field: str, max_chars: int, pattern: str) -> str:
    check_text(value, field, max_chars, min_chars=1)
    if re.fullmatch(pattern, value) is None:
        raise ValidationFailed(f"{field} must match {pattern}", field=field)
    return value


def check_property_name(name: str, field: str) -> str:
    return _check_pattern(name, field, MAX_PROPERTY_NAME_CHARS, PROPERTY_NAME_PATTERN)


def check_event_name(name: str) -> str:
    return _check_pattern(name, "event_name", MAX_EVENT_NAME_CHARS, EVENT_NAME_PATTERN)


def check_filters(filters: Filters) -> Filters:
    if len(filters) > MAX_METER_FILTERS:
        raise ValidationFailed(f"a meter has at most {MAX_METER_FILTERS} filters")
    checked: Filters = {}
    for name, values in filters.items():
        check_property_name(name, "filters key")
        if not 1 <= len(values) <= MAX_FILTER_VALUES:
            raise ValidationFailed(f"a filter lists 1 to {MAX_FILTER_VALUES} values", field=name)
        for value in values:
            check_text(value, f"filters[{name}]", MAX_PROPERTY_VALUE_CHARS)
        checked[name] = list(dict.fromkeys(values))
    return checked


def check_group_by(group_by: list[str]) -> list[str]:
    if len(group_by) > MAX_GROUP_BY:
        raise ValidationFailed(f"a meter groups by at most {MAX_GROUP_BY} properties")
    if len(set(group_by)) != len(group_by):
        raise InvalidCombination("group_by names each property once")
    return [check_property_name(name, "group_by") for name in group_by]


class Meter(TallyAggregate):
    TOPIC = "tally:Meter"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:Meter.Created"

    @staticmethod
    def create_id(project_id: UUID, code: str) -> UUID:
        return uuid5(NAMESPACE, f"meter:{project_id}:{code}")

    @event("Defined", topic="tally:Meter.Defined")
    def __init__(
        self,
        project_id: UUID,
        code: str,
        name: str,
        event_name: str,
        aggregation: str,
        property: str,
        filters: Filters,
        group_by: list[str],
    ) -> None:
        self.project_id = project_id
        self.code = code
        self.name = name
        self.event_name = event_name
        self.aggregation = aggregation
        self.property = property
        self.filters = filters
        self.group_by = group_by

    @classmethod
    def define(
        cls,
        project_id: UUID,
        *,
        code: str,
        name: str,
        event_name: str,
        aggregation: str,
        property: str = "",
        filters: Filters | None = None,
        group_by: list[str] | None = None,
    ) -> Meter:
        _check_pattern(code, "code", MAX_CODE_CHARS, CODE_PATTERN)
        check_text(name, "name", MAX_NAME_CHARS, min_chars=1)
        check_event_name(event_name)
        if aggregation not in AGGREGATIONS:
            raise ValidationFailed(f"aggregation must be one of {', '.join(AGGREGATIONS)}")
        if aggregation == "count" and property:
            raise InvalidCombination("a count meter counts events and reads no property")
        if aggregation != "count":
            if not property:
                raise InvalidCombination(f"a {aggregation} meter names the property it folds")
            check_property_name(property, "property")
        return cls(
            project_id=project_id,
            code=code,
            name=name,
            event_name=event_name,
            aggregation=aggregation,
            property=property,
            filters=check_filters(dict(filters or {})),
            group_by=check_group_by(list(group_by or [])),
        )

    def definition(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "event_name": self.event_name,
            "aggregation": self.aggregation,
            "property": self.property,
            "filters": plain_copy(self.filters),
            "group_by": plain_copy(self.group_by),
        }

    def check_same(self, other: Meter) -> None:
        """A second definition of this code must be this one (meters never change)."""
        if other.definition() != self.definition():
            raise AlreadyExists(
                f"meter '{self.code}' is already defined otherwise; a meter never changes, "
                "define a new code",
                code=self.code,
            )

    def summary(self) -> dict[str, Any]:
        return {"id": str(self.id), **self.definition()}
