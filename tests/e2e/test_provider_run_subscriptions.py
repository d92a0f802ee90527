"""Subscriptions Stripe runs, over HTTP against a fake Stripe Billing (the real adapter
and SDK; objects from Stripe's fixtures): the project chooses ``provider``, a created
subscription is created at Stripe once (counted), the webhook activates it; a plan
change and a cancel at the period end and its undo are asked of Stripe once each and
arrive back by webhook; a paid invoice is fetched and mirrored as a Tally invoice with
its payment, in the journal. YooKassa (no subscription API) is refused."""

from __future__ import annotations

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.billing import customer, plan, problem, subscribe
from tests.e2e.provider_shop import FakeStripe, Shop, provider_project, settle
from tests.e2e.stripe_billing_fake import FakeBilling, billing_shop, send
from tests.e2e.stripe_billing_run import (
    T0,
    Running,
    invoices_of,
    mapped_plan,
    running,
    shop,
    started,
    sub_of,
)

# A Stripe price no Tally price maps to: its lines keep Stripe's description.
UNMAPPED = {"type": "price_details", "price_details": {"price": "price_elsewhere"}}
__all__ = ["T0", "running", "shop", "started"]  # the fixtures used here; others import these


def test_a_subscription_stripe_runs_is_created_there_once_and_activated_by_its_webhook(
    running: Running,
) -> None:
    store, _, created, ref = running
    api = store.api
    assert (created["status"], created["run_by"]) == ("incomplete", "provider")
    chosen = api.ok(api.get("/v1/subscription_runner"))["subscription_runner"]
    assert (chosen["run_by"], chosen["provider"]) == ("provider", "stripe")
    # Stripe bills it, not Tally: no first invoice.
    assert "latest_invoice" not in created
    assert invoices_of(api, created) == []
    [made] = store.stripe.sent("POST", "/v1/subscriptions")
    form = FakeStripe.form(made)
    assert (form["customer"], form["items[0][price]"], form["items[0][quantity]"]) == (
        "cus_fake1",
        "price_pro",
        "1",
    )
    assert form["metadata[tally_subscription]"] == created["id"]
    [call] = [c for c in store.calls() if c["operation"] == "create_subscription"]
    assert made.headers["idempotency-key"] == call["idempotency_key"]
    assert call["state"] == "succeeded"
    sub = sub_of(api, created["id"])
    assert (sub["status"], sub["provider_subscription"], sub["next_due_at"]) == (
        "active",
        ref,
        None,
    )
    settle(api)  # nothing more is asked of Stripe, whatever the outbox does
    assert len(store.stripe.sent("POST", "/v1/subscriptions")) == 1


def test_a_plan_change_is_asked_of_stripe_once_and_mirrored_from_its_webhook(
    shop: tuple[Shop, FakeBilling],
) -> None:
    store, fake = shop
    api = store.api
    created, ref, pro = started(store, fake)
    team = mapped_plan(api, "TEAM", 3000, "price_team")
    body = {"items": [{"price_id": team, "quantity": 2}], "proration": "prorate"}
    changed = api.ok(api.post(f"/v1/subscriptions/{created['id']}/items", body))
    assert (
        changed["subscription"]["items"][0]["price_id"] == pro
    )  # nothing changes before Stripe says so
    settle(api)
    [update] = store.stripe.sent("POST", f"/v1/subscriptions/{ref}")
    form = FakeStripe.form(update)
    assert form["proration_behavior"] == "create_prorations"
    assert form["items[0][deleted]"] == "true"
    assert (form["items[1][price]"], form["items[1][quantity]"]) == ("price_team", "2")
    event = send(api, "evt_plan", "customer.subscription.updated", fake.subscriptions[ref], T0 + 5)
    assert event["effects"][0]["action"] == "subscription_plan_mirrored"
    sub = sub_of(api, created["id"])
    assert sub["items"] == [{"price_id": team, "quantity": 2, "amount": 3000}]  # flat price
    # The customer's entitlements follow the plan Stripe reported.
    granted = api.ok(api.get(f"/v1/customers/{created['customer_id']}/entitlements"))
    assert granted["features"] == ["team"]
    settle(api)
    assert len(store.stripe.sent("POST", f"/v1/subscriptions/{ref}")) == 1


