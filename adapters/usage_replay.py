"""Usage replay and export (issue 13): the running totals rebuilt from the usage table
and compared with the live ones, as ``tally replay`` does for the read models; and the
usage events written out as JSON lines, in the order they are stored.

The rebuild folds every stored event with the readings of the meters that counted it
when it was received (its ``meter_ids``; meters never change), through the same
``domain.usage`` code ingestion uses, and compares each total (count, sum, max, latest,
the weighted sum's terms) and each distinct value with the live tables. Equal means the
totals are exactly a fold over the deduplicated events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from psycopg import sql
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from adapters.usage_store import Key, fold, table
from domain.usage import Accepted, MeterRule, Partial, readings

ProjectKey = tuple[UUID, Key]


@dataclass
class UsageReplay:
    events: int = 0
    totals: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.differences


def _rules(pool: ConnectionPool[Any], schema: str) -> dict[UUID, MeterRule]:
    with pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(sql.SQL("SELECT summary FROM {}").format(table(schema, "meters")))
        return {rule.id: rule for rule in (MeterRule.of(row[0]) for row in cur.fetchall())}


def _rebuilt(
    pool: ConnectionPool[Any], schema: str, missing: set[UUID]
) -> tuple[int, dict[ProjectKey, Partial]]:
    """Every event folded again (``missing``: meters it names that the meters read model
    does not hold, which a replay reports)."""
    rules = _rules(pool, schema)
    partials: dict[ProjectKey, Partial] = {}
    events = 0
    with pool.connection() as conn, conn.transaction():
        cur = conn.cursor(name="usage_replay", row_factory=tuple_row)
        cur.itersize = 10_000
        cur.execute(
            sql.SQL(
                "SELECT project_id, customer_id, subscription_id, transaction_id, "
                "occurred_at, properties, meter_ids FROM {}"
            ).format(table(schema, "usage_events"))
        )
        pending: dict[UUID, list[Accepted]] = {}
        for project, customer, subscription, tx, at, properties, meter_ids in cur:
            events += 1
            missing.update(m for m in meter_ids if m not in rules)
            counted = [rules[m] for m in meter_ids if m in rules]
            pending.setdefault(project, []).append(
                Accepted(
                    tx, customer, subscription, "", at, properties, readings(counted, properties)
                )
            )
            if events % 10_000 == 0:
                _merge(partials, pending)
        _merge(partials, pending)
    return events, partials


def _merge(partials: dict[ProjectKey, Partial], pending: dict[UUID, list[Accepted]]) -> None:
    for project, events in pending.items():
        for key, partial in fold(events).items():
            partials.setdefault((project, key), Partial()).merge(partial)
    pending.clear()


def _live(pool: ConnectionPool[Any], schema: str) -> dict[ProjectKey, Partial]:
    live: dict[ProjectKey, Partial] = {}
    with pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(
            sql.SQL(
                "SELECT project_id, customer_id, meter_id, subscription_id, group_key, width_s, "
                "bucket, events, total, maximum, latest_at, latest_tx, latest_value, weighted "
                "FROM {}"
            ).format(table(schema, "usage_totals"))
        )
        for row in cur.fetchall():
            at, tx, value = row[10:13]
            live[(row[0], tuple(row[1:7]))] = Partial(  # type: ignore[index]
                events=int(row[7]),
                total=row[8],
                maximum=row[9],
                latest=(at, tx, value) if at is not None else None,
                weighted=row[13],
            )
        cur.execute(
            sql.SQL(
                "SELECT project_id, customer_id, meter_id, subscription_id, group_key, width_s, "
                "bucket, value FROM {}"
            ).format(table(schema, "usage_distinct"))
        )
        for row in cur.fetchall():
            key = (row[0], tuple(row[1:7]))
            live.setdefault(key, Partial()).distinct.add(row[7])  # type: ignore[arg-type]
    return live


def replay_usage(pool: ConnectionPool[Any], schema: str, max_samples: int = 5) -> UsageReplay:
    """Rebuild the totals from the usage table and compare them with the live ones."""
    missing: set[UUID] = set()
    events, rebuilt = _rebuilt(pool, schema, missing)
    live = _live(pool, schema)
    report = UsageReplay(events=events, totals=len(live))
    report.differences += [f"meter {m} counted events but is not in the meters read model"
                           for m in sorted(missing)]  # fmt: skip
    for key in sorted(set(rebuilt) | set(live), key=str):
        want, have = rebuilt.get(key), live.get(key)
        if want != have:
            report.differences.append(f"{key}: rebuilt {want}, live {have}")
    del report.differences[max_samples:]
    return report


def export_usage(pool: ConnectionPool[Any], schema: str, project_id: UUID) -> Iterator[bytes]:
    """The project's usage events as JSON lines (oldest first), as stored."""
    with pool.connection() as conn, conn.transaction():
        cur = conn.cursor(name="usage_export", row_factory=tuple_row)
        cur.itersize = 10_000
        cur.execute(
            sql.SQL(
                "SELECT transaction_id, customer_id, subscription_id, event_name, "
                "occurred_at, properties, meter_ids, received_at FROM {} "
                "WHERE project_id = %s ORDER BY occurred_at, transaction_id"
            ).format(table(schema, "usage_events")),
            [project_id],
        )
        for tx, customer, subscription, name, at, properties, meters, received in cur:
            yield orjson.dumps(
                {
                    "transaction_id": tx,
                    "customer_id": str(customer),
                    "subscription_id": str(subscription) if subscription else None,
                    "event_name": name,
                    "timestamp": at.isoformat(),
                    "properties": properties,
                    "meter_ids": [str(m) for m in meters],
                    "received_at": received.isoformat(),
                }
            )
