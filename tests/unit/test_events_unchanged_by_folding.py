"""Applying an aggregate's events leaves the events as they were (tests/unit/event_folds.py
says why it matters): an ``@event`` body that keeps a list or dict of its event copies it
before it changes it later."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.eventstore import TallyStore
from commands import messages as m
from tests.unit.event_folds import changed_by_folding, changed_by_folding_stored
from tests.unit.invoicing_world import InvoicingWorld
from tests.unit.test_credits import START, _run, fresh, step_st
from tests.unit.test_invoices_domain import NOW, _invoice, _sequence
from tests.unit.test_invoicing_properties import OPS, Books

MAPPER = TallyStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper


def test_a_credit_note_refunding_a_payment_leaves_the_payments_event_as_recorded() -> None:
    # h16e's case: the invoice's payment dict came from PaymentRecorded, and Credited's
    # body added the refund to it, so a second fold of the same events refunded twice.
    w = InvoicingWorld()
    try:
        customer = w.customer("c0")
        w.wallet("c0", 20_000)
        invoice = w.draft(customer, 1500, 400)
        w.run(m.FinalizeInvoice(invoice_id=invoice))
        w.run(m.PayInvoice(invoice_id=invoice, method="wallet", amount=None, reference="r"))
        for amount in (600, 400):
            w.run(
                m.CreateCreditNote(invoice_id=invoice, refund_to="original_payment", amount=amount)
            )
        assert changed_by_folding(w.app) == []
    finally:
        w.bus.close()


def test_a_payment_refunded_before_its_event_is_encoded_is_stored_as_it_was_paid() -> None:
    # The bus encodes a batch's events when the batch is sealed, so a payment and a credit
    # note refunding it in one batch (two callers of the same invoice) were one dict: its
    # PaymentRecorded was stored already refunded, and every load refunded it again.
    invoice = _invoice(1000)
    invoice.finalize(_sequence(), 0, NOW)
    invoice.pay(1000, "wallet:w", "p", NOW)
    invoice.credit("cn", 600, "", "original_payment", "", NOW, payment_id="pay_1")
    stored = [MAPPER.to_stored_event(e) for e in invoice.collect_events()]
    paid = [MAPPER.to_domain_event(s) for s in stored if s.topic.endswith(".PaymentRecorded")]
    assert [e.payment["refunded"] for e in paid] == [0]
    again: Any = None
    for s in stored:
        again = MAPPER.to_domain_event(s).mutate(again)
    assert again.payments == invoice.payments
    assert again.payments[0]["refunded"] == 600


def test_a_payment_stored_already_refunded_by_an_older_tally_is_loaded_as_recorded() -> None:
    # A log written before the copy (ec0851e) may hold such a PaymentRecorded: a payment and
    # a credit note refunding it in one batch. Its load must count the refund once.
    invoice = _invoice(1000)
    invoice.finalize(_sequence(), 0, NOW)
    invoice.pay(1000, "wallet:w", "p", NOW)
    invoice.credit("cn", 600, "", "original_payment", "", NOW, payment_id="pay_1")
    events = invoice.collect_events()
    for e in events:
        if type(e).__name__ == "PaymentRecorded":
            e.payment["refunded"] = 600  # as the old bus stored it
    stored = [MAPPER.to_stored_event(e) for e in events]
    again: Any = None
    for s in stored:
        again = MAPPER.to_domain_event(s).mutate(again)
    assert again.payments[0]["refunded"] == 600
    assert again.amount_refunded == 600


# The lifecycles of test_invoicing_properties, with more payments of the latest invoices
# and refunds of them, so that most examples refund a payment.
STEPS = st.one_of(
    OPS,
    st.tuples(
        st.just("pay"), st.integers(0, 1), st.sampled_from(["wallet", "provider"]), st.none()
    ),
    st.tuples(
        st.just("credit"), st.integers(0, 1), st.just("original_payment"), st.integers(1, 900)
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEPS, min_size=10, max_size=40))
def test_random_invoice_lifecycles_leave_every_event_as_recorded(
    ops: list[tuple[Any, ...]],
) -> None:
    """Invoices, their dunning, customers' billing records, wallets and transactions,
    subscriptions on a test clock, provider calls and payment methods."""
    books = Books()
    try:
        for op in ops:
            books.run(op)
        assert changed_by_folding(books.world.app) == []
    finally:
        books.world.bus.close()


@settings(max_examples=50, deadline=None)
@given(steps=st.lists(st.tuples(step_st, st.integers(0, 40)), max_size=30))
def test_random_credit_balances_leave_every_event_as_recorded(
    steps: list[tuple[tuple[Any, ...], int]],
) -> None:
    """A customer's prepaid credits (test_credits' steps: grants, consumptions, invoices'
    uses and their restores, voids, expiries, refunds, retirements): its body keeps grants
    and changes them later."""
    balance = fresh()
    now = START
    for n, (step, days) in enumerate(steps):
        now += timedelta(days=days)
        _run(balance, step, now, n)
    stored = [MAPPER.to_stored_event(e) for e in balance.collect_events()]
    assert changed_by_folding_stored(MAPPER, stored) == []
