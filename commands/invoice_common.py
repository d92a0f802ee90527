"""What the invoicing handlers share: loading (or starting) the per-project and
per-customer aggregates, the time a customer lives at, finalization, coupons, tax
rates, and the invoice body every invoicing command answers with.

New aggregates (the number sequence, billing settings, a customer's billing record) are
made here but only added to the unit of work by the caller once every guard has passed,
so a refused command leaves the unit of work as it found it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.now import now_for
from domain.billing_settings import DEFAULTS, BillingSettings
from domain.coupons import Coupon, PromotionCode
from domain.customer_billing import CustomerBilling
from domain.customers import Customer
from domain.dunning import InvoiceDunning
from domain.errors import (
    CurrencyMismatch,
    InvalidCombination,
    NotFound,
    TaxRateArchived,
)
from domain.invoice_sequence import TEST_CLOCK_SERIES, InvoiceSequence, series_prefix
from domain.invoices import Invoice
from domain.tax import TaxRate
from domain.tax_rates import TaxRateDefinition


def find_dunning(uow: UnitOfWork, invoice: Invoice) -> InvoiceDunning | None:
    return uow.find(InvoiceDunning, InvoiceDunning.create_id(invoice.id))


def dunning_for(uow: UnitOfWork, invoice: Invoice) -> InvoiceDunning:
    """The invoice's dunning record; a new one is not in the unit of work yet."""
    return find_dunning(uow, invoice) or InvoiceDunning(
        project_id=invoice.project_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        subscription_id=invoice.subscription_id,
    )


def summary(uow: UnitOfWork, invoice: Invoice) -> dict[str, Any]:
    return invoice_summary(invoice, find_dunning(uow, invoice))


def invoice_summary(invoice: Invoice, dunning: InvoiceDunning | None = None) -> dict[str, Any]:
    """The invoice as the write side knows it: what every invoicing command answers
    (``Invoice.summary``, which the invoices read model keeps too)."""
    return {**invoice.summary(dunning), "created": created(invoice)}


def settings_values(uow: UnitOfWork, ctx: Context) -> dict[str, Any]:
    found = uow.find(BillingSettings, BillingSettings.create_id(ctx.project_id))
    # Settings configured before a field existed take its default.
    return {**DEFAULTS, **found.values} if found is not None else dict(DEFAULTS)


def sequence(uow: UnitOfWork, ctx: Context, prefix: str, series: str = "") -> InvoiceSequence:
    found = uow.find(InvoiceSequence, InvoiceSequence.create_id(ctx.project_id, series))
    return found or InvoiceSequence(project_id=ctx.project_id, prefix=prefix, series=series)


def billing_for(uow: UnitOfWork, ctx: Context, customer_id: UUID, currency: str) -> CustomerBilling:
    found = uow.find(CustomerBilling, CustomerBilling.create_id(customer_id))
    if found is not None:
        return found
    return CustomerBilling(project_id=ctx.project_id, customer_id=customer_id, currency=currency)


def load_invoice(
    uow: UnitOfWork, ctx: Context, invoice_id: UUID
) -> tuple[Invoice, Customer, datetime]:
    invoice = uow.get(Invoice, invoice_id, ctx.project_id)
    customer = uow.get(Customer, invoice.customer_id, ctx.project_id)
    return invoice, customer, now_for(uow, ctx, customer.test_clock_id)


def tax_rates(
    uow: UnitOfWork, ctx: Context, ids: list[UUID], *, strict: bool = True
) -> list[TaxRate]:
    """The rates named; an archived one is refused (``strict``) or skipped."""
    rates = []
    for rate_id in ids:
        definition = uow.get(TaxRateDefinition, rate_id, ctx.project_id)
        if not definition.active:
            if strict:
                raise TaxRateArchived(f"tax rate {rate_id} is archived", tax_rate_id=str(rate_id))
            continue
        rates.append(definition.rate())
    return rates


def finalize(uow: UnitOfWork, ctx: Context, invoice: Invoice, now: datetime) -> None:
    """Finalize ``invoice``: credit balance first, then the next number. Raises only in
    ``check_finalize`` and the credit balance's limit, before anything changes."""
    invoice.check_finalize()
    settings = uow.find(BillingSettings, BillingSettings.create_id(ctx.project_id))
    if settings is None:
        # Kept with its defaults, so that the next finalization finds it in the bus's
        # cache instead of asking the store, again, for an aggregate that is not there.
        settings = BillingSettings(project_id=ctx.project_id)
        uow.add(settings)
    values = dict(settings.values)
    billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
    # A negative total (only credit lines make one) becomes credit: the balance it leaves
    # must fit the limit too.
    if any(int(line["amount"]) < 0 for line in invoice.lines):
        billing.check_grant(max(0, -int(invoice.preview()["total"])))
    # An invoice dated by a test clock is numbered in the test-clock series.
    on_clock = uow.get(Customer, invoice.customer_id, ctx.project_id).test_clock_id
    series = TEST_CLOCK_SERIES if on_clock is not None else ""
    prefix = series_prefix(values["invoice_prefix"], series)
    numbers = sequence(uow, ctx, prefix, series)
    used = invoice.finalize(numbers, billing.credit_balance, now, prefix)
    if used:
        billing.apply_credit(invoice.id, used)
    if invoice.credit_granted:
        billing.grant_credit(invoice.id, invoice.credit_granted, "negative_total")
    billing.clear(invoice.id)
    uow.add(numbers)
    uow.add(billing)


def resolve_coupon(
    uow: UnitOfWork,
    ctx: Context,
    coupon_code: str | None,
    promotion_code: str | None,
    currency: str,
    now: datetime,
) -> tuple[Coupon, PromotionCode | None]:
    """The coupon a coupon code or a promotion code names, checked redeemable now (its
    expiry and redemption limit, and the promotion code's) and usable in ``currency``."""
    if (coupon_code is None) == (promotion_code is None):
        raise InvalidCombination("give either coupon_code or promotion_code")
    promo: PromotionCode | None = None
    if promotion_code is not None:
        promo = uow.find(PromotionCode, PromotionCode.create_id(ctx.project_id, promotion_code))
        if promo is None or promo.project_id != ctx.project_id:
            raise NotFound(f"promotion code '{promotion_code}' not found")
        promo.check_redeemable(now)
        coupon = uow.get(Coupon, promo.coupon_id, ctx.project_id)
    else:
        assert coupon_code is not None
        found = uow.find(Coupon, Coupon.create_id(ctx.project_id, coupon_code))
        if found is None or found.project_id != ctx.project_id:
            raise NotFound(f"coupon '{coupon_code}' not found")
        coupon = found
    coupon.check_redeemable(now)
    if coupon.amount_off is not None and coupon.currency != currency:
        raise CurrencyMismatch(
            f"coupon '{coupon.code}' takes {coupon.currency} off; this is billed in {currency}",
            coupon_currency=coupon.currency,
            currency=currency,
        )
    return coupon, promo


def redeem(coupon: Coupon, promo: PromotionCode | None, now: datetime) -> None:
    coupon.redeem(now)
    if promo is not None:
        promo.redeem(now)


def coupon_terms(coupon: Coupon) -> dict[str, Any]:
    return {
        "coupon_id": str(coupon.id),
        "code": coupon.code,
        "percent_off": coupon.percent_off,
        "amount_off": coupon.amount_off,
        "currency": coupon.currency,
        "duration": coupon.duration,
        "remaining": coupon.periods(),
    }
