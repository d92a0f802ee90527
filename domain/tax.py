"""Tax rates and the one rounding rule for tax.

A rate is a percentage (a ``Decimal`` from 0 to 100, at most 4 decimals), exclusive (added
on top of the line) or inclusive (already inside the line's amount), with a jurisdiction
label. Tax is computed per line and per rate, on the line's amount after discounts, and
rounded to a whole minor unit with ROUND_HALF_EVEN:

- exclusive: ``tax = round(net * pct / 100)``
- inclusive: ``tax = amount - round(amount / (1 + pct / 100))`` (the net is what is
  rounded, so net + tax is exactly the amount the customer sees)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from domain.errors import ValidationFailed

HUNDRED = Decimal(100)


class InvalidPercentage(ValidationFailed):
    """A tax rate or a coupon's percentage outside 0 to 100 (or not a number)."""

    code = "invalid_percentage"


def check_percentage(value: str | Decimal, what: str = "a tax rate") -> Decimal:
    try:
        pct = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidPercentage(f"'{value}' is not a percentage") from None
    if not pct.is_finite() or not 0 <= pct <= HUNDRED:
        raise InvalidPercentage(f"{what} is a percentage from 0 to 100", percentage=str(value))
    if pct.as_tuple().exponent < -4:  # type: ignore[operator]
        raise InvalidPercentage(f"{what} has at most 4 decimal places")
    return pct


def round_minor(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class TaxRate:
    id: str
    percentage: Decimal
    inclusive: bool
    jurisdiction: str

    def tax_on(self, amount: int) -> int:
        """The tax this rate puts on a line of ``amount`` minor units (after discounts).
        A credit line (negative amount) carries the same tax with the opposite sign, so a
        credit for unused time also gives back the tax charged on it."""
        if amount < 0:
            return -self.tax_on(-amount)
        if amount == 0 or self.percentage == 0:
            return 0
        if self.inclusive:
            net = round_minor(Decimal(amount) * HUNDRED / (HUNDRED + self.percentage))
            return amount - net
        return round_minor(Decimal(amount) * self.percentage / HUNDRED)
