"""The broker publisher (adapters/broker_publisher.py) against the real RabbitMQ and
Redis: every integration event once per id, in log order, with its envelope, also when
the publishing process is killed with SIGKILL in the middle. Each test has an exchange or
stream of its own."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from api.bootstrap import Tally, build
from api.settings import Settings
from projections.integration_catalog import event_id
from tests.integration.broker_consumers import (
    RABBIT_URL,
    REDIS_URL,
    RabbitConsumer,
    drop_redis_stream,
    first_seen,
    redis_stream,
    write_customers,
)

CLI = [sys.executable, "-m", "api.cli"]
URLS = {"rabbit": RABBIT_URL, "redis": REDIS_URL}


@pytest.fixture
def name() -> Iterator[str]:
    made = f"test.{secrets.token_hex(6)}"
    yield made
    drop_redis_stream(made)  # a no-op for a RabbitMQ test


def publishing(settings: Settings, kind: str, name: str, batch: int = 1000) -> Tally:
    update = {"broker_url": SecretStr(URLS[kind]), "broker_exchange": name, "broker_batch": batch}
    return build(settings.model_copy(update=update))


def expected_ids(rows: list[dict[str, Any]]) -> list[str]:
    return [event_id(int(r["position"]), r["type"]) for r in rows]


def test_rabbitmq_gets_every_event_once_in_log_order_as_its_envelope(
    settings: Settings, name: str
) -> None:
    consumer = RabbitConsumer(name)
    tally = publishing(settings, "rabbit", name, batch=100)
    try:
        rows = write_customers(tally, 250)
        assert tally.broker is not None
        assert tally.broker.drain() == 250
        consumer.wait_for(250)
        time.sleep(0.3)  # anything sent twice would be here by now
        assert consumer.ids == expected_ids(rows)
        assert consumer.routing_keys == ["billing.customer.created"] * 250
        first = consumer.bodies[0]
        assert first["id"] == consumer.ids[0]
        assert first["position"] == rows[0]["position"]
        assert first["project_id"] == str(rows[0]["project_id"])
        assert first["data"]["object"]["id"] == str(rows[0]["object_id"])
        # Everything confirmed is recorded: a second pass publishes nothing.
        assert tally.broker.drain() == 0
        assert tally.broker.status()["position"] == rows[-1]["position"]
    finally:
        tally.close()
        consumer.close()


def test_redis_gets_every_event_once_in_log_order_in_one_stream(
    settings: Settings, name: str
) -> None:
    tally = publishing(settings, "redis", name, batch=70)
    try:
        rows = write_customers(tally, 300, projects=3)
        assert tally.broker is not None
        assert tally.broker.drain() == 300
        entries = redis_stream(name)
        assert [message_id for message_id, _, _ in entries] == expected_ids(rows)
        projects = [headers["project_id"] for _, headers, _ in entries]
        assert projects == [str(r["project_id"]) for r in rows]
        assert len(set(projects)) == 3
    finally:
        tally.close()


def test_a_broker_that_is_down_stops_the_publisher_without_losing_its_place(
    settings: Settings, name: str
) -> None:
    down = build(
        settings.model_copy(
            update={
                "broker_url": SecretStr("amqp://guest:guest@127.0.0.1:1/"),
                "broker_exchange": name,
            }
        )
    )
    try:
        write_customers(down, 20)
        assert down.broker is not None
        assert down.broker.publish_pending() == 0
        assert down.broker.status() == {
            "destination": f"rabbit://127.0.0.1:1/#{name}",
            "position": 0,
            "ordinal": 0,
            "head": down.broker.status()["head"],
            "head_ordinal": 0,
        }
        with pytest.raises(TimeoutError):
            down.broker.drain(timeout_s=1.5)
    finally:
        down.close()


@pytest.mark.parametrize("kind", ["rabbit", "redis"])
def test_kill_9_in_the_middle_of_publishing_loses_nothing_and_keeps_log_order(
    settings: Settings, name: str, kind: str
) -> None:
    consumer = RabbitConsumer(name) if kind == "rabbit" else None
    tally = publishing(settings, kind, name, batch=10)
    try:
        rows = write_customers(tally, 1500)
        assert tally.broker is not None
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TALLY_")},
            "TALLY_DATABASE_URL": str(settings.database_url),
            "TALLY_DB_SCHEMA": settings.db_schema,
            "TALLY_BROKER_URL": URLS[kind],
            "TALLY_BROKER_EXCHANGE": name,
            "TALLY_BROKER_BATCH": "10",
        }
        publisher = subprocess.Popen([*CLI, "broker", "publish"], env=env)
        # Small batches (150 of them), killed after the 15th: in the middle, on a busy box.
        killed_at = _kill_when_past(tally, publisher, int(rows[len(rows) // 10]["position"]))
        last = int(rows[-1]["position"])
        assert 0 < killed_at < last, f"killed at {killed_at} of {last}: not in the middle"
        done = subprocess.run(
            [*CLI, "broker", "publish", "--once", "--json"], env=env, timeout=180, check=False
        )
        assert done.returncode == 0
        assert tally.broker.status()["position"] == rows[-1]["position"]
        if consumer is not None:
            consumer.wait_for(len(rows))
            ids = consumer.ids
        else:
            ids = [message_id for message_id, _, _ in redis_stream(name)]
        assert first_seen(ids) == expected_ids(rows)
    finally:
        tally.close()
        if consumer is not None:
            consumer.close()


def _kill_when_past(tally: Tally, process: subprocess.Popen[bytes], position: int) -> int:
    """SIGKILL ``process`` once the destination's confirmed position passed ``position``;
    the position it had then."""
    assert tally.broker is not None
    deadline = time.monotonic() + 120
    try:
        while tally.broker.status()["position"] < position:
            assert process.poll() is None, "the publisher exited by itself"
            assert time.monotonic() < deadline, "the publisher did not get that far"
            time.sleep(0.005)
    finally:
        process.kill()
        process.wait()
    return int(tally.broker.status()["position"])


def test_a_started_publisher_goes_as_soon_as_the_read_models_move_not_at_its_poll(
    settings: Settings, name: str
) -> None:
    consumer = RabbitConsumer(name)
    update = {"broker_url": SecretStr(RABBIT_URL), "broker_exchange": name,
              "broker_interval_s": 60.0}  # fmt: skip
    tally = build(settings.model_copy(update=update))
    try:
        assert tally.broker is not None
        tally.broker.start()
        time.sleep(0.2)  # its first wait has begun: the next poll is a minute away
        started = time.monotonic()
        rows = write_customers(tally, 40)  # projected here, which this process hears
        consumer.wait_for(40, timeout_s=20)
        assert consumer.ids == expected_ids(rows)
        assert time.monotonic() - started < 20
    finally:
        tally.close()
        consumer.close()
