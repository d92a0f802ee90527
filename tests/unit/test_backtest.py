"""domain.backtest: a recorded invoice re-rated under another price book, with the
domain's own pricing (Price.amount_for, usage_rating.rated_amount) and totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from domain.backtest import rerate
from domain.catalog import Price
from domain.invoice_totals import preview_totals

PROJECT, PRODUCT = UUID(int=1), UUID(int=2)
RATES = {"vat": {"percentage": "20", "inclusive": False, "jurisdiction": "FR"}}


def per_unit(unit_amount: int) -> Price:
    return Price.define(
        project_id=PROJECT, product_id=PRODUCT, currency="EUR", scheme="per_unit",
        unit_amount=unit_amount, interval="month",
    )  # fmt: skip


def metered(unit_amount: int) -> Price:
    return Price.define(
        project_id=PROJECT, product_id=PRODUCT, currency="EUR", scheme="metered",
        unit_amount=unit_amount, interval="month", meter="calls",
    )  # fmt: skip


def sub_line(n: int, quantity: int, amount: int) -> dict[str, Any]:
    return {
        "id": f"sub_{n}", "kind": "subscription", "quantity": quantity,
        "unit_amount": amount // quantity, "amount": amount, "discountable": True,
        "tax_rate_ids": ["vat"],
    }  # fmt: skip


units = st.integers(min_value=1, max_value=1000)
amounts = st.integers(min_value=0, max_value=100_000)


@given(st.lists(st.tuples(units, amounts), min_size=1, max_size=5), st.integers(0, 50))
def test_the_recorded_prices_give_no_difference_and_others_the_priced_one(
    items: list[tuple[int, int]], percent: int
) -> None:
    recorded = [per_unit(unit) for _, unit in items]
    rows = [{"price_id": f"p{n}", "quantity": q, "amount": p.amount_for(q)}
            for n, ((q, _), p) in enumerate(zip(items, recorded, strict=True))]  # fmt: skip
    lines = [sub_line(n, r["quantity"], r["amount"]) for n, r in enumerate(rows, start=1)]
    coupon = {"percent_off": str(percent), "amount_off": None}
    same = rerate(lines, RATES, coupon, rows, lambda pid: recorded[int(pid[1:])])
    assert same.was == same.would_be
    assert same.lines_changed == same.unmatched == 0

    risen = [per_unit(unit + 7) for _, unit in items]
    other = rerate(lines, RATES, coupon, rows, lambda pid: risen[int(pid[1:])])
    priced = [{**line, "amount": p.amount_for(line["quantity"])}
              for line, p in zip(lines, risen, strict=True)]  # fmt: skip
    assert other.would_be == preview_totals(priced, RATES, coupon)["total"]
    assert other.was == same.was


def test_a_usage_line_is_re_rated_from_its_recorded_quantity_less_what_was_billed() -> None:
    line = {
        "id": "usage_1", "kind": "usage", "quantity": 1, "unit_amount": 5, "amount": 5,
        "tax_rate_ids": [],
        "usage": {"price_id": "m", "quantity": "12.5", "billed_before": "2.5"},
    }  # fmt: skip
    done = rerate([line], {}, None, None, lambda _: metered(3))
    # 12.5 x 3 = 37.5 -> 38 (half-even), less 2.5 x 3 = 7.5 -> 8: 30.
    assert (done.was, done.would_be) == (5, 30)
    assert Decimal(line["usage"]["quantity"]) == Decimal("12.5")


def test_a_line_its_items_do_not_explain_is_kept_and_counted_unmatched() -> None:
    lines = [sub_line(1, 2, 2000), sub_line(2, 1, 500)]
    items = [{"price_id": "a", "quantity": 3, "amount": 2000}]  # not line 1's quantity
    done = rerate(lines, RATES, None, items, lambda _: per_unit(1))
    # Both kept: 2,500 and 20 % tax.
    assert (done.was, done.would_be, done.unmatched, done.lines_changed) == (3000, 3000, 2, 0)
    kept = rerate(lines[:1], RATES, None, None, lambda _: per_unit(1))
    assert (kept.unmatched, kept.would_be) == (1, 2400)


def test_a_usage_line_under_a_tiered_metered_price_is_rated_by_its_tiers() -> None:
    tiered = Price.define(
        project_id=PROJECT, product_id=PRODUCT, currency="EUR", scheme="metered_graduated",
        interval="month", meter="calls",
        tiers=[{"up_to": 10, "unit_amount": 5, "flat_amount": 0},
               {"up_to": None, "unit_amount": 2, "flat_amount": 0}],
    )  # fmt: skip
    line = {
        "id": "usage_1", "kind": "usage", "quantity": 1, "unit_amount": 0, "amount": 0,
        "tax_rate_ids": [], "usage": {"price_id": "m", "quantity": "15", "billed_before": "0"},
    }  # fmt: skip
    # 10 x 5 + 5 x 2 = 60.
    assert rerate([line], {}, None, None, lambda _: tiered).would_be == 60
