"""What each inbound message does: its commands, run for the project of the queue it came
from as ONE command (``RunInboundMessage``) under one idempotency key derived from the
message id (``broker:<message id>``).

Everything a message's commands depend on is decided before anything runs: the plan's
prices (in the currency of the customer, or of the one it registers), the user's current
subscription, the provider of a checkout. The commands then run in one unit of work, so
a message that is refused anywhere (an unknown plan, an order that cannot be finalized)
records nothing at all: no customer registered without its subscription, no draft
invoice left behind.

The idempotency record keeps the digest of the message (its type and data, as read), so
a redelivered message replays its first answer, and a message id used again for another
message is refused with that reason (``idempotency_key_reused``) before anything is
resolved. A message begun before messages ran as one command (each step under
``broker:<id>:<step>``) finishes as it began: its recorded steps are replayed, and an
order drafted but not finalized is finalized under the step's own key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from adapters.outbox import provider_for
from api.auth import Caller
from api.calls import execute_and_call
from api.inbound import messages as im
from api.inbound.usage import record_usage
from api.routes.common import caught_up
from api.routes.subscriptions import plan_items
from api.tally import Tally
from commands import messages as m
from commands import provider_messages as pm
from commands.bus import Happened, Outcome
from commands.inbound_commands import RunInboundMessage
from domain.accounts import Account
from domain.customers import Customer
from domain.errors import IdempotencyKeyReused, NotFound
from domain.idempotency import IdempotencyRecord, request_hash

KEY_PREFIX = "broker"
ACTOR = "broker"

Steps = list[tuple[str, Any]]  # (name, command or what builds it from earlier answers)


def message_key(message_id: str) -> str:
    """The idempotency key of a message (scoped to the project by the bus)."""
    return f"{KEY_PREFIX}:{message_id}"


def step_key(message_id: str, step: str) -> str:
    """The key one step of a message had before messages ran as one command."""
    return f"{KEY_PREFIX}:{message_id}:{step}"


def handle(tally: Tally, project_id: UUID, mode: str, message: im.InboundMessage) -> list[Any]:
    """Run ``message`` for ``project_id``; what each step did, as ``[step, happened,
    replayed]`` lists. Raises the domain error of a refused message (nothing recorded)."""
    if isinstance(message.data, im.UsageRecorded):
        return record_usage(tally, project_id, message.data)  # not a command: no key
    caller = Caller(project_id, ACTOR, mode)
    command = RunInboundMessage(
        message_type=message.type, message=message.data.model_dump(mode="json")
    )
    key = message_key(message.id)
    found = _record(tally, project_id, key)
    if found is not None:
        outcome = _replayed(found, command, message.id)
    else:
        legacy = _legacy(tally, caller, message)
        if legacy is not None:
            return legacy
        steps = RESOLVERS[type(message.data)](tally, caller, message.data)
        outcome = execute_and_call(tally, caller, command.model_copy(update={"steps": steps}), key)
    return [[s["step"], s["happened"], outcome.replayed] for s in outcome.body["steps"]]


def _record(tally: Tally, project_id: UUID, key: str) -> IdempotencyRecord | None:
    record_id = IdempotencyRecord.create_id(project_id, key)
    repository = tally.store.repository
    if record_id not in repository:
        return None
    record: IdempotencyRecord = repository.get(record_id)
    return record


def _replayed(record: IdempotencyRecord, command: RunInboundMessage, message_id: str) -> Outcome:
    """The first answer to the message, or a refusal when this message is another one."""
    digest = request_hash(type(command).__name__, command.model_dump(mode="json"))
    if digest != record.request_hash:
        raise IdempotencyKeyReused(
            f"message id '{message_id}' was already used for a different message (another "
            "type or other data): give every message an id of its own",
            key=record.key,
        )
    return Outcome(Happened(record.happened), record.response, replayed=True)


# -- resolving a message's commands before any runs ---------------------------------------


def user_subscribed(tally: Tally, caller: Caller, data: Any) -> Steps:
    assert isinstance(data, im.UserSubscribed)
    customer_id = Customer.create_id(caller.project_id, data.user_id)
    known = (
        tally.store.repository.get(customer_id) if customer_id in tally.store.repository else None
    )
    # A known customer keeps its currency (registering it again changes nothing).
    currency = known.currency if isinstance(known, Customer) else data.currency
    items = plan_items(tally, caller, data.plan_code, currency, data.interval)
    register = m.RegisterCustomer(
        external_id=data.user_id, email=data.email, name=data.name, currency=data.currency
    )
    if data.checkout is None:
        subscribe: m.Command = m.CreateSubscription(
            customer_id=customer_id, items=items, trial_days=data.trial_days
        )
    else:
        subscribe = pm.CheckoutSubscription(
            provider=provider_for(tally, caller.project_id).name,
            customer_id=customer_id,
            items=items,
            trial_days=data.trial_days,
            success_url=data.checkout.success_url,
            cancel_url=data.checkout.cancel_url,
        )
    return [("customer", register), ("subscription", subscribe)]


def current_subscription(tally: Tally, caller: Caller, user_id: str) -> dict[str, Any]:
    """The user's current subscription (read model, caught up), or 404."""
    from projections.subscriptions import current_subscription as query

    caught_up(tally)
    row = query(tally.views, tally.schema, caller.project_id, user_id)
    if row is None:
        raise NotFound(f"user '{user_id}' has no current subscription", user_id=user_id)
    return row


