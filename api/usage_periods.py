"""A subscription's usage periods (issue 13): the period a moment falls in (the current
one by default, or a past one), and what the subscription's invoices billed of it.

A period is the subscription's billing period, its first from the subscription's start
(a trial's usage counts toward it). What was billed is read from the invoices' ``usage``
lines (``domain.usage_rating``): per meter and group, the greatest quantity a line
billed for the period (the renewal's, or the next invoice's when late usage was billed
as an adjustment); a voided invoice bills nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import Connection, Cursor

from adapters.usage_queries import Scope, compiled, snapshot, usage_in
from api.schemas import usage as s
from api.tally import Tally
from api.usage_report import answer
from domain.errors import InvalidCombination, NotFound
from domain.limits import check_timestamp
from domain.periods import Schedule
from domain.usage import MeterRule, decimal_text

BilledKey = tuple[str, str]  # meter id, the group as sorted JSON


@dataclass
class _Sent:
    """The first round trip's cursors: the subscription, where its last billed usage
    period ended, its invoices' usage lines and the project's meters."""

    subscription: Cursor[Any]
    billed_until: Cursor[Any]
    lines: Cursor[Any]
    meters: Cursor[Any]


def subscription_usage(
    tally: Tally, project_id: UUID, subscription_id: UUID, at: datetime | None = None
) -> s.Usage:
    """The subscription's usage over the period that contains ``at`` (None: the current
    one), with what its invoices billed of it. One connection and one snapshot for the
    whole answer, in two round trips (pipelined): first the subscription, its billing,
    invoices and the meters, then the usage of the period they give. Five pool checkouts
    (each with its check) and a dozen round trips were where a query's time went, and
    each wait for Postgres is one more chance to wait for a core on a busy machine."""
    with snapshot(tally.views) as conn:
        sent = _send(conn, tally.schema, project_id, subscription_id)
        row: dict[str, Any] | None = sent.subscription.fetchone()
        if row is None:
            raise NotFound(f"subscription {subscription_id} not found", id=str(subscription_id))
        until: dict[str, Any] | None = sent.billed_until.fetchone()
        period = subscription_period(row, None if until is None else until["until"], at)
        charged = billed(sent.lines.fetchall(), period)
        rules = [MeterRule.of(dict(r["summary"])) for r in sent.meters.fetchall()]
        scope = Scope(project_id, row["customer_id"], subscription_id)
        found = usage_in(conn, tally.schema, scope, rules, *period)
    return answer(rules, found, scope, period, charged)


def subscription_period(
    row: dict[str, Any], billed_until: datetime | None, at: datetime | None
) -> tuple[datetime, datetime]:
    """The period of the subscription (its read model's ``row``) that contains ``at``
    (None: the current period); a moment before the subscription started, or after its
    current period, is refused (``invalid_combination``). ``billed_until``: where the
    last usage period it billed ended (``usage_billing``)."""
    schedule = Schedule(row["anchor"], row["interval"], int(row["interval_count"]))
    index = int(row["period_index"])
    if at is not None:
        check_timestamp(at, "at")
        if at < min(row["started_at"], schedule.period(0)[0]):
            raise InvalidCombination("at is before the subscription started")
        if at >= schedule.period(index)[1]:
            raise InvalidCombination("at is after the subscription's current period")
        index = max(schedule.index_at(at), 0)  # during a trial: the first period
    start, end = schedule.period(index)
    if index == 0:
        start = min(start, row["started_at"])
    if at is None and billed_until is not None and start < billed_until < end:
        # A pause billed the usage up to it: the current period counts from there, as
        # the renewal bills it (domain.usage_rating.billing_period).
        start = billed_until
    return start, end


_SUBSCRIPTION = (
    "SELECT customer_id, (state->>'period_index')::int AS period_index, "
    "(state->'anchor'->>'_data_')::timestamptz AS anchor, "
    "state->>'interval' AS interval, "
    "(state->>'interval_count')::int AS interval_count, "
    "(state->'started_at'->>'_data_')::timestamptz AS started_at "
    "FROM {s}.subscriptions WHERE project_id = %s AND id = %s"
)
_BILLED_UNTIL = (
    "SELECT (summary->'period'->>1)::timestamptz AS until FROM {s}.usage_billing "
    "WHERE project_id = %s AND subscription_id = %s"
)
_LINES = (
    "SELECT line->'usage' AS usage FROM {s}.invoices, "
    "jsonb_array_elements(summary->'lines') AS line "
    "WHERE project_id = %s AND subscription_id = %s AND status <> 'void' "
    "AND line->>'kind' = 'usage'"
)


def _send(conn: Connection[Any], schema: str, project_id: UUID, subscription_id: UUID) -> _Sent:
    """Send the four reads (pipeline mode: none waits for the one before it)."""
    from projections.meters import METERS

    def send(query: str, params: list[Any]) -> Cursor[Any]:
        cur = conn.cursor()
        cur.execute(compiled(query, schema), params)
        return cur

    keys = [project_id, subscription_id]
    return _Sent(
        send(_SUBSCRIPTION, keys),
        send(_BILLED_UNTIL, keys),
        send(_LINES, keys),
        send(METERS, [project_id]),
    )


def billed_key(meter_id: str, group: dict[str, Any]) -> BilledKey:
    return meter_id, json.dumps(group, sort_keys=True)


def billed(rows: list[dict[str, Any]], period: tuple[datetime, datetime]) -> dict[BilledKey, str]:
    """Per meter and group, the quantity the subscription's invoices billed for
    ``period`` (none when it was not billed), from its invoices' usage lines."""
    found: dict[BilledKey, Decimal] = {}
    for row in rows:
        used = row["usage"]
        if used is None or [datetime.fromisoformat(t) for t in used["period"]] != list(period):
            continue
        key = billed_key(used["meter_id"], used["group"])
        found[key] = max(found.get(key, Decimal(0)), Decimal(used["quantity"]))
    return {key: str(decimal_text(value)) for key, value in found.items()}
