"""The public catalogue (issue 12): every ``billing.*`` type Tally emits comes from the
domain events a real flow records, and only from the facts it names (a part payment is
not ``invoice.paid``, a pending deposit not ``transaction.completed``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from adapters.providers.stub import DECLINED, SUCCEEDS
from commands import messages as m
from projections.integration_catalog import (
    CATALOG,
    NOT_YET_EMITTED,
    OBJECT_OF,
    TYPES,
    event_id,
    integration_type,
)
from tests.unit.billing_world import START
from tests.unit.invoicing_world import InvoicingWorld


@pytest.fixture
def world() -> Iterator[InvoicingWorld]:
    w = InvoicingWorld()
    yield w
    w.bus.close()


def published(world: InvoicingWorld, after: int = 0) -> list[tuple[str, Any]]:
    """(type, domain event) of every event after ``after`` that has a public type."""
    found = []
    for n in world.app.recorder.select_notifications(start=after + 1, limit=1_000_000):
        if n.topic.startswith("tally:IdempotencyRecord"):
            continue
        event = world.app.mapper.to_domain_event(n)
        name = integration_type(event)
        if name is not None:
            found.append((name, event))
    return found


def head(world: InvoicingWorld) -> int:
    return int(world.app.recorder.max_notification_id() or 0)


def types_of(world: InvoicingWorld, step: Any) -> list[str]:
    before = head(world)
    step()
    return [name for name, _ in published(world, before)]


def test_ledger_flow_maps_deposits_withdrawals_and_transactions(world: InvoicingWorld) -> None:
    account = UUID(world.body(m.OpenAccount(owner_ref="a", currency="EUR"))["account"]["id"])
    deposit = m.Deposit(account_id=account, amount=500, currency="EUR")
    assert types_of(world, lambda: world.run(deposit)) == [
        "billing.wallet.deposited",
        "billing.transaction.completed",
    ]
    pending = m.Deposit(account_id=account, amount=300, currency="EUR", pending=True)
    body: dict[str, Any] = {}
    assert types_of(world, lambda: body.update(world.body(pending))) == []
    tx = UUID(body["transaction"]["id"])
    failing = m.FailTransaction(transaction_id=tx, reason="bounced")
    assert types_of(world, lambda: world.run(failing)) == ["billing.transaction.failed"]
    withdraw = m.Withdraw(account_id=account, amount=200, currency="EUR")
    made: dict[str, Any] = {}
    assert types_of(world, lambda: made.update(world.body(withdraw))) == [
        "billing.wallet.withdrawn",
        "billing.transaction.completed",
    ]
    reverse = m.ReverseTransaction(transaction_id=UUID(made["transaction"]["id"]))
    assert "billing.transaction.reversed" in types_of(world, lambda: world.run(reverse))


def test_a_fall_below_the_threshold_maps_to_balance_low_once(world: InvoicingWorld) -> None:
    opened = m.OpenAccount(owner_ref="low", currency="EUR", low_balance_threshold=100)
    body: dict[str, Any] = {}
    assert types_of(world, lambda: body.update(world.body(opened))) == [
        "billing.wallet.balance_low"  # it opens empty, below its threshold
    ]
    account = UUID(body["account"]["id"])
    world.run(m.Deposit(account_id=account, amount=300, currency="EUR"))
    withdraw = m.Withdraw(account_id=account, amount=250, currency="EUR")
    assert types_of(world, lambda: world.run(withdraw)) == [
        "billing.wallet.withdrawn",
        "billing.wallet.balance_low",
        "billing.transaction.completed",
    ]
    again = m.Withdraw(account_id=account, amount=10, currency="EUR")
    assert "billing.wallet.balance_low" not in types_of(world, lambda: world.run(again))
    raised = m.SetLowBalanceThreshold(account_id=account, low_balance_threshold=None)
    assert types_of(world, lambda: world.run(raised)) == []


def test_billing_flow_maps_customers_subscriptions_and_invoices(world: InvoicingWorld) -> None:
    customer = UUID(world.customer("u1"))
    update = m.UpdateCustomer(customer_id=customer, name="Ada")
    assert types_of(world, lambda: world.run(update)) == ["billing.customer.updated"]
    price = UUID(world.plan("PRO", 2000))
    start = m.CreateSubscription(customer_id=customer, items=[m.SubscriptionItem(price_id=price)])
    started: dict[str, Any] = {}
    assert "billing.subscription.created" in types_of(
        world, lambda: started.update(world.body(start))
    )
    cancel = m.CancelSubscription(subscription_id=UUID(started["subscription"]["id"]))
    assert "billing.subscription.canceled" in types_of(world, lambda: world.run(cancel))
    line = m.InvoiceLineInput(description="setup", unit_amount=1000)
    drafted: dict[str, Any] = {}
    draft = m.CreateInvoice(customer_id=customer, lines=[line])
    assert types_of(world, lambda: drafted.update(world.body(draft))) == ["billing.invoice.created"]
    invoice = UUID(drafted["invoice"]["id"])
    finalize = m.FinalizeInvoice(invoice_id=invoice)
    assert types_of(world, lambda: world.run(finalize)) == ["billing.invoice.finalized"]
    part = m.PayInvoice(invoice_id=invoice, method="out_of_band", amount=400, reference="a")
    assert types_of(world, lambda: world.run(part)) == []  # still open
    rest = m.PayInvoice(invoice_id=invoice, method="out_of_band", reference="b")
    assert types_of(world, lambda: world.run(rest)) == ["billing.invoice.paid"]


def test_renewal_payment_failure_and_void(world: InvoicingWorld) -> None:
    world.run(m.ConfigureBilling(auto_charge_provider="stub", retry_days=[3]))
    clock = UUID(world.body(m.CreateTestClock(name="c", frozen_time=START))["test_clock"]["id"])
    registered = m.RegisterCustomer(external_id="u2", currency="EUR", test_clock_id=clock)
    customer = world.body(registered)["customer"]["id"]
    assert [n for n, _ in published(world)][-1] == "billing.customer.created"
    world.card(str(customer), DECLINED)
    price = UUID(world.plan("PRO", 2000))
    items = [m.SubscriptionItem(price_id=price)]
    start = m.CreateSubscription(customer_id=UUID(customer), items=items)
    # The world makes the first invoice's charge after the command: it is declined.
    assert types_of(world, lambda: world.run(start)) == [
        "billing.subscription.created",
        "billing.invoice.created",
        "billing.invoice.finalized",
        "billing.transaction.failed",
        "billing.invoice.payment_failed",
        "billing.subscription.updated",  # past_due
    ]
    world.card(str(customer), SUCCEEDS)
    retry = m.AdvanceTestClock(test_clock_id=clock, to=START + timedelta(days=3))
    assert sorted(types_of(world, lambda: world.run(retry))) == [
        "billing.invoice.paid",
        "billing.subscription.updated",  # active again
        "billing.transaction.completed",
    ]
    renewal = m.AdvanceTestClock(test_clock_id=clock, to=START + timedelta(days=32))
    assert "billing.subscription.renewed" in types_of(world, lambda: world.run(renewal))
    drafted = world.body(m.CreateInvoice(customer_id=UUID(customer)))
    invoice = UUID(drafted["invoice"]["id"])
    line = m.InvoiceLineInput(description="x", unit_amount=5)
    world.run(m.AddInvoiceLine(invoice_id=invoice, line=line))
    world.run(m.FinalizeInvoice(invoice_id=invoice))
    void = m.VoidInvoice(invoice_id=invoice)
    assert types_of(world, lambda: world.run(void)) == ["billing.invoice.voided"]


def test_each_type_carries_one_object_kind_and_none_is_both_emitted_and_pending() -> None:
    assert len(TYPES) == len(CATALOG)
    assert all(t.name.startswith("billing.") and t.name.count(".") == 2 for t in CATALOG)
    kinds = {
        "customer", "subscription", "invoice", "account", "transaction", "payment",
        "command_rejection", "entitlements", "credit_balance",
    }  # fmt: skip
    assert set(OBJECT_OF.values()) == kinds
    assert not TYPES & set(NOT_YET_EMITTED)


def test_event_ids_are_stable_per_position_and_type_and_differ_otherwise() -> None:
    assert event_id(7, "billing.customer.created") == event_id(7, "billing.customer.created")
    assert event_id(7, "billing.customer.created") != event_id(8, "billing.customer.created")
    assert event_id(7, "billing.customer.created") != event_id(7, "billing.customer.updated")
    # Derived events at one position differ by their ordinal; ordinal 0 keeps the old id.
    changed = "billing.entitlements.changed"
    assert event_id(7, changed, 1) != event_id(7, changed, 2) != event_id(7, changed)
    assert event_id(7, changed, 0) == event_id(7, changed)


def test_no_event_derives_both_a_payment_and_an_entitlement_change() -> None:
    """Both are derived at their event's position from ordinal 1: the outbox's key holds
    only because no event class changes both (``projections.integration_events``)."""
    from projections.entitlement_changes import HANDLES
    from projections.payment_objects import PaymentObjects

    assert not HANDLES & PaymentObjects.handles


def test_docs_list_every_type_emitted_and_every_type_not_yet_emitted() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "events.md").read_text()
    for name in TYPES:
        assert f"| `{name}` |" in text, name
    for name in NOT_YET_EMITTED:
        assert name.rsplit(".", 1)[0] in text, name


def test_a_trials_announced_end_maps_to_trial_will_end_and_its_end_to_updated() -> None:
    from uuid import uuid4

    from domain.subscriptions import Subscription

    sub = Subscription.start(
        project_id=uuid4(), customer_id=uuid4(), currency="EUR",
        items=[{"price_id": "p1", "quantity": 1, "amount": 900}],
        interval="month", interval_count=1, now=START, trial_days=14,
    )  # fmt: skip
    sub.collect_events()
    assert sub.process_due(START + timedelta(days=14)) == ["trial_end_announced", "trial_ended"]
    types = [integration_type(e) for e in sub.collect_events()]
    assert types == ["billing.subscription.trial_will_end", "billing.subscription.updated"]
