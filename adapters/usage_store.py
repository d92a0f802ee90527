"""Usage events in Postgres, stored for volume (issue 13; docs/architecture.md, Usage).

Usage events are not domain events: one event-sourced aggregate per event would cost a
command, a stored event and a read-model row each. They are rows of an append-only table,
written a whole batch at a time, with the running aggregates kept in the same
transaction:

- ``usage_events``: one row per event, primary key ``(project_id, transaction_id)``
  (the deduplication: ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` tells which rows
  were new), with ``meter_ids``, the meters that counted it when it was received;
- ``usage_totals``: per project, customer, meter, subscription (the nil UUID for events
  sent for the customer), group and time bucket, the ``domain.usage.Partial`` of the
  events in it (count, sum, max, latest, the sum of value x time for ``weighted_sum``),
  at three widths: every UTC day, hour and minute (``width_s`` 86400, 3600 and 60), so
  that a period is read from its whole days, the whole hours and then the whole minutes
  at its ends, and the events of at most two partial minutes
  (``adapters/usage_queries.py``): a month is about 30 + 2 x 23 + 2 x 59 rows per meter
  and group, not 720 hours (day totals came later: ``adapters/usage_days.py`` fills
  them once for the rows written before);
- ``usage_distinct``: the same key and one distinct value per row, for ``unique_count``.

A batch first holds its customers' usage fences (``adapters/usage_fences.py``): an
event dated before its subscription's fence (a renewal that committed after the door
judged it has billed its period for good) is not written, and is answered
``usage_period_closed`` (``Written.closed``).

A batch is one transaction: its new rows and their totals commit together or not at all,
so the totals always equal a fold over the table (``rebuild`` checks it). Rows are
written in one order (transaction ids, then total keys, sorted), so two batches that
overlap wait for each other instead of deadlocking; a deadlock found anyway is retried.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg import Cursor, sql
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from adapters.usage_chain import CANONICAL, create_chain, link
from adapters.usage_days import DAY_S, fill_day_totals
from adapters.usage_fences import create_fence_table, fenced_out
from domain.usage import EPOCH, Accepted, Partial, Reading, micros

NIL = UUID(int=0)
HOUR_S, MINUTE_S = 3600, 60
MINUTE_US = MINUTE_S * 1_000_000
# customer, meter, subscription, group, bucket width (seconds), bucket start
Key = tuple[UUID, UUID, UUID, str, int, datetime]
MAX_ATTEMPTS = 3

DDL = (
    "CREATE TABLE IF NOT EXISTS {s}.usage_events (project_id uuid NOT NULL, "
    "transaction_id text NOT NULL, customer_id uuid NOT NULL, subscription_id uuid, "
    "event_name text NOT NULL, occurred_at timestamptz NOT NULL, properties jsonb NOT NULL, "
    "meter_ids uuid[] NOT NULL, received_at timestamptz NOT NULL, "
    "PRIMARY KEY (project_id, transaction_id))",
    "CREATE INDEX IF NOT EXISTS usage_events_customer ON {s}.usage_events "
    "(project_id, customer_id, occurred_at)",
    "CREATE TABLE IF NOT EXISTS {s}.usage_totals (project_id uuid NOT NULL, "
    "customer_id uuid NOT NULL, meter_id uuid NOT NULL, subscription_id uuid NOT NULL, "
    "group_key text NOT NULL, width_s integer NOT NULL, bucket timestamptz NOT NULL, "
    "events bigint NOT NULL, "
    "total numeric NOT NULL, maximum numeric, latest_at timestamptz, "
    'latest_tx text COLLATE "C", latest_value numeric, weighted numeric NOT NULL, '
    "PRIMARY KEY (project_id, customer_id, meter_id, subscription_id, group_key, width_s, "
    "bucket))",
    # The queries read a period's buckets of one width, whatever the subscription and
    # group: this index finds them without reading the other widths' rows. The meter is
    # not in it: after a bulk load, before the table's statistics, the planner took
    # ``meter_id = ANY(...)`` for a filter and read every bucket of the customer
    # through the index (934 buffers for a day of hours, 20 ms), where the range
    # (width, bucket) reads only the period's rows whatever the statistics.
    "CREATE INDEX IF NOT EXISTS usage_totals_spans ON {s}.usage_totals "
    "(project_id, customer_id, width_s, bucket)",
    "DROP INDEX IF EXISTS {s}.usage_totals_buckets",
    "CREATE TABLE IF NOT EXISTS {s}.usage_distinct (project_id uuid NOT NULL, "
    "customer_id uuid NOT NULL, meter_id uuid NOT NULL, subscription_id uuid NOT NULL, "
    "group_key text NOT NULL, width_s integer NOT NULL, bucket timestamptz NOT NULL, "
    "value text NOT NULL, PRIMARY KEY (project_id, customer_id, meter_id, subscription_id, "
    "group_key, width_s, bucket, value))",
    "CREATE INDEX IF NOT EXISTS usage_distinct_spans ON {s}.usage_distinct "
    "(project_id, customer_id, width_s, bucket)",
    "DROP INDEX IF EXISTS {s}.usage_distinct_buckets",
)

# Each column goes as one text, its values joined by U+001F (``_joined``), which
# Postgres splits in C (``string_to_array``). psycopg dumps a list parameter element by
# element in Python (a third of ingestion's Python time in text format, a fifth in
# binary); a join is one C call. No value can hold the separator: transaction ids and
# event names are text without control characters (their patterns), orjson escapes
# control characters in the properties, and uuids and timestamps are written here.
_SPLIT = "string_to_array(%s, E'\\x1f')"
_INSERT_EVENTS = (
    "INSERT INTO {t} (project_id, transaction_id, customer_id, subscription_id, event_name, "
    "occurred_at, properties, meter_ids, received_at) "
    "SELECT %b, tx, c::uuid, NULLIF(s, '')::uuid, n, o::timestamptz, p::jsonb, m::uuid[], %b "
    f"FROM unnest({', '.join([_SPLIT] * 7)}) AS u(tx, c, s, n, o, p, m) "
    'ORDER BY tx COLLATE "C" ON CONFLICT DO NOTHING RETURNING transaction_id, ' + CANONICAL
)
_UPSERT_TOTALS = (
    "INSERT INTO {t} AS t (project_id, customer_id, meter_id, subscription_id, group_key, "
    "width_s, bucket, events, total, maximum, latest_at, latest_tx, latest_value, weighted) "
    "SELECT %b, * FROM unnest(%b::uuid[], %b::uuid[], %b::uuid[], %b::text[], %b::int[], "
    "%b::timestamptz[], %b::bigint[], %b::numeric[], %b::numeric[], %b::timestamptz[], "
    "%b::text[], %b::numeric[], %b::numeric[]) ON CONFLICT (project_id, customer_id, "
    "meter_id, subscription_id, group_key, width_s, bucket) "
    "DO UPDATE SET events = t.events + EXCLUDED.events, total = t.total + EXCLUDED.total, "
    "maximum = GREATEST(t.maximum, EXCLUDED.maximum), "
    "latest_at = CASE WHEN {newer} THEN EXCLUDED.latest_at ELSE t.latest_at END, "
    "latest_tx = CASE WHEN {newer} THEN EXCLUDED.latest_tx ELSE t.latest_tx END, "
    "latest_value = CASE WHEN {newer} THEN EXCLUDED.latest_value ELSE t.latest_value END, "
    "weighted = t.weighted + EXCLUDED.weighted"
)
_NEWER = "(EXCLUDED.latest_at, EXCLUDED.latest_tx) > (t.latest_at, t.latest_tx)"
_INSERT_DISTINCT = (
    "INSERT INTO {t} (project_id, customer_id, meter_id, subscription_id, group_key, "
    "width_s, bucket, value) SELECT %b, * FROM unnest(%b::uuid[], %b::uuid[], %b::uuid[], "
    "%b::text[], %b::int[], %b::timestamptz[], %b::text[]) ON CONFLICT DO NOTHING"
)


def create_usage_tables(pool: ConnectionPool[Any], schema: str) -> None:
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"tally-usage:{schema}",))
        for statement in DDL:
            conn.execute(sql.SQL(statement).format(s=sql.Identifier(schema)))
        with conn.cursor(row_factory=tuple_row) as cur:
            create_chain(cur, schema)
            create_fence_table(cur, schema)
            fill_day_totals(cur, schema)


def table(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


@lru_cache(maxsize=4096)
def _group_key(group: tuple[str | None, ...]) -> str:
    return json.dumps(list(group), separators=(",", ":"), ensure_ascii=False)


def group_key(reading: Reading) -> str:
    """A group as stored: the JSON list of its values (null for a missing property).
    Groups repeat from event to event, so each is written once (cached)."""
    return _group_key(reading.group)


def bucket_of(moment: datetime, width_s: int) -> datetime:
    """The start of the UTC day, hour or minute ``moment`` falls in. A client's timestamp
    keeps the offset it was sent with (``+05:30``), and the hour of that offset is not a
    UTC hour, which is what the readers' buckets are."""
    moment = moment.astimezone(UTC)
    if width_s == DAY_S:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if width_s == HOUR_S:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)


