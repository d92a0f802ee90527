"""Provider credentials stored encrypted, over HTTP: a project hands over its stub
webhook secret, the answers and GET only ever say "encrypted", the stored rows hold
ciphertext and never the secret, and the provider built from it verifies webhooks
signed with it (and no longer those signed with the server's secret). Bad requests and
servers without TALLY_SECRETS_KEY are refused with nothing written; a server with the
wrong key says its provider is misconfigured, naming key ids only."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet
from psycopg import sql
from pydantic import SecretStr

from adapters.clock import FixedClock
from adapters.outbox import provider_settings
from adapters.provider_directory import ProviderDirectory
from adapters.providers.stub import StubProvider
from adapters.secrets import SecretBox, key_id
from api.settings import Settings
from tests.e2e.billing import problem
from tests.e2e.conftest import Client, head, nothing_written, serve

SECRET = "whsec_tally-e2e-0123456789-stored-encrypted"
BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}
STORED = {"provider": "stub", "credentials": {"webhook_secret": SECRET}}


@pytest.fixture
def key() -> bytes:
    return Fernet.generate_key()


@pytest.fixture
def shop(settings: Settings, clock: FixedClock, key: bytes) -> Iterator[Client]:
    keyed = {"secrets_key": SecretStr(key.decode()), "run_outbox": False}
    with serve(settings.model_copy(update=keyed), clock) as client:
        yield client


@pytest.fixture
def keyless(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        yield client


def deliver(api: Client, secret: str, *events: dict[str, Any]) -> httpx.Response:
    headers, body = StubProvider(webhook_secret=secret).sign_delivery(list(events))
    path = f"/v1/webhooks/stub/{api.project_id}"
    response: httpx.Response = api.http.post(path, content=body, headers=headers)
    return response


def paid(txn_id: str) -> dict[str, Any]:
    data = {
        "object_ref": "pi_1",
        "payment_ref": "pi_1",
        "amount_minor": 1000,
        "currency": "EUR",
        "references": {"tally_transaction": txn_id},
    }
    return {"id": "evt_paid", "type": "payment.succeeded", "data": data}


def stored_values(api: Client) -> list[bytes]:
    """Every value of every row of every table of the test's schema (events, idempotency
    records, read models, tracking), as bytes: bytea as it is stored, the rest as text."""
    schema = api.tally.schema
    values: list[bytes] = []
    with psycopg.connect(api.tally.target.url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
        assert len(tables) > 10
        for (table,) in tables:
            query = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            for row in conn.execute(query).fetchall():
                for value in row:
                    is_bytes = isinstance(value, bytes | memoryview)
                    values.append(bytes(value) if is_bytes else str(value).encode())
    return values


def configured_events(api: Client) -> list[dict[str, Any]]:
    """The raw stored ``ProviderSettings.Configured`` events, decoded as JSON only."""
    schema = api.tally.schema
    with psycopg.connect(api.tally.target.url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT state FROM {}.{} WHERE topic = %s").format(
                sql.Identifier(schema), sql.Identifier("tally_events")
            ),
            ("tally:ProviderSettings.Configured",),
        ).fetchall()
    return [json.loads(bytes(state)) for (state,) in rows]


def test_a_stored_secret_is_never_shown_never_stored_plain_and_verifies_webhooks(
    shop: Client, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = shop.post("/v1/payment_provider", STORED, key="store-secret")
    configured = shop.ok(answer)["payment_provider"]
    assert configured["credentials"] == {"webhook_secret": "encrypted"}
    shown = shop.ok(shop.get("/v1/payment_provider"))["payment_provider"]
    assert shown["project_specific"] is True
    assert shown["credentials"] == {"webhook_secret": "encrypted"}
    assert shown["credential_env"] == {}
    # The event holds the ciphertext and the key id; the ciphertext opens to the secret.
    [event] = configured_events(shop)
    sealed = event["sealed"]["webhook_secret"]
    assert sealed["key_id"] == key_id(key)
    assert SecretBox([key]).open(sealed) == SECRET
    for text in (answer.text, json.dumps(shown)):
        assert SECRET not in text
        assert sealed["token"] not in text
    # The provider built from it verifies what is signed with the project's secret...
    account = shop.open_account("ada")
    topped = shop.post(
        f"/v1/accounts/{account}/top_ups", {"amount": 1000, "currency": "EUR", **BACK}
    )
    txn_id = str(shop.ok(topped, 201)["transaction"]["id"])
    server_secret = shop.tally.providers.default
    assert isinstance(server_secret, StubProvider)
    with nothing_written(shop.tally):
        headers, body = server_secret.sign_delivery([paid(txn_id)])
        path = f"/v1/webhooks/stub/{shop.project_id}"
        forged = shop.http.post(path, content=body, headers=headers)
        problem(forged, 400, "invalid_signature")
    assert shop.ok(deliver(shop, SECRET, paid(txn_id)))["recorded"] == 1
    shop.tally.outbox.drain()
    shop.position = head(shop.tally)
    assert shop.account(account)["ledger_balance"] == 1000
    # ...and the secret is in no row of any table, nor in any log line.
    values = stored_values(shop)
    assert any(sealed["token"].encode() in value for value in values)
    assert not any(SECRET.encode() in value for value in values)
    assert SECRET not in caplog.text


def test_a_retry_with_the_same_key_replays_and_with_another_secret_is_refused(
    shop: Client,
) -> None:
    first = shop.ok(shop.post("/v1/payment_provider", STORED, key="k1"))
    again = shop.post("/v1/payment_provider", STORED, key="k1")
    assert again.headers["Idempotency-Replayed"] == "true"
    assert shop.ok(again) == first
    other = {"provider": "stub", "credentials": {"webhook_secret": SECRET + "-other"}}
    with nothing_written(shop.tally):
        refused = problem(
            shop.post("/v1/payment_provider", other, key="k1"), 409, "idempotency_key_reused"
        )
    assert SECRET not in json.dumps(refused)
    assert len(configured_events(shop)) == 1


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (
            {"provider": "stub", "credentials": {"api_key": SECRET}},
            "'api_key'",
            "invalid_combination",
        ),
        (
            {
                "provider": "stub",
                "credential_env": {"webhook_secret": "ACME_HOOK"},
                "credentials": {"webhook_secret": SECRET},
            },
            "both as credential_env",
            "invalid_combination",
        ),
        (
            {"provider": "stub", "credentials": {"webhook_secret": ""}},
            "credentials.webhook_secret",
            "validation_error",
        ),
        (
            {"provider": "stub", "credentials": {"webhook_secret": "x" * 4097}},
            "credentials",
            "validation_error",
        ),
    ],
)
def test_bad_credentials_are_422_and_write_nothing(
    shop: Client, body: dict[str, Any], field: str, code: str
) -> None:
    with nothing_written(shop.tally):
        refused = problem(shop.post("/v1/payment_provider", body), 422, code)
    assert field in json.dumps(refused)
    assert SECRET not in json.dumps(refused)
    assert "x" * 100 not in json.dumps(refused)


def test_without_a_secrets_key_storing_is_409_and_variable_names_still_work(
    keyless: Client,
) -> None:
    with nothing_written(keyless.tally):
        answer = keyless.post("/v1/payment_provider", STORED)
        refused = problem(answer, 409, "secret_storage_disabled")
    assert "TALLY_SECRETS_KEY" in refused["detail"]
    assert SECRET not in answer.text
    keyless.tally.providers.environ = {"ACME_HOOK": SECRET}
    named = {"provider": "stub", "credential_env": {"webhook_secret": "ACME_HOOK"}}
    configured = keyless.ok(keyless.post("/v1/payment_provider", named))["payment_provider"]
    assert configured["credentials"] == {"webhook_secret": "env:ACME_HOOK"}
    assert keyless.ok(deliver(keyless, SECRET, paid("unknown")))["recorded"] == 1


def test_a_server_with_the_wrong_key_answers_misconfigured_and_the_rotated_one_works(
    shop: Client, key: bytes
) -> None:
    shop.ok(shop.post("/v1/payment_provider", STORED))
    spec = provider_settings(shop.tally, shop.project_id)
    assert spec is not None
    settings = shop.tally.providers.settings
    newer = Fernet.generate_key()
    # Restarted with a new key that dropped the old one: the stored secret cannot open.
    shop.tally.providers = ProviderDirectory(settings, secrets=SecretBox([newer]))
    with nothing_written(shop.tally):
        answer = deliver(shop, SECRET, paid("unknown"))
        refused = problem(answer, 500, "provider_misconfigured")
    assert key_id(key) in refused["detail"]
    assert key_id(newer) in refused["detail"]
    assert SECRET not in answer.text
    assert spec["sealed"]["webhook_secret"]["token"] not in answer.text
    # Restarted with the new key first and the old one still there: it opens again.
    shop.tally.providers = ProviderDirectory(settings, secrets=SecretBox([newer, key]))
    assert shop.ok(deliver(shop, SECRET, paid("unknown")))["recorded"] == 1
