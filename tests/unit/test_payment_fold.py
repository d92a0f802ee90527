"""The payment object's rules (``projections.payment_fold``): a payment settles once,
whichever report comes first; refunds never exceed it; every change emits at most one
public type, and only a change emits one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from projections import payment_fold as fold

AT = datetime(2030, 1, 1, tzinfo=UTC)


def charge(amount: int = 1000) -> fold.Row:
    params = {"amount_minor": amount, "currency": "EUR", "invoice_id": str(uuid4())}
    return fold.charge_row(uuid4(), uuid4(), "stub", params, AT)


def test_a_charge_starts_pending_and_emits_once_when_it_succeeds() -> None:
    row = charge()
    assert row["status"] == "pending"
    assert fold.settle(row, fold.PROCESSING, AT) is None
    assert row["status"] == "processing"
    assert fold.settle(row, fold.SUCCEEDED, AT + timedelta(seconds=1)) == fold.PAYMENT_SUCCEEDED
    # The second report of the same outcome (the outbox after the webhook) is nothing.
    assert fold.settle(row, fold.SUCCEEDED, AT) is None
    assert fold.settle(row, fold.FAILED, AT, code="card_declined") is None
    assert (row["status"], row["updated_at"]) == ("succeeded", AT + timedelta(seconds=1))


def test_a_failure_keeps_its_code_and_message() -> None:
    row = charge()
    assert fold.settle(row, fold.FAILED, AT, code="card_declined", message="x" * 900) == (
        fold.PAYMENT_FAILED
    )
    assert (row["failure_code"], len(row["failure_message"])) == ("card_declined", 500)
    fold.note_failure(row, "expired_card", "the card expired")
    assert (row["failure_code"], row["failure_message"]) == ("expired_card", "the card expired")
    assert fold.refund(row, 100, AT) is None  # a failed payment has nothing to give back


def test_refunds_move_to_partially_refunded_then_refunded_and_stop_there() -> None:
    row = charge(1000)
    fold.settle(row, fold.SUCCEEDED, AT)
    assert fold.refund(row, 300, AT) == fold.PAYMENT_REFUNDED
    assert (row["status"], row["amount_refunded"]) == ("partially_refunded", 300)
    assert fold.refund(row, 5000, AT) == fold.PAYMENT_REFUNDED
    assert (row["status"], row["amount_refunded"]) == ("refunded", 1000)
    assert fold.refund(row, 1, AT) is None


def test_an_invoice_payments_id_derives_from_the_invoice_and_its_key() -> None:
    invoice = {"id": uuid4(), "project_id": uuid4(), "customer_id": uuid4(), "currency": "EUR"}
    payment = {"id": "pay_2", "amount": 400, "method": "out_of_band", "reference": "wire 7"}
    row = fold.invoice_payment_row(invoice, payment, AT)
    assert row["id"] == fold.invoice_payment_id(invoice["id"], "pay_2")
    assert row["id"] != fold.invoice_payment_id(invoice["id"], "pay_1")
    assert (row["status"], row["provider"], row["reference"]) == ("succeeded", None, "wire 7")
    by_provider = fold.invoice_payment_row(
        invoice, {**payment, "method": "provider", "paid_from": "clearing:stripe"}, AT
    )
    assert by_provider["provider"] == "stripe"


STEPS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["processing", "succeeded", "failed"]), st.just(0)),
        st.tuples(st.just("refund"), st.integers(min_value=1, max_value=2000)),
    ),
    max_size=12,
)


@given(amount=st.integers(min_value=1, max_value=1500), steps=STEPS)
def test_any_sequence_of_reports_keeps_the_payment_consistent(
    amount: int, steps: list[tuple[str, int]]
) -> None:
    row = charge(amount)
    emitted: list[str] = []
    for step, value in steps:
        before = dict(row)
        if step == "refund":
            kind = fold.refund(row, value, AT)
        else:
            kind = fold.settle(row, step, AT, code="declined")
        if kind is not None:
            emitted.append(kind)
        elif step == "refund":
            assert row == before  # a refund that counts nothing changes nothing
        assert 0 <= row["amount_refunded"] <= row["amount"]
        assert row["status"] in fold.STATUSES
    # Settled once: at most one of succeeded or failed, never both.
    outcomes = [k for k in emitted if k != fold.PAYMENT_REFUNDED]
    assert len(outcomes) <= 1
    refunds = emitted.count(fold.PAYMENT_REFUNDED)
    if refunds:
        assert outcomes == [fold.PAYMENT_SUCCEEDED]
        assert emitted.index(fold.PAYMENT_SUCCEEDED) < emitted.index(fold.PAYMENT_REFUNDED)
    expected = {0: None, row["amount"]: "refunded"}.get(row["amount_refunded"])
    if row["amount_refunded"] and expected is None:
        expected = "partially_refunded"
    if expected is not None:
        assert row["status"] == expected


def test_a_top_up_charge_recorded_without_customer_id_names_its_referenced_customer() -> None:
    # A saved-card top-up recorded before top-ups named their customer in customer_id:
    # only its references say whose wallet it paid.
    buyer = uuid4()
    params = {
        "amount_minor": 700,
        "currency": "EUR",
        "customer_ref": "cus_1",
        "references": {"tally_transaction": str(uuid4()), "tally_customer": str(buyer)},
    }
    assert fold.charge_row(uuid4(), uuid4(), "stub", params, AT)["customer_id"] == buyer
    named = {**params, "customer_id": str(buyer), "references": {}}
    assert fold.charge_row(uuid4(), uuid4(), "stub", named, AT)["customer_id"] == buyer
    nobody = {**params, "references": {"tally_transaction": str(uuid4())}}
    assert fold.charge_row(uuid4(), uuid4(), "stub", nobody, AT)["customer_id"] is None


def sale_params(**extra: object) -> dict[str, object]:
    lines = [
        {"name": "Mug", "unit_amount": 1200, "currency": "EUR", "quantity": 2},
        {"name": "Hat", "unit_amount": 300, "currency": "EUR", "quantity": 1},
    ]
    return {"mode": "item", "lines": lines, "transaction_id": str(uuid4()), **extra}


def test_a_checkout_that_pays_a_transaction_is_a_pending_payment_of_its_lines() -> None:
    buyer = uuid4()
    params = sale_params(references={"tally_customer": str(buyer)})
    assert fold.is_paying_checkout(params)
    # A call recorded before the params stored their sum: the lines' sum.
    row = fold.checkout_row(uuid4(), uuid4(), "stub", params, AT)
    assert (row["amount"], row["currency"], row["status"]) == (2700, "EUR", "pending")
    assert (row["customer_id"], row["checkout"], row["method"]) == (buyer, True, "provider")
    assert str(row["transaction_id"]) == params["transaction_id"]
    stored = fold.checkout_row(uuid4(), uuid4(), "stub", {**params, "amount_minor": 2700}, AT)
    assert stored["amount"] == 2700
    # A subscription's checkout pays its invoice (recorded there), a trial's nothing.
    assert not fold.is_paying_checkout({**params, "transaction_id": None})


def test_a_checkouts_answer_makes_the_page_and_settles_nothing() -> None:
    row = fold.checkout_row(uuid4(), uuid4(), "stub", sale_params(), AT)
    assert fold.call_answered(row, {"url": "https://pay.example/1"}, AT) is None
    assert fold.call_answered(row, {"status": "succeeded"}, AT) is None
    assert row["status"] == "pending"
    assert fold.settle(row, fold.SUCCEEDED, AT) == fold.PAYMENT_SUCCEEDED
    charged = charge()
    assert fold.call_answered(charged, {"payment_ref": "ch_1", "status": "processing"}, AT) is None
    assert (charged["status"], charged["reference"]) == ("processing", "ch_1")
    assert fold.call_answered(charged, {"status": "succeeded"}, AT) == fold.PAYMENT_SUCCEEDED


ANSWERS = st.lists(
    st.one_of(
        st.tuples(st.just("answer"), st.sampled_from(["succeeded", "processing", "open"])),
        st.tuples(st.just("settle"), st.sampled_from(["succeeded", "failed"])),
    ),
    max_size=10,
)


@given(steps=ANSWERS)
def test_only_its_transaction_settles_a_checkout_and_only_once(
    steps: list[tuple[str, str]],
) -> None:
    row = fold.checkout_row(uuid4(), uuid4(), "stub", sale_params(), AT)
    emitted: list[str] = []
    first_settle = next((outcome for step, outcome in steps if step == "settle"), None)
    for step, value in steps:
        if step == "answer":
            kind = fold.call_answered(row, {"status": value}, AT)
        else:
            kind = fold.settle(row, value, AT, code="checkout_expired")
        if kind is not None:
            emitted.append(kind)
    expected = {None: [], "succeeded": [fold.PAYMENT_SUCCEEDED], "failed": [fold.PAYMENT_FAILED]}
    assert emitted == expected[first_settle]
    assert row["status"] == (first_settle or "pending")
