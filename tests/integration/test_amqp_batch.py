"""adapters/amqp_batch.py against the real RabbitMQ (5672): a batch written as one piece
arrives whole, in order, with its properties; a body larger than a frame arrives whole;
the channel's delivery tags stay right for the publishes after it (aiormq's own included);
a closed channel is refused. Each test has an exchange and a queue of its own."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import aiormq
import pytest
from pamqp import commands as spec

from adapters.amqp_batch import PERSISTENT, Publish, publish

RABBIT_URL = os.environ.get("TALLY_TEST_RABBIT_URL", "amqp://guest:guest@127.0.0.1:5672/")
KEY = "billing.test.published"


@asynccontextmanager
async def bound() -> AsyncIterator[tuple[Any, str, aio_pika.abc.AbstractQueue]]:
    """A confirming channel (aiormq's), a topic exchange and a durable queue bound to it."""
    name = f"test.batch.{secrets.token_hex(4)}"
    connection = await aio_pika.connect(RABBIT_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC)
        queue = await channel.declare_queue(name, durable=True)
        await queue.bind(exchange, "billing.#")
        try:
            yield await channel.get_underlay_channel(), name, queue
        finally:  # on a channel of its own: a test may have closed the first one
            cleanup = await connection.channel()
            await cleanup.queue_delete(name)
            await cleanup.exchange_delete(name)


async def received(queue: aio_pika.abc.AbstractQueue, count: int) -> list[Any]:
    got = []
    async with queue.iterator() as messages:
        async for message in messages:
            await message.ack()
            got.append(message)
            if len(got) == count:
                return got
    return got


def message(i: int, body: bytes | None = None) -> Publish:
    properties = spec.Basic.Properties(
        content_type="application/json",
        delivery_mode=PERSISTENT,
        message_id=f"evt_{i:032x}",
        headers={"position": str(i)},
    )
    return Publish(KEY, body if body is not None else b'{"n": %d}' % i, properties)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 60))


def test_a_batch_arrives_whole_in_order_with_its_properties() -> None:
    async def test() -> None:
        async with bound() as (channel, exchange, queue):
            await publish(channel, exchange, [message(i) for i in range(1, 501)], 30)
            await publish(channel, exchange, [message(i) for i in range(501, 601)], 30)
            got = await asyncio.wait_for(received(queue, 600), 30)
            assert [m.message_id for m in got] == [f"evt_{i:032x}" for i in range(1, 601)]
            assert [m.body for m in got] == [b'{"n": %d}' % i for i in range(1, 601)]
            assert {m.delivery_mode for m in got} == {aio_pika.DeliveryMode.PERSISTENT}
            assert {m.content_type for m in got} == {"application/json"}
            assert [m.headers["position"] for m in got] == [str(i) for i in range(1, 601)]

    run(test)


def test_a_body_larger_than_a_frame_arrives_whole() -> None:
    async def test() -> None:
        async with bound() as (channel, exchange, queue):
            big = secrets.token_bytes(channel.max_content_size * 2 + 1234)
            await publish(channel, exchange, [message(1), message(2, big), message(3)], 30)
            got = await asyncio.wait_for(received(queue, 3), 30)
            assert [m.body for m in got] == [message(1).body, big, message(3).body]

    run(test)


def test_publishes_after_a_batch_are_numbered_and_confirmed_as_usual() -> None:
    """aiormq matches each confirmation to the delivery tag it numbered: had the batch
    numbered its messages otherwise than the broker counts them, a later publish would
    wait for a confirmation that never comes (or take another's)."""

    async def test() -> None:
        async with bound() as (channel, exchange, queue):
            await publish(channel, exchange, [message(i) for i in range(1, 11)], 30)
            assert channel.delivery_tag == 10
            confirmed = await channel.basic_publish(
                b"after", exchange=exchange, routing_key=KEY, timeout=10
            )
            assert isinstance(confirmed, spec.Basic.Ack)
            assert confirmed.delivery_tag == 11
            await publish(channel, exchange, [message(12)], 30)
            assert channel.delivery_tag == 12
            assert not channel.confirmations  # every one answered
            got = await asyncio.wait_for(received(queue, 12), 30)
            assert got[10].body == b"after"

    run(test)


def test_a_closed_channel_is_refused_and_an_empty_batch_sends_nothing() -> None:
    async def test() -> None:
        async with bound() as (channel, exchange, _queue):
            await publish(channel, exchange, [], 30)
            assert channel.delivery_tag == 0
            await channel.close()
            with pytest.raises(aiormq.exceptions.ChannelInvalidStateError):
                await publish(channel, exchange, [message(1)], 30)

    run(test)
