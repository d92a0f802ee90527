"""Usage events and the arithmetic of meters (issue 13). Pure: no I/O.

A usage event is an immutable fact (``transaction_id`` unique per project); what each
meter reads of it is a ``Reading``: the group it falls in and the value it brings. The
running aggregates keep, per meter, group and hour, a ``Partial`` that any number of
readings merge into in any order, and ``value_of`` turns the partials of a period into
the meter's quantity. The aggregations (docs/usage.md):

- ``count``: the number of events;
- ``sum``: the sum of the property;
- ``max``: its greatest value (none without events);
- ``unique_count``: the number of distinct values of the property;
- ``latest``: its value in the latest event by timestamp (ties: the greatest
  transaction id), none without events;
- ``weighted_sum``: Lago's: each event adds its value (positive or negative) to a level
  held from the event's time on; the result is the level averaged over the period,
  ``(carry * D + sum(v_i * (end - t_i))) / D``, where ``D`` is the period's length, ``t_i``
  each event's time in the period and ``carry`` the level at its start (the sum of every
  earlier event's value). Rounded half-even to 9 decimal places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache
from itertools import chain
from typing import Any
from uuid import UUID

from domain.errors import DomainError, ValidationFailed
from domain.limits import (
    DECIMAL_PATTERN,
    MAX_PROPERTIES,
    MAX_PROPERTY_NAME_CHARS,
    MAX_PROPERTY_VALUE_CHARS,
    PROPERTY_NAME_PATTERN,
    USAGE_DECIMAL_PLACES,
    check_text,
)
from domain.meters import NUMERIC

# Exact for every sum the limits allow: values have at most 24 digits, times in
# microseconds 17, and a billion of their products 51 (the period's division rounds once).
EXACT = Context(prec=80)
QUANTUM = Decimal(1).scaleb(-USAGE_DECIMAL_PLACES)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DECIMAL = re.compile(DECIMAL_PATTERN)
_PROPERTY_NAME = re.compile(PROPERTY_NAME_PATTERN)
Group = tuple[str | None, ...]


class InvalidProperties(ValidationFailed):
    """A usage event's properties break a limit, or miss or malform the property a meter
    of its name reads."""

    code = "invalid_properties"


class UnknownEventName(ValidationFailed):
    """No meter of the project counts usage events of this name."""

    code = "unknown_event_name"


class TimestampInFuture(ValidationFailed):
    """A usage event's timestamp is further ahead of the project's clock than the skew
    allowed (``USAGE_FUTURE_SKEW_S``)."""

    code = "timestamp_in_future"


class UsagePeriodClosed(DomainError):
    """A usage event falls in a period that was already invoiced (before its
    subscription's current period) and is too late to be billed as an adjustment: not
    for the period just invoiced, or past the grace (``USAGE_LATE_GRACE_S``)."""

    code = "usage_period_closed"


def micros(moment: datetime) -> int:
    """Microseconds since 1970 (exact, unlike ``timestamp()``'s float: a timedelta's
    floor division by another is integer arithmetic on their microseconds, in C)."""
    return (moment - EPOCH) // _MICROSECOND


@lru_cache(maxsize=4096)
def _good_name(name: str) -> bool:
    """Property names repeat from event to event: each is matched once (cached)."""
    return len(name) <= MAX_PROPERTY_NAME_CHARS and _PROPERTY_NAME.fullmatch(name) is not None


def check_properties(properties: dict[str, Any]) -> dict[str, str]:
    """At most MAX_PROPERTIES properties, names of the property-name pattern, values text
    (numbers as decimal strings, never JSON numbers) without control characters."""
    if len(properties) > MAX_PROPERTIES:
        raise InvalidProperties(f"an event has at most {MAX_PROPERTIES} properties")
    # Every event passes, nearly always: the whole check in a few C calls (names
    # matched once each, cached; values text, printable, short enough, together), and
    # property by property only to say which one fails.
    values = properties.values()
    if (
        all(map(_good_name, properties))
        and all(map(str.__instancecheck__, values))
        and "".join(values).isprintable()
        and max(map(len, values), default=0) <= MAX_PROPERTY_VALUE_CHARS
    ):
        return properties
    for name, value in properties.items():
        if not _good_name(name):
            raise InvalidProperties(f"property name {name!r} must match {PROPERTY_NAME_PATTERN}")
        if not isinstance(value, str):
            raise InvalidProperties(
                f"property {name} must be a string (numbers as decimal strings)"
            )
        try:
            check_text(value, f"properties.{name}", MAX_PROPERTY_VALUE_CHARS)
        except ValidationFailed as error:
            raise InvalidProperties(error.detail) from None
    return properties


def all_properties_pass(batch: list[dict[str, Any]]) -> bool:
    """True only if ``check_properties`` passes every one of these events' properties,
    found in one pass over the whole batch in C calls (each distinct name matched once).
    A batch nearly always passes whole; False (one fails, or a value holds a character
    that is not printable yet no control character, which the quick check cannot tell
    from one) leaves the batch to be checked event by event, which says which fails."""
    if not batch:
        return True
    if max(map(len, batch)) > MAX_PROPERTIES or not all(map(_good_name, set().union(*batch))):
        return False
    values = list(chain.from_iterable(map(dict.values, batch)))
    return (
        all(map(str.__instancecheck__, values))
        and "".join(values).isprintable()
        and max(map(len, values), default=0) <= MAX_PROPERTY_VALUE_CHARS
    )


def parse_decimal(text: str, name: str) -> Decimal:
    if _DECIMAL.fullmatch(text) is None:
        raise InvalidProperties(
            f"property {name} must be a decimal string ({DECIMAL_PATTERN}), not {text!r}"
        )
    return Decimal(text)


@dataclass(frozen=True)
class MeterRule:
    """What ingestion and queries need of a meter (its read model's summary)."""

    id: UUID
    code: str
    event_name: str
    aggregation: str
    property: str
    filters: dict[str, list[str]]
    group_by: list[str]

    @classmethod
    def of(cls, summary: dict[str, Any]) -> MeterRule:
        return cls(
            id=UUID(str(summary["id"])),
            code=summary["code"],
            event_name=summary["event_name"],
            aggregation=summary["aggregation"],
            property=summary["property"],
            filters={k: list(v) for k, v in summary["filters"].items()},
            group_by=list(summary["group_by"]),
        )

    def passes(self, properties: dict[str, str]) -> bool:
        if not self.filters:  # most meters: no generator for every event
            return True
        return all(properties.get(k) in values for k, values in self.filters.items())


@dataclass(frozen=True)
class Reading:
    """What one event brings one meter: its group, and the value (numeric
    aggregations) or the distinct text (``unique_count``) it reads."""

    meter_id: UUID
    group: Group
    value: Decimal | None = None
    distinct: str | None = None


# A frozen dataclass's ``__init__`` sets each field with ``object.__setattr__``; the
# readings and accepted events of a batch (one of each per event) are made by setting
# the instance's dict at once instead: the same objects (equality, hash and fields are
# the dataclass's), a third of the bytecodes.
_new, _set = object.__new__, object.__setattr__


def _reading(meter_id: UUID, group: Group, value: Decimal | None, distinct: str | None) -> Reading:
    reading = _new(Reading)
    _set(reading, "__dict__", {"meter_id": meter_id, "group": group, "value": value,
                               "distinct": distinct})  # fmt: skip
    return reading


def read(rule: MeterRule, properties: dict[str, str]) -> Reading | None:
    """The reading of an event of the rule's name, None when the filters leave it out;
    ``UsageRefused`` when the property the meter folds is missing or not a decimal."""
    if rule.filters and not rule.passes(properties):
        return None
    group = tuple(map(properties.get, rule.group_by))
    if rule.aggregation == "count":
        return _reading(rule.id, group, None, None)
    raw = properties.get(rule.property)
    if raw is None:
        raise InvalidProperties(
            f"meter {rule.code} reads property {rule.property}, which is missing"
        )
    if rule.aggregation in NUMERIC:
        return _reading(rule.id, group, parse_decimal(raw, rule.property), None)
    return _reading(rule.id, group, None, raw)


def readings(rules: list[MeterRule], properties: dict[str, str]) -> list[Reading]:
    """Every meter's reading of one event (``rules``: the meters of its name)."""
    if len(rules) == 1:  # most event names: one meter counts them
        reading = read(rules[0], properties)
        return [] if reading is None else [reading]
    return [reading for rule in rules if (reading := read(rule, properties)) is not None]


@dataclass
class Partial:
    """What a set of readings of one meter and group adds up to; merging is associative
    and commutative, so partials may be kept per hour and per batch, in any order."""

    events: int = 0
    total: Decimal = Decimal(0)
    maximum: Decimal | None = None
    latest: tuple[datetime, str, Decimal | None] | None = None
    weighted: Decimal = Decimal(0)  # sum of value x time (microseconds since 1970)
    distinct: set[str] = field(default_factory=set)

    def add(
        self, reading: Reading, at: datetime, transaction_id: str, at_micros: int | None = None
    ) -> None:
        """``merge`` of the reading's own partial, without making one (the hot path;
        ``at_micros``: ``micros(at)``, when the caller has it already)."""
        value = reading.value
        self.events += 1
        if value is not None:
            self.total = EXACT.add(self.total, value)
            if self.maximum is None or value > self.maximum:
                self.maximum = value
            moment = micros(at) if at_micros is None else at_micros
            self.weighted = EXACT.add(self.weighted, EXACT.multiply(value, moment))
        if self.latest is None or (at, transaction_id) > self.latest[:2]:
            self.latest = (at, transaction_id, value)
        if reading.distinct is not None:
            self.distinct.add(reading.distinct)

    def merge(self, other: Partial) -> None:
        self.events += other.events
        self.total = EXACT.add(self.total, other.total)
        if other.maximum is not None and (self.maximum is None or other.maximum > self.maximum):
            self.maximum = other.maximum
        if other.latest is not None and (self.latest is None or other.latest[:2] > self.latest[:2]):
            self.latest = other.latest
        self.weighted = EXACT.add(self.weighted, other.weighted)
        self.distinct |= other.distinct


def value_of(
    aggregation: str,
    partial: Partial,
    start: datetime,
    end: datetime,
    carry: Decimal = Decimal(0),
) -> Decimal | None:
    """The meter's quantity over ``[start, end)`` from the partial of the readings in it
    (``carry``: for ``weighted_sum``, the level at ``start``)."""
    if aggregation == "count":
        return Decimal(partial.events)
    if aggregation == "sum":
        return partial.total
    if aggregation == "max":
        return partial.maximum
    if aggregation == "unique_count":
        return Decimal(len(partial.distinct))
    if aggregation == "latest":
        return None if partial.latest is None else partial.latest[2]
    span = micros(end) - micros(start)
    if span <= 0:  # an empty period holds the level it starts with
        return carry
    held = EXACT.subtract(EXACT.multiply(partial.total, micros(end)), partial.weighted)
    level = EXACT.divide(EXACT.add(EXACT.multiply(carry, span), held), span)
    return level.quantize(QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT)


def decimal_text(value: Decimal | None) -> str | None:
    """A quantity as the API shows it: a plain decimal string without trailing zeros."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class Accepted:
    """A usage event that passed the door, with what each meter of its name reads."""

    transaction_id: str
    customer_id: UUID
    subscription_id: UUID | None
    event_name: str
    timestamp: datetime
    properties: dict[str, str]
    readings: list[Reading]


def accepted(
    transaction_id: str,
    customer_id: UUID,
    subscription_id: UUID | None,
    event_name: str,
    timestamp: datetime,
    properties: dict[str, str],
    found: list[Reading],
) -> Accepted:
    """``Accepted(...)``, made as ``_reading`` makes a reading (the door's hot path)."""
    event = _new(Accepted)
    _set(event, "__dict__", {"transaction_id": transaction_id, "customer_id": customer_id,
                             "subscription_id": subscription_id, "event_name": event_name,
                             "timestamp": timestamp, "properties": properties,
                             "readings": found})  # fmt: skip
    return event
