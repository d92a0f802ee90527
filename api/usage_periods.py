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
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import sql

from api.tally import Tally
from domain.errors import InvalidCombination, NotFound
from domain.limits import check_timestamp
from domain.periods import Schedule
from domain.usage import decimal_text

BilledKey = tuple[str, str]  # meter id, the group as sorted JSON


def subscription_period(
    tally: Tally, project_id: UUID, subscription_id: UUID, at: datetime | None = None
) -> tuple[UUID, tuple[datetime, datetime]]:
    """The subscription's customer and the period that contains ``at`` (None: the
    current period); a moment before the subscription started, or after its current
    period, is refused (``invalid_combination``)."""
    row = _subscription(tally, project_id, subscription_id)
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
    billed_until = _billed_until(tally, project_id, subscription_id) if at is None else None
    if billed_until is not None and start < billed_until < end:
        # A pause billed the usage up to it: the current period counts from there, as
        # the renewal bills it (domain.usage_rating.billing_period).
        start = billed_until
    return row["customer_id"], (start, end)


def _billed_until(tally: Tally, project_id: UUID, subscription_id: UUID) -> datetime | None:
    """Where the last usage period the subscription billed ended (``usage_billing``)."""
    with tally.views.connection() as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT (summary->'period'->>1)::timestamptz AS until FROM {}.usage_billing "
                "WHERE project_id = %s AND subscription_id = %s"
            ).format(sql.Identifier(tally.schema)),
            [project_id, subscription_id],
        )
        row: dict[str, Any] | None = cur.fetchone()
    return None if row is None else row["until"]


def _subscription(tally: Tally, project_id: UUID, subscription_id: UUID) -> dict[str, Any]:
    with tally.views.connection() as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT customer_id, (state->>'period_index')::int AS period_index, "
                "(state->'anchor'->>'_data_')::timestamptz AS anchor, "
                "state->>'interval' AS interval, "
                "(state->>'interval_count')::int AS interval_count, "
                "(state->'started_at'->>'_data_')::timestamptz AS started_at "
                "FROM {}.subscriptions WHERE project_id = %s AND id = %s"
            ).format(sql.Identifier(tally.schema)),
            [project_id, subscription_id],
        )
        row: dict[str, Any] | None = cur.fetchone()
    if row is None:
        raise NotFound(f"subscription {subscription_id} not found", id=str(subscription_id))
    return row


def billed_key(meter_id: str, group: dict[str, Any]) -> BilledKey:
    return meter_id, json.dumps(group, sort_keys=True)


def billed(
    tally: Tally, project_id: UUID, subscription_id: UUID, period: tuple[datetime, datetime]
) -> dict[BilledKey, str]:
    """Per meter and group, the quantity the subscription's invoices billed for
    ``period`` (none when it was not billed)."""
    with tally.views.connection() as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT line->'usage' AS usage FROM {}.invoices, "
                "jsonb_array_elements(summary->'lines') AS line "
                "WHERE project_id = %s AND subscription_id = %s AND status <> 'void' "
                "AND line->>'kind' = 'usage'"
            ).format(sql.Identifier(tally.schema)),
            [project_id, subscription_id],
        )
        rows = cur.fetchall()
    found: dict[BilledKey, Decimal] = {}
    for row in rows:
        used = row["usage"]
        if used is None or [datetime.fromisoformat(t) for t in used["period"]] != list(period):
            continue
        key = billed_key(used["meter_id"], used["group"])
        found[key] = max(found.get(key, Decimal(0)), Decimal(used["quantity"]))
    return {key: str(decimal_text(value)) for key, value in found.items()}
