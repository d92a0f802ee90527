"""Usage as the API answers it (issue 13): each meter's quantities per group over a
period (``adapters/usage_queries.py``); a customer's period here, a subscription's in
``api.usage_periods``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from adapters.usage_queries import Scope, compiled, group_object, snapshot, usage, usage_in
from api.schemas import usage as s
from api.tally import Tally
from domain.errors import InvalidCombination
from domain.limits import check_timestamp
from domain.usage import MeterRule, decimal_text

if TYPE_CHECKING:
    from projections.upcoming_invoices import UsageReader

MAX_SPAN = timedelta(days=400)


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
    period: tuple[datetime, datetime],
) -> s.Usage:
    """The customer's usage per meter and group over ``period``: the meters and the
    usage read on one connection, in one snapshot."""
    from projections.meters import METERS

    with snapshot(tally.views) as conn:
        cur = conn.execute(compiled(METERS, tally.schema), [project_id])
        rules = [MeterRule.of(dict(row["summary"])) for row in cur.fetchall()]
        scope = Scope(project_id, customer_id)
        found = usage_in(conn, tally.schema, scope, rules, *period)
    return answer(rules, found, scope, period)


def answer(
    rules: Sequence[MeterRule],
    found: dict[UUID, dict[str, Decimal | None]],
    scope: Scope,
    period: tuple[datetime, datetime],
    billed: dict[tuple[str, str], str] | None = None,
) -> s.Usage:
    """The answer from what ``usage`` found; ``billed`` (a subscription's:
    ``api.usage_periods.billed``) adds what its invoices billed of each group."""
    meters = [
        s.MeterUsage(
            meter_id=rule.id,
            code=rule.code,
            aggregation=rule.aggregation,
            groups=_groups(rule, found[rule.id], billed or {}),
        )
        for rule in rules
    ]
    return s.Usage(
        customer_id=scope.customer_id,
        subscription_id=scope.subscription_id,
        period_start=period[0],
        period_end=period[1],
        meters=meters,
    )


def usage_reader(tally: Tally, project_id: UUID) -> UsageReader:
    """The usage totals of the project, for the upcoming invoice's usage lines."""

    def read(
        customer_id: UUID,
        subscription_id: UUID,
        rules: Sequence[MeterRule],
        period: tuple[datetime, datetime],
    ) -> dict[UUID, dict[str, Decimal | None]]:
        scope = Scope(project_id, customer_id, subscription_id)
        return usage(tally.views, tally.schema, scope, rules, *period)

    return read


def _groups(
    rule: MeterRule, values: dict[str, Any], billed: dict[tuple[str, str], str]
) -> list[s.UsageGroup]:
    groups = []
    for key, value in sorted(values.items()):
        group = group_object(rule, key)
        charged = billed.get((str(rule.id), json.dumps(group, sort_keys=True)))
        groups.append(s.UsageGroup(group=group, value=decimal_text(value), billed=charged))
    if groups or rule.group_by:
        return groups
    # A meter without groups always answers its one quantity.
    empty = None if rule.aggregation in ("max", "latest") else "0"
    return [s.UsageGroup(group={}, value=empty)]