def fold(events: Iterable[Accepted]) -> dict[Key, Partial]:
    """The partials the events add, per total's key: per minute, then each minute's
    merged into its hour's, and each hour's into its day's."""
    # Slots hold the ids as their integers (hashing a UUID is Python code; an int hashes
    # in C) and the minute as microseconds since 1970: the event's time is taken apart
    # once, and the minute's datetime made once per slot.
    slots: dict[tuple[int, int, int, str, int], Partial] = {}
    named: dict[tuple[int, int, int, str, int], Key] = {}
    for event in events:
        at = event.timestamp
        moment = micros(at)
        minute = moment - moment % MINUTE_US
        customer = event.customer_id
        subscription = event.subscription_id or NIL
        for reading in event.readings:
            group = _group_key(reading.group)
            slot = (customer.int, reading.meter_id.int, subscription.int, group, minute)
            partial = slots.get(slot)
            if partial is None:
                partial = slots[slot] = Partial()
                named[slot] = (customer, reading.meter_id, subscription, group, MINUTE_S,
                               EPOCH + timedelta(microseconds=minute))  # fmt: skip
            partial.add(reading, at, event.transaction_id, moment)
    partials: dict[Key, Partial] = {named[slot]: partial for slot, partial in slots.items()}
    for finer, coarser in ((MINUTE_S, HOUR_S), (HOUR_S, DAY_S)):
        for key, partial in [(k, p) for k, p in partials.items() if k[4] == finer]:
            wider = (*key[:4], coarser, bucket_of(key[5], coarser))
            partials.setdefault(wider, Partial()).merge(partial)
    return partials


