"""A provider's invoice drafted as a Tally invoice, line by line as the provider billed
it (part of mirroring a provider-run subscription's invoices, ``commands/provider_invoices``).

Each line keeps the provider's amount, quantity, discount and tax (``given``, see
``domain/invoice_lines.py``): Tally's catalog only names it. A line whose provider price
maps to a Tally price (``ProviderPriceLink``) is named as Tally names that price on its
own invoices (``Pro, monthly``) and keeps the price's id; any other line keeps the
provider's description. Whatever the lines do not add up to (a rounding of the
provider's, an invoice-level amount no line carries) is one more line, and the
customer's balance at the provider another, so the mirror's total is the provider's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from domain.catalog import Price, Product
from domain.invoices import Invoice
from domain.limits import MAX_DESCRIPTION_CHARS, MAX_QUANTITY
from domain.line_descriptions import price_text
from domain.provider_calls import ProviderCall
from domain.subscription_runners import ProviderPriceLink
from domain.subscriptions import Subscription


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def drafted(
    uow: UnitOfWork, ctx: Context, call: ProviderCall, sub: Subscription, found: dict[str, Any]
) -> Invoice:
    """The draft of the provider's invoice (not in the unit of work: a refusal leaves
    nothing behind)."""
    start, end = _when(found.get("period_start")), _when(found.get("period_end"))
    label = str(found.get("number") or found.get("invoice_ref"))
    invoice = Invoice(
        project_id=sub.project_id,
        customer_id=sub.customer_id,
        currency=sub.currency,
        subscription_id=sub.id,
        period_start=start if start and end else None,
        period_end=end if start and end else None,
        description=f"{call.provider} invoice {label}"[:MAX_DESCRIPTION_CHARS],
    )
    lines = list(found.get("lines") or ())
    for n, line in enumerate(lines, start=1):
        _add_line(uow, ctx, invoice, call.provider, n, line)
    _add_rest(invoice, call.provider, int(found["total_minor"]), bool(lines))
    _add_balance(invoice, call.provider, int(found.get("balance_applied_minor") or 0))
    return invoice


def _tally_price(uow: UnitOfWork, ctx: Context, provider: str, price_ref: object) -> Price | None:
    """The Tally price the provider's price stands for in this project, if any."""
    if not isinstance(price_ref, str) or not price_ref:
        return None
    link = uow.find(
        ProviderPriceLink, ProviderPriceLink.create_id(ctx.project_id, provider, price_ref)
    )
    if link is None or link.project_id != ctx.project_id:
        return None
    price = uow.find(Price, link.price_id)
    if price is None or price.project_id != ctx.project_id:
        return None
    return price if (price.provider_price_ids or {}).get(provider) == price_ref else None


def _name(uow: UnitOfWork, ctx: Context, price: Price | None, line: dict[str, Any]) -> str:
    described = str(line.get("description") or "Subscription")
    if price is None:
        return described[:MAX_DESCRIPTION_CHARS]
    product = uow.find(Product, price.product_id)
    if product is None:
        return described[:MAX_DESCRIPTION_CHARS]
    return price_text(product.name, price)[:MAX_DESCRIPTION_CHARS]


def _add_line(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, provider: str, n: int, line: dict[str, Any]
) -> None:
    """One provider line: its amount as billed, its quantity (one unit of the amount past
    Tally's quantity limit: Stripe bills millions of metered units), its discount and
    tax as the provider's; a credit for unused time is a proration (the only kind that
    may be negative)."""
    amount, quantity = int(line["amount_minor"]), max(1, int(line["quantity"]))
    if quantity > MAX_QUANTITY:
        quantity = 1
    price = _tally_price(uow, ctx, provider, line.get("price_ref"))
    given = {
        "discount": int(line.get("discount_minor") or 0),
        "tax": int(line.get("tax_minor") or 0),
        "inclusive_tax": int(line.get("inclusive_tax_minor") or 0),
        "tax_account": provider,
    }
    prorates = amount < 0 or bool(line.get("proration"))
    invoice.add_line(
        f"{provider}_{n}",
        "proration" if prorates else "subscription",
        _name(uow, ctx, price, line),
        quantity,
        amount // quantity,  # the unit price shown; the amount is the provider's
        [],
        amount=amount,
        price_id=str(price.id) if price is not None else None,
        given=given if given["discount"] or given["tax"] else None,
    )


def _add_rest(invoice: Invoice, provider: str, total: int, any_lines: bool) -> None:
    """What the provider's total holds beyond its lines' (none when every line carried
    its discount and tax), as one line."""
    listed = int(invoice.preview()["total"]) if invoice.lines else 0
    if total != listed or not any_lines:
        kind = "proration" if total < listed else "one_time"
        text = f"Tax and discounts by {provider}"
        invoice.add_line(f"{provider}_adjustment", kind, text, 1, total - listed, [])


def _add_balance(invoice: Invoice, provider: str, applied: int) -> None:
    """The customer's balance at the provider as one line, so the mirror's total is
    what the provider asked the customer to pay: credit held there that paid part of it
    takes that part off (the invoice is then paid by the rest, not open for ever), and a
    negative total the provider kept as balance brings the invoice to zero. That credit
    is the provider's to give, never Tally's credit too (no ``customer_credit`` is
    granted), and revenue comes down when the credit is used."""
    if applied > 0:
        text = f"Applied from the customer's balance at {provider}"
        invoice.add_line(f"{provider}_balance", "proration", text, 1, -applied, [])
    elif applied < 0:
        text = f"Added to the customer's balance at {provider}"
        invoice.add_line(f"{provider}_balance", "one_time", text, 1, -applied, [])
