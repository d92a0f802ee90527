"""Package prices of usage (issue 13, ``domain.usage_packages``): a period's usage costs
the price's unit amount per package of ``size`` units after ``free_units``, a started
package charged whole (``up``) or not (``down``); checked against a model in fractions,
and a late adjustment bills exactly the packages the late usage adds."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.catalog import Price
from domain.errors import InvalidCombination
from domain.usage_packages import check_package, package_count
from domain.usage_rating import MeteredPrice, now_billed, usage_lines
from tests.usage_model import BASE, rule

PERIOD = (BASE, BASE + timedelta(days=30))
quantities = st.decimals(
    min_value=Decimal("-100"), max_value=Decimal("1000000"), places=3, allow_nan=False
)
packages = st.fixed_dictionaries(
    {"size": st.integers(1, 5000), "round": st.sampled_from(["up", "down"]),
     "free_units": st.integers(0, 3000)}
)  # fmt: skip


def model_cost(unit_amount: int, package: dict[str, object], quantity: Decimal) -> int:
    """Packages of the units past the free ones, in fractions, rounded as the price says."""
    chargeable = Fraction(quantity) - int(str(package["free_units"]))
    if chargeable <= 0:
        return 0
    count = chargeable / int(str(package["size"]))
    whole = math.ceil(count) if package["round"] == "up" else math.floor(count)
    return unit_amount * whole


def package_price(unit_amount: int, package: dict[str, object]) -> MeteredPrice:
    return MeteredPrice(
        "p", unit_amount, "API", rule("sum"), "metered_package", (), check_package(package)
    )


@settings(max_examples=300, deadline=None)
@given(quantity=quantities, package=packages, unit_amount=st.integers(0, 100_000))
def test_a_package_price_charges_its_unit_amount_per_package_past_the_free_units(
    quantity: Decimal, package: dict[str, object], unit_amount: int
) -> None:
    price = package_price(unit_amount, package)
    assert price.amount(quantity) == model_cost(unit_amount, package, quantity)
    lines = usage_lines([price], {price.rule.id: {"[]": quantity}}, PERIOD, {}, late=False)
    assert len(lines) == (1 if quantity > 0 else 0)
    for line in lines:  # the line shows the packages at the unit amount when it can
        count, unit = line.billed_units()
        assert count * unit == line.amount
        assert count == package_count(package, quantity) or (count, unit) == (1, 0)


@settings(max_examples=300, deadline=None)
@given(first=quantities, late=quantities, package=packages, unit_amount=st.integers(1, 1000))
def test_late_usage_on_a_package_price_bills_the_packages_it_adds_once(
    first: Decimal, late: Decimal, package: dict[str, object], unit_amount: int
) -> None:
    price = package_price(unit_amount, package)
    key = price.rule.id
    billed = now_billed(usage_lines([price], {key: {"[]": first}}, PERIOD, {}, late=False), {})
    total = first + late if late > 0 else first
    adjust = usage_lines([price], {key: {"[]": total}}, PERIOD, billed, late=True)
    charged = sum(line.amount for line in adjust)
    whole_first = model_cost(unit_amount, package, max(first, Decimal(0)))
    assert whole_first + charged == max(model_cost(unit_amount, package, total), whole_first)
    for line in adjust:  # the line's quantity is the packages it adds
        assert line.billed_units()[0] * unit_amount == line.amount


def test_a_started_package_is_charged_whole_or_not_as_the_price_rounds() -> None:
    up = {"size": 1000, "round": "up", "free_units": 100}
    assert package_count(up, Decimal(2150)) == 3  # 2,050 chargeable units
    assert package_count({**up, "round": "down"}, Decimal(2150)) == 2
    assert package_count(up, Decimal(100)) == 0  # all free
    assert package_count(up, Decimal("100.001")) == 1
    assert package_count(up, None) == 0


@pytest.mark.parametrize(
    "package",
    [
        None,
        {},
        {"size": 0},
        {"size": 10, "round": "nearest"},
        {"size": 10, "free_units": -1},
        {"size": 1.5},
        {"size": 10**13},
    ],
)
def test_a_package_price_with_malformed_terms_is_refused(package: dict[str, object] | None) -> None:
    with pytest.raises(InvalidCombination):
        define(package)


def test_only_a_package_price_has_a_package_and_it_is_recorded_on_the_price() -> None:
    with pytest.raises(InvalidCombination):
        Price.define(project_id=uuid4(), product_id=uuid4(), currency="EUR", scheme="metered",
                     meter="tokens", interval="month", package={"size": 10})  # fmt: skip
    price = define({"size": 1000})
    assert price.summary()["package"] == {"size": 1000, "round": "up", "free_units": 0}
    assert price.amount_for(1001) == 2 * 50


def define(package: dict[str, object] | None) -> Price:
    return Price.define(
        project_id=uuid4(), product_id=uuid4(), currency="EUR", scheme="metered_package",
        unit_amount=50, meter="tokens", interval="month", package=package,
    )  # fmt: skip
