"""Each domain check of a product, a sum or a resulting balance against MAX_AMOUNT_MINOR
(issue 10, reproduction 2): each input within its own limit, the result past it, refused
with AmountTooLarge before any event; at the limit, accepted. No I/O."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.accounts import Account
from domain.carts import Cart
from domain.catalog import Price
from domain.customer_billing import CustomerBilling
from domain.errors import AmountTooLarge, InvalidAmount, ValidationFailed
from domain.invoice_totals import check_totals_within_limit, preview_totals
from domain.invoices import Invoice, InvoiceSequence
from domain.limits import MAX_AMOUNT_MINOR, MAX_QUANTITY
from domain.money import Money, check_within_limit
from domain.subscriptions import Subscription
from domain.tax import TaxRate

MAX = MAX_AMOUNT_MINOR
HALF = MAX // 2
NOW = datetime(2027, 3, 1, tzinfo=UTC)
VAT = TaxRate("vat", Decimal("20"), inclusive=False, jurisdiction="FR")


def _pending(aggregate: Invoice | Account | Cart | CustomerBilling | Subscription) -> int:
    return len(aggregate.collect_events())


def test_check_within_limit_takes_both_signs_up_to_the_limit_and_refuses_past_it() -> None:
    assert check_within_limit(MAX, "x") == MAX
    assert check_within_limit(-MAX, "x") == -MAX
    for past in (MAX + 1, -MAX - 1, 10**21):
        with pytest.raises(AmountTooLarge) as refused:
            check_within_limit(past, "the thing")
        assert refused.value.context == {"what": "the thing", "amount": past, "limit": MAX}
    with pytest.raises(InvalidAmount):
        check_within_limit(1.0, "x")  # type: ignore[arg-type]


# -- invoices ------------------------------------------------------------------------------


def _draft() -> Invoice:
    invoice = Invoice(
        project_id=uuid4(),
        customer_id=uuid4(),
        currency="EUR",
        subscription_id=None,
        period_start=None,
        period_end=None,
    )
    invoice.collect_events()
    return invoice


def test_a_line_whose_quantity_times_unit_amount_passes_the_limit_is_refused() -> None:
    invoice = _draft()
    with pytest.raises(AmountTooLarge, match="line's amount"):
        invoice.add_line("l1", "one_time", "huge", MAX_QUANTITY, MAX, [])
    with pytest.raises(ValidationFailed, match="quantity"):
        invoice.add_line("l1", "one_time", "many", MAX_QUANTITY + 1, 1, [])
    assert _pending(invoice) == 0
    assert invoice.lines == []
    invoice.add_line("l1", "one_time", "all", 1000, MAX // 1000, [])
    assert invoice.preview()["total"] == MAX


def test_a_tiered_amount_given_for_a_line_is_checked_too() -> None:
    invoice = _draft()
    with pytest.raises(AmountTooLarge):
        invoice.add_line("l1", "subscription", "tiers", 2, 1, [], amount=MAX + 1)
    assert _pending(invoice) == 0


def test_a_line_that_takes_the_subtotal_past_the_limit_is_refused() -> None:
    invoice = _draft()
    invoice.add_line("l1", "one_time", "half", 1, HALF + 1, [])
    invoice.collect_events()
    with pytest.raises(AmountTooLarge, match="subtotal"):
        invoice.add_line("l2", "one_time", "half", 1, HALF, [])
    assert _pending(invoice) == 0
    assert len(invoice.lines) == 1


def test_tax_that_takes_a_line_and_the_total_past_the_limit_is_refused() -> None:
    invoice = _draft()
    with pytest.raises(AmountTooLarge):
        invoice.add_line("l1", "one_time", "taxed", 1, MAX, [VAT])
    # Within the limit with its tax: 20 % on top of 5/6 of the limit is the limit.
    invoice.add_line("l1", "one_time", "taxed", 5, MAX // 6, [VAT])
    assert invoice.preview()["total"] <= MAX


def test_a_proration_credit_past_the_limit_is_refused() -> None:
    invoice = _draft()
    with pytest.raises(AmountTooLarge):
        invoice.add_line("p1", "proration", "credit", 1, -MAX - 1, [])
    with pytest.raises(AmountTooLarge):
        invoice.add_line("p1", "proration", "credit", 2, -MAX, [])
    assert _pending(invoice) == 0


def test_finalizing_checks_the_totals_again() -> None:
    # Lines recorded before the limits existed (or by a bug) are refused at finalizing.
    invoice = _draft()
    invoice.add_line("l1", "one_time", "half", 1, HALF, [])
    invoice.lines.append({**invoice.lines[0], "id": "l2", "amount": HALF + 1})
    invoice.collect_events()
    with pytest.raises(AmountTooLarge, match="total"):
        invoice.check_finalize()
    with pytest.raises(AmountTooLarge):
        invoice.finalize(InvoiceSequence(project_id=uuid4(), prefix="INV"), 0, NOW)
    assert _pending(invoice) == 0
    assert invoice.status == "draft"


RATE = st.fixed_dictionaries(
    {
        "percentage": st.sampled_from(["0", "7.5", "20", "100"]),
        "inclusive": st.booleans(),
        "jurisdiction": st.just(""),
    }
)
COUPON = st.sampled_from(
    [None, {"percent_off": "15", "amount_off": None}, {"percent_off": None, "amount_off": 700}]
)


@given(
    shapes=st.lists(
        st.tuples(
            st.integers(1, 100),  # the line's share of the bound
            st.lists(st.integers(0, 2), max_size=3, unique=True),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=5,
    ),
    rates=st.lists(RATE, min_size=3, max_size=3),
    coupon=COUPON,
)
def test_lines_at_the_cheap_bound_have_totals_within_the_limit(
    shapes: list[tuple[int, list[int], bool, bool]],
    rates: list[dict[str, object]],
    coupon: dict[str, object] | None,
) -> None:
    # add_line skips computing the totals while this bound is within the limit
    # (domain.invoice_totals.check_lines_within_limit), so the skip must be sound: lines
    # that fill the bound up to the limit, each its share, still have totals within it.
    weight = sum(share for share, *_ in shapes)
    built: list[dict[str, Any]] = []
    bound = 0
    for share, ids, negative, discountable in shapes:
        amount = MAX * share // weight // (2 + 2 * len(ids)) - 2
        bound += (amount + 2) * (2 + 2 * len(ids))
        built.append(
            {
                "amount": -amount if negative else amount,
                "discountable": discountable,
                "tax_rate_ids": [f"r{j}" for j in ids],
            }
        )
    assert MAX - 100 <= bound <= MAX
    check_totals_within_limit(
        preview_totals(built, {f"r{i}": r for i, r in enumerate(rates)}, coupon)
    )


# -- prices, carts, subscriptions ------------------------------------------------------------


def _price(scheme: str, **fields: object) -> Price:
    return Price.define(
        project_id=uuid4(),
        product_id=uuid4(),
        currency="EUR",
        scheme=scheme,
        interval="month",
        **fields,  # type: ignore[arg-type]
    )


def test_a_price_for_a_quantity_past_the_limit_is_refused_for_each_scheme() -> None:
    per_unit = _price("per_unit", unit_amount=MAX)
    assert per_unit.amount_for(1) == MAX
    with pytest.raises(AmountTooLarge):
        per_unit.amount_for(2)
    tiers = [{"up_to": 1, "unit_amount": MAX}, {"up_to": None, "unit_amount": 1}]
    with pytest.raises(AmountTooLarge):
        _price("graduated", tiers=tiers).amount_for(2)  # MAX + 1: the tiers' sum
    flat_tiers = [{"up_to": None, "unit_amount": MAX, "flat_amount": 1}]
    with pytest.raises(AmountTooLarge):
        _price("volume", tiers=flat_tiers).amount_for(1)  # MAX + its flat amount
    with pytest.raises(ValidationFailed, match="quantity"):
        _price("per_unit", unit_amount=1).amount_for(MAX_QUANTITY + 1)


def test_a_cart_line_that_takes_the_total_past_the_limit_is_refused() -> None:
    cart = Cart.open(uuid4(), None, "EUR")
    cart.add_line("a", Money(HALF + 1, "EUR"), 1, None)
    cart.collect_events()
    with pytest.raises(AmountTooLarge, match="cart's total"):
        cart.add_line("b", Money(HALF, "EUR"), 1, None)
    with pytest.raises(AmountTooLarge):
        Cart.open(uuid4(), None, "EUR").add_line("c", Money(MAX, "EUR"), 2, None)
    assert _pending(cart) == 0
    assert cart.total == HALF + 1


def _subscription(*amounts: int) -> Subscription:
    return Subscription.start(
        project_id=uuid4(),
        customer_id=uuid4(),
        currency="EUR",
        items=[{"price_id": f"p{i}", "quantity": 1, "amount": a} for i, a in enumerate(amounts)],
        interval="month",
        interval_count=1,
        now=NOW,
    )


def test_a_subscription_whose_items_together_pass_the_limit_is_refused() -> None:
    with pytest.raises(AmountTooLarge, match="subscription"):
        _subscription(HALF + 1, HALF)
    assert _subscription(HALF, HALF).period_amount == MAX


def test_a_plan_change_whose_next_renewal_passes_the_limit_is_refused() -> None:
    sub = _subscription(HALF)
    sub.collect_events()
    bigger = [{"price_id": "p0", "quantity": 1, "amount": MAX}]
    # Half way through: the new items plus the charge for the rest of this period.
    with pytest.raises(AmountTooLarge):
        sub.change_items(bigger, NOW + timedelta(days=14))
    assert _pending(sub) == 0
    sub.change_items(bigger, NOW + timedelta(days=14), proration="none")
    assert sub.period_amount == MAX


# -- credit balance, accounts ------------------------------------------------------------------


def test_a_customer_credit_balance_past_the_limit_is_refused() -> None:
    billing = CustomerBilling(project_id=uuid4(), customer_id=uuid4(), currency="EUR")
    billing.adjust_credit(MAX, "all")
    billing.collect_events()
    with pytest.raises(AmountTooLarge, match="credit balance"):
        billing.adjust_credit(1, "more")
    with pytest.raises(AmountTooLarge):
        billing.grant_credit(uuid4(), 1, "credit_note")
    assert _pending(billing) == 0
    assert billing.credit_balance == MAX


def _account(overdraft: int = 0) -> Account:
    account = Account.open(uuid4(), "owner", "EUR", overdraft)
    account.collect_events()
    return account


def test_a_credit_that_takes_an_account_past_the_limit_is_refused() -> None:
    account = _account()
    account.deposit(Money(MAX, "EUR"), uuid4())
    account.collect_events()
    credits: list[Callable[[], None]] = [
        lambda: account.deposit(Money(1, "EUR"), uuid4()),
        lambda: account.transfer_in(Money(1, "EUR"), uuid4()),
        lambda: account.credit_confirmed_deposit(Money(1, "EUR"), uuid4()),
        lambda: account.post_reversal(Money(1, "EUR"), uuid4()),
    ]
    for credit in credits:
        with pytest.raises(AmountTooLarge, match="balance"):
            credit()
    assert _pending(account) == 0
    assert account.ledger == MAX
    account.withdraw(Money(1, "EUR"), uuid4())
    account.deposit(Money(1, "EUR"), uuid4())


def test_the_held_amount_cannot_pass_the_limit_even_with_the_deepest_overdraft() -> None:
    account = _account(overdraft=MAX)
    account.deposit(Money(MAX, "EUR"), uuid4())
    account.place_hold("h1", Money(MAX, "EUR"), NOW + timedelta(days=1), "clearing:x", NOW)
    account.collect_events()
    with pytest.raises(AmountTooLarge, match="held"):
        account.place_hold("h2", Money(1, "EUR"), NOW + timedelta(days=1), "clearing:x", NOW)
    assert _pending(account) == 0
    assert account.held == MAX
    # The floor is -overdraft_limit, itself at most the limit: debits stop there.
    account.withdraw(Money(MAX, "EUR"), uuid4())
    assert account.available == -MAX


def test_a_tier_bound_past_the_largest_quantity_is_refused_by_the_api_type_and_the_domain() -> None:
    """Quantities stop at MAX_QUANTITY, so a larger bound means nothing; a bound of
    thousands of digits could not even be encoded. Both layers state and check it."""
    from pydantic import ValidationError

    from commands.messages import PriceTier
    from domain.errors import InvalidCombination
    from domain.price_tiers import check_tiers

    with pytest.raises(ValidationError):
        PriceTier(up_to=MAX_QUANTITY + 1, unit_amount=1)
    assert PriceTier(up_to=MAX_QUANTITY, unit_amount=1).up_to == MAX_QUANTITY
    with pytest.raises(InvalidCombination):
        check_tiers([{"up_to": 10**5000, "unit_amount": 1}, {"up_to": None, "unit_amount": 1}])
    assert (
        check_tiers([{"up_to": MAX_QUANTITY, "unit_amount": 1}, {"up_to": None}])[0]["up_to"]
        == MAX_QUANTITY
    )


def test_max_redemptions_has_a_stated_maximum_that_the_domain_checks_again() -> None:
    from uuid import uuid4 as new_id

    from pydantic import ValidationError

    from commands.messages import DefineCoupon
    from domain.coupons import Coupon
    from domain.limits import MAX_REDEMPTIONS

    with pytest.raises(ValidationError):
        DefineCoupon(code="BIG", percent_off="10", max_redemptions=MAX_REDEMPTIONS + 1)
    with pytest.raises(ValidationFailed):
        Coupon.define(project_id=new_id(), code="BIG", percent_off="10", max_redemptions=10**30)
    kept = Coupon.define(
        project_id=new_id(), code="OK", percent_off="10", max_redemptions=MAX_REDEMPTIONS
    )
    assert kept.max_redemptions == MAX_REDEMPTIONS
