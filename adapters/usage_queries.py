"""Current usage: a customer's (or a subscription's) usage over a period, per meter and
group, from the running totals (issue 13; the aggregations: ``domain.usage``).

The totals are kept per UTC day, hour and minute. A period rarely starts and ends at
midnight, so it is covered by its whole days, then the whole hours and the whole minutes
at its two ends, from ``usage_totals`` (and ``usage_distinct``), and its partial first
and last minutes from the events themselves, folded with the same ``domain.usage`` code,
with the readings of the meters that counted them when they were received. So the answer
is exact for any period, and reads at most about 30 + 46 + 118 total rows per meter and
group for a month and two minutes of events, however many events the period holds.
``weighted_sum`` also needs the level at the period's start: the sum of every earlier
event's value (the hours before the period's first hour, the minutes of that hour before
its first minute, and the events of that minute before it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
from psycopg import Connection, Cursor, sql
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from adapters.usage_days import DAY_S
from adapters.usage_store import HOUR_S, MINUTE_S, NIL, bucket_of, group_key
from domain.usage import EXACT, MeterRule, Partial, read, value_of

GroupKey = tuple[UUID, str]  # meter, group


@dataclass(frozen=True)
class Scope:
    """Whose usage: a customer's, all of it (``subscription_id`` None), or what counts
    toward one subscription: the events sent with its id and those sent for its
    customer without one."""

    project_id: UUID
    customer_id: UUID
    subscription_id: UUID | None = None

    def where(self, *, events: bool = False) -> tuple[str, list[Any]]:
        """The scope as SQL; ``events``: for ``usage_events``, whose ``subscription_id``
        is null for an event sent for the customer (the totals keep the nil UUID)."""
        clause = "project_id = %s AND customer_id = %s"
        params: list[Any] = [self.project_id, self.customer_id]
        if self.subscription_id is not None:
            column = "coalesce(subscription_id, %s)" if events else "subscription_id"
            clause += f" AND {column} = ANY(%s)"
            params += [NIL] if events else []
            params += [[self.subscription_id, NIL]]
        return clause, params


@lru_cache(maxsize=1024)
def compiled(template: str, schema: str) -> bytes:
    """``template`` with ``{s}`` the schema, as the bytes psycopg sends. The statements
    of a usage answer take a handful of shapes; composing them from ``sql`` objects on
    every query was a sixth of the answer's CPU."""
    return sql.SQL(template).format(s=sql.Identifier(schema)).as_bytes(None)


_TOTALS = (
    "SELECT meter_id, group_key, sum(events), sum(total), max(maximum), sum(weighted), "
    "(array_agg(latest_at ORDER BY latest_at DESC, latest_tx DESC) "
    "FILTER (WHERE latest_at IS NOT NULL))[1], "
    "(array_agg(latest_tx ORDER BY latest_at DESC, latest_tx DESC) "
    "FILTER (WHERE latest_at IS NOT NULL))[1], "
    "(array_agg(latest_value ORDER BY latest_at DESC, latest_tx DESC) "
    "FILTER (WHERE latest_at IS NOT NULL))[1] "
    "FROM ({rows}) r GROUP BY meter_id, group_key"
)
_TOTAL_COLUMNS = (
    "meter_id, group_key, events, total, maximum, weighted, latest_at, latest_tx, latest_value"
)
Range = tuple[int, datetime, datetime]  # bucket width (seconds), first bucket, end
_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def _ceil(moment: datetime, width_s: int) -> datetime:
    low = bucket_of(moment, width_s)
    return low if low == moment else low + timedelta(seconds=width_s)


WIDTHS = (DAY_S, HOUR_S, MINUTE_S)


def cover(start: datetime, end: datetime) -> tuple[list[Range], list[tuple[datetime, datetime]]]:
    """``[start, end)`` as whole days, whole hours, whole minutes and the events of the
    rest, in time order; the first events' window starts at ``start``'s minute (its
    events before ``start`` are the weighted level's)."""
    whole: list[Range] = []
    raw: list[tuple[datetime, datetime]] = []

    def split(low: datetime, high: datetime, widths: tuple[int, ...]) -> None:
        if low >= high:
            return
        if not widths:
            raw.append((low, high))
            return
        first, last = _ceil(low, widths[0]), bucket_of(high, widths[0])
        if first >= last:
            split(low, high, widths[1:])
            return
        split(low, first, widths[1:])
        whole.append((widths[0], first, last))
        split(last, high, widths[1:])

    split(start, end, WIDTHS)
    minute = bucket_of(start, MINUTE_S)
    if minute < start:  # the events of start's minute before it: the weighted level's
        if raw and raw[0][0] == start:
            raw[0] = (minute, raw[0][1])
        else:  # an empty period
            raw.insert(0, (minute, start))
    return whole, raw


