"""The server consumes commands in when TALLY_BROKER_URL is set (issue 12): the app's
lifespan starts the consumer, a product's ``user.subscribed`` on the project's Redis
stream becomes a subscription the API shows, and without a broker nothing consumes."""

from __future__ import annotations

import json
import os
import time

import pytest
import redis
from pydantic import SecretStr

from adapters.clock import FixedClock
from api.inbound import queues
from api.settings import Settings
from tests.e2e.conftest import serve
from tests.integration.test_inbound_consumer import define_plan

REDIS_URL = os.environ.get("TALLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_serve_consumes_the_projects_queue_when_a_broker_is_set(
    settings: Settings, clock: FixedClock
) -> None:
    with_broker = settings.model_copy(
        update={"broker_url": SecretStr(REDIS_URL), "inbound_refresh_s": 0.2}
    )
    client = redis.Redis.from_url(REDIS_URL)
    with serve(with_broker, clock) as api:
        stream = queues.queue_name(api.project_id)
        try:
            define_plan(api.tally, api.project_id)
            data = {"userId": "u1", "planCode": "pro", "currency": "EUR"}
            message = {"id": "m1", "type": "user.subscribed", "data": data}
            client.xadd(stream, {"__data__": json.dumps(message).encode()})
            deadline = time.monotonic() + 30
            path = "/v1/customers/by_external_id/u1/subscription"
            while (found := api.get(path)).status_code == 404:
                assert time.monotonic() < deadline, found.text
                time.sleep(0.1)
            assert found.status_code == 200, found.text
            assert found.json()["status"] == "active"
        finally:
            client.delete(stream, queues.dead_letter_name(api.project_id))
            client.close()


def test_without_a_broker_serve_consumes_nothing(settings: Settings, clock: FixedClock) -> None:
    with serve(settings, clock) as api:
        assert api.http.app.state.inbound is None  # type: ignore[attr-defined]


def test_broker_queues_names_each_projects_queue_and_the_grant_a_producer_needs(
    pg_url: str,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from api.cli import main

    monkeypatch.setenv("TALLY_DATABASE_URL", pg_url)
    monkeypatch.setenv("TALLY_DB_SCHEMA", schema)
    monkeypatch.setenv("TALLY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
    assert main(["projects", "create", "acme", "--json"]) == 0
    acme = json.loads(capsys.readouterr().out)["id"]
    assert main(["projects", "create", "globex", "--json"]) == 0
    capsys.readouterr()
    assert main(["broker", "queues", "--project", acme, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["queue"] == f"tally.commands.{acme}"
    assert row["dead_letter_queue"] == f"tally.commands.{acme}.dead"
    escaped = f"tally\\.commands\\.{acme}"
    assert f"'^{escaped}$'" in row["grant"]["rabbitmq"]
    assert f"~tally.commands.{acme} " in row["grant"]["redis"]
    assert main(["broker", "queues"]) == 0
    text = capsys.readouterr().out
    assert text.count("(dead letters: .dead)") == 2  # both projects' queues
    assert text.count("rabbitmqctl set_permissions") == 2  # each with its RabbitMQ grant
    assert "ACL SETUSER" not in text  # the broker is RabbitMQ: its grant only
