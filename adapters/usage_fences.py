"""Usage fences (issue 13): the renewal's usage read and the usage write serialize per
customer, so that no usage is stored for a period no invoice will bill any more.

The door judges an event's period from the read models and the batch commits a moment
later; renewals may commit in between (a test clock advanced over periods renews a
subscription several times in one command). A renewal bills the period ending and the
late usage of the two periods billed before it (``domain.usage_billing``), so an event
is still billed if it is at or after the start of the period the renewal leaves as the
older of those two (``UsageBilling``'s last period before it). Before it reads the
usage, a renewal raises its subscription's **fence** to that start, in a transaction of
its own holding the customer's advisory lock exclusively. Each usage batch takes the
locks of its customers shared (batches never wait for each other on them), then reads
the fences of those customers' subscriptions, in its own transaction before it writes:

- a batch that took the lock first commits before the fence is raised, so the
  renewal's read, which comes after, counts its events;
- a batch that takes it after sees the fence, and an event dated before it is not
  written (``usage_period_closed``, as the door says once the read models catch up).

A fence only rises, and only to what the door already refuses once the read models
show the renewal before this one, so a renewal that raises it and then fails refuses
nothing the door would take. An event sent for a customer (no subscription id) is held
to the highest fence of the customer's subscriptions, as the door holds it to the
strictest rule. Locks use Postgres' two-key advisory space with a key of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from domain.usage import Accepted

# The first key of the two-key advisory locks of usage fences ("us" "ag" in ASCII).
LOCK_SPACE = 0x75736167

DDL = (
    "CREATE TABLE IF NOT EXISTS {s}.usage_fences (project_id uuid NOT NULL, "
    "subscription_id uuid NOT NULL, customer_id uuid NOT NULL, "
    "fenced_before timestamptz NOT NULL, PRIMARY KEY (project_id, subscription_id))",
    "CREATE INDEX IF NOT EXISTS usage_fences_customer ON {s}.usage_fences "
    "(project_id, customer_id)",
)


def lock_key(customer_id: UUID) -> int:
    """The second key of a customer's lock: 32 bits of its id (a collision only makes
    two customers' batches and renewals wait for each other)."""
    return int.from_bytes(customer_id.bytes[:4], "big", signed=True)


def create_fence_table(cur: Cursor[Any], schema: str) -> None:
    for statement in DDL:
        cur.execute(sql.SQL(statement).format(s=sql.Identifier(schema)))


def fences_held(
    cur: Cursor[Any], schema: str, project_id: UUID, customers: Iterable[UUID]
) -> dict[UUID, dict[UUID, datetime]]:
    """Take the customers' locks shared (in one order: no deadlock with a renewal's) for
    the rest of the transaction, then read their subscriptions' fences: per customer,
    per subscription, the moment before which no usage may be written."""
    keys = sorted({lock_key(c) for c in customers})
    if not keys:
        return {}
    cur.execute(
        "SELECT count(pg_advisory_xact_lock_shared(%s, k)) FROM unnest(%s::int[]) AS k",
        [LOCK_SPACE, keys],
    )
    # A statement of its own: in read committed its snapshot is taken after the locks,
    # so it sees every fence raised before them.
    with cur.connection.cursor(row_factory=tuple_row) as rows:
        rows.execute(
            sql.SQL(
                "SELECT customer_id, subscription_id, fenced_before FROM {}.usage_fences "
                "WHERE project_id = %s AND customer_id = ANY(%s)"
            ).format(sql.Identifier(schema)),
            [project_id, list(set(customers))],
        )
        fetched = rows.fetchall()
    found: dict[UUID, dict[UUID, datetime]] = {}
    for customer_id, subscription_id, before in fetched:
        found.setdefault(customer_id, {})[subscription_id] = before
    return found


def fence_of(
    fences: dict[UUID, dict[UUID, datetime]], customer_id: UUID, subscription_id: UUID | None
) -> datetime | None:
    """The fence an event is held to: its subscription's, or for an event sent for the
    customer the highest of the customer's subscriptions'."""
    held = fences.get(customer_id, {})
    if subscription_id is not None:
        return held.get(subscription_id)
    return max(held.values(), default=None)


def distinct_customers(events: Sequence[Accepted]) -> list[UUID]:
    """The events' customers, each once: keyed by their integers, since a set of UUIDs
    calls ``UUID.__hash__``, Python code, for every event of a batch."""
    ids = zip(map(_CUSTOMER_INT, events), map(_CUSTOMER, events), strict=True)
    return list(dict(ids).values())


_CUSTOMER_INT, _CUSTOMER = attrgetter("customer_id.int"), attrgetter("customer_id")


def fenced_out(
    cur: Cursor[Any], schema: str, project_id: UUID, events: Sequence[Accepted]
) -> tuple[list[Accepted], frozenset[str]]:
    """Hold the events' customers' fences (``fences_held``) and split off the events
    dated before theirs: the events to write, and the transaction ids not to."""
    fences = fences_held(cur, schema, project_id, distinct_customers(events))
    if not fences:  # no renewal has fenced these customers: nothing to look up per event
        return list(events), frozenset()
    closed = frozenset(
        e.transaction_id
        for e in events
        if (fence := fence_of(fences, e.customer_id, e.subscription_id)) is not None
        and e.timestamp < fence
    )
    if not closed:
        return list(events), closed
    return [e for e in events if e.transaction_id not in closed], closed


def raise_fence(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    customer_id: UUID,
    subscription_id: UUID,
    before: datetime,
) -> None:
    """Raise the subscription's fence to ``before`` (never lower it), committed before
    this returns: once it has, every usage batch of the customer either committed
    before it or will refuse usage dated before ``before``."""
    with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_SPACE, lock_key(customer_id)])
        cur.execute(
            sql.SQL(
                "INSERT INTO {}.usage_fences AS f (project_id, subscription_id, customer_id, "
                "fenced_before) VALUES (%s, %s, %s, %s) ON CONFLICT (project_id, "
                "subscription_id) DO UPDATE SET fenced_before = "
                "GREATEST(f.fenced_before, EXCLUDED.fenced_before)"
            ).format(sql.Identifier(schema)),
            [project_id, subscription_id, customer_id, before],
        )
