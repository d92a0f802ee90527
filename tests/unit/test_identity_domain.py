"""The identity provider's and customer sessions' rules (issue 14), domain only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.customer_sessions import ACTIVE, EXPIRED, REVOKED, CustomerSession
from domain.errors import InvalidTransition, ValidationFailed
from domain.identity_providers import (
    HMAC_ALGORITHMS,
    PUBLIC_KEY_ALGORITHMS,
    IdentityProvider,
    check_jwks_url,
)
from domain.limits import MAX_CUSTOMER_SESSION_S, MIN_CUSTOMER_SESSION_S

NOW = datetime(2030, 1, 1, tzinfo=UTC)
SEALED = {"token": "gAAAA...", "key_id": "0123456789abcdef"}


def jwks(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": "jwks",
        "jwks_url": "https://idp.example.com/.well-known/jwks.json",
        "issuer": "https://idp.example.com/",
        "audience": "billing",
        "algorithms": ["RS256"],
        "customer_claim": "sub",
        "unknown_customer": "refuse",
        "register_currency": None,
    }
    return {**values, **changes}


def hmac_values(**changes: Any) -> dict[str, Any]:
    return jwks(**{"kind": "shared_secret", "jwks_url": None, "algorithms": ["HS256"], **changes})


def configured(values: dict[str, Any], sealed: dict[str, str] | None = None) -> IdentityProvider:
    provider = IdentityProvider.start(uuid4())
    provider.configure(values, sealed, test_mode=False)
    return provider


def test_a_jwks_provider_is_recorded_and_its_summary_holds_no_secret() -> None:
    provider = configured(jwks())
    assert provider.settings["jwks_url"].startswith("https://")
    assert provider.summary()["shared_secret_set"] is False
    shared = configured(hmac_values(), SEALED)
    assert "sealed_secret" not in shared.summary()
    assert SEALED["token"] not in str(shared.summary())
    assert shared.summary()["shared_secret_set"] is True


@given(st.sampled_from(HMAC_ALGORITHMS))
def test_a_jwks_provider_never_accepts_an_hmac_algorithm(alg: str) -> None:
    with pytest.raises(ValidationFailed, match="accepts only"):
        configured(jwks(algorithms=["RS256", alg]))


@given(st.sampled_from(PUBLIC_KEY_ALGORITHMS))
def test_a_shared_secret_never_accepts_a_public_key_algorithm(alg: str) -> None:
    with pytest.raises(ValidationFailed, match="accepts only"):
        configured(hmac_values(algorithms=[alg]), SEALED)


@given(st.text(max_size=8))
def test_no_algorithm_outside_the_families_is_ever_accepted(alg: str) -> None:
    if alg in HMAC_ALGORITHMS or alg in PUBLIC_KEY_ALGORITHMS:
        return
    for values, sealed in ((jwks(algorithms=[alg]), None), (hmac_values(algorithms=[alg]), SEALED)):
        with pytest.raises(ValidationFailed):
            configured(values, sealed)


def test_none_and_empty_algorithm_lists_are_refused() -> None:
    for algorithms in (["none"], [], ["None"]):
        with pytest.raises(ValidationFailed):
            configured(jwks(algorithms=algorithms))


def test_each_kind_takes_its_own_key_source_only() -> None:
    with pytest.raises(ValidationFailed, match="no shared_secret"):
        configured(jwks(), SEALED)
    with pytest.raises(ValidationFailed, match="takes shared_secret"):
        configured(hmac_values())
    with pytest.raises(ValidationFailed, match="takes shared_secret"):
        configured(hmac_values(jwks_url="https://idp.example.com/jwks"), SEALED)


def test_a_jwks_url_is_https_and_loopback_http_only_in_test_mode() -> None:
    assert check_jwks_url("http://127.0.0.1:8080/jwks", test_mode=True)
    for url in (
        "http://127.0.0.1:8080/jwks",
        "http://idp.example.com/jwks",
        "ftp://idp.example.com/jwks",
        "https://user:pw@idp.example.com/jwks",
    ):
        with pytest.raises(ValidationFailed):
            check_jwks_url(url, test_mode=False)
    with pytest.raises(ValidationFailed):
        check_jwks_url("http://idp.example.com/jwks", test_mode=True)


def test_registering_unknown_customers_needs_a_currency() -> None:
    with pytest.raises(ValidationFailed, match="register_currency"):
        configured(jwks(unknown_customer="register"))
    assert configured(jwks(unknown_customer="register", register_currency="EUR"))
    with pytest.raises(ValidationFailed, match="only for"):
        configured(jwks(register_currency="EUR"))


def session(expires_in_s: int = 3600) -> CustomerSession:
    return CustomerSession.start(uuid4(), uuid4(), uuid4(), "ab" * 32, NOW, expires_in_s)


def test_a_session_is_active_until_it_expires_or_is_revoked() -> None:
    s = session(600)
    assert s.status(NOW) == ACTIVE
    assert s.status(NOW + timedelta(seconds=599)) == ACTIVE
    assert s.status(NOW + timedelta(seconds=600)) == EXPIRED
    s.revoke(NOW + timedelta(seconds=10))
    assert s.status(NOW + timedelta(seconds=11)) == REVOKED
    with pytest.raises(InvalidTransition):
        s.revoke(NOW + timedelta(seconds=12))


@given(st.integers(min_value=-10, max_value=MAX_CUSTOMER_SESSION_S * 2))
def test_a_session_lasts_within_the_limits_or_is_refused(seconds: int) -> None:
    if MIN_CUSTOMER_SESSION_S <= seconds <= MAX_CUSTOMER_SESSION_S:
        assert session(seconds).expires_at == NOW + timedelta(seconds=seconds)
    else:
        with pytest.raises(ValidationFailed):
            session(seconds)


@given(st.sampled_from(HMAC_ALGORITHMS + PUBLIC_KEY_ALGORITHMS))
def test_a_first_configuration_is_refused_exactly_as_a_later_one(alg: str) -> None:
    # IdentityProvider.first checks before the aggregate exists (guard before event), so
    # it must refuse what configure refuses and record what configure records.
    values = jwks(algorithms=[alg])
    try:
        later = configured(values)
    except ValidationFailed:
        with pytest.raises(ValidationFailed):
            IdentityProvider.first(uuid4(), values, None, test_mode=False)
        return
    first = IdentityProvider.first(later.project_id, values, None, test_mode=False)
    assert first.summary() == later.summary()
    assert [type(e).__name__ for e in first.collect_events()] == ["Started", "Configured"]