def _rows(
    table_name: str,
    columns: str,
    scope: Scope,
    meter_ids: list[UUID],
    whole: Sequence[Range],
) -> tuple[str, list[Any]]:
    """The rows of ``whole``'s buckets, one index range scan per width (a ``UNION ALL``:
    an ``OR`` of the ranges would have the planner read every bucket of the customer),
    as a template for ``compiled``."""
    where, params = scope.where()
    if not whole:
        return f"SELECT {columns} FROM {{s}}.{table_name} WHERE false", []
    branch = (
        f"SELECT {columns} FROM {{s}}.{table_name} WHERE {where} AND meter_id = ANY(%s) "
        "AND width_s = %s AND bucket >= %s AND bucket < %s"
    )
    query = " UNION ALL ".join(branch for _ in whole)
    return query, [value for item in whole for value in (*params, meter_ids, *item)]


@contextmanager
def snapshot(pool: ConnectionPool[Any]) -> Iterator[Connection[Any]]:
    """One pooled connection in a read-only repeatable-read transaction, in pipeline
    mode: every statement sent on it reads the same snapshot, and statements sent one
    after another without a fetch between them travel in one round trip."""
    with pool.connection() as conn, conn.pipeline(), conn.transaction():
        conn.execute(_SNAPSHOT)
        yield conn


def usage(
    pool: ConnectionPool[Any],
    schema: str,
    scope: Scope,
    rules: Sequence[MeterRule],
    start: datetime,
    end: datetime,
) -> dict[UUID, dict[str, Decimal | None]]:
    """Per meter id, per group (its stored JSON), the meter's quantity over
    ``[start, end)``; a meter without events has no group."""
    with snapshot(pool) as conn:
        return usage_in(conn, schema, scope, rules, start, end)


def usage_in(
    conn: Connection[Any],
    schema: str,
    scope: Scope,
    rules: Sequence[MeterRule],
    start: datetime,
    end: datetime,
) -> dict[UUID, dict[str, Decimal | None]]:
    """``usage`` on a connection that holds a ``snapshot`` (the caller may have read
    other things in it: the subscription and its meters, for one snapshot)."""
    whole, raw = cover(start, end)
    by_id = {rule.id: rule for rule in rules}
    if not any(rule.aggregation == "weighted_sum" for rule in rules):
        # Only a weighted level needs the events of the first minute before start.
        raw = [(max(low, start), high) for low, high in raw if max(low, start) < high]
    # One round trip for the totals, the levels and the events (pipeline: each waits for
    # none before it), and one for the distinct values when a meter counts them. At a
    # few milliseconds a query, round trips were most of it.
    totals = _send_whole(conn, schema, scope, list(by_id), whole)
    levels = _send_carry(conn, schema, scope, rules, start)
    events = _send_events(conn, schema, scope, raw)
    partials = _whole(totals)
    carry = {(m, g): total for m, g, total in levels.fetchall()} if levels else {}
    if events is not None:
        _fold_events(events.fetchall(), by_id, (start, end), partials, carry)
    with conn.cursor(row_factory=tuple_row) as cur:
        distinct = _distinct(cur, schema, scope, rules, whole, partials)
    answer: dict[UUID, dict[str, Decimal | None]] = {rule.id: {} for rule in rules}
    for (meter_id, group), partial in partials.items():
        rule = by_id[meter_id]
        if rule.aggregation == "unique_count":
            answer[meter_id][group] = Decimal(distinct.get((meter_id, group), 0))
            continue
        answer[meter_id][group] = value_of(
            rule.aggregation, partial, start, end, carry.get((meter_id, group), Decimal(0))
        )
    for (meter_id, group), level in carry.items():
        if (meter_id, group) not in partials and level:
            answer[meter_id][group] = value_of("weighted_sum", Partial(), start, end, level)
    return answer


def _send_whole(
    conn: Connection[Any], schema: str, scope: Scope, meter_ids: list[UUID], whole: list[Range]
) -> Cursor[Any]:
    rows, params = _rows("usage_totals", _TOTAL_COLUMNS, scope, meter_ids, whole)
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(compiled(_TOTALS.replace("{rows}", rows), schema), params)
    return cur


