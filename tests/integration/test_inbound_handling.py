"""What inbound broker messages do, on real Postgres (issue 12, "Commands in"): each
message type's commands, and one effect however often a message is handled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from api.bootstrap import NO_PROJECT, Tally
from api.inbound import messages as im
from api.inbound.handling import handle
from commands import messages as m
from commands.bus import Context
from domain.errors import IdempotencyKeyReused, NotFound
from projections.runner import ProjectionWorker
from tests.plans import monthly_plan


@pytest.fixture
def project(tally: Tally) -> Iterator[UUID]:
    """A project with plans ``basic`` (1,000) and ``pro`` (3,000), monthly in EUR, and the
    projection worker running (plans are found in the catalog read model)."""
    made = tally.execute(m.CreateProject(name="p", mode="test"), Context(NO_PROJECT, "cli"))
    project_id = UUID(made.body["project"]["id"])
    ctx = Context(project_id, "test")

    def run(command: m.Command) -> dict[str, Any]:
        return tally.execute(command, ctx).body

    for code, amount in (("basic", 1000), ("pro", 3000)):
        monthly_plan(run, code, amount, lookup_key=f"{code}_monthly", name=code)
    worker = ProjectionWorker(tally.store, tally.views, tally.schema)
    worker.start()
    yield project_id
    worker.stop()


def message(id_: str, type_: str, **data: Any) -> im.InboundMessage:
    return im.parse(json.dumps({"id": id_, "type": type_, "data": data}).encode())


def subscriptions_of(tally: Tally, project_id: UUID, user_id: str) -> list[Any]:
    from domain.customers import Customer
    from domain.subscriptions import Subscription

    customer_id = Customer.create_id(project_id, user_id)
    found = []
    for notification in tally.store.recorder.select_notifications(1, 10_000):
        if notification.topic == "tally:Subscription.Created":
            sub = tally.store.repository.get(notification.originator_id)
            assert isinstance(sub, Subscription)
            if sub.customer_id == customer_id:
                found.append(sub)
    return found


def subscribed(user: str = "u1", plan: str = "basic") -> dict[str, Any]:
    return {"userId": user, "planId": plan, "currency": "EUR", "email": "a@example.com"}


def test_user_subscribed_registers_and_subscribes_once_however_often_it_arrives(
    tally: Tally, project: UUID
) -> None:
    first = handle(tally, project, "test", message("m1", "user.subscribed", **subscribed()))
    again = handle(tally, project, "test", message("m1", "user.subscribed", **subscribed()))
    assert first == [["customer", "created", False], ["subscription", "created", False]]
    assert again == [["customer", "created", True], ["subscription", "created", True]]
    subs = subscriptions_of(tally, project, "u1")
    assert [s.status for s in subs] == ["active"]


def test_another_message_for_a_known_user_finds_the_customer(tally: Tally, project: UUID) -> None:
    handle(tally, project, "test", message("m1", "user.subscribed", **subscribed()))
    done = handle(tally, project, "test", message("m2", "user.subscribed", **subscribed()))
    assert done[0] == ["customer", "existed", False]
    assert len(subscriptions_of(tally, project, "u1")) == 2


def test_a_message_id_reused_for_another_message_is_refused(tally: Tally, project: UUID) -> None:
    handle(tally, project, "test", message("m1", "user.subscribed", **subscribed()))
    with pytest.raises(IdempotencyKeyReused):
        handle(tally, project, "test", message("m1", "user.subscribed", **subscribed("u2")))


def test_plan_change_and_unsubscribe_act_on_the_current_subscription_once(
    tally: Tally, project: UUID
) -> None:
    handle(tally, project, "test", message("m1", "user.subscribed", **subscribed()))
    change = message("m2", "user.changed.plan", userId="u1", planCode="pro")
    assert handle(tally, project, "test", change) == [["change", "changed", False]]
    [sub] = subscriptions_of(tally, project, "u1")
    assert [i["amount"] for i in sub.items] == [3000]
    cancel = message("m3", "user.unsubscribed", userId="u1")
    assert handle(tally, project, "test", cancel) == [["cancel", "changed", False]]
    # Redelivered after the subscription ended: its cancellation is the stored answer.
    assert handle(tally, project, "test", cancel) == [["cancel", "changed", True]]
    assert handle(tally, project, "test", change) == [["change", "changed", True]]
    [sub] = subscriptions_of(tally, project, "u1")
    assert sub.status == "canceled"


def test_unsubscribing_a_user_without_a_subscription_is_not_found(
    tally: Tally, project: UUID
) -> None:
    with pytest.raises(NotFound):
        handle(tally, project, "test", message("m1", "user.unsubscribed", userId="nobody"))


def test_an_order_becomes_a_finalized_invoice_once(tally: Tally, project: UUID) -> None:
    from domain.invoices import Invoice

    handle(tally, project, "test", message("m1", "user.subscribed", **subscribed()))
    items = [{"name": "Book", "unitAmount": 1250, "quantity": 2}]
    order = message("o1", "order.created", orderId="order_7", userId="u1", items=items)
    assert handle(tally, project, "test", order) == [
        ["invoice", "created", False],
        ["finalize", "changed", False],
    ]
    assert [x[2] for x in handle(tally, project, "test", order)] == [True, True]
    invoices = [
        tally.store.repository.get(n.originator_id)
        for n in tally.store.recorder.select_notifications(1, 10_000)
        if n.topic == "tally:Invoice.Created"
    ]
    ordered = [i for i in invoices if isinstance(i, Invoice) and i.description == "Order order_7"]
    assert len(ordered) == 1
    assert ordered[0].status == "open"
    assert sum(line["amount"] for line in ordered[0].lines) == 2500


def test_an_order_of_an_unknown_user_is_not_found(tally: Tally, project: UUID) -> None:
    order = message(
        "o1", "order.created", orderId="o", userId="ghost", items=[{"name": "x", "unitAmount": 1}]
    )
    with pytest.raises(NotFound):
        handle(tally, project, "test", order)


def test_a_deposit_goes_to_the_users_wallet_once(tally: Tally, project: UUID) -> None:
    from domain.accounts import Account

    opened = tally.execute(m.OpenAccount(owner_ref="u1", currency="EUR"), Context(project, "t"))
    account_id = UUID(opened.body["account"]["id"])
    deposit = message("d1", "wallet.deposit", userId="u1", amount=500, currency="EUR")
    handle(tally, project, "test", deposit)
    handle(tally, project, "test", deposit)
    account = tally.store.repository.get(account_id)
    assert isinstance(account, Account)
    assert account.summary()["ledger_balance"] == 500


def test_user_subscribed_with_checkout_waits_for_the_providers_page_once(
    tally: Tally, project: UUID
) -> None:
    from domain.provider_calls import ProviderCall

    checkout = {"successUrl": "https://example.com/ok", "cancelUrl": "https://example.com/no"}
    sent = message("m1", "user.subscribed", **subscribed(), checkout=checkout)
    assert handle(tally, project, "test", sent) == [
        ["customer", "created", False],
        ["subscription", "created", False],
    ]
    assert [x[2] for x in handle(tally, project, "test", sent)] == [True, True]
    [sub] = subscriptions_of(tally, project, "u1")
    assert sub.status == "incomplete"
    calls = [
        tally.store.repository.get(n.originator_id)
        for n in tally.store.recorder.select_notifications(1, 10_000)
        if n.topic.startswith("tally:ProviderCall.")
    ]
    asked = {c.id for c in calls if isinstance(c, ProviderCall)}
    assert len(asked) == 1


def test_a_deposit_to_an_account_by_id_and_to_a_user_without_a_wallet(
    tally: Tally, project: UUID
) -> None:
    from domain.accounts import Account

    opened = tally.execute(m.OpenAccount(owner_ref="shop", currency="EUR"), Context(project, "t"))
    account_id = opened.body["account"]["id"]
    by_id = message("d1", "wallet.deposit", accountId=account_id, amount=700, currency="EUR")
    handle(tally, project, "test", by_id)
    account = tally.store.repository.get(UUID(account_id))
    assert isinstance(account, Account)
    assert account.summary()["ledger_balance"] == 700
    nowhere = message("d2", "wallet.deposit", userId="nobody", amount=1, currency="EUR")
    with pytest.raises(NotFound):
        handle(tally, project, "test", nowhere)


def test_a_message_id_reused_with_other_data_is_refused_not_replayed(
    tally: Tally, project: UUID
) -> None:
    """Before, only the steps' own commands were compared: another trial length (the
    customer step the same) or another plan for a recorded change was acked as done."""
    handle(tally, project, "test", message("m1", "user.subscribed", **subscribed()))
    longer = message("m1", "user.subscribed", **subscribed(), trialDays=7)
    with pytest.raises(IdempotencyKeyReused, match="already used for a different message"):
        handle(tally, project, "test", longer)
    handle(tally, project, "test", message("m2", "user.changed.plan", userId="u1", planId="pro"))
    back = message("m2", "user.changed.plan", userId="u1", planId="basic")
    with pytest.raises(IdempotencyKeyReused, match="message id 'm2'"):
        handle(tally, project, "test", back)
    [sub] = subscriptions_of(tally, project, "u1")
    assert [i["amount"] for i in sub.items] == [3000]
    # The same message in snake_case is the same message.
    same = message("m2", "user.changed.plan", user_id="u1", plan_code="pro")
    assert handle(tally, project, "test", same) == [["change", "changed", True]]


def test_a_refused_user_subscribed_registers_nobody(tally: Tally, project: UUID) -> None:
    from domain.customers import Customer

    refused = message("m1", "user.subscribed", **subscribed("u9", plan="nope"))
    with pytest.raises(NotFound, match="no active plan"):
        handle(tally, project, "test", refused)
    assert Customer.create_id(project, "u9") not in tally.store.repository


def test_a_messages_commands_are_recorded_all_or_none(tally: Tally, project: UUID) -> None:
    """An order whose finalization is refused leaves no draft: the message's commands run
    in one unit of work (here the finalization is of an invoice already finalized)."""
    from commands.inbound_commands import RunInboundMessage
    from domain.customers import Customer
    from domain.errors import InvalidTransition

    handle(tally, project, "test", message("m1", "user.subscribed", **subscribed()))
    items = [{"name": "Book", "unitAmount": 1250}]
    handle(
        tally,
        project,
        "test",
        message("o1", "order.created", orderId="1", userId="u1", items=items),
    )
    finalized = [n.originator_id for n in _invoice_events(tally) if n.topic.endswith("Finalized")]
    before = len(_invoice_events(tally))
    draft = m.CreateInvoice(
        customer_id=Customer.create_id(project, "u1"),
        lines=[m.InvoiceLineInput(description="x", unit_amount=5)],
    )
    command = RunInboundMessage(
        message_type="order.created",
        message={},
        steps=[
            ("invoice", draft),
            ("finalize", lambda _: m.FinalizeInvoice(invoice_id=finalized[-1])),
        ],
    )
    with pytest.raises(InvalidTransition):
        tally.execute(command, Context(project, "test"))
    assert len(_invoice_events(tally)) == before


def _invoice_events(tally: Tally) -> list[Any]:
    found = tally.store.recorder.select_notifications(1, 10_000)
    return [n for n in found if n.topic.startswith("tally:Invoice.")]


def test_a_message_begun_step_by_step_before_finishes_with_one_effect(
    tally: Tally, project: UUID
) -> None:
    """Messages in flight when messages became one command: their first step recorded
    under ``broker:<id>:<step>`` (as a crash between the steps left them)."""
    from api.inbound.handling import step_key
    from domain.customers import Customer

    handle(tally, project, "test", message("m1", "user.subscribed", **subscribed()))
    lines = [m.InvoiceLineInput(description="Book", unit_amount=1250)]
    draft = m.CreateInvoice(
        customer_id=Customer.create_id(project, "u1"), description="Order order_7", lines=lines
    )
    tally.execute(draft, Context(project, "broker", step_key("o1", "invoice")))
    items = [{"name": "Book", "unitAmount": 1250}]
    order = message("o1", "order.created", orderId="order_7", userId="u1", items=items)
    assert handle(tally, project, "test", order) == [
        ["invoice", "created", True],
        ["finalize", "changed", False],
    ]
    assert handle(tally, project, "test", order) == [
        ["invoice", "created", True],
        ["finalize", "changed", True],
    ]
    ordered = [n for n in _invoice_events(tally) if n.topic.endswith("Created")]
    finalized = [n for n in _invoice_events(tally) if n.topic.endswith("Finalized")]
    assert len(ordered) == 2  # the subscription's first invoice and the order's
    assert len(finalized) == 2
    register = m.RegisterCustomer(external_id="u2", currency="EUR", email="a@example.com")
    tally.execute(register, Context(project, "broker", step_key("m2", "customer")))
    done = handle(tally, project, "test", message("m2", "user.subscribed", **subscribed("u2")))
    assert done == [["customer", "existed", False], ["subscription", "created", False]]
    assert len(subscriptions_of(tally, project, "u2")) == 1
