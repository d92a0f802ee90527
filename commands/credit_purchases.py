"""Paid credits bought on an invoice (issue 13): ``PurchaseCredits`` -> 201.

The handler makes a one-line invoice (``one_time``, "Prepaid credits", no tax rate and
no discount, so its net is the credits' amount), remembers the purchase on the
customer's ``CreditBalance`` (the grant's terms checked first, on fresh state) and
finalizes the invoice, all in one write. The grant comes when the invoice is paid,
however it is paid (``commands.credit_purchase_grants``, from ``after_paid``): at once
when the customer's credit balance covers it at finalization. A void cancels it. Why
the journal earns the revenue once: ``domain/credit_purchases.py``.

Answers ``{"credit_purchase": {...}, "invoice": <summary>}``; the purchase names the
grant id it will have (``cg_<balance id>_<16 hex>``, from the idempotency key when
there is one) and its ``status`` (``invoiced``, ``granted``, ``canceled``).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.credit_messages import PurchaseCredits
from commands.credit_purchase_grants import grant_paid_purchase
from commands.credits import balance_for, check_prices, grant_id_for
from commands.invoicing import finalize, one_off_invoice, summary
from commands.messages import Command
from commands.now import now_for
from domain.credit_balance import CreditBalance
from domain.customers import Customer
from domain.errors import CurrencyMismatch

LINE_DESCRIPTION = "Prepaid credits"


def purchase_body(balance: CreditBalance, invoice_id: str) -> dict[str, Any]:
    purchase = balance.purchases[invoice_id]
    return {
        **purchase,
        "object": "credit_purchase",
        "customer_id": str(balance.customer_id),
        "currency": balance.currency,
    }


def purchase_credits(uow: UnitOfWork, cmd: PurchaseCredits, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    if cmd.currency is not None and cmd.currency != customer.currency:
        raise CurrencyMismatch(
            f"an invoice is in the customer's currency {customer.currency}, not {cmd.currency}"
        )
    balance = balance_for(uow, ctx, customer, None, open_=True)
    assert balance is not None
    if cmd.prices is not None:
        check_prices(uow, ctx, cmd.prices, balance.currency)
    now = now_for(uow, ctx, customer.test_clock_id)
    prices = None if cmd.prices is None else [str(p) for p in cmd.prices]
    terms: dict[str, Any] = {
        "grant_id": grant_id_for(balance.id, ctx),
        "amount": cmd.amount,
        "now": now,
        "priority": cmd.priority,
        "prices": prices,
        "description": cmd.description,
    }
    balance.check_purchase(**terms)
    invoice = one_off_invoice(ctx, customer, cmd.description)
    line_id = f"li_{uuid4().hex[:12]}"
    invoice.add_line(line_id, "one_time", LINE_DESCRIPTION, 1, cmd.amount, [], discountable=False)
    finalize(uow, ctx, invoice, now)
    balance.invoice_purchase(invoice_id=str(invoice.id), **terms)
    uow.add(invoice)
    uow.add(balance)
    grant_paid_purchase(uow, ctx, invoice, now)  # paid at once by the customer's credit
    return Result.created(
        {
            "credit_purchase": purchase_body(balance, str(invoice.id)),
            "invoice": summary(uow, invoice),
        }
    )


HANDLERS: dict[type[Command], Handler] = {PurchaseCredits: purchase_credits}
