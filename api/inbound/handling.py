"""What each inbound message does: the commands it runs, in order, each under an
idempotency key derived from the message id (``broker:<message id>:<step>``), in the
project of the queue it came from.

A message may take more than one command (``user.subscribed`` registers the customer,
then subscribes it; ``order.created`` drafts an invoice, then finalizes it). Each step is
a command of its own with a key of its own, so a message redelivered after a crash
between two steps replays the steps already written (same answer, nothing new) and runs
the rest: the message has one effect however often it arrives.

A step whose command is built from the read models (the user's current subscription,
the plan's prices) is looked up in the idempotency records first: once written, its
stored answer is the step's answer, whatever the read models say now (a redelivered
``user.unsubscribed`` finds no current subscription any more, but its cancellation is
recorded under its key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from adapters.outbox import provider_for
from api.auth import Caller
from api.calls import execute_and_call
from api.inbound import messages as im
from api.routes.common import caught_up
from api.routes.subscriptions import plan_items
from api.tally import Tally
from commands import messages as m
from commands import provider_messages as pm
from commands.bus import Happened, Outcome
from domain.accounts import Account
from domain.customers import Customer
from domain.errors import NotFound
from domain.idempotency import IdempotencyRecord

KEY_PREFIX = "broker"
ACTOR = "broker"


def step_key(message_id: str, step: str) -> str:
    """The idempotency key of one step of a message (scoped to the project by the bus)."""
    return f"{KEY_PREFIX}:{message_id}:{step}"


@dataclass
class Steps:
    """Runs a message's commands for its project, one key per step, and keeps what each
    answered."""

    tally: Tally
    caller: Caller
    message_id: str
    done: list[tuple[str, Outcome]] = field(default_factory=list)

    def run(self, step: str, command: m.Command) -> Outcome:
        key = step_key(self.message_id, step)
        outcome = execute_and_call(self.tally, self.caller, command, key)
        self.done.append((step, outcome))
        return outcome

    def recorded(self, step: str) -> Outcome | None:
        """The stored answer of a step already written, or None."""
        key = step_key(self.message_id, step)
        record_id = IdempotencyRecord.create_id(self.caller.project_id, key)
        repository = self.tally.store.repository
        if record_id not in repository:
            return None
        record: IdempotencyRecord = repository.get(record_id)
        outcome = Outcome(Happened(record.happened), record.response, replayed=True)
        self.done.append((step, outcome))
        return outcome


def handle(tally: Tally, project_id: UUID, mode: str, message: im.InboundMessage) -> list[Any]:
    """Run ``message`` for ``project_id``; what each step did, as ``[step, happened,
    replayed]`` lists. Raises the domain error of a refused step."""
    steps = Steps(tally, Caller(project_id, ACTOR, mode), message.id)
    HANDLERS[type(message.data)](steps, message.data)
    return [[step, o.happened.value, o.replayed] for step, o in steps.done]


def user_subscribed(steps: Steps, data: Any) -> None:
    assert isinstance(data, im.UserSubscribed)
    registered = steps.run(
        "customer",
        m.RegisterCustomer(
            external_id=data.user_id, email=data.email, name=data.name, currency=data.currency
        ),
    )
    if steps.recorded("subscription") is not None:
        return
    customer = registered.body["customer"]
    customer_id = UUID(str(customer["id"]))
    items = plan_items(
        steps.tally, steps.caller, data.plan_code, str(customer["currency"]), data.interval
    )
    if data.checkout is None:
        command: m.Command = m.CreateSubscription(
            customer_id=customer_id, items=items, trial_days=data.trial_days
        )
    else:
        command = pm.CheckoutSubscription(
            provider=provider_for(steps.tally, steps.caller.project_id).name,
            customer_id=customer_id,
            items=items,
            trial_days=data.trial_days,
            success_url=data.checkout.success_url,
            cancel_url=data.checkout.cancel_url,
        )
    steps.run("subscription", command)


def current_subscription(steps: Steps, user_id: str) -> dict[str, Any]:
    """The user's current subscription (read model, caught up), or 404."""
    from projections.subscriptions import current_subscription as query

    caught_up(steps.tally)
    row = query(steps.tally.views, steps.tally.schema, steps.caller.project_id, user_id)
    if row is None:
        raise NotFound(f"user '{user_id}' has no current subscription", user_id=user_id)
    return row


def user_changed_plan(steps: Steps, data: Any) -> None:
    assert isinstance(data, im.UserChangedPlan)
    if steps.recorded("change") is not None:
        return
    sub = current_subscription(steps, data.user_id)
    items = plan_items(
        steps.tally, steps.caller, data.plan_code, str(sub["currency"]), data.interval
    )
    steps.run(
        "change",
        m.ChangeSubscriptionItems(
            subscription_id=UUID(str(sub["id"])), items=items, proration=data.proration
        ),
    )


def user_unsubscribed(steps: Steps, data: Any) -> None:
    assert isinstance(data, im.UserUnsubscribed)
    if steps.recorded("cancel") is not None:
        return
    sub = current_subscription(steps, data.user_id)
    steps.run(
        "cancel",
        m.CancelSubscription(
            subscription_id=UUID(str(sub["id"])), at_period_end=data.at_period_end
        ),
    )


def order_created(steps: Steps, data: Any) -> None:
    assert isinstance(data, im.OrderCreated)
    customer_id = Customer.create_id(steps.caller.project_id, data.user_id)
    lines = [
        m.InvoiceLineInput(
            description=item.description, quantity=item.quantity, unit_amount=item.unit_amount
        )
        for item in data.items
    ]
    drafted = steps.run(
        "invoice",
        m.CreateInvoice(customer_id=customer_id, description=f"Order {data.order_id}", lines=lines),
    )
    invoice_id = UUID(str(drafted.body["invoice"]["id"]))
    steps.run("finalize", m.FinalizeInvoice(invoice_id=invoice_id))


def wallet_deposit(steps: Steps, data: Any) -> None:
    assert isinstance(data, im.WalletDeposit)
    account_id = data.account_id or Account.create_id(
        steps.caller.project_id, str(data.user_id), data.currency
    )
    steps.run(
        "deposit",
        m.Deposit(
            account_id=account_id,
            amount=data.amount,
            currency=data.currency,
            source=data.source,
            description=data.description or "",
            external_ref=data.user_id or "",
        ),
    )


HANDLERS: dict[type[Any], Callable[[Steps, Any], None]] = {
    im.UserSubscribed: user_subscribed,
    im.UserChangedPlan: user_changed_plan,
    im.UserUnsubscribed: user_unsubscribed,
    im.OrderCreated: order_created,
    im.WalletDeposit: wallet_deposit,
}
