"""A refund made in the provider's dashboard (no refund call of Tally's) is a refund of
the payment (issue 12): its signed ``refund.succeeded`` webhook (the stub's, carrying
the provider's running total like Stripe's ``charge.refunded``) reverses the payment's
transaction, ``GET /v1/payments/{id}`` shows it refunded, and the receiver gets
``billing.payment.refunded`` once per refund, in log order, however often the webhook
is redelivered. Checked for a charged invoice and for a checkout sale; a replay of the
log builds the same payments."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.providers.stub import SUCCEEDS, StubProvider
from projections.integration_catalog import PAYMENT_TYPES, event_id
from tests.e2e.billing import card, customer
from tests.e2e.conftest import Client
from tests.e2e.invoicing import act
from tests.e2e.test_checkout_payments import hooks_tally, press, sandbox, sell
from tests.e2e.test_payments import charge, open_invoice, payment, replayed_equal, settle
from tests.e2e.webhook_receiver import Receiver

__all__ = ["hooks_tally", "sandbox"]  # the fixtures this module's tests use


def dashboard_refund(
    api: Client, event_id: str, refs: dict[str, str], amount: int, total: int
) -> None:
    """Deliver (signed) the provider's report of a refund someone made in its dashboard."""
    provider = api.tally.providers.default
    assert isinstance(provider, StubProvider)
    data: dict[str, Any] = {
        "object_ref": f"re_{event_id}",
        "amount_minor": amount,
        "refunded_total_minor": total,
        "currency": "EUR",
        "references": refs,
    }
    body = [{"id": event_id, "type": "refund.succeeded", "data": data}]
    headers, content = provider.sign_delivery(body)
    response = api.http.post(
        f"/v1/webhooks/stub/{api.project_id}", content=content, headers=headers
    )
    assert response.status_code == 200, response.text
    settle(api)


def subscribe(api: Client, receiver: Receiver) -> None:
    body = {"url": receiver.url, "enabled_events": sorted(PAYMENT_TYPES)}
    receiver.secret = api.ok(api.post("/v1/webhook_endpoints", body), 201)["secret"]


def test_a_dashboard_refund_of_a_charged_invoice_is_refunded_once(
    sandbox: Client, receiver: Receiver
) -> None:
    subscribe(sandbox, receiver)
    ada = customer(sandbox, "ada")
    card(sandbox, ada, SUCCEEDS)
    paid_id = charge(sandbox, open_invoice(sandbox, ada, 1000))
    settle(sandbox)
    paid = payment(sandbox, paid_id)
    refs = {"tally_invoice": paid["invoice_id"], "tally_charge_call": paid_id}
    dashboard_refund(sandbox, "evt_dash_1", refs, 400, 400)
    part = payment(sandbox, paid_id)
    dashboard_refund(sandbox, "evt_dash_1", refs, 400, 400)  # redelivered
    dashboard_refund(sandbox, "evt_dash_1b", refs, 400, 400)  # reported again, same total
    assert payment(sandbox, paid_id) == part
    dashboard_refund(sandbox, "evt_dash_2", refs, 600, 1000)
    whole = payment(sandbox, paid_id)
    txn = sandbox.ok(sandbox.get(f"/v1/transactions/{paid['transaction_id']}"))

    assert (part["status"], part["amount_refunded"]) == ("partially_refunded", 400)
    assert (whole["status"], whole["amount_refunded"]) == ("refunded", 1000)
    assert (txn["state"], txn["reversed_amount"]) == ("reversed", 1000)
    sandbox.tally.webhooks.drain()
    sandbox.tally.webhooks.drain()  # nothing is sent twice
    assert [(e["type"], e["data"]["object"]) for e in receiver.received] == [
        ("billing.payment.succeeded", paid),
        ("billing.payment.refunded", part),
        ("billing.payment.refunded", whole),
    ]
    assert_once_in_order(receiver)
    replayed_equal(sandbox)


