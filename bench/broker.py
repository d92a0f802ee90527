"""Integration events to RabbitMQ (issue 12): throughput from a backlog, and publish lag
under HTTP load.

``python -m bench.broker [--backlog 100000] [--batch 1000] [--rate 200] [--duration 20]
[--only backlog|redis|lag]``

1. **Backlog.** ``--backlog`` customers written straight through the event store (one
   ``billing.customer.created`` each) and projected, then ``BrokerPublisher.drain()``
   publishes them all to a topic exchange with a durable queue bound to ``billing.#``:
   events/s. Beside it, in the same run, the **baseline**: the same messages (the
   envelopes Tally rendered, as bytes) published by a bare aio-pika loop on one channel
   with publisher confirms, ``--batch`` at a time (all sent, then all confirmations
   awaited), to the same exchange and queue. The ratio is what reading the read model,
   rendering envelopes, FastStream and the tracking commits cost on top of the broker.
2. **Redis.** The same backlog published to a Redis stream (``TALLY_BENCH_REDIS_URL``,
   default ``redis://127.0.0.1:6379/0``): events/s and CPU per event, and beside it a
   bare redis-py loop sending the same bodies as XADDs, one MULTI/EXEC pipeline per
   ``--batch``. The stream is deleted at the end.
3. **Lag.** A real ``tally serve`` with ``TALLY_BROKER_URL`` set; ``--rate`` deposits per
   second over HTTP (four paced keep-alive connections) for ``--duration`` seconds; a
   consumer bound to ``billing.wallet.deposited`` takes each message's arrival time
   minus its envelope's ``created`` (the time the deposit was recorded): p50 and p99 of
   that publish lag, over the events of the measured window.

Uses ``TALLY_DATABASE_URL`` (default the CI Postgres) in scratch schemas it drops, and
``TALLY_BENCH_RABBIT_URL`` (default ``amqp://guest:guest@127.0.0.1:5672/``) with an
exchange and a queue of its own that it deletes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from uuid import uuid4

import aio_pika
import orjson
from pydantic import SecretStr

from api.bootstrap import build
from api.settings import Settings
from api.tally import Tally
from bench.common import Result, scratch_schemas
from domain.customers import Customer
from projections.integration_events import all_events_after
from projections.runner import ProjectionWorker

RABBIT_URL = os.environ.get("TALLY_BENCH_RABBIT_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("TALLY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
DB_URL = os.environ.get("TALLY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
CHUNK = 1000


def write_backlog(tally: Tally, count: int) -> None:
    """``count`` customers in 10 projects, saved and projected."""
    projects = [uuid4() for _ in range(10)]
    for start in range(0, count, CHUNK):
        tally.store.save(
            *(
                Customer.register(projects[i % 10], f"u{i}", f"u{i}@example.com", "", "EUR")
                for i in range(start, min(count, start + CHUNK))
            )
        )
    ProjectionWorker(tally.store, tally.views, tally.schema, 5000).catch_up(timeout_s=3600)


class BoundQueue:
    """A durable queue bound to ``billing.#`` on the exchange (so that messages are
    routed and written as a consumer would have them), purged and deleted by the bench."""

    def __init__(self, exchange: str) -> None:
        self.exchange = exchange
        self.name = f"{exchange}.bench"

    async def declare(self) -> None:
        connection = await aio_pika.connect(RABBIT_URL)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(self.name, durable=True)
            await queue.bind(exchange, "billing.#")

    async def purge(self) -> int:
        connection = await aio_pika.connect(RABBIT_URL)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.name, durable=True)
            count = queue.declaration_result.message_count or 0
            await queue.purge()
            return int(count)

    async def delete(self) -> None:
        connection = await aio_pika.connect(RABBIT_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(self.name)
            await channel.exchange_delete(self.exchange)


async def baseline(exchange_name: str, messages: list[tuple[str, str, bytes]], batch: int) -> float:
    """Bare aio-pika: the same messages, confirmed a batch at a time; seconds taken."""
    connection = await aio_pika.connect(RABBIT_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(exchange_name)
        started = time.perf_counter()
        for start in range(0, len(messages), batch):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            body,
                            message_id=message_id,
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=routing_key,
                    )
                    for message_id, routing_key, body in messages[start : start + batch]
                )
            )
        return time.perf_counter() - started


def drain(
    tally: Tally, schema: str, count: int
) -> tuple[int, float, float, list[tuple[str, str, bytes]]]:
    """The publisher's drain of the backlog: events published, seconds, CPU seconds; and
    the same messages (id, routing key, envelope bytes) for the baseline."""
    publisher = tally.broker
    assert publisher is not None
    started, cpu = time.perf_counter(), time.process_time()
    published = publisher.drain(timeout_s=3600)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    rows = all_events_after(tally.views, schema, 0, count)
    messages = [
        (envelope["id"], row["type"], orjson.dumps(envelope))
        for row, envelope in zip(rows, publisher.render_all(rows), strict=True)
    ]
    return published, seconds, cpu_s, messages


def backlog_part(args: argparse.Namespace) -> list[Result]:
    exchange = f"bench.{secrets.token_hex(4)}"
    queue = BoundQueue(exchange)
    asyncio.run(queue.declare())
    with scratch_schemas(DB_URL) as schemas:
        schema = schemas("broker")
        settings = Settings(
            database_url=DB_URL,
            db_schema=schema,
            pool_size=4,
            broker_url=SecretStr(RABBIT_URL),
            broker_exchange=exchange,
            broker_batch=args.batch,
        )
        tally = build(settings)
        try:
            started = time.perf_counter()
            write_backlog(tally, args.backlog)
            print(f"backlog of {args.backlog:,} written and projected in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
            published, seconds, cpu_s, messages = drain(tally, schema, args.backlog)
            queued = asyncio.run(queue.purge())
        finally:
            tally.close()
    base_s = asyncio.run(baseline(exchange, messages, args.batch))
    base_queued = asyncio.run(queue.purge())
    asyncio.run(queue.delete())
    cpu_us = cpu_s / published * 1e6
    note = f"{published:,} events, {queued:,} in the queue; CPU {cpu_us:,.0f} µs/event"
    return [
        Result("baseline: aio-pika, confirms", len(messages) / base_s, "msg/s",
               f"{base_queued:,} in the queue"),
        Result("Tally BrokerPublisher.drain()", published / seconds, "events/s", note),
    ]  # fmt: skip


async def redis_baseline(stream: str, messages: list[tuple[str, str, bytes]], batch: int) -> float:
    """Bare redis-py: the same bodies as XADDs, a MULTI/EXEC pipeline per batch; seconds."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        started = time.perf_counter()
        for start in range(0, len(messages), batch):
            async with client.pipeline() as pipe:
                for message_id, routing_key, body in messages[start : start + batch]:
                    pipe.xadd(stream, {"data": body, "id": message_id, "type": routing_key})
                await pipe.execute()
        return time.perf_counter() - started
    finally:
        await client.delete(stream)
        await client.aclose()


