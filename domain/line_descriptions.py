"""What a subscription's invoice says about each item and about itself, in words a
customer reads: ``Pro, monthly`` rather than a price id, and ``Renewal`` rather than the
scheduler's reason.

Invoices made before these texts existed keep theirs (history is never edited); the
document turns their internal reasons into nothing (``adapters.documents.model``).
"""

from __future__ import annotations

from typing import Any

from domain.catalog import Price
from domain.price_tiers import tier_breakdown

ADVERBS = {"day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}

# Why a subscription's invoice was made, as the invoice's description says it.
REASONS = {
    "started": "Subscription started",
    "trial_ended": "First period after the trial",
    "renewed": "Subscription renewal",
    "resumed": "Subscription resumed",
    "upcoming": "Upcoming invoice",
    "final_usage": "Usage of the last period",
    "usage_continued": "Usage, continued",
    "usage_threshold": "Usage so far (threshold reached)",
    "usage_before_pause": "Usage before the pause",
}


def interval_text(interval: str | None, count: int) -> str:
    """``monthly``, ``every 3 months``; ``one-time`` for a price without an interval."""
    if interval is None:
        return "one-time"
    if count == 1:
        return ADVERBS.get(interval, f"every {interval}")
    return f"every {count} {interval}s"


def price_text(product_name: str, price: Price) -> str:
    """``Pro, monthly``; a metered price says so, since its quantity is the usage."""
    text = f"{product_name}, {interval_text(price.interval, price.interval_count)}"
    return f"{text} (metered)" if price.metered else text


def item_text(
    product_name: str, price: Price, item: dict[str, Any]
) -> tuple[str, list[dict[str, Any]] | None]:
    """A subscription item's line description, and for a tiered price the parts its
    amount is made of (None when the parts would not add up to the item's amount, say
    for an item priced before its tiers were what they are now)."""
    description = price_text(product_name, price)
    if price.scheme not in ("graduated", "volume"):
        return description, None
    parts = tier_breakdown(price.scheme, price.tiers, int(item["quantity"]))
    if sum(int(p["amount"]) for p in parts) != int(item["amount"]):
        return description, None
    return description, parts


def invoice_description(reason: str) -> str:
    return REASONS.get(reason, "Subscription")
