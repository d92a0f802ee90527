"""The app's background work publishes to the broker when TALLY_BROKER_URL is set, and
only then (the composition root and api.app.Background; the publisher itself is tested
in tests/integration/test_broker_publisher.py)."""

from __future__ import annotations

import secrets
import time

from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.bootstrap import build
from api.settings import Settings
from projections.integration_catalog import event_id
from tests.integration.broker_consumers import RABBIT_URL, RabbitConsumer, write_customers


def test_the_app_publishes_what_is_projected_when_a_broker_is_set(settings: Settings) -> None:
    name = f"test.{secrets.token_hex(6)}"
    consumer = RabbitConsumer(name)
    tally = build(
        settings.model_copy(update={"broker_url": SecretStr(RABBIT_URL), "broker_exchange": name})
    )
    try:
        with TestClient(create_app(tally)) as http:
            assert http.get("/readyz").status_code == 200
            rows = write_customers(tally, 30)
            consumer.wait_for(30, timeout_s=30)
        assert consumer.ids == [event_id(int(r["position"]), r["type"]) for r in rows]
    finally:
        tally.close()
        consumer.close()


def test_without_a_broker_or_with_the_publisher_off_nothing_is_published(
    settings: Settings,
) -> None:
    plain = build(settings)  # no TALLY_BROKER_URL: no publisher
    try:
        assert plain.broker is None
    finally:
        plain.close()
    name = f"test.{secrets.token_hex(6)}"
    consumer = RabbitConsumer(name)
    update = {"broker_url": SecretStr(RABBIT_URL), "broker_exchange": name,
              "run_broker_publisher": False}  # fmt: skip
    tally = build(settings.model_copy(update=update))
    try:
        with TestClient(create_app(tally)):
            write_customers(tally, 5)
            time.sleep(1.0)  # a started publisher would have sent them by now
        assert consumer.ids == []
        assert tally.broker is not None
        assert tally.broker.status()["position"] == 0
    finally:
        tally.close()
        consumer.close()
