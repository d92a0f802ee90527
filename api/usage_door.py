"""The door of usage ingestion (issue 13): each event of a request checked on its own
against what the read models know, before anything is written.

Refused, with the error the single route would answer (in a batch, the others are
kept): an unknown customer or subscription, or another project's (404 ``not_found``);
both given and not agreeing, or neither (422 ``invalid_combination``); an event name no
meter counts (422 ``unknown_event_name``); a timestamp more than ``USAGE_FUTURE_SKEW_S``
ahead of the customer's clock (its test clock, if any; 422 ``timestamp_in_future``);
properties a meter of its name cannot read (422 ``invalid_properties``); a timestamp
in a period already invoiced (409 ``usage_period_closed``, below). An event whose
transaction id came earlier in the same request is answered ``existed`` like a resend.

A period is invoiced when its subscription renews: an event for a subscription before
its current period's start is refused once it has renewed at least once; an event sent
for a customer, before the current period's start of any of its subscriptions that has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import sql
from pydantic import TypeAdapter, ValidationError

from api.schemas.usage import UsageEventRequest
from api.tally import Tally
from domain.errors import DomainError, InvalidCombination, NotFound, ValidationFailed
from domain.limits import USAGE_FUTURE_SKEW_S
from domain.usage import (
    Accepted,
    MeterRule,
    TimestampInFuture,
    UnknownEventName,
    UsagePeriodClosed,
    check_properties,
    readings,
)

SKEW = timedelta(seconds=USAGE_FUTURE_SKEW_S)


@dataclass(frozen=True)
class Customer:
    id: UUID
    test_clock_id: UUID | None
    closed_before: datetime | None  # the latest invoiced period's end, if any


@dataclass(frozen=True)
class Subscription:
    id: UUID
    customer_id: UUID
    test_clock_id: UUID | None
    closed_before: datetime | None


@dataclass
class Known:
    """What the read models say about the customers, subscriptions, meters and clocks a
    request names (one query each, whatever the number of events)."""

    rules: dict[str, list[MeterRule]]
    customers: dict[str, Customer]
    subscriptions: dict[UUID, Subscription]
    clocks: dict[UUID, datetime]
    now: datetime


def _rows(tally: Tally, query: str, params: list[Any]) -> list[dict[str, Any]]:
    with tally.views.connection() as conn, conn.cursor() as cur:
        cur.execute(sql.SQL(query).format(s=sql.Identifier(tally.schema)), params)
        return list(cur.fetchall())


_CLOSED = (
    "CASE WHEN (state->>'period_index')::int >= 1 "
    "THEN (summary->>'current_period_start')::timestamptz END"
)


def lookup(tally: Tally, project_id: UUID, events: list[UsageEventRequest]) -> Known:
    from projections.meters import meters_of

    rules: dict[str, list[MeterRule]] = {}
    for summary in meters_of(tally.views, tally.schema, project_id):
        rule = MeterRule.of(summary)
        rules.setdefault(rule.event_name, []).append(rule)
    subscription_ids = list({e.subscription_id for e in events if e.subscription_id})
    subscriptions = {
        r["id"]: Subscription(r["id"], r["customer_id"], r["test_clock_id"], r["closed"])
        for r in _rows(
            tally,
            f"SELECT id, customer_id, test_clock_id, {_CLOSED} AS closed FROM {{s}}.subscriptions "
            "WHERE project_id = %s AND id = ANY(%s)",
            [project_id, subscription_ids],
        )
    }
    external_ids = list({e.external_customer_id for e in events if e.external_customer_id})
    customers = {
        r["external_id"]: Customer(r["id"], r["test_clock_id"], r["closed"])
        for r in _rows(
            tally,
            f"SELECT c.external_id, c.id, c.test_clock_id, (SELECT max({_CLOSED}) FROM "
            "{s}.subscriptions s WHERE s.project_id = c.project_id AND s.customer_id = c.id) "
            "AS closed FROM {s}.customers c WHERE c.project_id = %s AND c.external_id = ANY(%s)",
            [project_id, external_ids],
        )
    }
    owners: list[Customer | Subscription] = [*customers.values(), *subscriptions.values()]
    clock_ids = [owner.test_clock_id for owner in owners]
    clocks = {
        r["id"]: datetime.fromisoformat(r["now"])
        for r in _rows(
            tally,
            "SELECT id, summary->>'frozen_time' AS now FROM {s}.test_clocks "
            "WHERE project_id = %s AND id = ANY(%s)",
            [project_id, [c for c in clock_ids if c is not None]],
        )
    }
    return Known(rules, customers, subscriptions, clocks, tally.clock.now())


def whose(
    event: UsageEventRequest, known: Known
) -> tuple[UUID, Subscription | None, Customer | Subscription]:
    """The customer, the subscription (if named) and the one whose clock and closed
    periods apply."""
    subscription = None
    if event.subscription_id is not None:
        subscription = known.subscriptions.get(event.subscription_id)
        if subscription is None:
            raise NotFound(f"subscription {event.subscription_id} not found")
    if event.external_customer_id is None:
        if subscription is None:
            raise InvalidCombination("give external_customer_id or subscription_id")
        return subscription.customer_id, subscription, subscription
    customer = known.customers.get(event.external_customer_id)
    if customer is None:
        raise NotFound(f"no customer with external id '{event.external_customer_id}'")
    if subscription is not None and subscription.customer_id != customer.id:
        raise InvalidCombination("the subscription is not the customer's")
    return customer.id, subscription, subscription or customer


def admit(event: UsageEventRequest, known: Known) -> Accepted:
    """The event as stored, or the domain error that refuses it."""
    customer_id, subscription, owner = whose(event, known)
    now = known.clocks.get(owner.test_clock_id, known.now) if owner.test_clock_id else known.now
    at = event.timestamp or now
    if at > now + SKEW:
        raise TimestampInFuture(
            f"timestamp {at.isoformat()} is more than {USAGE_FUTURE_SKEW_S} s after "
            f"{now.isoformat()}"
        )
    rules = known.rules.get(event.event_name)
    if not rules:
        raise UnknownEventName(f"no meter counts usage events named '{event.event_name}'")
    properties = check_properties(dict(event.properties))
    found = readings(rules, properties)
    if owner.closed_before is not None and at < owner.closed_before:
        raise UsagePeriodClosed(
            f"timestamp {at.isoformat()} is in a period already invoiced (before "
            f"{owner.closed_before.isoformat()}); late events are billed once rating "
            "lands (docs/usage.md)",
            closed_before=owner.closed_before.isoformat(),
        )
    return Accepted(
        transaction_id=event.transaction_id,
        customer_id=customer_id,
        subscription_id=subscription.id if subscription else None,
        event_name=event.event_name,
        timestamp=at,
        properties=properties,
        readings=found,
    )


@dataclass
class Sorted:
    """A batch after the door: the events to write (with their place in the request),
    the places answered ``existed`` because the same id came earlier, and the refusals."""

    accepted: list[tuple[int, Accepted]]
    repeated: list[tuple[int, str]]
    refused: list[tuple[int, str | None, DomainError]]


def parse_event(raw: Any) -> UsageEventRequest:
    try:
        return UsageEventRequest.model_validate(raw)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise ValidationFailed(reasons) from None


_EVENTS = TypeAdapter(list[UsageEventRequest])


def sort_batch(tally: Tally, project_id: UUID, raw_events: list[Any]) -> Sorted:
    result = Sorted([], [], [])
    parsed: list[tuple[int, UsageEventRequest]] = []
    try:  # the whole batch in one call; item by item only to tell which one is wrong
        parsed = list(enumerate(_EVENTS.validate_python(raw_events)))
        raw_events = []
    except ValidationError:
        pass
    for index, raw in enumerate(raw_events):
        try:
            parsed.append((index, parse_event(raw)))
        except ValidationFailed as error:
            tx = raw.get("transaction_id") if isinstance(raw, dict) else None
            result.refused.append((index, tx if isinstance(tx, str) else None, error))
    known = lookup(tally, project_id, [event for _, event in parsed])
    seen: set[str] = set()
    for index, event in parsed:
        if event.transaction_id in seen:
            result.repeated.append((index, event.transaction_id))
            continue
        try:
            result.accepted.append((index, admit(event, known)))
            seen.add(event.transaction_id)
        except DomainError as error:
            result.refused.append((index, event.transaction_id, error))
    return result