@dataclass(frozen=True)
class Written:
    """What a batch did: the transaction ids that were new (the others existed, or are
    ``closed``: dated before their subscription's fence, not written)."""

    created: frozenset[str]
    closed: frozenset[str] = frozenset()


def write(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    events: Sequence[Accepted],
    received_at: datetime,
) -> Written:
    """Store the events that are new, and their totals, in one transaction."""
    # The first of a transaction id the batch repeats is the one it writes.
    unique: dict[str, Accepted] = {}
    for event in events:
        unique.setdefault(event.transaction_id, event)
    events = list(unique.values())
    if not events:
        return Written(frozenset())
    for attempt in range(MAX_ATTEMPTS):
        try:
            with (
                pool.connection() as conn,
                conn.transaction(),
                conn.cursor(row_factory=tuple_row) as cur,
            ):
                return _write(cur, schema, project_id, events, received_at)
        except psycopg.errors.DeadlockDetected:
            if attempt == MAX_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _write(
    cur: Cursor[Any],
    schema: str,
    project_id: UUID,
    events: Sequence[Accepted],
    received_at: datetime,
) -> Written:
    events, closed = fenced_out(cur, schema, project_id, events)
    if not events:
        return Written(frozenset(), closed)
    cur.execute(
        sql.SQL(_INSERT_EVENTS).format(t=table(schema, "usage_events"), s=sql.Identifier(schema)),
        [project_id, received_at, *_joined(events)],
        # The rows' canonical bytes come back as they are, not as hex to decode.
        binary=True,
    )
    # Sorted as inserted (the order of the batch's links: any order would chain). In
    # binary, the rows come as (str, bytes) already.
    returned: list[tuple[str, bytes]] = sorted(cur.fetchall())
    created = frozenset(map(itemgetter(0), returned))
    new = [e for e in events if e.transaction_id in created]
    add_totals(cur, schema, project_id, fold(new))
    # Last, so that the head's lock is held only from here to the commit.
    link(cur, schema, project_id, returned)
    return Written(created, closed)


