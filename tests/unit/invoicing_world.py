"""``InvoicingWorld``: a billing world (``tests/unit/billing_world.py``) with the invoicing,
payment and dunning handlers on a real command bus over the library's in-memory store,
the stub provider behind a real outbox, and helpers that run a command and read what it
recorded. The invoicing unit tests (``test_invoicing_commands`` and those beside it)
drive it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import AggregateNotFoundError

from adapters.outbox import Outbox
from adapters.outbox_claims import LocalClaims
from adapters.providers.stub import SUCCEEDS, StubProvider, payment_method_for
from api.advance import advance_through_calls
from commands import (
    billing_setup,
    invoice_payments,
    invoicing,
    payment_methods,
    provider_calls,
    subscription_invoices,
)
from commands import messages as m
from commands import provider_messages as pm
from commands.bus import CommandBus, Context, Outcome
from domain.charge_attempts import charge_attempt
from domain.clock import Clock
from domain.dunning import InvoiceDunning
from projections.payment_answers import payment_answer
from tests.unit.billing_world import World


class StubDirectory:
    """The provider directory as the outbox sees it: every project uses the stub."""

    default_name = "stub"

    def __init__(self, clock: Clock) -> None:
        self.default = StubProvider(webhook_secret="whsec_unit", clock=clock)

    def for_project(self, project_id: UUID, settings: dict[str, Any] | None) -> StubProvider:
        return self.default


class InvoicingWorld(World):
    """The billing world with the invoicing handlers registered too, and the outbox's
    part played as the API plays it: every provider call a command asked for is made
    (by the real ``Outbox.attempt``, against the stub) right after the command, and a
    payment's answer says how its charge went."""

    def __init__(self, mode: str = "test") -> None:
        super().__init__(mode)
        handlers = {
            **self.bus.handlers,
            **invoicing.HANDLERS,
            **subscription_invoices.HANDLERS,
            **invoice_payments.HANDLERS,
            **billing_setup.HANDLERS,
            **payment_methods.HANDLERS,
            **provider_calls.HANDLERS,
        }
        self.bus.close()
        self.bus = CommandBus(self.app, handlers, self.clock)
        self.store = self.app  # what the outbox reads aggregates from
        self.providers = StubDirectory(self.clock)
        self.outbox = Outbox(self, claims=LocalClaims())
        self.provider_up = True

    def execute(self, command: m.Command, ctx: Context) -> Outcome:
        return self.bus.execute(command, ctx)

    def run(self, command: m.Command, key: str | None = None) -> Outcome:
        if isinstance(command, m.AdvanceTestClock) and self.provider_up:
            return advance_through_calls(
                lambda cmd, first: super(InvoicingWorld, self).run(cmd, key if first else None),
                lambda call_id: self.outbox.attempt(self.project_id, call_id),
                command,
            )
        before = self.head()
        outcome = super().run(command, key)
        if self.provider_up and self.make_calls(before) and "payment_attempt" in outcome.body:
            outcome = replace(outcome, body=self.charged(outcome.body))
        return outcome

    def charged(self, body: dict[str, Any]) -> dict[str, Any]:
        """A payment's answer after its charge was made, as the pay route reads it
        (``projections.payment_answers``), from the aggregates in the store."""
        invoice = self.app.repository.get(UUID(body["invoice"]["id"]))
        found = self.app.repository.get
        try:
            dunning = found(InvoiceDunning.create_id(invoice.id))
        except AggregateNotFoundError:
            dunning = None
        attempt = body["payment_attempt"]
        if attempt is not None and attempt.get("provider_call_id"):
            call = found(UUID(attempt["provider_call_id"]))
            attempt = charge_attempt(call, int(attempt["attempt"]))
        sub = found(invoice.subscription_id) if invoice.subscription_id else None
        return payment_answer(invoice, dunning, attempt, sub)

    def make_calls(self, after: int = 0) -> int:
        """Make the provider calls requested after position ``after``, and those their
        answers asked for (a refund of a charge that came too late); how many."""
        made = 0
        while after < self.head():
            start, after = after, self.head()
            for n in self.app.recorder.select_notifications(
                start=start + 1, limit=1_000_000, stop=after
            ):
                if n.topic == "tally:ProviderCall.Requested":
                    self.outbox.attempt(self.project_id, UUID(str(n.originator_id)))
                    made += 1
        return made

    def card(self, customer: str, number: str = SUCCEEDS) -> None:
        """Give the customer a default stub card (``stub_pm_<number>``)."""
        self.run(
            pm.AttachPaymentMethod(
                provider="stub",
                customer_id=UUID(customer),
                payment_method=payment_method_for(number),
                make_default=True,
            )
        )

    def head(self) -> int:
        return int(self.app.recorder.max_notification_id() or 0)

    def refused(self, error: type[Exception], command: m.Command) -> None:
        """``command`` is refused with ``error`` and writes nothing."""
        before = self.head()
        with pytest.raises(error):
            self.run(command)
        assert self.head() == before

    def tax(self, percentage: str = "20", inclusive: bool = False) -> UUID:
        body = self.body(m.DefineTaxRate(percentage=percentage, inclusive=inclusive))
        return UUID(body["tax_rate"]["id"])

    def draft(self, customer: str, *amounts: int, tax: UUID | None = None) -> UUID:
        lines = [
            m.InvoiceLineInput(
                description=f"item {i}", unit_amount=a, tax_rate_ids=[tax] if tax else []
            )
            for i, a in enumerate(amounts)
        ]
        body = self.body(m.CreateInvoice(customer_id=UUID(customer), lines=lines))
        return UUID(body["invoice"]["id"])

    def invoice(self, invoice_id: UUID, command: m.Command | None = None) -> dict[str, Any]:
        return dict(self.body(command or m.FinalizeInvoice(invoice_id=invoice_id))["invoice"])

    def wallet(self, customer_external_id: str, amount: int) -> UUID:
        body = self.body(m.OpenAccount(owner_ref=customer_external_id, currency="EUR"))
        account = UUID(body["account"]["id"])
        self.run(m.Deposit(account_id=account, amount=amount, currency="EUR", source="stub"))
        return account

    def entries(self) -> list[list[dict[str, Any]]]:
        """Every journal entry any event of the store carries."""
        found = []
        for n in self.app.recorder.select_notifications(start=1, limit=1_000_000):
            event = self.app.mapper.to_domain_event(n)
            entry = getattr(event, "entry", None)
            if entry:
                found.append(entry)
        return found

    def balances(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for entry in self.entries():
            assert sum(p["amount"] for p in entry) == 0, entry
            for posting in entry:
                totals[posting["account"]] += posting["amount"]
        return dict(totals)
