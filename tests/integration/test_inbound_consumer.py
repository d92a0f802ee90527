"""Commands in through the real RabbitMQ (5672) and Redis (6379), on real Postgres (issue
12): a product's message becomes an active subscription and its
``billing.subscription.created`` on the broker (broker-out's publisher); the same message
twice has one effect; a malformed one and one on an unknown project's queue are dead
letters with their reason, and the queue moves on. Queues and streams are named from the
test's own project ids and removed at the end."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import pytest
import redis
from pydantic import SecretStr

from adapters.broker import BrokerTarget
from api.bootstrap import NO_PROJECT, Tally, build
from api.inbound import queues
from api.inbound.consumer import InboundConsumer
from api.settings import Settings
from commands import messages as m
from commands.bus import Context
from projections.runner import ProjectionWorker, wait_for_position
from tests.integration.broker_consumers import RabbitConsumer, drop_redis_stream, redis_stream
from tests.plans import monthly_plan

RABBIT_URL = os.environ.get("TALLY_TEST_RABBIT_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("TALLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
URLS = {"rabbit": RABBIT_URL, "redis": REDIS_URL}


@pytest.fixture(params=["rabbit", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def tally(settings: Settings, kind: str) -> Iterator[Tally]:
    """Tally publishing its integration events to the broker under test, to an exchange
    or stream of this test's own (broker-out's publisher, drained by the test)."""
    name = f"test.{secrets.token_hex(6)}"
    update = {"broker_url": SecretStr(URLS[kind]), "broker_exchange": name}
    made = build(settings.model_copy(update=update))
    yield made
    made.close()
    drop_redis_stream(name)  # a no-op for RabbitMQ, whose test consumer deletes its exchange


def define_plan(tally: Tally, project_id: UUID) -> None:
    """The monthly plan ``pro`` (30 EUR), which the messages subscribe to."""
    ctx = Context(project_id, "test")
    monthly_plan(lambda c: tally.execute(c, ctx).body, "pro", 3000, lookup_key="pro_monthly")


@pytest.fixture
def project(tally: Tally) -> Iterator[UUID]:
    """A project with the monthly plan ``pro``, and the projection worker running."""
    made = tally.execute(m.CreateProject(name="p", mode="test"), Context(NO_PROJECT, "cli"))
    project_id = UUID(made.body["project"]["id"])
    define_plan(tally, project_id)
    worker = ProjectionWorker(tally.store, tally.views, tally.schema)
    worker.start()
    yield project_id
    worker.stop()


def subscribed(id_: str, user: str) -> bytes:
    data = {"userId": user, "planId": "pro", "currency": "EUR"}
    return json.dumps({"id": id_, "type": "user.subscribed", "data": data}).encode()


class Producer:
    """The product's side: publishes to a project's exchange (RabbitMQ) or stream (Redis)
    with a plain client, and reads the dead letters."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    async def send(self, project_id: UUID, body: bytes) -> None:
        name = queues.queue_name(project_id)
        if self.kind == "redis":
            client = redis.Redis.from_url(REDIS_URL)
            client.xadd(name, {"__data__": body})
            client.close()
            return
        connection = await aio_pika.connect(RABBIT_URL)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(name)
            await exchange.publish(aio_pika.Message(body), routing_key="")

    async def dead_letters(self, project_id: UUID) -> list[dict[str, Any]]:
        name = queues.dead_letter_name(project_id)
        if self.kind == "redis":
            client = redis.Redis.from_url(REDIS_URL)
            entries = client.xrange(name)
            client.close()
            return [_redis_letter(fields) for _, fields in entries]
        letters = []
        connection = await aio_pika.connect(RABBIT_URL)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(name)
            while (found := await queue.get(fail=False)) is not None:
                letters.append(json.loads(found.body))
        return letters

    def remove(self, project_ids: list[UUID]) -> None:
        names = [queues.queue_name(p) for p in project_ids]
        names += [queues.dead_letter_name(p) for p in project_ids]
        if self.kind == "redis":
            client = redis.Redis.from_url(REDIS_URL)
            client.delete(*names)
            client.close()
            return
        asyncio.run(_delete_rabbit(names))


def _redis_letter(fields: dict[bytes, bytes]) -> dict[str, Any]:
    from faststream.redis.parser.binary import BinaryMessageFormatV1

    body, _ = BinaryMessageFormatV1.parse(fields[b"__data__"])
    letter: dict[str, Any] = json.loads(body)
    return letter


