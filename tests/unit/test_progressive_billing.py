"""Progressive billing (issue 13): whatever the usage and the thresholds, the invoices
of a period (each threshold's, then the renewal's) together bill exactly what the
period's whole usage costs, per price scheme; an invoice is made only when a new
threshold is reached; and thresholds are checked."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidCombination, ValidationFailed
from domain.progressive_billing import check_thresholds, progressive_step, reached
from domain.usage_packages import check_package
from domain.usage_rating import MeteredPrice, now_billed, usage_lines
from tests.usage_model import BASE, rule

PERIOD = (BASE, BASE + timedelta(days=30))
TIERS = ({"up_to": 100, "unit_amount": 5, "flat_amount": 0},
         {"up_to": None, "unit_amount": 2, "flat_amount": 300})  # fmt: skip
PRICES = {
    "per_unit": MeteredPrice("p", 3, "API", rule("sum")),
    "graduated": MeteredPrice("p", 0, "API", rule("sum"), "metered_graduated", TIERS),
    "volume": MeteredPrice("p", 0, "API", rule("sum"), "metered_volume", TIERS),
    "package": MeteredPrice("p", 40, "API", rule("sum"), "metered_package", (),
                            check_package({"size": 25, "free_units": 10})),
}  # fmt: skip
GROUPS = ('["a"]', '["b"]', '["c"]')

increments = st.lists(
    st.tuples(st.sampled_from(GROUPS), st.decimals(min_value=0, max_value=400, places=2)),
    max_size=30,
)
threshold_lists = st.lists(st.integers(1, 5000), max_size=6, unique=True).map(sorted)


@settings(max_examples=300, deadline=None)
@given(scheme=st.sampled_from(sorted(PRICES)), sent=increments, thresholds=threshold_lists)
def test_a_periods_invoices_together_bill_the_rating_of_its_whole_usage(
    scheme: str, sent: list[tuple[str, Decimal]], thresholds: list[int]
) -> None:
    price = PRICES[scheme]
    totals: dict[str, Decimal] = {}
    billed: dict[str, Decimal] = {}
    level, early_invoices = 0, []
    for group, amount in sent:  # usage arrives; each write checks the thresholds
        totals[group] = totals.get(group, Decimal(0)) + amount
        quantities = {price.rule.id: dict(totals)}
        step = progressive_step(prices=[price], quantities=quantities, period=PERIOD,
                                billed=billed, level=level, thresholds=thresholds)  # fmt: skip
        if step is None:
            continue
        assert step.reached > level  # only a threshold not reached before makes one
        early_invoices.append(sum(line.amount for line in step.lines))
        billed, level = step.billed, step.reached
    quantities = {price.rule.id: dict(totals)}
    renewal = usage_lines([price], quantities, PERIOD, billed, late=False)
    whole = sum(price.amount(q) for q in totals.values())
    assert sum(early_invoices) + sum(line.amount for line in renewal) == whole
    assert len(early_invoices) <= len(thresholds)
    after = now_billed(renewal, billed)  # the watermark late usage is billed against
    assert all(after[f"p {group}"] == q for group, q in totals.items() if q > 0)


def test_each_invoice_bills_only_what_the_ones_before_did_not() -> None:
    price = PRICES["per_unit"]
    first = progressive_step(prices=[price], quantities={price.rule.id: {'["a"]': Decimal(200)}},
                             period=PERIOD, billed={}, level=0, thresholds=[500, 1000])  # fmt: skip
    assert first is not None
    assert ([li.amount for li in first.lines], first.reached) == ([600], 1)
    same = progressive_step(prices=[price], quantities={price.rule.id: {'["a"]': Decimal(300)}},
                            period=PERIOD, billed=first.billed, level=1,
                            thresholds=[500, 1000])  # fmt: skip
    assert same is None  # 900: the next threshold is not reached
    second = progressive_step(prices=[price],
                              quantities={price.rule.id: {'["a"]': Decimal(350)}},
                              period=PERIOD, billed=first.billed, level=1,
                              thresholds=[500, 1000])  # fmt: skip
    assert second is not None
    assert [(li.amount, li.billed_before, li.late) for li in second.lines] == [
        (450, Decimal(200), False)]  # fmt: skip
    assert reached([500, 1000], 1050) == 2


@pytest.mark.parametrize(
    ("thresholds", "error"),
    [
        ([500, 500], InvalidCombination),
        ([900, 100], InvalidCombination),
        ([0], ValidationFailed),
        (list(range(1, 13)), ValidationFailed),
        ([True], ValidationFailed),
    ],
)
def test_thresholds_are_few_positive_and_increasing(
    thresholds: list[int], error: type[Exception]
) -> None:
    with pytest.raises(error):
        check_thresholds(thresholds)
    assert check_thresholds([100, 200]) == [100, 200]
