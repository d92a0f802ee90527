"""Provider customers: made once per (Tally customer, provider), before what needs them.

Stripe and Paddle keep customer objects; a checkout, an off-session charge or a saved
payment method belongs to one. When a command needs the provider's customer of a Tally
customer that has no reference there yet, it asks for a ``create_customer`` provider
call (``request_customer``) and names that call in its own call's params
(``customer_call``). The outbox makes the customer first, records the answer with
``RecordProviderCustomer`` (which links the reference to the Tally customer in the same
transaction: ``Customer.ProviderLinked``), and only then makes the dependent call with
the new reference; while the customer call is pending the dependent one is deferred
(``DeferProviderCall``).

The stub and YooKassa keep no customers (their adapters' ``create_customer`` only echo an
id), so for them Tally's customer id is the reference and nothing is called.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.messages import Command, Text
from domain.customers import Customer
from domain.errors import ValidationFailed
from domain.provider_call_params import CreateCustomerParams
from domain.provider_calls import FAILED, FIRST_RETRY_S, SUCCEEDED, ProviderCall

# Providers whose API has customer objects that Tally must create before using them.
KEEPS_CUSTOMERS = ("stripe", "paddle")
# A refused create_customer (say, Paddle refusing an email address) is final for its
# call; after the team fixed the customer, the next checkout asks again under the next
# generation's id. Bounded so that a customer the provider always refuses stops asking.
MAX_GENERATIONS = 20


class RecordProviderCustomer(Command):
    """The outbox's report of a ``create_customer`` call (like RecordProviderCallOutcome)."""

    call_id: UUID
    outcome: Annotated[str, Field(pattern="^(succeeded|retry|failed)$")]
    result: dict[str, Any] = Field(default_factory=dict)
    error_code: Annotated[str, Field(max_length=60)] = ""
    error: Text = ""


class DeferProviderCall(Command):
    """Put a call off until the ``create_customer`` call it needs has answered."""

    call_id: UUID
    waits_for: UUID


def customer_call_id(project_id: UUID, provider: str, customer_id: UUID, generation: int) -> UUID:
    return ProviderCall.create_id(
        project_id, "create_customer", f"{provider}:{customer_id}:{generation}"
    )


def provider_customer(
    uow: UnitOfWork, ctx: Context, customer: Customer | None, provider: str
) -> tuple[str | None, ProviderCall | None]:
    """``(reference, None)`` when the provider's customer is known (or not needed),
    ``(None, call)`` when the caller must wait for ``call`` (requested here if new)."""
    if customer is None:
        return None, None
    linked = customer.provider_refs.get(provider)
    if linked:
        return linked, None
    if provider not in KEEPS_CUSTOMERS:
        return str(customer.id), None
    if provider == "paddle" and not customer.email:
        # Paddle cannot make a customer without an email address; its checkout asks the
        # buyer for one and makes the customer itself (customer.created links it).
        return None, None
    call = _current_call(uow, ctx, customer, provider)
    if call.state == SUCCEEDED and call.result.get("customer_ref"):
        return str(call.result["customer_ref"]), None
    return None, call


def _current_call(uow: UnitOfWork, ctx: Context, customer: Customer, provider: str) -> ProviderCall:
    """The customer's create_customer call that is pending or succeeded, or a new one
    (after the failed generations)."""
    for generation in range(1, MAX_GENERATIONS + 1):
        call_id = customer_call_id(ctx.project_id, provider, customer.id, generation)
        call = uow.find(ProviderCall, call_id)
        if call is None:
            return _request(uow, ctx, customer, provider, generation)
        if call.state != FAILED:
            return call
    raise ValidationFailed(
        f"{provider} refused to create customer {customer.id} {MAX_GENERATIONS} times; "
        "see GET /v1/provider_calls",
        customer_id=str(customer.id),
    )


