"""What the broker publisher's tests share: a log of integration events written fast,
and consumers of the real RabbitMQ and Redis that keep what they receive.

The consumers deduplicate as the docs tell a consumer to: by the message id, which is
the envelope's id; ``first_seen`` is the ids in the order their first copy arrived."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any
from uuid import uuid4

import aio_pika
import orjson
from faststream.redis.parser.binary import BinaryMessageFormatV1

from api.bootstrap import Tally
from domain.customers import Customer
from projections.integration_events import all_events_after
from projections.runner import ProjectionWorker

RABBIT_URL = os.environ.get("TALLY_TEST_RABBIT_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("TALLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHUNK = 500


def write_customers(tally: Tally, count: int, projects: int = 2) -> list[dict[str, Any]]:
    """``count`` customers over ``projects`` projects, saved straight to the event store
    (one ``billing.customer.created`` each) and projected; their integration rows."""
    project_ids = [uuid4() for _ in range(projects)]
    made = [
        Customer.register(project_ids[i % projects], f"user_{i}", f"u{i}@example.com", "", "EUR")
        for i in range(count)
    ]
    for start in range(0, count, CHUNK):
        tally.store.save(*made[start : start + CHUNK])
    ProjectionWorker(tally.store, tally.views, tally.schema, 2000).catch_up()
    return all_events_after(tally.views, tally.schema, 0, count + 1)


def first_seen(ids: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for message_id in ids:
        if message_id not in seen:
            seen.add(message_id)
            kept.append(message_id)
    return kept


class RabbitConsumer:
    """A durable-exchange consumer on a thread of its own: an exclusive queue bound to
    every ``billing.*`` type, declared before anything is published."""

    def __init__(self, exchange: str) -> None:
        self.exchange = exchange
        self.ids: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.routing_keys: list[str] = []
        self.headers: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._consume()), daemon=True)
        self._thread.start()
        assert self._ready.wait(30), "the consumer did not start"

    async def _consume(self) -> None:
        connection = await aio_pika.connect(RABBIT_URL)
        try:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(exchange, "billing.#")
            await queue.consume(self._received, no_ack=True)
            self._ready.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.05)
            await exchange.delete()
        finally:
            await connection.close()

    async def _received(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        assert message.message_id is not None
        self.ids.append(message.message_id)
        self.routing_keys.append(message.routing_key or "")
        self.headers.append(dict(message.headers))
        self.bodies.append(orjson.loads(message.body))

    def wait_for(self, unique: int, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(set(self.ids)) < unique and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def redis_stream(stream: str) -> list[tuple[str, dict[str, Any], bytes]]:
    """The stream's entries, decoded: (message id header, headers, body)."""

    async def read() -> list[Any]:
        import redis.asyncio as redis

        client = redis.from_url(REDIS_URL)
        try:
            entries: list[Any] = await client.xrange(stream)
            return entries
        finally:
            await client.aclose()

    decoded = []
    for _, fields in asyncio.run(read()):
        body, headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
        decoded.append((str(headers["message_id"]), headers, body))
    return decoded


def drop_redis_stream(stream: str) -> None:
    async def drop() -> None:
        import redis.asyncio as redis

        client = redis.from_url(REDIS_URL)
        try:
            await client.delete(stream)
        finally:
            await client.aclose()

    asyncio.run(drop())
