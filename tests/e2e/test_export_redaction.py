"""The API's event export hands a project its own events without the secrets the log
keeps (docs/audit.md, domain/secret_fields.py): no API-key hash, no sealed provider or
webhook-endpoint secret (nor the idempotency record that answered a keyed creation with
one), each redacted line named as such and still carrying its stored hashes, every other
line verifiable from the line alone. The operator's export keeps everything."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from adapters.audit_chain import GENESIS, canonical, link
from adapters.audit_export import event_lines
from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.conftest import Client, serve

PROVIDER_SECRET = "whsec_tally-e2e-export-redaction-provider"
REDACTED_TOPICS = {
    "tally:Project.KeyIssued": ["key_hash"],
    "tally:ProviderSettings.Configured": ["sealed"],
    "tally:WebhookEndpoint.Registered": ["secret"],
    "tally:WebhookEndpoint.SecretRotated": ["secret"],
    "tally:IdempotencyRecord.Recorded": ["response.sealed_secret"],
}


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    keyed = {
        "secrets_key": SecretStr(Fernet.generate_key().decode()),
        "run_outbox": False,
        "run_webhooks": False,
    }
    with serve(settings.model_copy(update=keyed), clock) as client:
        yield client


def _secrets_made(shop: Client) -> list[str]:
    """A provider secret stored, an endpoint made and its secret rotated (keyed, so that
    idempotency records keep the sealed answers), and some money moved; the plaintexts."""
    stored = {"provider": "stub", "credentials": {"webhook_secret": PROVIDER_SECRET}}
    shop.ok(shop.post("/v1/payment_provider", stored, key="provider"))
    url = {"url": "https://hooks.example.com/tally"}
    made = shop.ok(shop.post("/v1/webhook_endpoints", url, key="endpoint"), 201)
    path = f"/v1/webhook_endpoints/{made['id']}/rotate_secret"
    rotated = shop.ok(shop.post(path, {"previous_expires_in_s": 60}, key="rotate"))
    account = shop.open_account("ada")
    shop.deposit(account, 700)
    return [shop.key, PROVIDER_SECRET, made["secret"], rotated["secret"]]


def _stored_secrets(shop: Client) -> set[str]:
    """Every key hash and sealed token in the stored log (what must not leave by API)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                if name in ("key_hash", "token") and isinstance(inner, str):
                    found.add(inner)
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    with psycopg.connect(shop.tally.target.url) as conn:
        table = f'"{shop.tally.schema}".tally_events'
        for (state,) in conn.execute(f"SELECT state FROM {table}").fetchall():
            walk(json.loads(bytes(state)))
    return found


def _verifies(line: dict[str, Any]) -> bool:
    before = bytes.fromhex(line["previous_hash"]) if line["previous_hash"] else GENESIS
    state = line["state"].encode()
    at = canonical(
        line["position"], UUID(line["aggregate_id"]), line["version"], line["topic"], state
    )
    return link(before, at).hex() == line["hash"]


def test_the_api_export_holds_no_secret_and_marks_what_it_redacted(shop: Client) -> None:
    plaintexts = _secrets_made(shop)
    response = shop.get("/v1/exports/events")
    assert response.status_code == 200, response.text
    exported = response.content
    sealed = _stored_secrets(shop)
    with psycopg.connect(shop.tally.target.url, autocommit=True) as conn:  # as the CLI does
        operator = b"".join(event_lines(conn, shop.tally.schema, "tally_events", 1, 2**62))

    # Two key hashes (this project's key and none other: the schema holds one project),
    # three sealed values in events and two in idempotency answers, some shared.
    assert hashlib.sha256(shop.key.encode()).hexdigest() in sealed
    assert len(sealed) >= 4
    leaked = [value[:6] for value in sorted(sealed) + plaintexts if value.encode() in exported]
    assert leaked == []  # their first characters only: a failing test prints no secret
    assert all(value.encode() in operator for value in sealed)

    lines = [json.loads(x) for x in exported.splitlines()]
    redacted = [line for line in lines if "redacted" in line]
    assert {line["topic"]: line["redacted"] for line in redacted} == REDACTED_TOPICS
    stored = _stored_hashes(shop)
    for line in redacted:
        state = json.loads(line["state"])
        for name in line["redacted"]:
            *outer, last = name.split(".")
            for part in outer:
                state = state[part]
            assert state[last] is None
        assert not _verifies(line)
        assert line["hash"] == stored[line["position"]]
    plain = [line for line in lines if "redacted" not in line]
    assert "tally:Account.Deposited" in {line["topic"] for line in plain}
    assert all(_verifies(line) for line in plain)


def _stored_hashes(shop: Client) -> dict[int, str]:
    with psycopg.connect(shop.tally.target.url) as conn:
        table = f'"{shop.tally.schema}".tally_events'
        rows = conn.execute(f"SELECT notification_id, hash FROM {table}").fetchall()
    return {position: bytes(hash_).hex() for position, hash_ in rows}
