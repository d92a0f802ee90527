"""The WebhookEndpoint aggregate (issue 12): URL rules, the lifecycle table, rotation's
overlap, and that no secret ever leaves through the summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import InvalidTransition, ValidationFailed, WebhookUrlNotAllowed
from domain.webhook_endpoints import (
    DISABLED,
    ENABLED,
    WebhookEndpoint,
    check_enabled_events,
    check_url,
)

SEALED = {"token": "t1", "key_id": "k"}
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def made() -> WebhookEndpoint:
    return WebhookEndpoint.register(uuid4(), uuid4(), "https://x.example/h", ["*"], "", SEALED)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/h",
        "http://localhost/h",
        "http://10.1.2.3/h",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/h",
        "http://192.168.0.10/h",
    ],
)
def test_private_loopback_and_link_local_urls_are_refused_in_live_mode_only(url: str) -> None:
    with pytest.raises(WebhookUrlNotAllowed):
        check_url(url, test_mode=False)
    assert check_url(url, test_mode=True) == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x.example/h",
        "/relative",
        "https://user:pw@x.example/h",
        "https://",
        "",
        "HTTPS://x.example/h",  # the schema's pattern: a lower-case scheme
        "https://x.example/a b",  # no space (percent-encode it)
        "https://x.example/\u0085",
        "http://[::1/h",  # urlsplit's ValueError, refused as a rule rather than a crash
        "http://x.example:99999/h",
    ],
)
def test_urls_that_are_not_absolute_http_or_carry_credentials_are_refused(url: str) -> None:
    with pytest.raises(ValidationFailed):
        check_url(url, test_mode=True)


def test_public_urls_pass_in_live_mode() -> None:
    assert check_url("https://hooks.example.com/tally", test_mode=False)
    assert check_url("https://93.184.216.34/h", test_mode=False)


def test_enabled_events_are_catalogue_types_or_star() -> None:
    known = frozenset({"billing.a.b"})
    assert check_enabled_events(["billing.a.b", "billing.a.b"], known) == ["billing.a.b"]
    assert check_enabled_events(["*"], known) == ["*"]
    with pytest.raises(ValidationFailed):
        check_enabled_events(["billing.x.y"], known)
    with pytest.raises(ValidationFailed):
        check_enabled_events([], known)


def test_disable_enable_and_delete_follow_the_table() -> None:
    endpoint = made()
    endpoint.disable("down for days")
    assert (endpoint.status, endpoint.disabled_reason) == (DISABLED, "down for days")
    with pytest.raises(InvalidTransition):
        endpoint.disable("again")
    endpoint.enable()
    assert (endpoint.status, endpoint.disabled_reason) == (ENABLED, "")
    endpoint.delete()
    for act in (endpoint.enable, endpoint.delete, lambda: endpoint.update(description="x")):
        with pytest.raises(InvalidTransition):
            act()


def test_a_rotation_signs_with_both_secrets_until_the_overlap_ends() -> None:
    endpoint = made()
    new = {"token": "t2", "key_id": "k"}
    endpoint.rotate_secret(new, T0 + timedelta(hours=1))
    assert endpoint.secrets_at(T0) == [new, SEALED]
    assert endpoint.secrets_at(T0 + timedelta(hours=1)) == [new]


def test_the_summary_holds_no_secret_sealed_or_not() -> None:
    endpoint = made()
    endpoint.rotate_secret({"token": "t2", "key_id": "k"}, T0)
    text = repr(endpoint.summary())
    assert "t1" not in text
    assert "t2" not in text
    assert "token" not in text


def test_wants_filters_by_type_unless_star() -> None:
    endpoint = made()
    assert endpoint.wants("billing.invoice.paid")
    endpoint.update(enabled_events=["billing.invoice.paid"])
    assert endpoint.wants("billing.invoice.paid")
    assert not endpoint.wants("billing.customer.created")