def test_a_cancel_at_the_period_end_and_its_undo_go_through_stripe(
    running: Running,
) -> None:
    store, fake, created, ref = running
    api = store.api
    path = f"/v1/subscriptions/{created['id']}"
    asked = api.ok(api.post(f"{path}/cancel", {"at_period_end": True}))
    assert asked["subscription"]["cancel_at_period_end"] is False  # until Stripe's webhook
    [cancel] = store.stripe.sent("POST", f"/v1/subscriptions/{ref}")
    assert FakeStripe.form(cancel)["cancel_at_period_end"] == "true"
    send(api, "evt_cancel", "customer.subscription.updated", fake.subscriptions[ref], T0 + 5)
    assert sub_of(api, created["id"])["cancel_at_period_end"] is True
    # Asked twice before the webhook: refused on fresh state, nothing sent.
    problem(api.post(f"{path}/cancel", {"at_period_end": True}), 409, "invalid_transition")
    api.ok(api.post(f"{path}/undo_cancel", {}))
    undo = store.stripe.sent("POST", f"/v1/subscriptions/{ref}")[1]
    assert FakeStripe.form(undo)["cancel_at_period_end"] == "false"
    send(api, "evt_undo", "customer.subscription.updated", fake.subscriptions[ref], T0 + 10)
    sub = sub_of(api, created["id"])
    assert (sub["status"], sub["cancel_at_period_end"]) == ("active", False)
    settle(api)
    assert len(store.stripe.sent("POST", f"/v1/subscriptions/{ref}")) == 2
    # Pausing, and activating by hand, are Stripe's business here.
    problem(api.post(f"{path}/pause", {}), 422, "provider_unsupported")
    problem(api.post(f"{path}/activate", {}), 422, "provider_unsupported")


def test_a_paid_stripe_invoice_is_mirrored_with_its_payment_once(
    running: Running,
) -> None:
    store, fake, created, ref = running
    api = store.api
    invoice_ref = fake.add_invoice(ref, 1000, "pi_paid1")
    paid = fake.invoices[invoice_ref]
    send(api, "evt_paid", "invoice.paid", paid, T0 + 5)
    send(api, "evt_paid_again", "invoice.paid", paid, T0 + 6)  # a second event, same invoice
    assert len(store.stripe.sent("GET", f"/v1/invoices/{invoice_ref}")) == 1
    listed = invoices_of(api, created)
    [invoice] = listed
    assert (invoice["status"], invoice["total"], invoice["amount_paid"]) == ("paid", 1000, 1000)
    assert invoice["payments"][0]["reference"] == "pi_paid1"
    # Stripe's amount, named as Tally names the price Stripe's maps to.
    assert invoice["lines"][0]["description"] == "Pro, monthly"
    rows = api.ok(api.get("/v1/system_accounts", limit=100))["data"]
    assert {r["account"]: int(r["balance"]) for r in rows}["clearing:stripe"] == -1000
    trial = api.ok(api.get("/v1/reports/trial_balance"))
    assert {c: int(v["total"]) for c, v in trial["currencies"].items()} == {"EUR": 0}


def test_a_stripe_invoice_past_tallys_limits_is_not_recorded_and_its_call_says_why(
    running: Running,
) -> None:
    store, fake, created, ref = running
    api = store.api
    invoice_ref = fake.add_invoice(ref, 1000, "pi_paid1")
    line = fake.invoices[invoice_ref]["lines"]["data"][0]
    line["description"] = "Pro\x00\x1b[31m"  # control characters, as a provider may send
    line["pricing"] = UNMAPPED  # so Stripe's description names it
    huge = fake.add_invoice(ref, 10**16, "pi_paid2")  # past Tally's money limit
    send(api, "evt_paid", "invoice.paid", fake.invoices[invoice_ref], T0 + 5)
    send(api, "evt_huge", "invoice.paid", fake.invoices[huge], T0 + 6)
    [invoice] = invoices_of(api, created)
    assert invoice["lines"][0]["description"] == "Pro  [31m"  # each one a space
    calls = [c for c in store.calls() if c["operation"] == "get_invoice"]
    [refused] = [c for c in calls if c["state"] == "failed"]
    assert refused["error_code"] == "invoice_not_recorded"
    assert "amount" in refused["last_error"]


