"""Coupons and promotion codes.

A coupon takes a percentage or a fixed amount (in one currency) off, once, for a number
of periods (``repeating``), or ``forever``. It may be limited in redemptions and expire.
A promotion code is a customer-facing code that maps to a coupon, with its own expiry and
redemption limit. Tax rates are in ``domain/tax_rates.py``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.discounts import DURATIONS
from domain.errors import CouponUnavailable, InvalidCombination, ValidationFailed
from domain.limits import MAX_COUPON_PERIODS, MAX_REDEMPTIONS, check_timestamp
from domain.money import Money, check_amount, check_currency
from domain.tax import check_percentage

NAMESPACE = UUID("5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d")


def _check_limits(max_redemptions: int | None, expires_at: datetime | None) -> None:
    if max_redemptions is not None and not 0 < max_redemptions <= MAX_REDEMPTIONS:
        raise ValidationFailed(f"max_redemptions must be between 1 and {MAX_REDEMPTIONS}")
    if expires_at is not None:
        check_timestamp(expires_at, "expires_at")


class _Redeemable(TallyAggregate):
    """What coupons and promotion codes share: an expiry and a redemption limit."""

    if TYPE_CHECKING:
        # Declared for the type checker only: annotations at run time would make the
        # library treat them as constructor fields of every subclass.
        max_redemptions: int | None
        expires_at: datetime | None
        times_redeemed: int
        active: bool
        code: str

    def check_redeemable(self, now: datetime) -> None:
        kind = type(self).__name__.lower()
        if not self.active:
            raise CouponUnavailable(f"{kind} '{self.code}' is archived")
        if self.expires_at is not None and now >= self.expires_at:
            raise CouponUnavailable(
                f"{kind} '{self.code}' expired at {self.expires_at.isoformat()}"
            )
        if self.max_redemptions is not None and self.times_redeemed >= self.max_redemptions:
            raise CouponUnavailable(
                f"{kind} '{self.code}' reached its limit of {self.max_redemptions} redemptions",
                max_redemptions=self.max_redemptions,
            )


class Coupon(_Redeemable):
    TOPIC = "tally:Coupon"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:Coupon.Created"

    @staticmethod
    def create_id(project_id: UUID, code: str) -> UUID:
        return uuid5(NAMESPACE, f"coupon:{project_id}:{code}")

    @event("Defined", topic="tally:Coupon.Defined")
    def __init__(
        self,
        project_id: UUID,
        code: str,
        percent_off: str | None,
        amount_off: int | None,
        currency: str | None,
        duration: str,
        duration_periods: int | None,
        max_redemptions: int | None,
        expires_at: datetime | None,
    ) -> None:
        self.project_id = project_id
        self.code = code
        self.percent_off = percent_off
        self.amount_off = amount_off
        self.currency = currency
        self.duration = duration
        self.duration_periods = duration_periods
        self.max_redemptions = max_redemptions
        self.expires_at = expires_at
        self.times_redeemed = 0
        self.active = True

    @classmethod
    def define(  # the fields of a coupon are independent facts, so they are all named
        cls,
        *,
        project_id: UUID,
        code: str,
        percent_off: str | None = None,
        amount_off: int | None = None,
        currency: str | None = None,
        duration: str = "once",
        duration_periods: int | None = None,
        max_redemptions: int | None = None,
        expires_at: datetime | None = None,
    ) -> Coupon:
        if (percent_off is None) == (amount_off is None):
            raise InvalidCombination("a coupon takes either percent_off or amount_off")
        if percent_off is not None:
            pct = check_percentage(percent_off, "percent_off")
            if pct == 0:
                raise ValidationFailed("percent_off must be greater than zero")
        if amount_off is not None:
            check_amount(amount_off)
            if currency is None:
                raise InvalidCombination("a fixed-amount coupon names its currency")
            check_currency(currency)
        if duration not in DURATIONS:
            raise ValidationFailed(f"duration must be one of {', '.join(DURATIONS)}")
        if (duration == "repeating") != (duration_periods is not None):
            raise InvalidCombination("duration_periods goes with (and only with) 'repeating'")
        if duration_periods is not None and not 1 <= duration_periods <= MAX_COUPON_PERIODS:
            raise ValidationFailed(f"duration_periods must be 1 to {MAX_COUPON_PERIODS}")
        _check_limits(max_redemptions, expires_at)
        return cls(
            project_id=project_id,
            code=code,
            percent_off=str(Decimal(percent_off)) if percent_off is not None else None,
            amount_off=amount_off,
            currency=currency,
            duration=duration,
            duration_periods=duration_periods,
            max_redemptions=max_redemptions,
            expires_at=expires_at,
        )

    @property
    def money_off(self) -> Money | None:
        """The fixed amount off as Money (its currency is set whenever the amount is)."""
        if self.amount_off is None:
            return None
        assert self.currency is not None, "define() refuses an amount off without currency"
        return Money(self.amount_off, self.currency)

    def periods(self) -> int | None:
        """How many invoices the discount applies to; None is forever."""
        return {"once": 1, "forever": None}.get(self.duration, self.duration_periods)

    def redeem(self, now: datetime) -> None:
        self.check_redeemable(now)
        self._redeemed()

    @event("Redeemed", topic="tally:Coupon.Redeemed")
    def _redeemed(self) -> None:
        self.times_redeemed += 1

    def archive(self) -> None:
        if self.active:
            self._archived()

    @event("Archived", topic="tally:Coupon.Archived")
    def _archived(self) -> None:
        self.active = False

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "code": self.code,
            "percent_off": self.percent_off,
            "amount_off": self.amount_off,
            "currency": self.currency,
            "duration": self.duration,
            "duration_periods": self.duration_periods,
            "max_redemptions": self.max_redemptions,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "times_redeemed": self.times_redeemed,
            "active": self.active,
        }


class PromotionCode(_Redeemable):
    TOPIC = "tally:PromotionCode"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:PromotionCode.Created"

    @staticmethod
    def create_id(project_id: UUID, code: str) -> UUID:
        return uuid5(NAMESPACE, f"promotion:{project_id}:{code.upper()}")

    @event("Defined", topic="tally:PromotionCode.Defined")
    def __init__(
        self,
        project_id: UUID,
        code: str,
        coupon_id: UUID,
        max_redemptions: int | None,
        expires_at: datetime | None,
    ) -> None:
        self.project_id = project_id
        self.code = code
        self.coupon_id = coupon_id
        self.max_redemptions = max_redemptions
        self.expires_at = expires_at
        self.times_redeemed = 0
        self.active = True

    @classmethod
    def define(
        cls,
        project_id: UUID,
        code: str,
        coupon_id: UUID,
        max_redemptions: int | None = None,
        expires_at: datetime | None = None,
    ) -> PromotionCode:
        if not code or len(code) > 40 or not code.replace("-", "").replace("_", "").isalnum():
            raise ValidationFailed("a promotion code is 1 to 40 letters, digits, - or _")
        _check_limits(max_redemptions, expires_at)
        return cls(
            project_id=project_id,
            code=code.upper(),
            coupon_id=coupon_id,
            max_redemptions=max_redemptions,
            expires_at=expires_at,
        )

    def redeem(self, now: datetime) -> None:
        self.check_redeemable(now)
        self._redeemed()

    @event("Redeemed", topic="tally:PromotionCode.Redeemed")
    def _redeemed(self) -> None:
        self.times_redeemed += 1

    def summary(self) -> dict[str, Any]:
        """Without its coupon's terms: the caller adds ``coupon`` (its coupon's summary)."""
        return {
            "id": str(self.id),
            "code": self.code,
            "coupon_id": str(self.coupon_id),
            "max_redemptions": self.max_redemptions,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "times_redeemed": self.times_redeemed,
        }
