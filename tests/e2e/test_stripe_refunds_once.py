"""A refund Tally asks Stripe for reverses its transaction once, whichever of Stripe's
``charge.refunded`` and the outbox's record of Stripe's answer comes first. The event is
the current API's: the charge without its ``refunds`` list, so the adapter lists the
charge's refunds at Stripe (the fake on 127.0.0.1) and finds Tally's refund call in the
newest refund's metadata. Before, the event looked like a dashboard refund, reversed the
transaction, and the answer reversed it again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.outbox import provider_for
from adapters.providers.base import PaymentProvider, RefundOutcome, RefundRequest
from api.settings import Settings
from tests.e2e.provider_shop import FakeStripe, Shop, post_stripe, resource, settle, stripe_shop
from tests.integration.provider_fake import Reply, Seen

CHARGE = "ch_dbl"


class FakeStripeRefunds(FakeStripe):
    """FakeStripe that charges what it is asked, refunds (keeping the metadata) and
    lists a charge's refunds, newest first."""

    def __init__(self) -> None:
        super().__init__()
        self.refunds: list[dict[str, Any]] = []

    def __call__(self, seen: Seen) -> Reply:
        if seen.path == "/v1/refunds" and seen.method == "GET":
            with self.lock:
                rows = [r for r in self.refunds if r["charge"] in seen.query.get("charge", [])]
            listed = {"object": "list", "data": rows[::-1], "has_more": False, "url": seen.path}
            return Reply(200, listed)
        if seen.path not in ("/v1/refunds", "/v1/payment_intents"):
            return super().__call__(seen)
        key = seen.headers.get("idempotency-key", "")
        form = FakeStripe.form(seen)
        with self.lock:
            if key not in self.by_key:
                self.by_key[key] = self._made(seen.path, form, len(self.by_key) + 1)
            return Reply(200, self.by_key[key])

    def _made(self, path: str, form: dict[str, str], n: int) -> dict[str, Any]:
        amount = int(form["amount"])
        if path == "/v1/payment_intents":
            return resource("payment_intent", id=f"pi_fake{n}", status="succeeded", amount=amount)
        metadata = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
        refund = resource(
            "refund",
            id=f"re_fake{n}",
            amount=amount,
            currency="eur",
            charge=CHARGE,
            payment_intent=form.get("payment_intent"),
            metadata=metadata,
            created=1_700_000_000 + n,
        )
        self.refunds.append(refund)
        return refund


class WebhookFirst:
    """The project's Stripe, whose next refund is reported by webhook (``report``)
    before its answer reaches Tally: the outbox records the answer after the event."""

    def __init__(self, inner: PaymentProvider, report: Callable[[], None]) -> None:
        self.inner = inner
        self.report: Callable[[], None] | None = report
        self.name = inner.name
        self.manages_subscriptions = inner.manages_subscriptions

    def refund(self, request: RefundRequest) -> RefundOutcome:
        made = self.inner.refund(request)
        report, self.report = self.report, None
        if report is not None:
            report()
        return made

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Shop]:
    with stripe_shop(settings, clock, FakeStripeRefunds()) as made:
        yield made


def refunded(shop: Shop, event_id: str, payment_ref: str, txn: str, total: int) -> None:
    """Deliver (signed) Stripe's ``charge.refunded`` as current API versions send it,
    and apply it (a call being made, maybe the one it reports, is left to its maker)."""
    charge = resource(
        "charge",
        id=CHARGE,
        payment_intent=payment_ref,
        amount=2000,
        currency="eur",
        amount_refunded=total,
        refunded=total == 2000,
        metadata={"tally_transaction": txn},
    )
    del charge["refunds"]
    event = resource("event", id=event_id, type="charge.refunded", data={"object": charge})
    assert post_stripe(shop.api, event).status_code == 200
    shop.api.tally.outbox.drain(wait=False)


