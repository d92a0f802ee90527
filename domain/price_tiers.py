"""How a tiered price reaches its amount, tier by tier, for a document to show.

``domain.catalog.tiered_amount`` answers the sum; ``tier_breakdown`` answers its parts,
whose amounts add up to that sum (a unit test checks it for any tiers and quantity), so
an invoice line of a graduated or volume price can show parts that add up instead of a
rounded unit price.
"""

from __future__ import annotations

from typing import Any

from domain.catalog import Tier


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
