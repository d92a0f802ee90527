"""Part 2 of ``bench/broker.py``: publish lag while deposits run over HTTP.

A real ``tally serve`` (``bench.over_http.running_server``) with ``TALLY_BROKER_URL``
set; deposits are sent at a fixed rate by four paced keep-alive connections (a
request that is late is sent at once, never skipped); a consumer bound to
``billing.wallet.deposited`` records each message's arrival time minus its envelope's
``created``, the time the deposit was recorded. The first quarter of the run is
warm-up and is not counted.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from datetime import datetime
from typing import Any

import aio_pika
import orjson

from bench.common import Result, scratch_schemas
from bench.over_http import HttpConnection, _retry_auth, create_project, running_server, server_env

CONNECTIONS = 4


def parse_created(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class LagConsumer:
    """Consumes ``billing.wallet.deposited`` on a thread of its own; keeps, per message,
    its arrival time and its lag (arrival minus the envelope's ``created``, in ms)."""

    def __init__(self, url: str, exchange: str) -> None:
        self.url = url
        self.exchange = exchange
        self.samples: list[tuple[float, float]] = []
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the lag consumer did not start")

    async def _run(self) -> None:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(exchange, "billing.wallet.deposited")
            await queue.consume(self._received, no_ack=True)
            self._ready.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.05)
            await exchange.delete()

    async def _received(self, message: Any) -> None:
        arrived = time.time()
        created = parse_created(orjson.loads(message.body)["created"])
        self.samples.append((arrived, (arrived - created) * 1000))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def paced_deposits(port: int, token: str, rate: float, duration_s: float) -> tuple[int, int]:
    """Deposits at ``rate`` per second for ``duration_s``; (sent, errors)."""
    setup = HttpConnection("127.0.0.1", port, token)
    status, body = _retry_auth(
        lambda: setup.request("POST", "/v1/accounts", {"owner_ref": "lag", "currency": "EUR"})
    )
    setup.close()
    if status != 201:
        raise RuntimeError(f"opening an account answered {status}: {body[:300]!r}")
    path = f"/v1/accounts/{json.loads(body)['id']}/deposits"
    counts = [[0, 0] for _ in range(CONNECTIONS)]
    start = time.monotonic() + 0.5

    def run(i: int) -> None:
        conn = HttpConnection("127.0.0.1", port, token)
        k = 0
        while (due := start + (k * CONNECTIONS + i) / rate) < start + duration_s:
            time.sleep(max(0.0, due - time.monotonic()))
            answer = conn.request(
                "POST",
                path,
                {"amount": 100, "currency": "EUR"},
                f"Idempotency-Key: lag-{i}-{k}\r\n",
            )
            counts[i][0 if answer[0] == 201 else 1] += 1
            k += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def measure_lag(db_url: str, rabbit_url: str, rate: float, duration_s: float) -> Result:
    exchange = f"bench.{secrets.token_hex(4)}"
    consumer = LagConsumer(rabbit_url, exchange)
    try:
        with scratch_schemas(db_url) as schemas:
            env = {
                **server_env(db_url, schemas("lag")),
                "TALLY_BROKER_URL": rabbit_url,
                "TALLY_BROKER_EXCHANGE": exchange,
            }
            token = create_project(env)
            with running_server(env, workers=1, log_level="warning") as server:
                started = time.time()
                sent, errors = paced_deposits(server.port, token, rate, duration_s)
                took = time.time() - started
                deadline = time.monotonic() + 30
                while len(consumer.samples) < sent and time.monotonic() < deadline:
                    time.sleep(0.1)
    finally:
        consumer.close()
    counted_from = started + duration_s / 4
    lags = [lag for arrived, lag in consumer.samples if arrived >= counted_from]
    note = (f"{sent:,} deposits in {took:.1f} s ({sent / took:,.0f}/s), {errors} errors, "
            f"{len(consumer.samples):,} events received")  # fmt: skip
    return Result("publish lag at the HTTP rate", rate, "deposits/s", note, lags)