def _joined(events: Sequence[Accepted]) -> list[str]:
    """``_INSERT_EVENTS``'s seven columns, each as its values joined by U+001F (a
    missing subscription as the empty text). Ids and lists of meters repeat in a batch:
    each distinct one is written once (``str(UUID)`` is Python code), keyed by its
    integers (a UUID hashes in Python); times and meters are walked by ``map`` over C
    getters. Each event's properties are decoded as soon as dumped: orjson's bytes are
    allocated large and shrunk, and holding 500 of them at once cost 30 times more."""
    join = "\x1f".join
    customers = [e.customer_id.int for e in events]
    subscriptions = [e.subscription_id for e in events]
    meters = list(map(tuple, map(map, repeat(_METER_INT), map(_READINGS, events))))
    texts = {key: str(UUID(int=key)) for key in set(customers)}
    named = {uuid: "" if uuid is None else str(uuid) for uuid in set(subscriptions)}
    arrays = {key: "{" + ",".join([str(UUID(int=i)) for i in key]) + "}" for key in set(meters)}
    dumps = orjson.dumps
    return [
        join([e.transaction_id for e in events]),
        join(map(texts.__getitem__, customers)),
        join(map(named.__getitem__, subscriptions)),
        join([e.event_name for e in events]),
        join(map(datetime.isoformat, map(_AT, events))),
        join([dumps(e.properties).decode() for e in events]),
        join(map(arrays.__getitem__, meters)),
    ]


# The getters ``_joined`` maps over a batch's events (and their readings).
_AT, _READINGS, _METER_INT = attrgetter("timestamp"), attrgetter("readings"), \
    attrgetter("meter_id.int")  # fmt: skip


def add_totals(
    cur: Cursor[Any], schema: str, project_id: UUID, partials: dict[Key, Partial]
) -> None:
    """Merge ``partials`` into the totals (keys in one order: no deadlock between two)."""
    keys = sorted(partials)
    if not keys:
        return
    rows = [partials[k] for k in keys]
    cur.execute(
        sql.SQL(_UPSERT_TOTALS).format(t=table(schema, "usage_totals"), newer=sql.SQL(_NEWER)),
        [
            project_id,
            *(list(column) for column in zip(*keys, strict=True)),
            [p.events for p in rows],
            [p.total for p in rows],
            [p.maximum for p in rows],
            [p.latest[0] if p.latest else None for p in rows],
            [p.latest[1] if p.latest else None for p in rows],
            [p.latest[2] if p.latest else None for p in rows],
            [p.weighted for p in rows],
        ],
    )
    distinct = sorted((*k, value) for k in keys for value in partials[k].distinct)
    if distinct:
        cur.execute(
            sql.SQL(_INSERT_DISTINCT).format(t=table(schema, "usage_distinct")),
            [project_id, *(list(column) for column in zip(*distinct, strict=True))],
        )


def stored_event(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, transaction_id: str
) -> dict[str, Any] | None:
    """One stored usage event as the API shows it, or None."""
    with pool.connection() as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT transaction_id, customer_id, subscription_id, event_name, "
                "occurred_at AS timestamp, properties FROM {} "
                "WHERE project_id = %s AND transaction_id = %s"
            ).format(table(schema, "usage_events")),
            [project_id, transaction_id],
        )
        row = cur.fetchone()
    return None if row is None else dict(row)
