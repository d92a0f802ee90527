"""Handlers for what invoicing is configured with: tax rates, coupons, promotion codes,
billing settings, coupons attached to customers and subscriptions, and manual changes
of a customer's credit balance.

Bodies: ``DefineTaxRate`` -> 201 ``{tax_rate}``; ``ArchiveTaxRate`` -> 200 ``{tax_rate}``;
``DefineCoupon`` -> 201 ``{coupon}``; ``ArchiveCoupon`` -> 200 ``{coupon}``;
``DefinePromotionCode`` -> 201 ``{promotion_code}``; ``ApplyCouponToCustomer`` /
``ApplyCouponToSubscription`` -> 200 ``{billing, coupon}``; ``ConfigureBilling`` -> 200
``{billing_settings}``; ``AdjustCreditBalance`` -> 200 ``{billing, entry}``.
"""

from __future__ import annotations

from typing import Any

from commands import messages as m
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.invoice_common import coupon_terms, redeem, resolve_coupon, tax_rates
from commands.invoicing import billing_for
from commands.now import now_for
from domain.billing_settings import BillingSettings, check_settings
from domain.coupons import Coupon, PromotionCode
from domain.customers import Customer
from domain.errors import AlreadyExists, NotFound
from domain.subscriptions import Subscription
from domain.tax_rates import TaxRateDefinition


def tax_rate_summary(rate: TaxRateDefinition) -> dict[str, Any]:
    return {**rate.summary(), "created": created(rate)}


def coupon_summary(coupon: Coupon) -> dict[str, Any]:
    return {**coupon.summary(), "created": created(coupon)}


def define_tax_rate(uow: UnitOfWork, cmd: m.DefineTaxRate, ctx: Context) -> Result:
    rate = TaxRateDefinition.define(
        ctx.project_id, cmd.percentage, cmd.inclusive, cmd.jurisdiction, cmd.name
    )
    uow.add(rate)
    return Result.created({"tax_rate": tax_rate_summary(rate)})


def archive_tax_rate(uow: UnitOfWork, cmd: m.ArchiveTaxRate, ctx: Context) -> Result:
    rate = uow.get(TaxRateDefinition, cmd.tax_rate_id, ctx.project_id)
    rate.archive()
    return Result.changed({"tax_rate": tax_rate_summary(rate)})


def define_coupon(uow: UnitOfWork, cmd: m.DefineCoupon, ctx: Context) -> Result:
    if uow.find(Coupon, Coupon.create_id(ctx.project_id, cmd.code)) is not None:
        raise AlreadyExists(f"coupon '{cmd.code}' already exists")
    coupon = Coupon.define(
        project_id=ctx.project_id,
        code=cmd.code,
        percent_off=cmd.percent_off,
        amount_off=cmd.amount_off,
        currency=cmd.currency,
        duration=cmd.duration,
        duration_periods=cmd.duration_periods,
        max_redemptions=cmd.max_redemptions,
        expires_at=cmd.expires_at,
    )
    uow.add(coupon)
    return Result.created({"coupon": coupon_summary(coupon)})


def _coupon(uow: UnitOfWork, ctx: Context, code: str) -> Coupon:
    coupon = uow.find(Coupon, Coupon.create_id(ctx.project_id, code))
    if coupon is None or coupon.project_id != ctx.project_id:
        raise NotFound(f"coupon '{code}' not found")
    return coupon


def archive_coupon(uow: UnitOfWork, cmd: m.ArchiveCoupon, ctx: Context) -> Result:
    coupon = _coupon(uow, ctx, cmd.code)
    coupon.archive()
    return Result.changed({"coupon": coupon_summary(coupon)})


def define_promotion_code(uow: UnitOfWork, cmd: m.DefinePromotionCode, ctx: Context) -> Result:
    coupon = _coupon(uow, ctx, cmd.coupon_code)
    if uow.find(PromotionCode, PromotionCode.create_id(ctx.project_id, cmd.code)) is not None:
        raise AlreadyExists(f"promotion code '{cmd.code}' already exists")
    promo = PromotionCode.define(
        ctx.project_id, cmd.code, coupon.id, cmd.max_redemptions, cmd.expires_at
    )
    uow.add(promo)
    return Result.created(
        {
            "promotion_code": {
                **promo.summary(),
                "coupon": coupon.summary(),
                "created": created(promo),
            }
        }
    )


def _attach(
    uow: UnitOfWork,
    ctx: Context,
    customer: Customer,
    target: str,
    coupon_code: str | None,
    promotion_code: str | None,
) -> Result:
    now = now_for(uow, ctx, customer.test_clock_id)
    coupon, promo = resolve_coupon(uow, ctx, coupon_code, promotion_code, customer.currency, now)
    billing = billing_for(uow, ctx, customer.id, customer.currency)
    billing.attach_coupon(target, coupon_terms(coupon))
    redeem(coupon, promo, now)
    uow.add(billing)
    return Result.changed({"billing": billing.summary(), "coupon": coupon_summary(coupon)})


def apply_to_customer(uow: UnitOfWork, cmd: m.ApplyCouponToCustomer, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    return _attach(uow, ctx, customer, "customer", cmd.coupon_code, cmd.promotion_code)


def apply_to_subscription(
    uow: UnitOfWork, cmd: m.ApplyCouponToSubscription, ctx: Context
) -> Result:
    sub = uow.get(Subscription, cmd.subscription_id, ctx.project_id)
    customer = uow.get(Customer, sub.customer_id, ctx.project_id)
    return _attach(uow, ctx, customer, str(sub.id), cmd.coupon_code, cmd.promotion_code)


def configure_billing(uow: UnitOfWork, cmd: m.ConfigureBilling, ctx: Context) -> Result:
    changes = cmd.model_dump(exclude_none=True)
    if "default_tax_rate_ids" in changes:
        tax_rates(uow, ctx, list(cmd.default_tax_rate_ids or []))  # exist and active
        changes["default_tax_rate_ids"] = [str(i) for i in changes["default_tax_rate_ids"]]
    settings = uow.find(BillingSettings, BillingSettings.create_id(ctx.project_id))
    if settings is None:
        settings = BillingSettings(project_id=ctx.project_id)
    check_settings({**settings.values, **changes})  # before the new aggregate is kept
    settings.configure(changes)
    uow.add(settings)
    return Result.changed({"billing_settings": settings.summary()})


def adjust_credit(uow: UnitOfWork, cmd: m.AdjustCreditBalance, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    billing = billing_for(uow, ctx, customer.id, customer.currency)
    billing.check_adjustment(cmd.amount)
    entry = billing.adjust_credit(cmd.amount, cmd.reason)
    uow.add(billing)
    return Result.changed({"billing": billing.summary(), "entry": entry})


HANDLERS: dict[type[m.Command], Handler] = {
    m.DefineTaxRate: define_tax_rate,
    m.ArchiveTaxRate: archive_tax_rate,
    m.DefineCoupon: define_coupon,
    m.ArchiveCoupon: archive_coupon,
    m.DefinePromotionCode: define_promotion_code,
    m.ApplyCouponToCustomer: apply_to_customer,
    m.ApplyCouponToSubscription: apply_to_subscription,
    m.ConfigureBilling: configure_billing,
    m.AdjustCreditBalance: adjust_credit,
}
