"""Current usage as the API answers it (issue 13): the period asked about, and each
meter's quantities per group over it (``adapters/usage_queries.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import sql

from adapters.usage_queries import Scope, group_object, usage
from api.schemas import usage as s
from api.tally import Tally
from domain.errors import InvalidCombination, NotFound
from domain.limits import check_timestamp
from domain.usage import MeterRule, decimal_text

MAX_SPAN = timedelta(days=400)


def subscription_period(
    tally: Tally, project_id: UUID, subscription_id: UUID
) -> tuple[UUID, tuple[datetime, datetime]]:
    """The subscription's customer and current period: from its start until it first
    renews (a trial's first period starts when the trial ends), then the period."""
    with tally.views.connection() as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT customer_id, (state->>'period_index')::int AS period_index, "
                "(summary->>'current_period_start')::timestamptz AS period_start, "
                "(summary->>'current_period_end')::timestamptz AS period_end, "
                "(state->'started_at'->>'_data_')::timestamptz AS started_at "
                "FROM {}.subscriptions WHERE project_id = %s AND id = %s"
            ).format(sql.Identifier(tally.schema)),
            [project_id, subscription_id],
        )
        row: dict[str, Any] | None = cur.fetchone()
    if row is None:
        raise NotFound(f"subscription {subscription_id} not found", id=str(subscription_id))
    start = row["period_start"] if row["period_index"] >= 1 else row["started_at"]
    return row["customer_id"], (min(start, row["period_start"]), row["period_end"])


def customer_period(
    tally: Tally,
    project_id: UUID,
    customer: dict[str, Any],
    start: datetime | None,
    end: datetime | None,
) -> tuple[datetime, datetime]:
    """``[start, end)`` as asked, or the current calendar month (UTC) of the customer's
    clock."""
    if start is None and end is None:
        now = _customer_now(tally, project_id, customer).astimezone(UTC)
        first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following
    if start is None or end is None:
        raise InvalidCombination("give both start and end, or neither")
    check_timestamp(start, "start")
    check_timestamp(end, "end")
    if not (start < end and end - start <= MAX_SPAN):  # no sum: it may pass year 9999
        raise InvalidCombination(f"end must be after start, by at most {MAX_SPAN.days} days")
    return start, end


def _customer_now(tally: Tally, project_id: UUID, customer: dict[str, Any]) -> datetime:
    from projections.test_clocks import get_test_clock

    clock_id = customer.get("test_clock_id")
    if clock_id:
        clock = get_test_clock(tally.views, tally.schema, project_id, UUID(str(clock_id)))
        if clock is not None:
            return datetime.fromisoformat(clock["frozen_time"])
    return tally.clock.now()


def report(
    tally: Tally,
    project_id: UUID,
    customer_id: UUID,
    subscription_id: UUID | None,
    period: tuple[datetime, datetime],
) -> s.Usage:
    from projections.meters import meters_of

    rules = [MeterRule.of(m) for m in meters_of(tally.views, tally.schema, project_id)]
    scope = Scope(project_id, customer_id, subscription_id)
    found = usage(tally.views, tally.schema, scope, rules, *period)
    meters = [
        s.MeterUsage(
            meter_id=rule.id,
            code=rule.code,
            aggregation=rule.aggregation,
            groups=_groups(rule, found[rule.id]),
        )
        for rule in rules
    ]
    return s.Usage(
        customer_id=customer_id,
        subscription_id=subscription_id,
        period_start=period[0],
        period_end=period[1],
        meters=meters,
    )


def _groups(rule: MeterRule, values: dict[str, Any]) -> list[s.UsageGroup]:
    groups = [
        s.UsageGroup(group=group_object(rule, key), value=decimal_text(value))
        for key, value in sorted(values.items())
    ]
    if groups or rule.group_by:
        return groups
    # A meter without groups always answers its one quantity.
    empty = None if rule.aggregation in ("max", "latest") else "0"
    return [s.UsageGroup(group={}, value=empty)]
