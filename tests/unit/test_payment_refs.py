"""A provider payment's reference is of the kind that provider's refunds name (issue 18,
item 1): ``domain/payment_refs.py``, checked by the invoice when it records a provider
payment and by a provider call when a webhook notes its payment. A Stripe invoice id
``in_...`` (what Tally recorded for ``invoice.paid`` before) is refused, a PaymentIntent
taken; nothing is recorded by a refusal."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import WrongPaymentReference
from domain.payment_refs import check_payment_ref, is_payment_ref
from domain.provider_call_params import ChargeParams
from domain.provider_calls import ProviderCall
from tests.unit.test_invoices_domain import _invoice, _sequence

NOW = datetime(2030, 1, 1, tzinfo=UTC)
TAKEN = [
    ("stripe", "pi_3MtwBwLkdIwHu7ix28a3tqPa"),
    ("stripe", "ch_3MtwBwLkdIwHu7ix0snN0B15"),
    ("stripe", "py_1Pgc72B7WZ01zgkWqPvrRrPE"),
    ("paddle", "txn_01h04vsbhqc62t8hmd4z3b578c"),
    ("yookassa", "2d6a1f2e-000f-5000-8000-1a2b3c4d5e6f"),
    ("stub", "stub_pi_0123456789abcdef01234567"),
    ("stub", "pi_1"),
    ("acme", "anything at all"),  # a provider Tally has no format for is not checked
]
REFUSED = [
    ("stripe", "in_1Pgc6tB7WZ01zgkWu9fdqL6I"),  # the invoice, not its payment
    ("stripe", "cs_test_a1b2c3"),  # a checkout session
    ("stripe", "evt_1Pgc76B7WZ01zgkWwyRHS12y"),  # an event
    ("stripe", "pi_"),
    ("paddle", "sub_01h04vsbhqc62t8hmd4z3b578c"),  # a subscription
    ("paddle", "paymtd_01h04vsbhqc62t8hmd4z3b5"),  # a saved method
    ("yookassa", "../payments/2d6a1f2e"),
    ("stub", "in_1"),
]


@pytest.mark.parametrize(("provider", "reference"), TAKEN)
def test_a_payment_of_the_providers_kind_is_taken(provider: str, reference: str) -> None:
    check_payment_ref(provider, reference)


@pytest.mark.parametrize(("provider", "reference"), REFUSED)
def test_an_id_of_another_kind_is_refused(provider: str, reference: str) -> None:
    with pytest.raises(WrongPaymentReference) as refused:
        check_payment_ref(provider, reference)
    assert refused.value.code == "invalid_payment_reference"


@given(st.from_regex(r"[a-z]{1,8}_[A-Za-z0-9]{1,30}", fullmatch=True))
def test_a_stripe_id_is_a_payment_exactly_when_its_prefix_is_pi_ch_or_py(reference: str) -> None:
    prefix = reference.split("_", 1)[0]
    assert is_payment_ref("stripe", reference) == (prefix in ("pi", "ch", "py"))


def test_an_invoice_refuses_a_stripe_invoice_id_as_its_provider_payment() -> None:
    invoice = _invoice(1000)
    invoice.finalize(_sequence(), 0, NOW)
    version, owed = invoice.version, invoice.amount_remaining
    with pytest.raises(WrongPaymentReference):
        invoice.pay(owed, "clearing:stripe", "in_1Pgc6tB7WZ01zgkWu9fdqL6I", NOW, method="provider")
    assert (invoice.version, invoice.status, invoice.payments) == (version, "open", [])
    invoice.pay(owed, "clearing:stripe", "pi_3MtwBwLkdIwHu7ix28a3tqPa", NOW, method="provider")
    assert invoice.status == "paid"
    # An out-of-band payment's reference is the caller's own words.
    other = _invoice(500)
    other.finalize(_sequence(), 0, NOW)
    other.pay(other.amount_remaining, "clearing:out_of_band", "wire 2030-01-01", NOW)
    assert other.status == "paid"


def test_a_provider_call_refuses_to_note_a_payment_of_another_kind() -> None:
    params = ChargeParams("cus_1", "pm_1", 1000, "EUR")
    call = ProviderCall.request(
        project_id=uuid4(), provider="stripe", subject="s", params=params, now=NOW
    )
    with pytest.raises(WrongPaymentReference):
        call.note_payment("in_1Pgc6tB7WZ01zgkWu9fdqL6I")
    assert call.payment_ref == ""
    call.note_payment("pi_3MtwBwLkdIwHu7ix28a3tqPa")
    assert call.payment_ref == "pi_3MtwBwLkdIwHu7ix28a3tqPa"


def test_a_provider_payment_without_a_reference_is_not_refunded_through_the_provider() -> None:
    from domain.credit_notes import check_credit
    from domain.errors import NotRefundable

    invoice = _invoice(1000)
    invoice.finalize(_sequence(), 0, NOW)
    owed = invoice.amount_remaining
    invoice.pay(owed, "clearing:stripe", "", NOW, method="provider")
    with pytest.raises(NotRefundable):
        check_credit(invoice, 100, "original_payment")
    assert check_credit(invoice, 100, "credit_balance") is None
    paid = _invoice(1000)
    paid.finalize(_sequence(), 0, NOW)
    paid.pay(
        paid.amount_remaining,
        "clearing:stripe",
        "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        NOW,
        method="provider",
    )
    assert check_credit(paid, 100, "original_payment")["reference"] == "pi_3MtwBwLkdIwHu7ix28a3tqPa"  # type: ignore[index]
