"""Encrypted provider credentials without a database: sealing and opening with Fernet,
rotation through MultiFernet, the TALLY_SECRETS_KEY setting, the aggregate's events
(ciphertext only, old events upcast), and the registry building a provider from
decrypted secrets. No message, summary or error ever holds a secret."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest
from cryptography.fernet import Fernet
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, UUIDAsHex

from adapters.provider_directory import ProviderDirectory
from adapters.providers.config import ProviderSettings as ServerProviderSettings
from adapters.providers.registry import build_provider
from adapters.providers.stripe import StripeProvider
from adapters.providers.stub import StubProvider
from adapters.secrets import SecretBox, SecretsKeyInvalid, SecretUnreadable, key_id, parse_keys
from api.cli_session import CannotStart, load_settings
from commands import provider_messages as pm
from commands.provider_config import sealed_credentials
from commands.provider_errors import ProviderMisconfigured
from domain.errors import ValidationFailed
from domain.provider_settings import ProviderSettings, SecretStorageDisabled
from projections.aggregates import decode_state

SECRET = "whsec_correct-horse-battery-staple"


def fresh_key() -> bytes:
    return Fernet.generate_key()


def box(*keys: bytes) -> SecretBox:
    return SecretBox(list(keys))


# -- sealing, opening, rotation -------------------------------------------------------------


def test_a_sealed_secret_is_ciphertext_with_the_key_id_and_opens_to_the_plaintext() -> None:
    key = fresh_key()
    sealed = box(key).seal(SECRET)
    assert set(sealed) == {"token", "key_id"}
    assert sealed["key_id"] == key_id(key)
    assert SECRET not in sealed["token"]
    assert box(key).open(sealed) == SECRET
    # Fernet tokens carry a random IV: sealing twice gives two different tokens.
    assert box(key).seal(SECRET)["token"] != sealed["token"]


def test_rotation_new_key_first_opens_old_tokens_and_reseals_them_with_the_new_key() -> None:
    old, new = fresh_key(), fresh_key()
    sealed_old = box(old).seal(SECRET)
    rotating = box(new, old)
    assert rotating.open(sealed_old) == SECRET
    assert rotating.seal(SECRET)["key_id"] == key_id(new)
    resealed = rotating.reseal(sealed_old)
    assert resealed["key_id"] == key_id(new)
    assert resealed["token"] != sealed_old["token"]
    # Once everything is resealed, the old key can go.
    assert box(new).open(resealed) == SECRET
    with pytest.raises(SecretUnreadable) as refused:
        box(new).open(sealed_old)
    message = str(refused.value)
    assert key_id(old) in message
    assert key_id(new) in message
    assert SECRET not in message
    assert sealed_old["token"] not in message


def test_a_tampered_token_is_unreadable_and_the_error_says_so_without_the_token() -> None:
    key = fresh_key()
    sealed = box(key).seal(SECRET)
    token = sealed["token"]
    tampered = {**sealed, "token": token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]}
    with pytest.raises(SecretUnreadable, match="altered") as refused:
        box(key).open(tampered)
    assert tampered["token"] not in str(refused.value)


def test_the_idempotency_digest_depends_on_the_secrets_and_on_the_key() -> None:
    key = fresh_key()
    digest = box(key).digest({"webhook_secret": SECRET})
    assert digest == box(key).digest({"webhook_secret": SECRET})
    assert digest != box(key).digest({"webhook_secret": SECRET + "x"})
    assert digest != box(key).digest({"api_key": SECRET})
    assert digest != box(fresh_key()).digest({"webhook_secret": SECRET})
    assert SECRET not in digest


# -- the setting ----------------------------------------------------------------------------


def test_parse_keys_takes_several_keys_newest_first() -> None:
    first, second = fresh_key(), fresh_key()
    assert parse_keys(f" {first.decode()} , {second.decode()}") == [first, second]


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("", "is empty"),
        ("not-a-fernet-key", "key 1 of 1 is not a Fernet key"),
        ("{good},oops-short", "key 2 of 2 is not a Fernet key"),
        ("{good},{good}", "the same key twice"),
    ],
)
def test_a_malformed_key_list_is_refused_naming_the_position_never_the_value(
    value: str, complaint: str
) -> None:
    good = fresh_key().decode()
    with pytest.raises(SecretsKeyInvalid, match=complaint) as refused:
        parse_keys(value.format(good=good))
    assert "not-a-fernet-key" not in str(refused.value)
    assert "oops-short" not in str(refused.value)
    assert good not in str(refused.value)


def test_a_malformed_secrets_key_refuses_to_start_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pasted = "sk_live_this_is_not_a_fernet_key"
    monkeypatch.setenv("TALLY_SECRETS_KEY", pasted)
    with pytest.raises(CannotStart) as refused:
        load_settings()
    line = str(refused.value)
    assert "\n" not in line
    assert line.startswith("invalid settings: TALLY_SECRETS_KEY: ")
    assert "not a Fernet key" in line
    assert pasted not in line


def test_a_valid_secrets_key_is_loaded_and_hidden_from_the_settings_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = fresh_key().decode()
    monkeypatch.setenv("TALLY_SECRETS_KEY", key)
    settings = load_settings(port=8123)  # overrides rebuild the settings from a dump
    assert settings.secrets_key is not None
    assert settings.secrets_key.get_secret_value() == key
    assert key not in repr(settings)
    assert key not in str(settings.model_dump())
    assert SecretBox.from_setting(settings.secrets_key.get_secret_value()) is not None
    monkeypatch.delenv("TALLY_SECRETS_KEY")
    assert load_settings().secrets_key is None


# -- the command message and its handler's sealing ---------------------------------------


def command(secret: str = SECRET, digest: str = "") -> pm.ConfigurePaymentProvider:
    return pm.ConfigurePaymentProvider(
        provider="stub", credentials={"webhook_secret": secret}, credentials_digest=digest
    )


def test_the_message_never_shows_its_secrets_in_repr_logs_or_json() -> None:
    message = command()
    assert SECRET not in repr(message)
    assert SECRET not in str(message)
    assert SECRET not in message.model_dump_json()
    assert message.credentials["webhook_secret"].get_secret_value() == SECRET


def test_sealing_refuses_without_a_key_and_with_a_digest_of_other_secrets() -> None:
    with pytest.raises(SecretStorageDisabled, match="TALLY_SECRETS_KEY is not set"):
        sealed_credentials(command(), None)
    sealer = box(fresh_key())
    with pytest.raises(ValidationFailed, match="credentials_digest"):
        sealed_credentials(command(digest=sealer.digest({"webhook_secret": "other"})), sealer)
    digest = sealer.digest({"webhook_secret": SECRET})
    sealed = sealed_credentials(command(digest=digest), sealer)
    assert sealer.open(sealed["webhook_secret"]) == SECRET
    # Env names only: nothing to seal, and no key needed.
    assert sealed_credentials(pm.ConfigurePaymentProvider(provider="stub"), None) == {}


# -- the aggregate ---------------------------------------------------------------------------


def configured(sealed: dict[str, dict[str, str]]) -> ProviderSettings:
    settings = ProviderSettings.start(uuid4())
    settings.configure("stripe", {"api_key": "ACME_STRIPE_KEY"}, "", sealed)
    return settings


def test_the_aggregate_records_ciphertext_and_shows_only_where_credentials_come_from() -> None:
    sealer = box(fresh_key())
    sealed = {"webhook_secret": sealer.seal(SECRET)}
    settings = configured(sealed)
    summary = settings.summary()
    assert summary["credentials"] == {
        "api_key": "env:ACME_STRIPE_KEY",
        "webhook_secret": "encrypted",
    }
    assert sealed["webhook_secret"]["token"] not in json.dumps(summary)
    assert "sealed" not in summary
    assert settings.provider_spec()["sealed"] == sealed
    event = settings.collect_events()[-1]
    assert isinstance(event, ProviderSettings.Configured)
    assert event.sealed == sealed
    assert SECRET not in repr(event)


@pytest.mark.parametrize(
    ("credential_env", "stored", "complaint"),
    [
        ({"api_key": "ACME_KEY"}, ("api_key",), "both as credential_env"),
        ({}, ("shop_id",), "stripe takes no credential 'shop_id'"),
        ({"api_key": "sk_live_pasted"}, (), "to store a secret, send it as credentials"),
    ],
)
def test_each_purpose_comes_one_way_from_a_purpose_the_provider_takes(
    credential_env: dict[str, str], stored: tuple[str, ...], complaint: str
) -> None:
    with pytest.raises(ValidationFailed, match=complaint) as refused:
        ProviderSettings.check("stripe", credential_env, stored)
    assert "sk_live_pasted" not in str(refused.value)


def mapper() -> Mapper[object]:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    return Mapper(transcoder=transcoder)


def test_a_configured_event_stored_before_encrypted_credentials_is_upcast() -> None:
    settings_id = uuid4()
    v1 = {
        "timestamp": "2026-01-01T00:00:00+00:00",
        "issued_by": "key_1",
        "provider": "stub",
        "credential_env": {"webhook_secret": "ACME_HOOK"},
        "api_base": "",
    }
    stored = StoredEvent(
        originator_id=settings_id,
        originator_version=2,
        topic="tally:ProviderSettings.Configured",
        state=json.dumps(v1).encode(),
    )
    event = mapper().to_domain_event(stored)
    assert isinstance(event, ProviderSettings.Configured)
    assert event.sealed == {}
    state = {"project_id": {"_type_": "uuid_hex", "_data_": uuid4().hex}, "provider": "stub"}
    state |= {"credential_env": {"webhook_secret": "ACME_HOOK"}, "api_base": "", "issued_by": "x"}
    # A read model row written by version 1 of the aggregate (no class_version).
    old = decode_state(ProviderSettings, settings_id, 1, json.dumps(state))
    assert old.summary()["credentials"] == {"webhook_secret": "env:ACME_HOOK"}
    configured_again = event.mutate(old)
    assert configured_again.provider_spec()["sealed"] == {}


# -- the registry and the directory ---------------------------------------------------------


def server_settings(tmp_path: Path) -> ServerProviderSettings:
    return ServerProviderSettings(stub_secret_file=tmp_path / "stub_secret")


def test_the_registry_builds_a_provider_from_decrypted_secrets_without_the_environment(
    tmp_path: Path,
) -> None:
    secrets = {"api_key": "sk_test_stored", "webhook_secret": SECRET}
    provider = build_provider(server_settings(tmp_path), {}, name="stripe", secrets=secrets)
    assert isinstance(provider, StripeProvider)
    # The purposes the project did not store still come from the server's variables.
    with pytest.raises(ProviderMisconfigured, match="STRIPE_WEBHOOK_SECRET"):
        build_provider(
            server_settings(tmp_path), {}, name="stripe", secrets={"api_key": "sk_test_stored"}
        )


def test_the_directory_decrypts_a_projects_secret_and_refuses_clearly_when_it_cannot(
    tmp_path: Path,
) -> None:
    old, new = fresh_key(), fresh_key()
    spec = {"provider": "stub", "sealed": {"webhook_secret": box(old).seal(SECRET)}}
    project = uuid4()
    directory = ProviderDirectory(server_settings(tmp_path), environ={}, secrets=box(new, old))
    provider = directory.for_project(project, spec)
    assert isinstance(provider, StubProvider)
    headers, body = StubProvider(webhook_secret=SECRET).sign_delivery(
        [{"id": "evt_1", "type": "payment.succeeded", "data": {}}]
    )
    assert provider.parse_webhook(headers, body)[0].event_id == "evt_1"
    assert directory.for_project(project, spec) is provider  # built once
    token = spec["sealed"]["webhook_secret"]["token"]  # type: ignore[index]
    for secrets, complaint in ((None, "TALLY_SECRETS_KEY is not set"), (box(new), key_id(old))):
        other = ProviderDirectory(server_settings(tmp_path), environ={}, secrets=secrets)
        with pytest.raises(ProviderMisconfigured, match=complaint) as refused:
            other.for_project(project, spec)
        assert SECRET not in refused.value.detail
        assert token not in refused.value.detail