def _request(
    uow: UnitOfWork, ctx: Context, customer: Customer, provider: str, generation: int
) -> ProviderCall:
    assert ctx.now is not None
    call = ProviderCall.request(
        project_id=ctx.project_id,
        provider=provider,
        subject=f"{provider}:{customer.id}:{generation}",
        params=CreateCustomerParams(
            customer_id=str(customer.id),
            email=customer.email,
            name=customer.name,
            references={
                "tally_project": str(ctx.project_id),
                "tally_customer": str(customer.id),
            },
        ),
        now=ctx.now,
    )
    uow.add(call)
    return call


@dataclass(frozen=True)
class NamedCustomer:
    """How a call's params name the provider's customer: its reference, or, while it is
    not made yet, the Tally customer and the ``create_customer`` call to wait for (the
    outbox fills in the reference). All None: the call has no customer."""

    customer_ref: str | None
    customer_id: str | None = None
    customer_call: str | None = None


def named_customer(
    uow: UnitOfWork, ctx: Context, customer: Customer | None, provider: str
) -> NamedCustomer:
    """``provider_customer``'s answer, as a call's params name it."""
    reference, waits = provider_customer(uow, ctx, customer, provider)
    if customer is None or waits is None:
        return NamedCustomer(customer_ref=reference)
    return NamedCustomer(
        customer_ref=None, customer_id=str(customer.id), customer_call=str(waits.id)
    )


def request_customer(uow: UnitOfWork, ctx: Context, customer: Customer, provider: str) -> None:
    """Make sure the provider will have this customer (for a payment method saved now
    and charged later), without anything waiting for it."""
    provider_customer(uow, ctx, customer, provider)


# -- the outbox's reports ------------------------------------------------------------


def record_customer(uow: UnitOfWork, cmd: RecordProviderCustomer, ctx: Context) -> Result:
    assert ctx.now is not None
    call = uow.get(ProviderCall, cmd.call_id, ctx.project_id)
    params = call.request_params
    if not isinstance(params, CreateCustomerParams):
        raise ValidationFailed(f"provider call {call.id} is a {call.operation}")
    customer = uow.get(Customer, UUID(params.customer_id), ctx.project_id)
    reference = str(cmd.result.get("customer_ref") or "")
    if call.pending and cmd.outcome == "succeeded" and not reference:
        raise ValidationFailed("a created customer needs its customer_ref")
    if call.pending:
        if cmd.outcome == "retry":
            call.retry_later(cmd.error_code, cmd.error, ctx.now)
        elif cmd.outcome == "succeeded":
            call.succeed({"customer_ref": reference}, ctx.now)
        else:
            call.fail(cmd.error_code, cmd.error)
    made = str(call.result.get("customer_ref") or "")
    # The first reference wins: a later answer (the same one, normally) or a second
    # report of this one never moves a customer Tally already linked.
    if made and not customer.provider_refs.get(call.provider):
        customer.link_provider(call.provider, made)
    return Result.changed({"provider_call": call.summary(), "customer": customer.summary()})


def defer_call(uow: UnitOfWork, cmd: DeferProviderCall, ctx: Context) -> Result:
    assert ctx.now is not None
    call = uow.get(ProviderCall, cmd.call_id, ctx.project_id)
    needed = uow.get(ProviderCall, cmd.waits_for, ctx.project_id)
    # Only while both are pending: if the customer call answered meanwhile, the next
    # pass makes this call at once instead.
    if call.pending and needed.pending:
        call.wait_for(needed.id, _not_before(needed.next_attempt_at, ctx.now), _why(needed))
    return Result.changed({"provider_call": call.summary()})


def _not_before(when: datetime | None, now: datetime) -> datetime:
    # A time already past would make the call due again at once and the outbox spin.
    return when if when is not None and when > now else now + timedelta(seconds=FIRST_RETRY_S)


def _why(needed: ProviderCall) -> str:
    last = f" (last: {needed.error_code})" if needed.error_code else ""
    return f"waiting for create_customer call {needed.id}{last}"


HANDLERS: dict[type[Any], Handler] = {
    RecordProviderCustomer: record_customer,
    DeferProviderCall: defer_call,
}