async def _delete_rabbit(names: list[str]) -> None:
    connection = await aio_pika.connect(RABBIT_URL)
    async with connection:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)
            if not name.endswith(queues.DEAD_SUFFIX):
                await channel.exchange_delete(name)


async def until(check: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def subscriptions(tally: Tally, project_id: UUID) -> list[dict[str, Any]]:
    from projections.subscriptions import list_subscriptions

    rows, _ = list_subscriptions(
        tally.views, tally.schema, project_id, limit=100, starting_after=None
    )
    return list(rows)


def published_types(tally: Tally, project_id: UUID) -> list[str]:
    from projections.integration_events import events_after

    return [r["type"] for r in events_after(tally.views, tally.schema, project_id, 0, 1000)]


def rejections(tally: Tally, project_id: UUID) -> list[dict[str, Any]]:
    from api.integration_events import envelope
    from projections.integration_events import events_after

    rows = events_after(tally.views, tally.schema, project_id, 0, 1000)
    # As a webhook or the broker carries it: the envelope's object.
    found = [envelope(r) for r in rows if r["type"] == "billing.command.rejected"]
    return [e["data"]["object"] for e in found]


def published(tally: Tally, kind: str, events: RabbitConsumer | None) -> list[dict[str, Any]]:
    """The envelopes the broker publisher put on the broker, once each (drained now)."""
    assert tally.broker is not None
    tally.broker.drain()
    if events is not None:
        bodies = events.bodies
    else:
        bodies = [json.loads(body) for _, _, body in redis_stream(tally.settings.broker_exchange)]
    unique = {b["id"]: b for b in bodies}
    return list(unique.values())


def test_commands_in_through_the_broker(tally: Tally, project: UUID, kind: str) -> None:
    unknown = uuid4()
    producer = Producer(kind)
    events = RabbitConsumer(tally.settings.broker_exchange) if kind == "rabbit" else None
    try:
        asyncio.run(_scenario(tally, project, unknown, producer, kind))
        out = [e for e in published(tally, kind, events) if e["project_id"] == str(project)]
    finally:
        producer.remove([project, unknown])
        if events is not None:
            events.close()
    types = [e["type"] for e in out]
    assert types.count("billing.subscription.created") == 2
    assert types.count("billing.command.rejected") == 2
    created = [e["data"]["object"] for e in out if e["type"] == "billing.subscription.created"]
    assert [c["status"] for c in created] == ["active", "active"]


async def _scenario(
    tally: Tally, project: UUID, unknown: UUID, producer: Producer, kind: str
) -> None:
    consumer = InboundConsumer(
        tally, BrokerTarget.parse(URLS[kind]), refresh_s=0.2, retry_pause_s=0.1
    )
    await consumer.start()
    try:
        await consumer.listen(unknown)  # a queue that is no project's
        await until(lambda: consumer.listens(project))  # found in the read model
        # The same message twice, a malformed one, then another good one behind them.
        await producer.send(project, subscribed("m1", "u1"))
        await producer.send(project, subscribed("m1", "u1"))
        malformed = b'{"id": "m2", "type": "user.subscribed", "data": {}}'
        await producer.send(project, malformed)
        await producer.send(project, malformed)
        await producer.send(project, subscribed("m3", "u2"))
        await producer.send(unknown, subscribed("m4", "u3"))
        await producer.send(project, b'{"id": "m5", "pad": "' + b"x" * 70_000 + b'"}')
        await until(lambda: consumer.handled == 7)
        head = tally.store.recorder.max_notification_id()
        assert wait_for_position(tally.views, tally.schema, int(head or 0), 30.0)
        letters = await producer.dead_letters(project)
        lost = await producer.dead_letters(unknown)
    finally:
        await consumer.stop()
    # m1 twice is one subscription; m3 is the other.
    subs = subscriptions(tally, project)
    assert sorted(s["status"] for s in subs) == ["active", "active"]
    assert published_types(tally, project).count("billing.subscription.created") == 2
    # Each delivery of the malformed message is dead-lettered; its refusal is published
    # once, for its project; the unknown project's has nowhere to be published.
    assert [(x["message_id"], x["code"]) for x in letters] == [
        ("m2", "validation_error"),
        ("m2", "validation_error"),
        (None, "payload_too_large"),  # larger than 64 KiB: not even read for its id
    ]
    assert "planCode" in letters[0]["detail"]
    assert json.loads(letters[0]["body"])["id"] == "m2"
    assert [(x["message_id"], x["code"]) for x in lost] == [("m4", "not_found")]
    assert consumer.dead_lettered == 4
    rejected, too_large = rejections(tally, project)
    assert (too_large["message_id"], too_large["code"]) == (None, "payload_too_large")
    assert rejected["message_id"] == "m2"
    assert rejected["message_type"] == "user.subscribed"
    assert rejected["code"] == "validation_error"
    assert rejected["queue"] == queues.queue_name(project)
    assert rejected["object"] == "command_rejection"
    assert rejected["created"].endswith("Z")
    assert rejections(tally, unknown) == []


class CrashesBeforeAck(InboundConsumer):
    """Stands for a process killed after a message's commands committed and before it
    acknowledged the message: it runs the message and never acknowledges it."""

    async def receive(
        self, project_id: UUID, body: bytes, ack: Callable[[], Awaitable[Any]]
    ) -> None:
        async def never() -> None:
            return None

        await super().receive(project_id, body, never)


def test_a_message_not_acknowledged_before_a_crash_is_run_again_with_one_effect(
    tally: Tally, project: UUID, kind: str
) -> None:
    producer = Producer(kind)
    try:
        asyncio.run(_crash_and_redeliver(tally, project, producer, kind))
    finally:
        producer.remove([project])
    assert len(subscriptions(tally, project)) == 1


async def _crash_and_redeliver(tally: Tally, project: UUID, producer: Producer, kind: str) -> None:
    target = BrokerTarget.parse(URLS[kind])
    first = CrashesBeforeAck(tally, target, refresh_s=0.2)
    await first.start()
    await until(lambda: first.listens(project))
    await producer.send(project, subscribed("m1", "u1"))
    await until(lambda: first.handled == 1)
    await first.stop()  # its connection closes with the message unacknowledged
    assert len(subscriptions(tally, project)) <= 1
    # RabbitMQ gives the message back to the queue; on Redis it stays pending in the
    # group until a consumer claims it (after claim_idle_ms).
    second = InboundConsumer(tally, target, refresh_s=0.2, claim_idle_ms=300)
    await second.start()
    try:
        await until(lambda: second.handled == 1)
        head = tally.store.recorder.max_notification_id()
        assert wait_for_position(tally.views, tally.schema, int(head or 0), 30.0)
    finally:
        await second.stop()
    assert second.dead_lettered == 0


def test_a_failure_while_stopping_leaves_the_message_for_later(
    tally: Tally, project: UUID, kind: str
) -> None:
    from api.inbound.consumer import STOPPING

    consumer = InboundConsumer(tally, BrokerTarget.parse(URLS[kind]))
    malformed = b'{"id": "m1", "type": "user.subscribed", "data": {}}'
    asyncio.run(consumer.stop())  # never started: stopping is all it does
    head = tally.store.recorder.max_notification_id()
    assert wait_for_position(tally.views, tally.schema, int(head or 0), 30.0)
    assert consumer.process(project, malformed) is STOPPING
    head = tally.store.recorder.max_notification_id()
    assert wait_for_position(tally.views, tally.schema, int(head or 0), 30.0)
    assert rejections(tally, project) == []  # not recorded as refused


def test_a_reused_message_id_with_other_data_is_dead_lettered_and_published(
    tally: Tally, project: UUID, kind: str
) -> None:
    from api.inbound.verdicts import Action

    consumer = InboundConsumer(tally, BrokerTarget.parse(URLS[kind]))
    head = tally.store.recorder.max_notification_id()
    assert wait_for_position(tally.views, tally.schema, int(head or 0), 30.0)
    assert consumer.process(project, subscribed("m1", "u1")) is None
    # The same user and plan with a trial: before, its customer step matched and its
    # recorded subscription step was taken as done, so the message was acknowledged.
    raw = json.loads(subscribed("m1", "u1"))
    other = json.dumps({**raw, "data": {**raw["data"], "trialDays": 7}}).encode()
    verdict = consumer.process(project, other)
    assert verdict is not None
    assert (verdict.action, verdict.code) == (Action.DEAD_LETTER, "idempotency_key_reused")
    assert "message id 'm1' was already used for a different message" in verdict.detail
    head = tally.store.recorder.max_notification_id()
    assert wait_for_position(tally.views, tally.schema, int(head or 0), 30.0)
    [rejected] = rejections(tally, project)
    assert (rejected["message_id"], rejected["code"]) == ("m1", "idempotency_key_reused")
    assert len(subscriptions(tally, project)) == 1
