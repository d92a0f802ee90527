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
its current period's start is late once it has renewed at least once. A late event for
the period just invoiced is accepted until the project's grace (its billing settings'
``usage_late_grace_s``, by default ``USAGE_LATE_GRACE_S``; read only when an event is
late) after that period's end (the next renewal bills it as an adjustment:
``commands.usage_rating``); any other is refused. An event sent for a customer is held
to the strictest of its subscriptions' rules (``Closed.strictest``).

The door decides from the subscriptions read model, which trails the log: a renewal
recorded but not yet projected would leave it taking an event for a period that renewal
has just invoiced as if that period were still open or just invoiced; the renewals bill
late usage of the two periods billed last only, so behind by more (a stall, a test
clock advanced over periods) such an event would never be billed. So
the door first checks that the read model holds every event recorded for the
subscriptions it reads (each row's version against the log's, in the same query):
when one is behind it waits, bounded like a read's ``wait_for_position``
(``read_wait_max_ms``), then refuses the whole request with 503 ``read_model_behind``
(nothing written; a retry is safe: transaction ids deduplicate).

A resend of a stored transaction id answers ``existed`` whatever the door would say of
it now (its period closed since, its customer's clock moved): the lookup of stored ids
comes before the refusal (``stored_among``), for the refused events only, so the
accepted ones (the store's ``ON CONFLICT`` tells their resends) cost no extra query.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from pydantic import TypeAdapter, ValidationError

from api.errors import ReadModelBehind
from api.schemas.usage import UsageEventRequest
from api.tally import Tally
from domain.errors import DomainError, InvalidCombination, NotFound, ValidationFailed
from domain.limits import USAGE_FUTURE_SKEW_S, USAGE_LATE_GRACE_S
from domain.periods import Schedule
from domain.usage import (
    Accepted,
    MeterRule,
    TimestampInFuture,
    UnknownEventName,
    UsagePeriodClosed,
    accepted,
    all_properties_pass,
    check_properties,
    readings,
)

SKEW = timedelta(seconds=USAGE_FUTURE_SKEW_S)


@dataclass(frozen=True)
class Closed:
    """What of an owner's usage is invoiced: everything before ``before`` (the latest
    invoiced period's end), except the late usage of that period (from ``late_from``)
    while the clock is less than the grace past ``ended``."""

    before: datetime
    late_from: datetime
    ended: datetime

    def refuses(self, at: datetime, now: datetime, grace: Callable[[], timedelta]) -> bool:
        if at >= self.before:
            return False
        return not (self.late_from <= at and now < self.ended + grace())

    @classmethod
    def of(cls, row: dict[str, Any]) -> Closed | None:
        """A subscription's, from its read model's row; None before it first renews."""
        index = int(row["period_index"])
        if index < 1:
            return None
        schedule = Schedule(row["anchor"], row["interval"], int(row["interval_count"]))
        late_from = schedule.period(index - 1)[0]
        if index == 1:  # the first period counts from the start (a trial's too)
            late_from = min(late_from, row["started_at"])
        before = row["period_start"]
        return cls(before, late_from, before)

    @staticmethod
    def strictest(found: list[Closed]) -> Closed | None:
        if not found:
            return None
        return Closed(
            max(c.before for c in found),
            max(c.late_from for c in found),
            min(c.ended for c in found),
        )


@dataclass(frozen=True)
class Customer:
    id: UUID
    test_clock_id: UUID | None
    closed: Closed | None  # the strictest of its subscriptions'


@dataclass(frozen=True)
class Subscription:
    id: UUID
    customer_id: UUID
    test_clock_id: UUID | None
    closed: Closed | None


@dataclass
class Known:
    """What the read models say about the customers, subscriptions, meters and clocks a
    request names (one query each, whatever the number of events)."""

    rules: dict[str, list[MeterRule]]
    customers: dict[str, Customer]
    subscriptions: dict[UUID, Subscription]
    clocks: dict[UUID, datetime]
    now: datetime
    grace: Callable[[], timedelta]  # the project's, read once when first asked


def _rows(cur: Cursor[Any], tally: Tally, query: str, params: list[Any]) -> list[dict[str, Any]]:
    names = {"s": sql.Identifier(tally.schema), "e": sql.Identifier(tally.store.events_table)}
    cur.execute(sql.SQL(query).format(**names), params)
    return list(cur.fetchall())


# ``behind``: the log holds an event of the subscription its row does not (yet).
_SUBSCRIPTION = (
    "SELECT id, customer_id, test_clock_id, (state->>'period_index')::int AS period_index, "
    "version < (SELECT max(e.originator_version) FROM {s}.{e} e "
    "WHERE e.originator_id = subscriptions.id) AS behind, "
    "(summary->>'current_period_start')::timestamptz AS period_start, "
    "(state->'anchor'->>'_data_')::timestamptz AS anchor, state->>'interval' AS interval, "
    "(state->>'interval_count')::int AS interval_count, "
    "(state->'started_at'->>'_data_')::timestamptz AS started_at FROM {s}.subscriptions "
)


def lookup(tally: Tally, project_id: UUID, events: list[UsageEventRequest]) -> Known:
    """What the read models know of the request's owners, once they hold every event
    recorded for its subscriptions (a bounded wait, else 503 ``read_model_behind``)."""
    deadline = time.monotonic() + tally.settings.read_wait_max_ms / 1000
    while True:
        known, behind = _lookup(tally, project_id, events)
        if not behind:
            return known
        if time.monotonic() >= deadline:
            raise ReadModelBehind(
                "the subscriptions read model has not yet applied every event recorded for "
                f"a subscription this usage names within {tally.settings.read_wait_max_ms} "
                "ms; retry shortly (nothing was stored)",
                headers={"Retry-After": "1"},
            )
        time.sleep(0.02)


def _lookup(tally: Tally, project_id: UUID, events: list[UsageEventRequest]) -> tuple[Known, bool]:
    # One connection for the four reads: each checkout of the pool costs a round trip
    # (its check), which at a batch of 500 events was a tenth of the door's time.
    with tally.views.connection() as conn, conn.cursor() as cur:
        return _read(cur, tally, project_id, events)


def _read(
    cur: Cursor[Any], tally: Tally, project_id: UUID, events: list[UsageEventRequest]
) -> tuple[Known, bool]:
    from projections.meters import meters_sql

    rules: dict[str, list[MeterRule]] = {}
    cur.execute(meters_sql(tally.schema), [project_id])
    for found in cur.fetchall():
        rule = MeterRule.of(dict(found["summary"]))
        rules.setdefault(rule.event_name, []).append(rule)
    subscription_ids = list({e.subscription_id for e in events if e.subscription_id})
    rows = _rows(
        cur,
        tally,
        _SUBSCRIPTION + "WHERE project_id = %s AND id = ANY(%s)",
        [project_id, subscription_ids],
    )
    subscriptions = {
        r["id"]: Subscription(r["id"], r["customer_id"], r["test_clock_id"], Closed.of(r))
        for r in rows
    }
    customers, customers_behind = _customers(cur, tally, project_id, events)
    owners: list[Customer | Subscription] = [*customers.values(), *subscriptions.values()]
    clock_ids = [owner.test_clock_id for owner in owners]
    clocks = {
        r["id"]: datetime.fromisoformat(r["now"])
        for r in _rows(
            cur,
            tally,
            "SELECT id, summary->>'frozen_time' AS now FROM {s}.test_clocks "
            "WHERE project_id = %s AND id = ANY(%s)",
            [project_id, [c for c in clock_ids if c is not None]],
        )
    }
    known = Known(rules, customers, subscriptions, clocks, tally.clock.now(),
                  cache(partial(_grace, tally, project_id)))  # fmt: skip
    return known, customers_behind or any(r["behind"] for r in rows)


def _grace(tally: Tally, project_id: UUID) -> timedelta:
    """The project's grace for late usage (billing settings, else the default)."""
    from projections.billing_setup import get_billing_settings

    found = get_billing_settings(tally.views, tally.schema, project_id) or {}
    # Settings configured before the field existed keep the default.
    return timedelta(seconds=int(found.get("usage_late_grace_s", USAGE_LATE_GRACE_S)))


def _customers(
    cur: Cursor[Any], tally: Tally, project_id: UUID, events: list[UsageEventRequest]
) -> tuple[dict[str, Customer], bool]:
    """The customers the events name by external id, each with the strictest closed
    periods of its subscriptions (one query: a row per customer and subscription), and
    whether the read model is behind the log for one of those subscriptions (one not yet
    renewed there may have renewed in the log)."""
    external_ids = list({e.external_customer_id for e in events if e.external_customer_id})
    rows = _rows(
        cur,
        tally,
        "SELECT c.external_id, c.id AS customer, c.test_clock_id AS clock, s.* FROM "
        "{s}.customers c LEFT JOIN (" + _SUBSCRIPTION + "WHERE project_id = %s"
        ") s ON s.customer_id = c.id "
        "WHERE c.project_id = %s AND c.external_id = ANY(%s)",
        [project_id, project_id, external_ids],
    )
    closed: dict[str, list[Closed]] = {}
    for r in rows:
        found = Closed.of(r) if r["id"] is not None else None
        closed.setdefault(r["external_id"], []).extend([found] if found else [])
    customers = {
        r["external_id"]: Customer(
            r["customer"], r["clock"], Closed.strictest(closed[r["external_id"]])
        )
        for r in rows
    }
    return customers, any(r["behind"] for r in rows)


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


def admit(event: UsageEventRequest, known: Known, properties_pass: bool = False) -> Accepted:
    """The event as stored, or the domain error that refuses it (``properties_pass``:
    its batch's properties are known to pass ``check_properties``)."""
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
    properties = dict(event.properties)
    if not properties_pass:
        check_properties(properties)
    found = readings(rules, properties)
    if owner.closed is not None and owner.closed.refuses(at, now, known.grace):
        raise UsagePeriodClosed(
            f"timestamp {at.isoformat()} is in a period already invoiced (before "
            f"{owner.closed.before.isoformat()}) and past its grace: late usage is "
            "accepted for the period just invoiced, within the project's grace after its end "
            f"({owner.closed.ended.isoformat()}; docs/usage.md, late events)",
            closed_before=owner.closed.before.isoformat(),
        )
    return accepted(event.transaction_id, customer_id, subscription.id if subscription else None,
                    event.event_name, at, properties, found)  # fmt: skip


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
    events = [event for _, event in parsed]
    known = lookup(tally, project_id, events)
    # The properties' checks for the whole batch at once; event by event only if one fails.
    properties_pass = all_properties_pass([event.properties for event in events])
    seen: set[str] = set()
    turned_away: list[tuple[int, str, DomainError]] = []
    for index, event in parsed:
        if event.transaction_id in seen:
            result.repeated.append((index, event.transaction_id))
            continue
        try:
            result.accepted.append((index, admit(event, known, properties_pass)))
            seen.add(event.transaction_id)
        except DomainError as error:
            turned_away.append((index, event.transaction_id, error))
    stored = stored_among(tally, project_id, [tx for _, tx, _ in turned_away])
    for index, tx, refusal in turned_away:
        if tx in stored:
            result.repeated.append((index, tx))  # a resend: what is stored stands
        else:
            result.refused.append((index, tx, refusal))
    return result


def stored_among(tally: Tally, project_id: UUID, transaction_ids: list[str]) -> set[str]:
    """Which of these transaction ids the project has stored (one query; none for no
    ids)."""
    if not transaction_ids:
        return set()
    with tally.views.connection() as conn, conn.cursor() as cur:
        rows = _rows(
            cur,
            tally,
            "SELECT transaction_id FROM {s}.usage_events "
            "WHERE project_id = %s AND transaction_id = ANY(%s)",
            [project_id, transaction_ids],
        )
    return {str(r["transaction_id"]) for r in rows}