def _whole(totals: Cursor[Any]) -> dict[GroupKey, Partial]:
    partials: dict[GroupKey, Partial] = {}
    for meter_id, group, events, total, maximum, weighted, at, tx, value in totals.fetchall():
        partials[(meter_id, group)] = Partial(
            events=int(events),
            total=total,
            maximum=maximum,
            latest=(at, tx, value) if at is not None else None,
            weighted=weighted,
        )
    return partials


def _send_carry(
    conn: Connection[Any], schema: str, scope: Scope, rules: Sequence[MeterRule], start: datetime
) -> Cursor[Any] | None:
    """The ``weighted_sum`` meters' levels from the whole hours before ``start``'s hour
    and the whole minutes of that hour before ``start``'s minute (None: no such meter)."""
    weighted = [rule.id for rule in rules if rule.aggregation == "weighted_sum"]
    if not weighted:
        return None
    where, params = scope.where()
    hour, minute = bucket_of(start, HOUR_S), bucket_of(start, MINUTE_S)
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        compiled(
            f"SELECT meter_id, group_key, sum(total) FROM {{s}}.usage_totals WHERE {where} "
            "AND meter_id = ANY(%s) AND ((width_s = %s AND bucket < %s) OR (width_s = %s "
            "AND bucket >= %s AND bucket < %s)) GROUP BY meter_id, group_key",
            schema,
        ),
        [*params, weighted, HOUR_S, hour, MINUTE_S, hour, minute],
    )
    return cur


def _send_events(
    conn: Connection[Any], schema: str, scope: Scope, windows: list[tuple[datetime, datetime]]
) -> Cursor[Any] | None:
    """The events of the partial minutes (at most two windows, one statement)."""
    if not windows:
        return None
    where, params = scope.where(events=True)
    branch = (
        "SELECT transaction_id, occurred_at, properties::text, meter_ids FROM {s}.usage_events "
        f"WHERE {where} AND occurred_at >= %s AND occurred_at < %s"
    )
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        compiled(" UNION ALL ".join(branch for _ in windows), schema),
        [value for window in windows for value in (*params, *window)],
    )
    return cur


def _fold_events(
    rows: list[tuple[Any, ...]],
    rules: dict[UUID, MeterRule],
    period: tuple[datetime, datetime],
    partials: dict[GroupKey, Partial],
    carry: dict[GroupKey, Decimal],
) -> None:
    """Fold the events of the partial minutes into the period's partials, and those
    before the period's start into the ``weighted_sum`` levels. The properties come as
    text for orjson (text to text: the door stores nothing else), which parses them in
    a fraction of the time psycopg's jsonb loader takes."""
    for transaction_id, at, text, meter_ids in rows:
        properties = orjson.loads(text)
        for meter_id in meter_ids:
            rule = rules.get(meter_id)
            reading = read(rule, properties) if rule is not None else None
            if reading is None:
                continue
            key = (meter_id, group_key(reading))
            if at < period[0]:
                if rule is not None and rule.aggregation == "weighted_sum":
                    carry[key] = EXACT.add(carry.get(key, Decimal(0)), reading.value or 0)
            elif at < period[1]:
                partials.setdefault(key, Partial()).add(reading, at, transaction_id)


def _distinct(
    cur: Cursor[Any],
    schema: str,
    scope: Scope,
    rules: Sequence[MeterRule],
    whole: list[Range],
    partials: dict[GroupKey, Partial],
) -> dict[GroupKey, int]:
    """The ``unique_count`` meters' numbers of distinct values: those of the whole buckets
    and those the partial minutes' events brought, counted together in SQL (a meter may
    see millions of distinct values; they never travel to Python)."""
    meters = [rule.id for rule in rules if rule.aggregation == "unique_count"]
    if not meters:
        return {}
    edge = [(k[0], k[1], v) for k, p in partials.items() if k[0] in meters for v in p.distinct]
    rows, params = _rows("usage_distinct", "meter_id, group_key, value", scope, meters, whole)
    cur.execute(
        compiled(
            f"SELECT meter_id, group_key, count(DISTINCT value) FROM ({rows} UNION ALL "
            "SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[])) v "
            "GROUP BY meter_id, group_key",
            schema,
        ),
        [
            *params,
            [e[0] for e in edge],
            [e[1] for e in edge],
            [e[2] for e in edge],
        ],
    )
    return {(meter_id, group): int(count) for meter_id, group, count in cur.fetchall()}


def group_object(rule: MeterRule, stored: str) -> dict[str, str | None]:
    """A stored group as the API shows it: property name to value."""
    return dict(zip(rule.group_by, json.loads(stored), strict=True))
