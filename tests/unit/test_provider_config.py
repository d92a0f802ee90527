"""Provider settings and the registry: credentials come from environment variables the
settings name, a missing one refuses start-up naming the variable, and nothing shown or
raised ever contains a secret value."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.providers.config import ProviderSettings
from adapters.providers.paddle import PaddleProvider
from adapters.providers.registry import build_provider
from adapters.providers.stripe import StripeProvider
from adapters.providers.stub import StubProvider
from adapters.providers.yookassa import YooKassaProvider
from commands.provider_errors import ProviderMisconfigured

STRIPE_ENV = {"STRIPE_API_KEY": "sk_test_value_1", "STRIPE_WEBHOOK_SECRET": "whsec_value_2"}


def settings(tmp_path: Path, **values: object) -> ProviderSettings:
    return ProviderSettings(stub_secret_file=tmp_path / "stub_secret", **values)  # type: ignore[arg-type]


def test_the_default_provider_is_the_stub_and_needs_no_environment(tmp_path: Path) -> None:
    provider = build_provider(settings(tmp_path), environ={})
    assert isinstance(provider, StubProvider)


def test_the_stub_secret_file_is_created_private_once_and_reused(tmp_path: Path) -> None:
    config = settings(tmp_path)
    first = build_provider(config, environ={})
    path = tmp_path / "stub_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text().strip()
    assert len(secret) >= 32
    build_provider(config, environ={})
    assert path.read_text().strip() == secret
    # Both providers sign with the file's secret, so one verifies the other's webhooks.
    second = build_provider(config, environ={})
    assert isinstance(first, StubProvider)
    assert isinstance(second, StubProvider)
    headers, body = first.sign_delivery([{"id": "evt_1", "type": "payment.succeeded", "data": {}}])
    assert second.parse_webhook(headers, body)[0].event_id == "evt_1"


def test_the_stub_secret_variable_wins_over_the_file(tmp_path: Path) -> None:
    config = settings(tmp_path)
    provider = build_provider(config, environ={"TALLY_STUB_WEBHOOK_SECRET": "from-env"})
    assert not (tmp_path / "stub_secret").exists()
    other = StubProvider(webhook_secret="from-env")
    headers, body = other.sign_delivery([{"id": "evt_2", "type": "unknown", "data": {}}])
    assert provider.parse_webhook(headers, body)[0].event_id == "evt_2"


@pytest.mark.parametrize(
    ("name", "environ", "kind"),
    [
        ("stripe", STRIPE_ENV, StripeProvider),
        (
            "paddle",
            {"PADDLE_API_KEY": "pdl_key_value", "PADDLE_WEBHOOK_SECRET": "pdl_secret_value"},
            PaddleProvider,
        ),
        (
            "yookassa",
            {"YOOKASSA_SHOP_ID": "506751", "YOOKASSA_SECRET_KEY": "live_secret_value"},
            YooKassaProvider,
        ),
    ],
)
def test_each_provider_builds_from_its_named_variables(
    tmp_path: Path, name: str, environ: dict[str, str], kind: type
) -> None:
    provider = build_provider(settings(tmp_path, payment_provider=name), environ=environ)
    assert isinstance(provider, kind)
    for value in environ.values():
        assert value not in repr(provider)


@pytest.mark.parametrize(
    ("name", "environ", "missing"),
    [
        ("stripe", {}, "STRIPE_API_KEY"),
        ("stripe", {"STRIPE_API_KEY": "sk_test_value_1"}, "STRIPE_WEBHOOK_SECRET"),
        ("paddle", {"PADDLE_API_KEY": "pdl_value"}, "PADDLE_WEBHOOK_SECRET"),
        ("yookassa", {"YOOKASSA_SECRET_KEY": "live_value"}, "YOOKASSA_SHOP_ID"),
        (
            "yookassa",
            {"YOOKASSA_SHOP_ID": "506751", "YOOKASSA_SECRET_KEY": "  "},
            "YOOKASSA_SECRET_KEY",
        ),
    ],
)
def test_a_missing_credential_refuses_start_naming_the_variable_not_a_value(
    tmp_path: Path, name: str, environ: dict[str, str], missing: str
) -> None:
    with pytest.raises(ProviderMisconfigured) as refused:
        build_provider(settings(tmp_path, payment_provider=name), environ=environ)
    message = str(refused.value)
    assert missing in message
    assert f"TALLY_PAYMENT_PROVIDER={name}" in message
    assert refused.value.code == "provider_misconfigured"
    for value in environ.values():
        if value.strip():
            assert value not in message


def test_credential_variable_names_are_settings(tmp_path: Path) -> None:
    config = settings(
        tmp_path,
        payment_provider="stripe",
        stripe_api_key_env="ACME_STRIPE_KEY",
        stripe_webhook_secret_env="ACME_STRIPE_WHSEC",
    )
    with pytest.raises(ProviderMisconfigured, match="ACME_STRIPE_KEY"):
        build_provider(config, environ=STRIPE_ENV)
    provider = build_provider(config, environ={"ACME_STRIPE_KEY": "k", "ACME_STRIPE_WHSEC": "w"})
    assert isinstance(provider, StripeProvider)


def test_a_secret_pasted_where_a_variable_name_belongs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        settings(tmp_path, stripe_api_key_env="sk_live_51Habc")


def test_settings_read_the_tally_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLY_PAYMENT_PROVIDER", "paddle")
    monkeypatch.setenv("TALLY_PADDLE_API_BASE", "https://sandbox-api.paddle.com")
    monkeypatch.setenv("TALLY_YOOKASSA_ALLOWED_SOURCES", '["185.71.76.0/27"]')
    config = ProviderSettings()
    assert config.payment_provider == "paddle"
    assert config.paddle_api_base == "https://sandbox-api.paddle.com"
    assert config.yookassa_allowed_sources == ["185.71.76.0/27"]


def test_an_unknown_provider_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        ProviderSettings(payment_provider="paypal")  # type: ignore[arg-type]


def test_an_allowlist_entry_that_is_not_a_network_is_refused() -> None:
    with pytest.raises(ValidationError):
        ProviderSettings(yookassa_allowed_sources=["not-a-cidr"])


def test_redacted_settings_name_variables_and_say_if_set_but_never_show_values(
    tmp_path: Path,
) -> None:
    config = settings(tmp_path, payment_provider="stripe")
    shown = config.redacted(environ={"STRIPE_API_KEY": "sk_test_value_1"})
    assert shown["credentials"] == {
        "api_key": {"env": "STRIPE_API_KEY", "set": True},
        "webhook_secret": {"env": "STRIPE_WEBHOOK_SECRET", "set": False},
    }
    assert "sk_test_value_1" not in repr(shown)
    assert shown["payment_provider"] == "stripe"


def test_redacted_reads_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_process")
    shown = settings(tmp_path, payment_provider="stripe").redacted()
    assert shown["credentials"]["webhook_secret"]["set"] is True
    assert "whsec_process" not in repr(shown)