def topped_up(shop: Shop, owner: str) -> tuple[str, str, str]:
    """A wallet of ``owner`` topped up with 2000 by card through Stripe, the call made:
    the wallet, the top-up's transaction id and Stripe's payment reference."""
    api = shop.api
    account = api.open_account(owner)
    body = {"amount": 2000, "currency": "EUR", "payment_method": "pm_visa"}
    topped = api.ok(api.post(f"/v1/accounts/{account}/top_ups", body), 201)
    settle(api)
    call = api.ok(api.get(f"/v1/provider_calls/{topped['provider_call']['id']}"))
    return account, topped["transaction"]["id"], call["payment_ref"]


def books(shop: Shop) -> dict[str, int]:
    rows = shop.api.ok(shop.api.get("/v1/system_accounts", limit=100))["data"]
    return {str(r["account"]): int(r["balance"]) for r in rows}


def test_a_refund_reported_before_its_answer_is_reversed_once(shop: Shop) -> None:
    api = shop.api
    account, txn, paid = topped_up(shop, "ada")
    seen: list[int] = []

    def report() -> None:
        refunded(shop, "evt_dbl_1", paid, txn, 500)
        seen.append(api.ok(api.get(f"/v1/transactions/{txn}"))["reversed_amount"])

    first = WebhookFirst(provider_for(api.tally, api.project_id), report)
    api.tally.providers.overrides[api.project_id] = first

    # The webhook first, then the outbox records Stripe's answer to the call.
    asked = api.ok(api.post(f"/v1/transactions/{txn}/refunds", {"amount": 500}), 202)
    assert seen == [500]  # the event was applied while the call was made
    settle(api)
    refunded(shop, "evt_dbl_1", paid, txn, 500)  # redelivered
    settle(api)
    call = api.ok(api.get(f"/v1/provider_calls/{asked['provider_call']['id']}"))
    assert call["state"] == "succeeded"
    assert api.ok(api.get(f"/v1/transactions/{txn}"))["reversed_amount"] == 500

    # The answer first, then the webhook.
    again = api.ok(api.post(f"/v1/transactions/{txn}/refunds", {"amount": 300}), 202)
    settle(api)
    assert again["provider_call"]["state"] == "succeeded"
    refunded(shop, "evt_dbl_2", paid, txn, 800)
    settle(api)

    found = api.ok(api.get(f"/v1/transactions/{txn}"))
    assert (found["state"], found["reversed_amount"]) == ("reversed", 800)
    assert api.account(account)["ledger_balance"] == 1200
    assert len(shop.stripe.sent("POST", "/v1/refunds")) == 2
    assert books(shop)["clearing:stripe"] == -1200  # as at Stripe: 2000 paid, 800 refunded
    trial = api.ok(api.get("/v1/reports/trial_balance"))
    assert {c: int(v["total"]) for c, v in trial["currencies"].items()} == {"EUR": 0}


def test_a_dashboard_refund_just_after_tallys_does_not_reverse_tallys_twice(
    shop: Shop,
) -> None:
    """Someone refunds 200 in Stripe's dashboard just after Tally's refund of 500, before
    Tally has Stripe's answer: the event's newest refund is the dashboard's, with no
    Tally references, and its running total counts Tally's too. The reversal by that
    total settles Tally's call (its refund is listed with its call), so the answer
    recorded after it moves nothing more."""
    api = shop.api
    _, txn, paid = topped_up(shop, "bo")
    seen: list[int] = []

    def report() -> None:
        dashboard = resource(
            "refund", id="re_dashboard", amount=200, charge=CHARGE, created=1_800_000_000
        )
        shop.fake.refunds.append(dashboard)  # type: ignore[attr-defined]
        refunded(shop, "evt_dash", paid, txn, 700)
        seen.append(api.ok(api.get(f"/v1/transactions/{txn}"))["reversed_amount"])

    api.tally.providers.overrides[api.project_id] = WebhookFirst(
        provider_for(api.tally, api.project_id), report
    )
    asked = api.ok(api.post(f"/v1/transactions/{txn}/refunds", {"amount": 500}), 202)
    settle(api)

    assert seen == [700]
    call = api.ok(api.get(f"/v1/provider_calls/{asked['provider_call']['id']}"))
    assert call["state"] == "succeeded"
    assert api.ok(api.get(f"/v1/transactions/{txn}"))["reversed_amount"] == 700
    assert books(shop)["clearing:stripe"] == -1300  # as at Stripe: 2000 paid, 700 refunded