def test_a_metered_stripe_line_past_tallys_quantity_limit_is_one_unit_of_its_amount(
    running: Running,
) -> None:
    store, fake, created, ref = running
    api = store.api
    invoice_ref = fake.add_invoice(ref, 2_000_000, "pi_metered")
    line = fake.invoices[invoice_ref]["lines"]["data"][0]
    line["quantity"], line["description"] = 2_000_000, "2,000,000 x API calls"
    line["pricing"] = UNMAPPED
    send(api, "evt_metered", "invoice.paid", fake.invoices[invoice_ref], T0 + 5)
    [invoice] = invoices_of(api, created)
    assert (invoice["status"], invoice["total"], invoice["amount_paid"]) == (
        "paid",
        2_000_000,
        2_000_000,
    )
    [mirrored] = invoice["lines"]
    assert (mirrored["quantity"], mirrored["amount"]) == (1, 2_000_000)
    assert mirrored["description"] == "2,000,000 x API calls"


def test_every_line_of_a_long_stripe_invoice_is_mirrored_past_the_embedded_page(
    running: Running,
) -> None:
    """Stripe embeds 10 lines in an invoice; the other 15 are read page by page, not
    lumped into one adjustment line."""
    store, fake, created, ref = running
    api = store.api
    invoice_ref = fake.add_invoice(ref, 2500, "pi_long")
    paid = fake.invoices[invoice_ref]
    line = paid["lines"]["data"][0]
    paid["lines"]["data"] = [
        {
            **line,
            "id": f"il_fake{n}",
            "amount": 100,
            "description": f"Seat {n}",
            "pricing": UNMAPPED,
        }
        for n in range(1, 26)
    ]
    send(api, "evt_long", "invoice.paid", paid, T0 + 5)
    [invoice] = invoices_of(api, created)
    assert (invoice["status"], invoice["total"], invoice["amount_paid"]) == ("paid", 2500, 2500)
    described = [li["description"] for li in invoice["lines"]]
    assert described == [f"Seat {n}" for n in range(1, 26)]
    assert len(store.stripe.sent("GET", f"/v1/invoices/{invoice_ref}/lines")) == 1
    # Past an invoice's 500 lines, the reading stops and the mirror is refused, saying
    # why, rather than the unread lines lumped into one.
    past = fake.add_invoice(ref, 0, "pi_past")
    fake.invoices[past]["lines"]["data"] = [
        {**line, "id": f"il_past{n}", "amount": 0} for n in range(1, 700)
    ]
    embedded = {"object": "list", "data": [], "has_more": True}  # as in Stripe's event
    send(api, "evt_past", "invoice.paid", {**fake.invoices[past], "lines": embedded}, T0 + 6)
    assert len(store.stripe.sent("GET", f"/v1/invoices/{past}/lines")) == 5
    [refused] = [c for c in store.calls() if c["state"] == "failed"]
    assert (refused["operation"], refused["error_code"]) == ("get_invoice", "invoice_not_recorded")
    assert "500 lines" in refused["last_error"]


def test_the_customers_stripe_balance_is_mirrored_as_a_line_never_as_tally_credit(
    running: Running,
) -> None:
    """A downgrade's credit (-500) that Stripe keeps as the customer's balance, then an
    invoice of 1000 paid 500 from that balance and 500 by card: the first is settled at
    zero with no Tally credit granted, the second is paid, not open for 500 for ever."""
    store, fake, created, ref = running
    api = store.api
    credit_ref = fake.add_invoice(ref, 0, "pi_none")
    credit = fake.invoices[credit_ref]
    credit["lines"]["data"][0].update(amount=-500, description="Unused time on Pro")
    credit.update(subtotal=-500, total=-500, amount_due=0, ending_balance=-500, payments={})
    used_ref = fake.add_invoice(ref, 500, "pi_rest")
    used = fake.invoices[used_ref]
    used["lines"]["data"][0]["amount"] = 1000
    used.update(subtotal=1000, total=1000, starting_balance=-500, ending_balance=0)
    send(api, "evt_credit", "invoice.paid", credit, T0 + 5)
    send(api, "evt_used", "invoice.paid", used, T0 + 6)
    listed = invoices_of(api, created)
    by_number = sorted(listed, key=lambda i: str(i["number"]))
    got = [(i["status"], i["total"], i["amount_paid"], i["amount_remaining"]) for i in by_number]
    assert got == [("paid", 0, 0, 0), ("paid", 500, 500, 0)]
    assert by_number[0]["credit_granted"] == 0
    rows = api.ok(api.get("/v1/system_accounts", limit=100))["data"]
    balances = {r["account"]: int(r["balance"]) for r in rows}
    assert not [a for a, b in balances.items() if a.startswith("customer_credit") and b]
    assert balances["clearing:stripe"] == -500
    assert balances["revenue"] == 500