def test_a_dashboard_refund_of_a_checkout_sale_is_refunded_once(
    sandbox: Client, receiver: Receiver
) -> None:
    subscribe(sandbox, receiver)
    ada = customer(sandbox, "ada")
    sold = sell(sandbox, ada, 2500, "sale-1")
    sale_id = sold["provider_call"]["id"]
    press(sandbox, sold["url"], "pay")
    paid = payment(sandbox, sale_id)
    refs = {"tally_transaction": sold["transaction"]["id"]}
    dashboard_refund(sandbox, "evt_dash_sale", refs, 2500, 2500)
    dashboard_refund(sandbox, "evt_dash_sale", refs, 2500, 2500)  # redelivered
    back = payment(sandbox, sale_id)

    assert (back["status"], back["amount_refunded"]) == ("refunded", 2500)
    sandbox.tally.webhooks.drain()
    assert [(e["type"], e["data"]["object"]) for e in receiver.received] == [
        ("billing.payment.succeeded", paid),
        ("billing.payment.refunded", back),
    ]
    assert_once_in_order(receiver)
    replayed_equal(sandbox)


def test_a_credit_notes_refund_reported_by_the_charge_is_not_counted_twice(
    sandbox: Client, receiver: Receiver
) -> None:
    """Tally's own refund (a credit note's) moved the money with the note; the
    provider's report of it names only the charge, with the running total."""
    subscribe(sandbox, receiver)
    ada = customer(sandbox, "ada")
    card(sandbox, ada, SUCCEEDS)
    invoice_id = open_invoice(sandbox, ada, 1000)
    paid_id = charge(sandbox, invoice_id)
    settle(sandbox)
    act(sandbox, invoice_id, "credit_notes", {"amount": 300, "refund_to": "original_payment"}, 201)
    settle(sandbox)
    noted = payment(sandbox, paid_id)
    refs = {"tally_invoice": invoice_id, "tally_charge_call": paid_id}
    dashboard_refund(sandbox, "evt_note_report", refs, 300, 300)
    assert payment(sandbox, paid_id) == noted
    dashboard_refund(sandbox, "evt_dash_more", refs, 200, 500)
    more = payment(sandbox, paid_id)

    assert (noted["status"], noted["amount_refunded"]) == ("partially_refunded", 300)
    assert more["amount_refunded"] == 500
    sandbox.tally.webhooks.drain()
    types = [e["type"] for e in receiver.received]
    assert types == ["billing.payment.succeeded", *["billing.payment.refunded"] * 2]
    assert_once_in_order(receiver)
    replayed_equal(sandbox)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    reports=st.lists(st.tuples(st.integers(0, 1200), st.booleans()), min_size=1, max_size=4).map(
        lambda steps: sorted(steps, key=lambda step: step[0])
    )
)
def test_each_dashboard_refund_counts_once_whatever_the_reports(
    sandbox: Client, receiver: Receiver, reports: list[tuple[int, bool]]
) -> None:
    """Running totals as a provider reports them (never falling; repeated, redelivered,
    beyond the payment): the payment is refunded by the last total (at most its amount)
    and one ``billing.payment.refunded`` arrives per total that grew."""
    if not receiver.secret:
        subscribe(sandbox, receiver)
    buyer = customer(sandbox, f"user_{uuid4().hex[:12]}")
    card(sandbox, buyer, SUCCEEDS)
    paid_id = charge(sandbox, open_invoice(sandbox, buyer, 1000))
    settle(sandbox)
    refs = {"tally_invoice": payment(sandbox, paid_id)["invoice_id"], "tally_charge_call": paid_id}
    counted, grew = 0, 0
    for total, redelivered in reports:
        event = f"evt_{uuid4().hex}"
        for _ in range(2 if redelivered else 1):
            dashboard_refund(sandbox, event, refs, max(total - counted, 0), total)
        grew += min(total, 1000) > counted
        counted = max(counted, min(total, 1000))
    found = payment(sandbox, paid_id)
    sandbox.tally.webhooks.drain()

    assert found["amount_refunded"] == counted
    assert found["status"] == {0: "succeeded", 1000: "refunded"}.get(counted, "partially_refunded")
    mine = [e for e in receiver.received if e["data"]["object"]["id"] == paid_id]
    assert [e["type"] for e in mine] == ["billing.payment.succeeded"] + [
        "billing.payment.refunded"
    ] * grew
    assert [e["data"]["object"]["amount_refunded"] for e in mine][-1] == counted
    assert_once_in_order(receiver)


def assert_once_in_order(receiver: Receiver) -> None:
    received = receiver.received
    positions = [e["position"] for e in received]
    assert positions == sorted(positions)
    assert len(set(receiver.ids())) == len(received)
    for e in received:
        assert e["id"] == event_id(e["position"], e["type"], e["ordinal"])
