"""Integration events carry the chain hash of their stored event (issue 15,
docs/events.md): a receiver keeps it, and an auditor can later check that the log still
holds, at that position, the event the receiver was told of."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from adapters.audit_chain import GENESIS, canonical, link
from adapters.audit_verify import Expected, verify
from tests.e2e.billing import customer
from tests.e2e.conftest import Client
from tests.e2e.webhook_receiver import Receiver
from tests.e2e.webhook_sandbox import hooks_http, hooks_tally, sandbox

__all__ = ["hooks_http", "hooks_tally", "sandbox"]  # the fixtures, used by name

EVENTS = "tally_events"


def _stored(conn: psycopg.Connection[Any], schema: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state, hash "
            "FROM {} ORDER BY notification_id"
        ).format(sql.Identifier(schema, EVENTS))
    ).fetchall()


def test_a_received_webhook_carries_the_stored_chain_hash_that_verify_accepts(
    sandbox: Client, receiver: Receiver
) -> None:
    made = sandbox.ok(sandbox.post("/v1/webhook_endpoints", {"url": receiver.url}), 201)
    receiver.secret = made["secret"]
    customer(sandbox, "ada")
    account = sandbox.open_account("ada")
    sandbox.deposit(account, 250)
    sandbox.tally.webhooks.drain()
    assert len(receiver.received) >= 3

    tally = sandbox.tally
    with psycopg.connect(tally.target.url, autocommit=True) as conn:
        rows = _stored(conn, tally.schema)
        previous_of: dict[int, bytes] = {}
        before = GENESIS
        for position, *_, hash_ in rows:
            previous_of[position] = before
            before = bytes(hash_)
        by_position = {row[0]: row for row in rows}
        for event in receiver.received:
            position, aggregate_id, version, topic, state, hash_ = by_position[event["position"]]
            told = bytes.fromhex(event["hash"])
            # It is the stored hash, and it is what the definition recomputes there...
            assert told == bytes(hash_)
            recomputed = link(
                previous_of[position], canonical(position, aggregate_id, version, topic, state)
            )
            assert recomputed == told
            # ... and verify accepts a log that passes through it, as it does a checkpoint.
            found = verify(conn, tally.schema, EVENTS, expect=Expected(position, told))
            assert found.ok, found.summary()

        last = receiver.received[-1]
        conn.execute(
            sql.SQL("UPDATE {} SET state = state || ' '::bytea WHERE notification_id = %s").format(
                sql.Identifier(tally.schema, EVENTS)
            ),
            (last["position"],),
        )
        edited = verify(
            conn,
            tally.schema,
            EVENTS,
            expect=Expected(last["position"], bytes.fromhex(last["hash"])),
        )
    assert not edited.ok
    assert edited.failed_at == last["position"]
