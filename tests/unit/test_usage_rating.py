"""Rating usage (issue 13): for every aggregation, the quantity a usage line bills is a
plain fold over the deduplicated events whatever their order, duplicates and batch
boundaries, and its amount that quantity at the price's unit amount, rounded half-even
(checked here with fractions, not the code's decimals). Late usage for a period already
billed is charged once: the two invoices together bill what the greater quantity costs,
and billing the same usage again adds nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.usage import Partial, decimal_text, value_of
from domain.usage_rating import MeteredPrice, UsageLine, now_billed, rated_amount, usage_lines
from tests.unit.test_usage_aggregation import deliveries, partials_by_group
from tests.usage_model import AGGREGATIONS, BASE, Sent, expected, rule

PERIOD = (BASE + timedelta(minutes=17), BASE + timedelta(hours=2, minutes=3))


def cost(unit_amount: int, quantity: Decimal | None) -> int:
    """The model: a positive quantity times the unit amount, half-even to the unit."""
    if quantity is None or quantity <= 0:
        return 0
    return round(Fraction(unit_amount) * Fraction(quantity))


def quantities(aggregation: str, batches: list[list[Sent]]) -> dict[str, Decimal | None]:
    """What the store's partials give for PERIOD (as ``adapters.usage_queries`` does)."""
    merged, carry = partials_by_group(rule(aggregation), batches, *PERIOD)
    found = {
        key: value_of(aggregation, partial, *PERIOD, carry.get(key, Decimal(0)))
        for key, partial in merged.items()
    }
    for key, level in carry.items():
        if aggregation == "weighted_sum" and key not in merged and level:
            found[key] = value_of(aggregation, Partial(), *PERIOD, level)
    return found


def price(aggregation: str, unit_amount: int) -> MeteredPrice:
    return MeteredPrice("price_1", unit_amount, "API, monthly (metered)", rule(aggregation))


def by_group(lines: list[UsageLine]) -> dict[str, tuple[Decimal, int]]:
    return {line.group_key: (line.quantity, line.amount) for line in lines}


@settings(max_examples=200, deadline=None)
@given(
    aggregation=st.sampled_from(AGGREGATIONS),
    sent=deliveries(),
    unit_amount=st.integers(0, 10_000),
)
def test_each_line_bills_the_fold_of_the_deduplicated_events_at_the_unit_amount(
    aggregation: str, sent: tuple[list[Sent], list[list[Sent]]], unit_amount: int
) -> None:
    events, batches = sent
    metered = price(aggregation, unit_amount)
    found = {metered.rule.id: quantities(aggregation, batches)}
    lines = usage_lines([metered], found, PERIOD, {}, late=False)
    model = expected(metered.rule, events, *PERIOD)
    assert by_group(lines) == {
        key: (value, cost(unit_amount, value))
        for key, value in model.items()
        if value is not None and value > 0
    }
    for line in lines:
        quantity, unit = line.billed_units()
        assert line.record()["quantity"] == decimal_text(line.quantity)
        assert line.record()["group"] == {"model": line.group()["model"]}
        if quantity > 1 or unit != line.amount:
            assert quantity * unit == line.amount


@settings(max_examples=200, deadline=None)
@given(
    aggregation=st.sampled_from(AGGREGATIONS),
    sent=deliveries(),
    cut=st.integers(0, 40),
    unit_amount=st.integers(1, 10_000),
    scheme=st.sampled_from(["metered", "metered_graduated", "metered_volume"]),
)
def test_late_usage_is_billed_once_on_the_next_invoice(
    aggregation: str,
    sent: tuple[list[Sent], list[list[Sent]]],
    cut: int,
    unit_amount: int,
    scheme: str,
) -> None:
    """The first invoice sees the batches before ``cut``; the next one all of them
    (for a per-unit price and tiered ones)."""
    _, batches = sent
    tiers = tuple(TIERS) if scheme != "metered" else ()
    metered = MeteredPrice("price_1", unit_amount, "API", rule(aggregation), scheme, tiers)

    def cost_of(quantity: Decimal | None) -> int:
        if scheme == "metered":
            return cost(unit_amount, quantity)
        return tiered_cost(scheme.removeprefix("metered_"), quantity)

    arrived = [event for batch in batches for event in batch]
    first_seen = quantities(aggregation, [arrived[:cut]])
    at_last = quantities(aggregation, [arrived])
    first = usage_lines([metered], {metered.rule.id: first_seen}, PERIOD, {}, late=False)
    billed = now_billed(first, {})
    late = usage_lines([metered], {metered.rule.id: at_last}, PERIOD, billed, late=True)
    for key in set(first_seen) | set(at_last):
        total = by_group(first).get(key, (0, 0))[1] + by_group(late).get(key, (0, 0))[1]
        greater = max(cost_of(first_seen.get(key)), cost_of(at_last.get(key)))
        assert total == greater
    assert all(line.late and line.amount > 0 for line in late)
    again = usage_lines(
        [metered], {metered.rule.id: at_last}, PERIOD, now_billed(late, billed), late=True
    )
    assert again == []