def user_changed_plan(tally: Tally, caller: Caller, data: Any) -> Steps:
    assert isinstance(data, im.UserChangedPlan)
    sub = current_subscription(tally, caller, data.user_id)
    items = plan_items(tally, caller, data.plan_code, str(sub["currency"]), data.interval)
    change = m.ChangeSubscriptionItems(
        subscription_id=UUID(str(sub["id"])), items=items, proration=data.proration
    )
    return [("change", change)]


def user_unsubscribed(tally: Tally, caller: Caller, data: Any) -> Steps:
    assert isinstance(data, im.UserUnsubscribed)
    sub = current_subscription(tally, caller, data.user_id)
    cancel = m.CancelSubscription(
        subscription_id=UUID(str(sub["id"])), at_period_end=data.at_period_end
    )
    return [("cancel", cancel)]


def order_created(tally: Tally, caller: Caller, data: Any) -> Steps:
    assert isinstance(data, im.OrderCreated)
    customer_id = Customer.create_id(caller.project_id, data.user_id)
    lines = [
        m.InvoiceLineInput(
            description=item.description, quantity=item.quantity, unit_amount=item.unit_amount
        )
        for item in data.items
    ]
    draft = m.CreateInvoice(
        customer_id=customer_id, description=f"Order {data.order_id}", lines=lines
    )

    def finalize(answers: list[dict[str, Any]]) -> m.Command:
        return m.FinalizeInvoice(invoice_id=UUID(str(answers[0]["invoice"]["id"])))

    return [("invoice", draft), ("finalize", finalize)]


def wallet_deposit(tally: Tally, caller: Caller, data: Any) -> Steps:
    assert isinstance(data, im.WalletDeposit)
    account_id = data.account_id or Account.create_id(
        caller.project_id, str(data.user_id), data.currency
    )
    deposit = m.Deposit(
        account_id=account_id,
        amount=data.amount,
        currency=data.currency,
        source=data.source,
        description=data.description or "",
        external_ref=data.user_id or "",
    )
    return [("deposit", deposit)]


RESOLVERS: dict[type[Any], Callable[[Tally, Caller, Any], Steps]] = {
    im.UserSubscribed: user_subscribed,
    im.UserChangedPlan: user_changed_plan,
    im.UserUnsubscribed: user_unsubscribed,
    im.OrderCreated: order_created,
    im.WalletDeposit: wallet_deposit,
}

# -- messages begun step by step ------------------------------------------------------------

_LEGACY_STEPS = {
    "user.subscribed": ("customer", "subscription"),
    "user.changed.plan": ("change",),
    "user.unsubscribed": ("cancel",),
    "order.created": ("invoice", "finalize"),
    "wallet.deposit": ("deposit",),
}


def _legacy(tally: Tally, caller: Caller, message: im.InboundMessage) -> list[Any] | None:
    """A message whose first step was recorded under its own key before messages ran as
    one command: its recorded steps replayed and, for an order drafted but not finalized,
    the finalization under its step key; None for every other message. A subscription
    that was not created yet is created by the message as one command: registering the
    known customer again changes nothing."""
    names = _LEGACY_STEPS[message.type]
    records = [_record(tally, caller.project_id, step_key(message.id, n)) for n in names]
    if records[0] is None or (message.type == "user.subscribed" and records[1] is None):
        return None
    done = [[n, r.happened, True] for n, r in zip(names, records, strict=True) if r is not None]
    if message.type == "order.created" and records[1] is None:
        invoice_id = UUID(str(records[0].response["invoice"]["id"]))
        key = step_key(message.id, "finalize")
        outcome = execute_and_call(tally, caller, m.FinalizeInvoice(invoice_id=invoice_id), key)
        done.append(["finalize", outcome.happened.value, outcome.replayed])
    return done
