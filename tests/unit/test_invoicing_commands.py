"""The invoicing handlers through a real command bus on the library's in-memory store:
drafting, finalizing with numbers and credit, payments (wallet, stub provider, out of
band), void, credit notes, coupons, tax rates, and each refusal writing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest

from commands import messages as m
from domain.errors import (
    CouponUnavailable,
    CreditExceedsPaid,
    CurrencyMismatch,
    InsufficientFunds,
    InvalidTransition,
)
from domain.invoices import InvoiceEmpty, PaymentExceedsRemaining
from domain.tax import InvalidPercentage
from tests.unit.invoicing_world import InvoicingWorld


@pytest.fixture
def world() -> Iterator[InvoicingWorld]:
    w = InvoicingWorld()
    yield w
    w.bus.close()


def test_one_time_invoice_is_drafted_taxed_finalized_with_the_next_number(
    world: InvoicingWorld,
) -> None:
    vat = world.tax("20")
    customer = world.customer()
    world.run(m.ConfigureBilling(invoice_prefix="ACME"))
    first = world.draft(customer, 1000, 250, tax=vat)
    draft = world.body(
        m.AddInvoiceLine(
            invoice_id=first,
            line=m.InvoiceLineInput(description="setup", unit_amount=500, quantity=2),
        )
    )
    assert draft["invoice"]["status"] == "draft"
    assert draft["invoice"]["subtotal"] == 2250
    done = world.invoice(first)
    assert done["number"] == "ACME-2027-000001"
    assert (done["subtotal"], done["tax"], done["total"]) == (2250, 250, 2500)
    assert done["amount_due"] == done["amount_remaining"] == 2500
    assert done["status"] == "open"
    second = world.invoice(world.draft(customer, 100))
    assert second["number"] == "ACME-2027-000002"
    balances = world.balances()
    assert balances["revenue"] == 2350
    assert balances[f"tax_payable:{vat}"] == 250
    assert balances[f"receivable:{customer}"] == -2600


def test_line_is_removed_from_a_draft(world: InvoicingWorld) -> None:
    invoice = world.draft(world.customer(), 100, 200)
    draft = world.body(
        m.AddInvoiceLine(
            invoice_id=invoice, line=m.InvoiceLineInput(description="extra", unit_amount=50)
        )
    )
    removed = world.body(m.RemoveInvoiceLine(invoice_id=invoice, line_id=draft["line_id"]))
    assert removed["invoice"]["subtotal"] == 300


def test_finalizing_an_empty_invoice_is_refused_and_writes_nothing(world: InvoicingWorld) -> None:
    invoice = world.draft(world.customer())
    world.refused(InvoiceEmpty, m.FinalizeInvoice(invoice_id=invoice))


def test_editing_an_open_invoice_is_refused_and_writes_nothing(world: InvoicingWorld) -> None:
    invoice = world.draft(world.customer(), 100)
    world.invoice(invoice)
    line = m.InvoiceLineInput(description="late", unit_amount=10)
    world.refused(InvalidTransition, m.AddInvoiceLine(invoice_id=invoice, line=line))
    world.refused(InvalidTransition, m.FinalizeInvoice(invoice_id=invoice))


def test_paying_a_void_invoice_is_refused_and_writes_nothing(world: InvoicingWorld) -> None:
    invoice = world.draft(world.customer(), 100)
    world.invoice(invoice)
    voided = world.invoice(invoice, m.VoidInvoice(invoice_id=invoice))
    assert voided["status"] == "void"
    world.refused(
        InvalidTransition, m.PayInvoice(invoice_id=invoice, method="out_of_band", reference="x")
    )
    assert all(v == 0 for v in world.balances().values())


def test_tax_rate_outside_0_to_100_is_refused_and_writes_nothing(world: InvoicingWorld) -> None:
    world.refused(InvalidPercentage, m.DefineTaxRate(percentage="100.5"))
    world.refused(InvalidPercentage, m.DefineTaxRate(percentage="-3"))


def test_credit_balance_is_used_before_anything_is_charged(world: InvoicingWorld) -> None:
    customer = world.customer()
    world.run(m.AdjustCreditBalance(customer_id=UUID(customer), amount=700, reason="goodwill"))
    done = world.body(m.FinalizeInvoice(invoice_id=world.draft(customer, 1000)))
    assert done["invoice"]["credit_applied"] == 700
    assert done["invoice"]["amount_due"] == 300
    assert done["credit_balance"] == 0
    covered = world.body(m.AdjustCreditBalance(customer_id=UUID(customer), amount=5000))
    assert covered["billing"]["credit_balance"] == 5000
    paid = world.invoice(world.draft(customer, 800))
    assert paid["status"] == "paid"
    assert paid["amount_remaining"] == 0
    world.refused(
        InsufficientFunds, m.AdjustCreditBalance(customer_id=UUID(customer), amount=-4201)
    )
    assert world.balances()[f"customer_credit:{customer}"] == 4200


def test_wallet_payment_is_one_ledger_transaction_and_the_wallet_guard_applies(
    world: InvoicingWorld,
) -> None:
    customer = world.customer("u1")
    account = world.wallet("u1", 1500)
    invoice = world.draft(customer, 1000)
    world.invoice(invoice)
    world.refused(
        PaymentExceedsRemaining, m.PayInvoice(invoice_id=invoice, method="wallet", amount=1001)
    )
    paid = world.body(m.PayInvoice(invoice_id=invoice, method="wallet"))
    assert paid["invoice"]["status"] == "paid"
    assert paid["payment_attempt"]["account"]["available_balance"] == 500
    other = world.draft(customer, 600)
    world.invoice(other)
    world.refused(
        InsufficientFunds, m.PayInvoice(invoice_id=other, method="wallet", account_id=account)
    )
    wallet_entries = [
        e for e in world.entries() if any(p["account"] == f"wallet:{account}" for p in e)
    ]
    assert len(wallet_entries) == 2  # the deposit and the one payment entry
    assert world.balances()[f"receivable:{customer}"] == -600


def test_wallet_payment_refunded_to_the_original_payment_goes_back_to_the_wallet(
    world: InvoicingWorld,
) -> None:
    vat = world.tax("20")
    customer = world.customer("u1")
    account = world.wallet("u1", 1200)
    invoice = world.draft(customer, 1000, tax=vat)
    world.invoice(invoice)
    world.run(m.PayInvoice(invoice_id=invoice, method="wallet"))
    note = world.body(
        m.CreateCreditNote(
            invoice_id=invoice, amount=600, reason="partial", refund_to="original_payment"
        )
    )
    assert note["transaction"]["to"] == f"wallet:{account}"
    assert note["invoice"]["amount_refunded"] == 600
    world.refused(
        CreditExceedsPaid,
        m.CreateCreditNote(invoice_id=invoice, amount=601, refund_to="original_payment"),
    )
    balances = world.balances()
    assert balances[f"wallet:{account}"] == 600
    assert balances["revenue"] == 500
    assert balances[f"tax_payable:{vat}"] == 100
    assert balances[f"receivable:{customer}"] == 0


def test_credit_more_than_was_paid_is_refused_and_writes_nothing(world: InvoicingWorld) -> None:
    customer = world.customer()
    invoice = world.draft(customer, 1000)
    world.invoice(invoice)
    world.card(customer)
    world.run(m.PayInvoice(invoice_id=invoice, method="provider", provider="stub", amount=400))
    world.refused(
        CreditExceedsPaid,
        m.CreateCreditNote(invoice_id=invoice, amount=401, refund_to="credit_balance"),
    )
    world.refused(
        CreditExceedsPaid, m.CreateCreditNote(invoice_id=invoice, amount=601, refund_to="none")
    )
    note = world.body(m.CreateCreditNote(invoice_id=invoice, refund_to="none", reason="waive"))
    assert note["invoice"]["status"] == "paid"
    assert note["credit_note"]["amount"] == 600
    refund = world.body(m.CreateCreditNote(invoice_id=invoice, refund_to="credit_balance"))
    assert refund["credit_balance"] == 400
    balances = world.balances()
    assert balances["revenue"] == 0
    assert balances[f"customer_credit:{customer}"] == 400
    assert balances["clearing:stub"] == -400


def test_promotion_code_past_its_redemption_limit_is_refused_and_writes_nothing(
    world: InvoicingWorld,
) -> None:
    customer = world.customer()
    world.run(m.DefineCoupon(code="TENOFF", percent_off="10"))
    world.run(m.DefinePromotionCode(code="spring", coupon_code="TENOFF", max_redemptions=1))
    first = world.draft(customer, 1000)
    applied = world.body(m.ApplyCoupon(invoice_id=first, promotion_code="SPRING"))
    assert applied["invoice"]["discount"] == 100
    assert applied["coupon"]["times_redeemed"] == 1
    assert world.invoice(first)["total"] == 900
    second = world.draft(customer, 1000)
    world.refused(CouponUnavailable, m.ApplyCoupon(invoice_id=second, promotion_code="SPRING"))
    world.run(m.DefineCoupon(code="ONCE", amount_off=300, currency="EUR", max_redemptions=1))
    world.run(m.ApplyCoupon(invoice_id=second, coupon_code="ONCE"))
    third = world.draft(customer, 1000)
    world.refused(CouponUnavailable, m.ApplyCoupon(invoice_id=third, coupon_code="ONCE"))
    world.run(m.DefineCoupon(code="USD5", amount_off=500, currency="USD"))
    world.refused(CurrencyMismatch, m.ApplyCoupon(invoice_id=third, coupon_code="USD5"))


def test_fixed_coupon_never_makes_a_total_negative(world: InvoicingWorld) -> None:
    customer = world.customer()
    world.run(m.DefineCoupon(code="BIG", amount_off=10_000, currency="EUR"))
    invoice = world.draft(customer, 700)
    world.run(m.ApplyCoupon(invoice_id=invoice, coupon_code="BIG"))
    done = world.invoice(invoice)
    assert (done["discount"], done["total"], done["status"]) == (700, 0, "paid")


def test_void_gives_back_the_credit_the_invoice_used(world: InvoicingWorld) -> None:
    customer = world.customer()
    world.run(m.AdjustCreditBalance(customer_id=UUID(customer), amount=300))
    invoice = world.draft(customer, 1000)
    world.invoice(invoice)
    voided = world.body(m.VoidInvoice(invoice_id=invoice))
    assert voided["credit_balance"] == 300
    balances = world.balances()
    assert balances[f"receivable:{customer}"] == 0
    assert balances[f"customer_credit:{customer}"] == 300


def test_uncollectible_invoice_is_paid_out_of_band_later(world: InvoicingWorld) -> None:
    invoice = world.draft(world.customer(), 1000)
    world.invoice(invoice)
    marked = world.invoice(invoice, m.MarkInvoiceUncollectible(invoice_id=invoice))
    assert marked["status"] == "uncollectible"
    paid = world.invoice(
        invoice, m.PayInvoice(invoice_id=invoice, method="out_of_band", reference="bank-123")
    )
    assert paid["status"] == "paid"
    assert paid["payments"][0]["reference"] == "bank-123"
    assert world.balances()["clearing:out_of_band"] == -1000
