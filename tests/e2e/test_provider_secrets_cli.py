"""``TALLY_SECRETS_KEY`` through the ``tally`` command: a malformed key stops ``tally
serve`` (the program, in a process of its own) with one line that does not quote it, and
``tally secrets reseal`` (in the test's process, with the key in its environment)
re-encrypts stored credentials under the newest key so the old key can be dropped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

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
from tests.e2e.cli_run import cli, cli_process, env
from tests.e2e.conftest import Client, serve

__all__ = ["env"]  # the fixture, used by name

SECRET = "whsec_tally-cli-rotation-secret-0123456789"


@pytest.fixture
def old_key() -> bytes:
    return Fernet.generate_key()


@pytest.fixture
def shop(settings: Settings, clock: FixedClock, old_key: bytes) -> Iterator[Client]:
    keyed = {"secrets_key": SecretStr(old_key.decode()), "run_outbox": False}
    with serve(settings.model_copy(update=keyed), clock) as client:
        yield client


def test_a_malformed_secrets_key_stops_serve_with_one_line(env: dict[str, str]) -> None:
    pasted = "whsec_not-a-fernet-key"
    done = cli_process({**env, "TALLY_SECRETS_KEY": pasted}, "serve", "--port", "1")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("tally: invalid settings: TALLY_SECRETS_KEY: ")
    assert "not a Fernet key" in line
    assert pasted not in done.stderr + done.stdout


def test_new_key_prints_a_key_the_setting_accepts(env: dict[str, str]) -> None:
    done = cli(env, "secrets", "new-key")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert SecretBox.from_setting(key) is not None
    assert cli(env, "secrets", "new-key").stdout.strip() != key


def sealed_key_ids(api: Client) -> list[str]:
    """The key id of the stored secret in each raw ``Configured`` event, oldest first."""
    with psycopg.connect(api.tally.target.url) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT state FROM {}.tally_events WHERE topic = %s ORDER BY notification_id"
            ).format(sql.Identifier(api.tally.schema)),
            ("tally:ProviderSettings.Configured",),
        ).fetchall()
    events = [json.loads(bytes(state)) for (state,) in rows]
    return [e["sealed"]["webhook_secret"]["key_id"] for e in events]


def reseal(env: dict[str, str], keys: list[bytes]) -> Any:
    keyed = {**env, "TALLY_SECRETS_KEY": ",".join(k.decode() for k in keys)}
    done = cli(keyed, "secrets", "reseal", "--json")
    return done.returncode, json.loads(done.stdout) if done.stdout else done.stderr


def test_reseal_moves_stored_secrets_to_the_newest_key_so_the_old_one_can_go(
    shop: Client, env: dict[str, str], old_key: bytes
) -> None:
    body = {"provider": "stub", "credentials": {"webhook_secret": SECRET}}
    shop.ok(shop.post("/v1/payment_provider", body))
    assert sealed_key_ids(shop) == [key_id(old_key)]
    new_key = Fernet.generate_key()
    # Without the old key the stored secret cannot be resealed: said, and exit code 1.
    code, answer = reseal(env, [new_key])
    assert code == 1
    [project] = answer["projects"]
    assert key_id(old_key) in project["unreadable"]["webhook_secret"]
    assert sealed_key_ids(shop) == [key_id(old_key)]
    # With the new key first and the old one still there, it is resealed under the new.
    code, answer = reseal(env, [new_key, old_key])
    assert code == 0
    assert answer["projects"][0]["resealed"] == ["webhook_secret"]
    assert sealed_key_ids(shop) == [key_id(old_key), key_id(new_key)]
    # A second run has nothing left to do.
    code, answer = reseal(env, [new_key, old_key])
    assert (code, answer["projects"][0]["resealed"], answer["projects"][0]["kept"]) == (0, [], 1)
    assert len(sealed_key_ids(shop)) == 2
    # A server with only the new key now builds the project's provider with the secret.
    spec = provider_settings(shop.tally, shop.project_id)
    assert spec is not None
    directory = ProviderDirectory(shop.tally.providers.settings, secrets=SecretBox([new_key]))
    provider = directory.for_project(shop.project_id, spec)
    signed = StubProvider(webhook_secret=SECRET).sign_delivery(
        [{"id": "evt_1", "type": "payment.succeeded", "data": {}}]
    )
    assert isinstance(provider, StubProvider)
    assert provider.parse_webhook(*signed)[0].event_id == "evt_1"
    shown = shop.ok(shop.get("/v1/payment_provider"))["payment_provider"]
    assert shown["credentials"] == {"webhook_secret": "encrypted"}