def redis_part(args: argparse.Namespace) -> list[Result]:
    import redis

    stream = f"bench.{secrets.token_hex(4)}"
    with scratch_schemas(DB_URL) as schemas:
        schema = schemas("broker_redis")
        settings = Settings(
            database_url=DB_URL, db_schema=schema, pool_size=4, broker_url=SecretStr(REDIS_URL),
            broker_exchange=stream, broker_batch=args.batch,
        )  # fmt: skip
        tally = build(settings)
        try:
            write_backlog(tally, args.backlog)
            published, seconds, cpu_s, messages = drain(tally, schema, args.backlog)
        finally:
            tally.close()
    client = redis.Redis.from_url(REDIS_URL)
    in_stream = int(client.xlen(stream))
    client.delete(stream)
    base_s = asyncio.run(redis_baseline(stream, messages, args.batch))
    cpu_us = cpu_s / published * 1e6
    note = f"{published:,} events, {in_stream:,} in the stream; CPU {cpu_us:,.0f} µs/event"
    return [
        Result("baseline: redis-py XADD pipelines", len(messages) / base_s, "msg/s"),
        Result("Tally BrokerPublisher.drain(), Redis", published / seconds, "events/s", note),
    ]


def lag_part(args: argparse.Namespace) -> list[Result]:
    from bench.broker_lag import measure_lag

    return [measure_lag(DB_URL, RABBIT_URL, args.rate, args.duration)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=100_000, help="events in the backlog")
    parser.add_argument("--batch", type=int, default=1000, help="events per publish batch")
    parser.add_argument("--rate", type=float, default=200.0, help="deposits/s over HTTP")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of HTTP load")
    parser.add_argument("--only", choices=["backlog", "redis", "lag"], help="one part only")
    args = parser.parse_args()
    results: list[Result] = []
    if args.only in (None, "backlog"):
        results += backlog_part(args)
    if args.only in (None, "redis"):
        results += redis_part(args)
    if args.only in (None, "lag"):
        results += lag_part(args)
    print()
    for result in results:
        value = f"{result.value:,.0f}" if result.value is not None else "n/a"
        print(f"{result.label:<36} {value:>10} {result.unit:<9} {result.note}")
        if result.latencies_ms:
            p50, p99 = result.percentile(0.5), result.percentile(0.99)
            print(f"{'':<36} p50 {p50:,.0f} ms, p99 {p99:,.0f} ms over "
                  f"{len(result.latencies_ms):,} events")  # fmt: skip


if __name__ == "__main__":
    main()
