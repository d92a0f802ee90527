"""adapters/broker.py against the real RabbitMQ (5672) and Redis (6379): what a message
carries and that a batch arrives whole and in order. Each test has an exchange or stream
of its own, removed at the end."""

from __future__ import annotations

import asyncio
import os
import secrets
from typing import Any

import aio_pika
import pytest
from faststream.redis.parser.binary import BinaryMessageFormatV1
from pydantic import ValidationError

from adapters.broker import BrokerTarget, BrokerUrlInvalid, Outgoing, declare, publish_batch
from api.settings import Settings

RABBIT_URL = os.environ.get("TALLY_TEST_RABBIT_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("TALLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _messages(count: int) -> list[Outgoing]:
    types = ("billing.wallet.deposited", "billing.customer.created")
    return [
        Outgoing(
            id=f"evt_{position:032x}",
            type=types[position % 2],
            project_id="7d0c1c5e-8a43-4b52-9d0e-1f0a8c4e2b61",
            position=position,
            body=b'{"position": %d}' % position,
        )
        for position in range(1, count + 1)
    ]


def test_parse_knows_rabbitmq_and_redis_and_never_quotes_the_url() -> None:
    assert BrokerTarget.parse("amqp://u:p@mq:5672/v").kind == "rabbit"
    assert BrokerTarget.parse("rediss://r:6380/1").kind == "redis"
    target = BrokerTarget.parse("amqp://user:hunter2@mq:5672/vh", "billing.out")
    assert target.destination == "rabbit://mq:5672/vh#billing.out"
    with pytest.raises(BrokerUrlInvalid) as refused:
        BrokerTarget.parse("kafka://user:hunter2@k:9092")
    assert "hunter2" not in str(refused.value)
    with pytest.raises(BrokerUrlInvalid):
        BrokerTarget.parse("amqp:///nohost")


def test_settings_refuse_an_unknown_broker_at_start_and_treat_empty_as_unset() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(broker_url="nats://user:hunter2@n:4222")
    assert "hunter2" not in str(refused.value)
    assert Settings(broker_url="").broker_target() is None
    target = Settings(broker_url=RABBIT_URL, broker_exchange="x.y").broker_target()
    assert target is not None
    assert target.name == "x.y"


def test_a_rabbitmq_batch_arrives_whole_in_order_persistent_with_the_envelope_id() -> None:
    name = f"test.{secrets.token_hex(6)}"
    target = BrokerTarget.parse(RABBIT_URL, name)
    sent = _messages(1200)
    got = asyncio.run(_rabbit_round_trip(target, sent))
    assert [m.message_id for m in got] == [m.id for m in sent]
    assert [m.routing_key for m in got] == [m.type for m in sent]
    assert [m.body for m in got] == [m.body for m in sent]
    first = got[0]
    assert first.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert first.content_type == "application/json"
    assert first.headers["project_id"] == sent[0].project_id
    assert first.headers["event_type"] == sent[0].type


async def _rabbit_round_trip(
    target: BrokerTarget, sent: list[Outgoing]
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    broker = target.make_broker()
    await broker.connect()
    await declare(broker, target)
    connection = await aio_pika.connect(target.url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(target.name)  # declared durable topic
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, "billing.#")
        for start in range(0, len(sent), 500):
            await publish_batch(broker, target, sent[start : start + 500])
        got: list[aio_pika.abc.AbstractIncomingMessage] = []
        async with queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                got.append(message)
                if len(got) == len(sent):
                    break
        await exchange.delete()
        return got
    finally:
        await connection.close()
        await broker.stop()


def test_a_redis_batch_lands_in_one_stream_in_order_with_the_id_header() -> None:
    name = f"test.{secrets.token_hex(6)}"
    target = BrokerTarget.parse(REDIS_URL, name)
    sent = _messages(700)
    entries = asyncio.run(_redis_round_trip(target, sent))
    assert len(entries) == len(sent)
    decoded = [BinaryMessageFormatV1.parse(fields[b"__data__"]) for _, fields in entries]
    assert [headers["message_id"] for _, headers in decoded] == [m.id for m in sent]
    assert [body for body, _ in decoded] == [m.body for m in sent]
    _, headers = decoded[0]
    assert headers["project_id"] == sent[0].project_id
    assert headers["event_type"] == sent[0].type
    assert headers["position"] == "1"


async def _redis_round_trip(target: BrokerTarget, sent: list[Outgoing]) -> list[Any]:
    broker = target.make_broker()
    client = await broker.connect()
    try:
        await declare(broker, target)
        for start in range(0, len(sent), 300):
            await publish_batch(broker, target, sent[start : start + 300])
        entries: list[Any] = await client.xrange(target.name)
        return entries
    finally:
        await client.delete(target.name)
        await broker.stop()
