"""Amounts between providers' formats and Tally's integer minor units.

Stripe and Paddle already send minor units (Paddle as strings); YooKassa sends major
units as decimal strings ("100.00" RUB). Conversion goes through ``Decimal`` and refuses
a value with more digits than the currency has, rather than rounding money silently.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from domain.money import currency_exponent


def major_to_minor(value: str, currency: str) -> int:
    exponent = currency_exponent(currency.upper())
    try:
        scaled = Decimal(value).scaleb(exponent)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal amount") from None
    if not scaled.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value!r} has more digits than {currency} allows")
    return int(scaled)


def minor_from_text(value: object) -> int | None:
    """Paddle's minor-unit strings ("1500") or ints to an int; anything else to None
    (digits other than ASCII ones, or more than Python's ``int`` reads from text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        try:
            return int(value)
        except ValueError:  # past sys.get_int_max_str_digits()
            return None
    return None
