"""What the invoicing handlers share besides the invoice itself (loading, finalizing and
answering it, with its dunning record, are in ``commands.invoicing``): the project's
billing settings, tax rates and coupons.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from domain.billing_settings import DEFAULTS, BillingSettings
from domain.coupons import Coupon, PromotionCode
from domain.errors import (
    CurrencyMismatch,
    InvalidCombination,
    NotFound,
    TaxRateArchived,
)
from domain.tax import TaxRate
from domain.tax_rates import TaxRateDefinition


def settings_values(uow: UnitOfWork, ctx: Context) -> dict[str, Any]:
    found = uow.find(BillingSettings, BillingSettings.create_id(ctx.project_id))
    # Settings configured before a field existed take its default.
    return {**DEFAULTS, **found.values} if found is not None else dict(DEFAULTS)


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
