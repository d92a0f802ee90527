"""``usage.recorded`` through the real RabbitMQ, on real Postgres (issue 13): one event
or a batch, in camelCase, is stored by the same door as the HTTP routes; the same
message again (a redelivery) stores nothing twice; a batch with events the door refuses
stores the others and is dead-lettered with each refusal, and ``billing.command.rejected``
is recorded once; a malformed message stores nothing and is dead-lettered; the queue
moves on behind them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from psycopg import sql

from adapters.broker import BrokerTarget
from api.bootstrap import NO_PROJECT, Tally
from api.inbound.consumer import InboundConsumer
from commands import messages as m
from commands.bus import Context
from commands.meter_messages import DefineMeter
from projections.paging import fetch_all
from projections.runner import ProjectionWorker, wait_for_position
from projections.schema import table
from tests.integration.test_inbound_consumer import (
    RABBIT_URL,
    CrashesBeforeAck,
    Producer,
    rejections,
    until,
)


@pytest.fixture
def kind() -> str:
    """The inbound consumer's tests' ``tally`` fixture, on RabbitMQ only."""
    return "rabbit"


@pytest.fixture
def metered(tally: Tally) -> Iterator[UUID]:
    """A project with a meter counting ``api_call`` and the customer ``u1``, and the
    projection worker running."""
    made = tally.execute(m.CreateProject(name="p", mode="test"), Context(NO_PROJECT, "cli"))
    project_id = UUID(made.body["project"]["id"])
    ctx = Context(project_id, "test")
    meter = DefineMeter(code="calls", name="Calls", event_name="api_call", aggregation="count")
    tally.execute(meter, ctx)
    tally.execute(m.RegisterCustomer(external_id="u1", currency="EUR"), ctx)
    worker = ProjectionWorker(tally.store, tally.views, tally.schema)
    worker.start()
    head = tally.store.recorder.max_notification_id()
    assert wait_for_position(tally.views, tally.schema, int(head or 0), 30.0)
    yield project_id
    worker.stop()


def usage(id_: str, data: dict[str, Any]) -> bytes:
    return json.dumps({"id": id_, "type": "usage.recorded", "data": data}).encode()


def call(tx: str, user: str = "u1", name: str = "api_call") -> dict[str, str]:
    return {"transactionId": tx, "externalCustomerId": user, "eventName": name}


def stored(tally: Tally, project_id: UUID) -> list[str]:
    """The project's stored usage events' transaction ids, each row once."""
    query = sql.SQL(
        "SELECT transaction_id FROM {} WHERE project_id = %s ORDER BY transaction_id"
    ).format(table(tally.schema, "usage_events"))
    return [str(r["transaction_id"]) for r in fetch_all(tally.views, query, [project_id])]


def test_usage_recorded_is_stored_once_and_refusals_are_dead_lettered(
    tally: Tally, metered: UUID
) -> None:
    producer = Producer("rabbit")
    try:
        letters = asyncio.run(_usage_scenario(tally, metered, producer))
    finally:
        producer.remove([metered])
    assert stored(tally, metered) == ["t1", "t2", "t6"]
    assert [(x["message_id"], x["code"]) for x in letters] == [
        ("m2", "not_found"),
        ("m3", "validation_error"),
    ]
    batch = letters[0]
    assert batch["detail"].startswith("2 of 4 usage events refused (2 stored or already there)")
    assert [(r["index"], r["transaction_id"], r["code"]) for r in batch["context"]["refused"]] == [
        (1, "t3", "not_found"),
        (3, "t4", "unknown_event_name"),
    ]
    assert "eventName" in letters[1]["detail"]
    head = tally.store.recorder.max_notification_id()
    assert wait_for_position(tally.views, tally.schema, int(head or 0), 30.0)
    found = rejections(tally, metered)
    assert [(r["message_id"], r["message_type"], r["code"]) for r in found] == [
        ("m2", "usage.recorded", "not_found"),
        ("m3", "usage.recorded", "validation_error"),
    ]


async def _usage_scenario(tally: Tally, project: UUID, producer: Producer) -> list[Any]:
    consumer = InboundConsumer(
        tally, BrokerTarget.parse(RABBIT_URL), refresh_s=0.2, retry_pause_s=0.1
    )
    await consumer.start()
    try:
        await until(lambda: consumer.listens(project))
        await producer.send(project, usage("m1", call("t1")))
        await producer.send(project, usage("m1", call("t1")))  # delivered again
        batch = [call("t2"), call("t3", user="nobody"), call("t1"), call("t4", name="nope")]
        await producer.send(project, usage("m2", {"events": batch}))
        await producer.send(project, usage("m3", {"events": [{"transactionId": "t5"}]}))
        await producer.send(project, usage("m4", call("t6")))
        await until(lambda: consumer.handled == 5)
        letters = await producer.dead_letters(project)
    finally:
        await consumer.stop()
    assert consumer.dead_lettered == 2
    return letters


def test_usage_not_acknowledged_before_a_crash_is_stored_once(tally: Tally, metered: UUID) -> None:
    producer = Producer("rabbit")
    try:
        asyncio.run(_crash_and_redeliver(tally, metered, producer))
    finally:
        producer.remove([metered])
    assert stored(tally, metered) == ["t1", "t2"]


async def _crash_and_redeliver(tally: Tally, project: UUID, producer: Producer) -> None:
    target = BrokerTarget.parse(RABBIT_URL)
    first = CrashesBeforeAck(tally, target, refresh_s=0.2)
    await first.start()
    await until(lambda: first.listens(project))
    await producer.send(project, usage("m1", {"events": [call("t1"), call("t2")]}))
    await until(lambda: first.handled == 1)
    await first.stop()  # unacknowledged: RabbitMQ gives it back to the queue
    assert stored(tally, project) == ["t1", "t2"]
    second = InboundConsumer(tally, target, refresh_s=0.2)
    await second.start()
    try:
        await until(lambda: second.handled == 1)
    finally:
        await second.stop()
    assert second.dead_lettered == 0