def test_a_subscription_checkout_of_a_plan_stripe_runs_is_refused(
    shop: tuple[Shop, FakeBilling],
) -> None:
    """Tally's checkout would start a subscription Tally renews and bills beside
    Stripe's: refused, nothing started, nothing asked of Stripe."""
    store, _ = shop
    api = store.api
    ada = customer(api, "ada", email="ada@example.com")
    pro = mapped_plan(api, "PRO", 1000, "price_pro")
    back = {"success_url": "https://shop.example/ok", "cancel_url": "https://shop.example/no"}
    body = {"customer_id": ada, "items": [{"price_id": pro}], **back}
    before = len(store.stripe.requests)
    refused = problem(api.post("/v1/checkout/subscription", body), 422, "provider_unsupported")
    assert "POST /v1/subscriptions" in refused["detail"]
    assert api.ok(api.get("/v1/subscriptions", customer_id=ada))["data"] == []
    assert len(store.stripe.requests) == before


def test_a_subscription_stripe_refuses_to_create_expires_without_starting(
    shop: tuple[Shop, FakeBilling],
) -> None:
    store, fake = shop
    api = store.api
    fake.refuse_subscriptions = True
    ada = customer(api, "ada", email="ada@example.com")
    created = subscribe(api, ada, mapped_plan(api, "PRO", 1000, "price_pro"))
    settle(api)
    [call] = [c for c in store.calls() if c["operation"] == "create_subscription"]
    assert (call["state"], call["error_code"]) == ("failed", "provider_rejected")
    sub = sub_of(api, created["id"])
    assert (sub["status"], sub["next_due_at"]) == ("incomplete_expired", None)
    assert len(store.stripe.sent("POST", "/v1/subscriptions")) == 1  # not retried


def test_one_plan_run_by_stripe_in_a_project_tally_runs(
    settings: Settings, clock: FixedClock
) -> None:
    with billing_shop(settings, clock) as (store, _):
        api = store.api
        pro = mapped_plan(api, "PRO", 1000, "price_pro")
        basic = plan(api, "BASIC", 500)
        pro_product = api.ok(api.get(f"/v1/prices/{pro}"))["product_id"]
        body = {"run_by": "provider", "product_id": pro_product}
        chosen = api.ok(api.post("/v1/subscription_runner", body))["subscription_runner"]
        assert (chosen["run_by"], chosen["plans"]) == ("tally", {pro_product: "stripe"})
        ada = customer(api, "ada", email="ada@example.com")
        assert subscribe(api, ada, pro)["run_by"] == "provider"
        bo = customer(api, "bo", email="bo@example.com")
        assert subscribe(api, bo, basic)["run_by"] == "tally"
        both = {
            "customer_id": customer(api, "cy"),
            "items": [{"price_id": pro}, {"price_id": basic}],
        }
        problem(api.post("/v1/subscriptions", both), 422, "invalid_combination")
        settle(api)
        assert len(store.stripe.sent("POST", "/v1/subscriptions")) == 1
        other = {"run_by": "provider", "product_id": "00000000-0000-4000-8000-000000000000"}
        problem(api.post("/v1/subscription_runner", other), 404, "not_found")


def test_yookassa_cannot_run_subscriptions(settings: Settings, clock: FixedClock) -> None:
    secrets = {"shop_id": "123456", "secret_key": "test_secret"}
    with provider_project(settings, clock, FakeStripe(), "yookassa", secrets) as (api, _):
        refused = problem(
            api.post("/v1/subscription_runner", {"run_by": "provider"}), 422, "provider_unsupported"
        )
        assert "no subscription API" in refused["detail"]
        runner = {"object": "subscription_runner", "run_by": "tally", "provider": None, "plans": {}}
        assert api.ok(api.get("/v1/subscription_runner"))["subscription_runner"] == runner
        kept = api.ok(api.post("/v1/subscription_runner", {"run_by": "tally"}))
        assert kept["subscription_runner"] == runner