def test_amounts_round_half_even_and_usage_never_credits() -> None:
    assert [rated_amount(1, Decimal(q)) for q in ("0.5", "1.5", "2.5", "2.500000001")] == [
        0, 2, 2, 3]  # fmt: skip
    assert rated_amount(3, Decimal("-4")) == 0
    assert rated_amount(3, None) == 0


TIERS = [
    {"up_to": 10, "unit_amount": 100, "flat_amount": 0},
    {"up_to": 100, "unit_amount": 50, "flat_amount": 300},
    {"up_to": None, "unit_amount": 7, "flat_amount": 0},
]


def tiered_cost(mode: str, quantity: Decimal | None) -> int:
    """The model of a tiered price over a decimal quantity, with fractions."""
    if quantity is None or quantity <= 0:
        return 0
    q, total, floor = Fraction(quantity), Fraction(0), Fraction(0)
    for tier in TIERS:
        top = None if tier["up_to"] is None else Fraction(tier["up_to"])
        if mode == "volume":
            if top is None or q <= top:
                return round(tier["unit_amount"] * q + tier["flat_amount"])
            continue
        if q <= floor:
            break
        ceiling = q if top is None else min(q, top)
        total += tier["unit_amount"] * (ceiling - floor) + tier["flat_amount"]
        floor = ceiling
    return round(total)


@settings(max_examples=200, deadline=None)
@given(
    mode=st.sampled_from(["graduated", "volume"]),
    quantity=st.decimals(min_value=-5, max_value=500, places=3, allow_nan=False),
    whole=st.integers(1, 1_000),
)
def test_a_tiered_metered_price_rates_like_the_tiered_licensed_price(
    mode: str, quantity: Decimal, whole: int
) -> None:
    from domain.price_tiers import tiered_amount

    metered = MeteredPrice("p", 0, "API", rule("sum"), f"metered_{mode}", tuple(TIERS))
    assert metered.amount(quantity) == tiered_cost(mode, quantity)
    # A whole quantity costs what the licensed tiered price charges for it.
    assert metered.amount(Decimal(whole)) == tiered_amount(mode, TIERS, whole)
    line = usage_lines([metered], {metered.rule.id: {"[]": Decimal(whole)}}, PERIOD, {},
                       late=False)[0]  # fmt: skip
    parts = line.tier_parts()
    assert parts is not None
    assert sum(part["amount"] for part in parts) == line.amount


def test_usage_billing_keeps_the_period_before_the_last_with_its_late_billing() -> None:
    from uuid import uuid4

    from domain.usage_billing import UsageBilling

    periods = [
        (BASE + timedelta(days=30 * i), BASE + timedelta(days=30 * (i + 1))) for i in range(3)
    ]
    ledger = UsageBilling.start(uuid4(), uuid4())
    ledger.record(uuid4(), periods[0], ["p1"], {"p1 []": Decimal(5)})
    assert (ledger.earlier_period, ledger.earlier_billed_for()) == (None, {})
    # The second renewal billed 2 more of the first period late: 7 in all.
    ledger.record(uuid4(), periods[1], ["p2"], {"p2 []": Decimal(1)}, {"p1 []": Decimal(7)})
    assert ledger.last_period == periods[1]
    assert ledger.earlier_period == periods[0]
    assert (ledger.earlier_prices, ledger.earlier_billed_for()) == (["p1"], {"p1 []": Decimal(7)})
    ledger.record(uuid4(), periods[2], ["p2"], {}, {"p2 []": Decimal(3)})
    assert ledger.earlier_period == periods[1]
    assert ledger.earlier_billed_for() == {"p2 []": Decimal(3)}
    # A Billed event stored before the earlier period was kept replays as nothing kept.
    old = UsageBilling.start(uuid4(), uuid4())
    old._billed(invoice_id="i", period=[p.isoformat() for p in periods[0]], prices=["p1"],
                billed={"p1 []": "5"})  # fmt: skip
    assert (old.last_period, old.earlier_period, old.earlier_prices) == (periods[0], None, [])
