"""The outbox over HTTP: a provider outage does not block Tally. The top-up is accepted,
its charge is retried with backoff and its state is visible; when the provider recovers
the wallet is credited once, and every attempt used the same idempotency key, so the
provider charged once, even when an answer was lost on the way back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.outbox import call_provider
from adapters.providers.base import ChargeOutcome, ChargeRequest, RefundOutcome, RefundRequest
from adapters.providers.stub import SUCCEEDS, StubProvider
from api.settings import Settings
from commands.provider_errors import ProviderError, ProviderRejected, ProviderUnavailable
from domain.provider_calls import ProviderCall
from tests.e2e.conftest import Client, head, make_client, serve


class Outage:
    """The stub behind an outage: ``down`` calls fail before reaching it. ``charged``
    counts the distinct idempotency keys the stub answered: what it charged."""

    def __init__(self, inner: StubProvider, down: int) -> None:
        self.inner = inner
        self.down = down
        self.name = inner.name
        self.manages_subscriptions = inner.manages_subscriptions
        self.keys: list[str] = []
        self.charged: set[str] = set()
        self.failure: ProviderError = ProviderUnavailable("connection refused", provider=self.name)
        self.refunds_down = 0

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        self.keys.append(request.idempotency_key)
        if self.down > 0:
            self.down -= 1
            raise self.failure
        self.charged.add(request.idempotency_key)
        return self.inner.charge(request)

    def refund(self, request: RefundRequest) -> RefundOutcome:
        if self.refunds_down > 0:
            self.refunds_down -= 1
            raise ProviderUnavailable("connection refused", provider=self.name)
        return self.inner.refund(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        yield client


def outage(api: Client, down: int) -> Outage:
    inner = api.tally.providers.default
    assert isinstance(inner, StubProvider)
    provider = Outage(inner, down)
    api.tally.providers.overrides[api.project_id] = provider
    return provider


def settle(api: Client) -> None:
    api.tally.outbox.drain()
    api.position = head(api.tally)


def test_a_charge_during_an_outage_is_accepted_retried_and_credited_once(
    shop: Client, clock: FixedClock
) -> None:
    provider = outage(shop, down=2)
    account = shop.open_account("ada")
    body = {"amount": 2500, "currency": "EUR", "payment_method": f"stub_pm_{SUCCEEDS}"}
    topped = shop.ok(shop.post(f"/v1/accounts/{account}/top_ups", body), 201)
    call = topped["provider_call"]
    assert (call["state"], call["attempts"], call["error_code"]) == (
        "pending",
        1,
        "provider_unavailable",
    )
    listed = shop.ok(shop.get("/v1/provider_calls", state="pending"))["data"]
    assert [c["id"] for c in listed] == [call["id"]]
    assert shop.ok(shop.get(f"/v1/transactions/{topped['transaction']['id']}"))["state"] == (
        "processing"
    )

    settle(shop)  # not due yet: the backoff holds the next attempt
    assert len(provider.keys) == 1
    clock.advance(timedelta(seconds=1))
    settle(shop)  # second attempt: still down, the next one waits 2 s
    again = shop.ok(shop.get(f"/v1/provider_calls/{call['id']}"))
    assert (again["state"], again["attempts"]) == ("pending", 2)
    clock.advance(timedelta(seconds=2))
    settle(shop)  # the provider is back
    done = shop.ok(shop.get(f"/v1/provider_calls/{call['id']}"))
    assert (done["state"], done["attempts"]) == ("succeeded", 3)
    assert shop.account(account)["ledger_balance"] == 2500
    clock.advance(timedelta(hours=1))
    settle(shop)  # nothing is left to call
    assert len(provider.keys) == 3
    assert set(provider.keys) == {call["idempotency_key"]}
    assert len(provider.charged) == 1
    assert shop.account(account)["ledger_balance"] == 2500


def test_an_answer_lost_after_the_charge_is_asked_again_with_the_same_key(
    shop: Client,
) -> None:
    provider = outage(shop, down=0)
    account = shop.open_account("bob")
    body = {"amount": 900, "currency": "EUR", "payment_method": f"stub_pm_{SUCCEEDS}"}
    topped = shop.ok(shop.post(f"/v1/accounts/{account}/top_ups", body), 201)
    call: Any = shop.tally.store.repository.get(
        ProviderCall.create_id(shop.project_id, "charge", topped["transaction"]["id"])
    )
    # The route charged at once; a worker that charged but crashed before recording the
    # answer would ask again, with the same key.
    first = call_provider(provider, call)
    again = call_provider(provider, call)
    assert first == again
    assert len(provider.charged) == 1
    settle(shop)
    assert shop.account(account)["ledger_balance"] == 900


def test_a_declined_charge_fails_the_top_up_without_retrying(shop: Client) -> None:
    provider = outage(shop, down=0)
    account = shop.open_account("cy")
    body = {"amount": 900, "currency": "EUR", "payment_method": "stub_pm_4000000000000002"}
    topped = shop.ok(shop.post(f"/v1/accounts/{account}/top_ups", body), 201)
    assert topped["provider_call"]["state"] == "failed"
    assert topped["provider_call"]["error_code"] == "card_declined"
    settle(shop)
    txn = shop.ok(shop.get(f"/v1/transactions/{topped['transaction']['id']}"))
    assert txn["state"] == "failed"
    assert "card_declined" in txn["failure_reason"]
    assert len(provider.keys) == 1
    assert shop.account(account)["ledger_balance"] == 0


@pytest.mark.parametrize(
    ("failure", "state"), [(ProviderUnavailable, "pending"), (ProviderRejected, "failed")]
)
def test_a_providers_words_with_control_characters_are_kept_as_plain_text(
    shop: Client, failure: type[ProviderError], state: str
) -> None:
    # A provider's message is outside text (an SDK's multi-line message, a provider's
    # description): it used to reach the outcome command as it was, which refuses control
    # characters, so the top-up answered 500 and the outcome was never recorded.
    provider = outage(shop, down=1)
    provider.failure = failure("refused:\nline two\x00 \x1b[31mred\x7f", provider="stub")
    account = shop.open_account("dee")
    body = {"amount": 900, "currency": "EUR", "payment_method": f"stub_pm_{SUCCEEDS}"}
    topped = shop.ok(shop.post(f"/v1/accounts/{account}/top_ups", body), 201)
    call = topped["provider_call"]
    assert (call["state"], call["error_code"]) == (state, failure.code)
    assert call["last_error"] == "refused: line two   [31mred "
    settle(shop)
    assert shop.ok(shop.get(f"/v1/provider_calls/{call['id']}"))["last_error"] == call["last_error"]


def test_an_outcome_that_cannot_be_recorded_backs_off_its_call_and_not_other_tenants(
    shop: Client, clock: FixedClock
) -> None:
    # The provider refunds a top-up that the wallet has spent since it was asked: the
    # reversal is refused (insufficient_funds). That refusal used to escape the outbox's
    # pass, so the refund, first in line, blocked every later call of every tenant and
    # was sent again on every pass.
    provider = outage(shop, down=0)
    provider.refunds_down = 1
    account = shop.open_account("eve")
    body = {"amount": 2500, "currency": "EUR", "payment_method": f"stub_pm_{SUCCEEDS}"}
    topped = shop.ok(shop.post(f"/v1/accounts/{account}/top_ups", body), 201)
    txn = topped["transaction"]["id"]
    refund = shop.ok(shop.post(f"/v1/transactions/{txn}/refunds"), 202)["provider_call"]
    assert (refund["state"], refund["error_code"]) == ("pending", "provider_unavailable")
    shop.ok(
        shop.post(f"/v1/accounts/{account}/withdrawals", {"amount": 2000, "currency": "EUR"}), 201
    )
    other = make_client(shop.http, shop.tally, "globex")
    elsewhere = outage(other, down=1)
    their_account = other.open_account("fay")
    theirs = other.ok(other.post(f"/v1/accounts/{their_account}/top_ups", body), 201)
    assert theirs["provider_call"]["state"] == "pending"

    clock.advance(timedelta(seconds=1))
    settle(shop)
    # The other tenant's charge was made and credited in the same pass.
    assert (
        other.ok(other.get(f"/v1/provider_calls/{theirs['provider_call']['id']}"))["state"]
        == "succeeded"
    )
    assert other.account(their_account)["ledger_balance"] == 2500
    assert len(elsewhere.charged) == 1
    # The refund's call waits, saying why; nothing was reversed.
    held = shop.ok(shop.get(f"/v1/provider_calls/{refund['id']}"))
    assert (held["state"], held["attempts"], held["error_code"]) == (
        "pending",
        2,
        "outcome_not_recorded",
    )
    assert held["last_error"].startswith("insufficient_funds")
    assert shop.account(account)["ledger_balance"] == 500
    settle(shop)  # backed off: not sent again in the next pass
    assert shop.ok(shop.get(f"/v1/provider_calls/{refund['id']}"))["attempts"] == 2


def test_a_route_whose_calls_outcome_is_refused_answers_the_call_not_a_conflict(
    shop: Client,
) -> None:
    # The refund is committed and made at once by the route; recording what it changes
    # is refused (the wallet spent the money). The route used to answer 422
    # insufficient_funds for a refund that was asked for and made.
    outage(shop, down=0)
    account = shop.open_account("gus")
    body = {"amount": 2500, "currency": "EUR", "payment_method": f"stub_pm_{SUCCEEDS}"}
    topped = shop.ok(shop.post(f"/v1/accounts/{account}/top_ups", body), 201)
    spend = {"amount": 2000, "currency": "EUR"}
    shop.ok(shop.post(f"/v1/accounts/{account}/withdrawals", spend), 201)
    asked = shop.post(f"/v1/transactions/{topped['transaction']['id']}/refunds")
    call = shop.ok(asked, 202)["provider_call"]
    assert (call["state"], call["error_code"]) == ("pending", "outcome_not_recorded")
    assert shop.account(account)["ledger_balance"] == 500
