"""Tiered prices: their tiers checked, their amount, and how it is reached tier by tier.

``graduated`` charges each unit at the rate of the tier it falls in (the first 10 seats
at one rate, the next 40 at another); ``volume`` charges every unit at the rate of the
tier the whole quantity reaches. A tier may add a flat amount.

``tiered_amount`` answers the sum; ``tier_breakdown`` answers its parts,
whose amounts add up to that sum (a unit test checks it for any tiers and quantity), so
an invoice line of a graduated or volume price can show parts that add up instead of a
rounded unit price.
"""

from __future__ import annotations

from typing import Any

from domain.errors import InvalidCombination
from domain.limits import MAX_QUANTITY
from domain.money import check_amount

Tier = dict[str, Any]  # {"up_to": int | None, "unit_amount": int, "flat_amount": int}


def check_tiers(tiers: list[Tier]) -> list[Tier]:
    if not tiers:
        raise InvalidCombination("a tiered price needs at least one tier")
    last = 0
    for i, tier in enumerate(tiers):
        up_to = tier.get("up_to")
        check_amount(tier.get("unit_amount", 0), allow_zero=True)
        check_amount(tier.get("flat_amount", 0), allow_zero=True)
        if up_to is None and i != len(tiers) - 1:
            raise InvalidCombination("only the last tier may be open-ended")
        if up_to is not None and (not isinstance(up_to, int) or up_to <= last):
            raise InvalidCombination("tier bounds must be increasing whole numbers")
        if up_to is not None and up_to > MAX_QUANTITY:
            # Quantities stop there, so a larger bound means nothing (and one of thousands
            # of digits could not be stored).
            raise InvalidCombination(f"tier bounds are at most {MAX_QUANTITY}")
        last = up_to or last
    if tiers[-1].get("up_to") is not None:
        raise InvalidCombination("the last tier must be open-ended (up_to: null)")
    return [
        {
            "up_to": t.get("up_to"),
            "unit_amount": t.get("unit_amount", 0),
            "flat_amount": t.get("flat_amount", 0),
        }
        for t in tiers
    ]


def tiered_amount(scheme: str, tiers: list[Tier], quantity: int) -> int:
    if scheme == "volume":
        for tier in tiers:
            if tier["up_to"] is None or quantity <= tier["up_to"]:
                return int(tier["unit_amount"] * quantity + tier["flat_amount"])
    total, floor = 0, 0
    for tier in tiers:
        if quantity <= floor:
            break
        ceiling = quantity if tier["up_to"] is None else min(quantity, tier["up_to"])
        total += tier["unit_amount"] * (ceiling - floor) + tier["flat_amount"]
        floor = ceiling
    return total


def tier_breakdown(scheme: str, tiers: list[Tier], quantity: int) -> list[dict[str, Any]]:
    """One part per tier used: the units it counts (``first`` to ``last``), their unit
    amount, the tier's flat amount and the part's amount. A volume price prices every
    unit at the one tier its quantity falls in; a graduated price each unit at the tier
    it falls in."""
    parts: list[dict[str, Any]] = []
    floor = 0
    for tier in tiers:
        up_to = tier["up_to"]
        if scheme == "volume":
            if up_to is not None and quantity > up_to:
                continue
            first, last = 1, quantity
        else:
            if quantity <= floor:
                break
            first, last = floor + 1, quantity if up_to is None else min(quantity, up_to)
            floor = last
        units = last - first + 1
        unit, flat = int(tier["unit_amount"]), int(tier["flat_amount"])
        parts.append(
            {
                "first": first,
                "last": last,
                "quantity": units,
                "unit_amount": unit,
                "flat_amount": flat,
                "amount": unit * units + flat,
            }
        )
        if scheme == "volume":
            break
    return parts
