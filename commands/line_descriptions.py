"""A subscription item's line text with its price and product loaded from the event
store, and how a subscription checkout names its first invoice. The texts themselves
are ``domain.line_descriptions``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from domain.catalog import Price, Product
from domain.limits import MAX_NAME_CHARS
from domain.line_descriptions import item_text


def item_line(
    uow: UnitOfWork, ctx: Context, item: dict[str, Any]
) -> tuple[str, list[dict[str, Any]] | None]:
    """A subscription item's line description and tiers (``domain.line_descriptions``),
    its price and product loaded from the event store."""
    price = uow.get(Price, UUID(str(item["price_id"])), ctx.project_id)
    product = uow.get(Product, price.product_id, ctx.project_id)
    return item_text(product.name, price, item)


def first_period_name(invoice: dict[str, Any]) -> str:
    """A subscription checkout's one line, as its hosted page shows it: what the first
    invoice bills (a quantity above one after a multiplication sign) and the period it
    covers, ``Pro, monthly: 31 Jan 2030 to 28 Feb 2030`` (dates in words, which a narrow
    page wraps only between them)."""
    names = [
        str(li["description"]) + (f" \u00d7 {li['quantity']}" if int(li["quantity"]) > 1 else "")
        for li in invoice["lines"]
        if li["kind"] == "subscription"
    ]
    text = "; ".join(names) or "Subscription"
    start, end = invoice.get("period_start"), invoice.get("period_end")
    if start and end:
        text = f"{text}: {day_text(start)} to {day_text(end)}"
    if len(text) > MAX_NAME_CHARS:
        text = text[: MAX_NAME_CHARS - 3] + "..."
    return text


def day_text(moment: Any) -> str:
    """``2030-01-31T09:00:00Z`` as ``31 Jan 2030``."""
    found = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
    return f"{found.day} {found:%b %Y}"
