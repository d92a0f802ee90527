"""(a) The baseline: raw psycopg single-row INSERT + COMMIT into an event-shaped table.

No table lock, no Python domain code: what Postgres and this machine give one small
transaction per round trip with 8 client threads (Postgres groups their WAL flushes).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import psycopg
from psycopg import sql

from bench.common import LoopResult, run_threads

# About the size of a stored Account.Deposited event.
STATE = os.urandom(220)
TOPIC = "tally:Account.Deposited"


def measure(url: str, schema: str, threads: int, warmup_s: float, duration_s: float) -> LoopResult:
    table = sql.Identifier(schema, "baseline_events")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (originator_id uuid NOT NULL, originator_version bigint "
                "NOT NULL, topic text, state bytea, notification_id bigserial, "
                "PRIMARY KEY (originator_id, originator_version))"
            ).format(table)
        )
        conn.execute(sql.SQL("CREATE UNIQUE INDEX ON {} (notification_id)").format(table))
    insert = sql.SQL(
        "INSERT INTO {} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)"
    ).format(table)
    connections: list[psycopg.Connection[object]] = []

    def make_worker(i: int) -> Callable[[], None]:
        conn = psycopg.connect(url)
        connections.append(conn)
        originator = uuid.uuid4()
        version = [0]

        def insert_one() -> None:
            version[0] += 1
            conn.execute(insert, (originator, version[0], TOPIC, STATE), prepare=True)
            conn.commit()

        return insert_one

    try:
        return run_threads(threads, warmup_s, duration_s, make_worker)
    finally:
        for conn in connections:
            conn.close()
