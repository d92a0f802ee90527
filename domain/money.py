"""Money as an integer count of minor units plus an ISO 4217 currency.

Floats are refused everywhere: a float cannot hold 0.10 exactly, and a ledger that
rounds differently on replay is not a ledger. The currency's exponent (2 for EUR,
0 for JPY, 3 for BHD) comes from the ``iso4217`` data package, not from a hand list.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from iso4217 import Currency

from domain.errors import AmountTooLarge, CurrencyMismatch, InvalidAmount, UnknownCurrency
from domain.limits import MAX_AMOUNT_MINOR

__all__ = ["MAX_AMOUNT_MINOR", "Money", "check_amount", "check_currency", "check_within_limit"]


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """Return the number of minor-unit digits of an ISO 4217 currency, or raise."""
    if not isinstance(code, str) or len(code) != 3 or not code.isalpha() or not code.isupper():
        raise UnknownCurrency(f"'{code}' is not an ISO 4217 currency code", currency=code)
    try:
        exponent = Currency(code).exponent
    except ValueError:
        raise UnknownCurrency(f"'{code}' is not an ISO 4217 currency code", currency=code) from None
    if exponent is None:
        # Precious metals and testing codes (XAU, XTS) have no minor unit; money in
        # them is not something a billing ledger can count.
        raise UnknownCurrency(f"'{code}' has no minor unit and cannot hold money", currency=code)
    return int(exponent)


def minor_to_major(amount_minor: int, currency: str) -> str:
    """Minor units as a major-unit decimal string with the currency's digits:
    ``minor_to_major(1999, "EUR")`` -> ``"19.99"``, ``minor_to_major(5, "JPY")`` -> ``"5"``."""
    exponent = currency_exponent(currency.upper())
    quantum = Decimal(1).scaleb(-exponent)
    return str(Decimal(amount_minor).scaleb(-exponent).quantize(quantum))


def check_currency(code: str) -> str:
    currency_exponent(code)
    return code


def check_amount(amount: object, *, allow_zero: bool = False) -> int:
    """Return ``amount`` if it is a usable count of minor units, else raise InvalidAmount."""
    # bool is an int subclass; True is not a sum of money.
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(
            f"amount must be an integer count of minor units, not {type(amount).__name__}",
            amount=repr(amount),
        )
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidAmount("amount must be greater than zero", amount=amount)
    if amount > MAX_AMOUNT_MINOR:
        raise AmountTooLarge(
            f"amount must be at most {MAX_AMOUNT_MINOR}",
            amount=amount,
            what="amount",
            limit=MAX_AMOUNT_MINOR,
        )
    return amount


def check_within_limit(value: int, what: str) -> int:
    """Return ``value`` (a product, a sum or a resulting balance, of either sign) if it is
    an int within ±MAX_AMOUNT_MINOR, else raise AmountTooLarge naming ``what``.

    Each input may be within its own limit while their product or sum is not, and the
    read models store these results in BIGINT columns, so they are checked before any
    event carries them."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(f"{what} must be a whole number of minor units", what=what)
    if not -MAX_AMOUNT_MINOR <= value <= MAX_AMOUNT_MINOR:
        raise AmountTooLarge(
            f"{what} would be {value}, beyond the limit of {MAX_AMOUNT_MINOR} minor units",
            what=what,
            amount=value,
            limit=MAX_AMOUNT_MINOR,
        )
    return value


# Currencies already found valid by Money. Money is made several times per deposit, so
# a known code costs one set lookup instead of the checks; the set holds at most the few
# hundred ISO 4217 codes.
_KNOWN_CURRENCIES: set[str] = set()


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        # ``type(...) is int`` refuses bool (an int subclass) and floats alike.
        if type(self.amount) is not int:
            raise InvalidAmount(
                f"amount must be an integer count of minor units, not {type(self.amount).__name__}"
            )
        if self.currency not in _KNOWN_CURRENCIES:
            _KNOWN_CURRENCIES.add(check_currency(self.currency))

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def _mismatch(self, other: Money) -> CurrencyMismatch:
        return CurrencyMismatch(
            f"cannot combine {self.currency} with {other.currency}",
            left=self.currency,
            right=other.currency,
        )

    # The results of arithmetic skip __post_init__: both sides were checked when they were
    # made, and an int plus an int is an int.
    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise self._mismatch(other)
        return _checked(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise self._mismatch(other)
        return _checked(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return _checked(-self.amount, self.currency)

    def format(self) -> str:
        """Human form, e.g. ``12.50 EUR`` or ``1200 JPY``; for display only."""
        exp = self.exponent
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10**exp) if exp else (abs(self.amount), 0)
        return (
            f"{sign}{whole}.{frac:0{exp}d} {self.currency}"
            if exp
            else f"{sign}{whole} {self.currency}"
        )


_new = object.__new__
_set = object.__setattr__


def _checked(amount: int, currency: str) -> Money:
    """A Money from parts already known to be valid, without checking them again."""
    money: Money = _new(Money)
    _set(money, "amount", amount)
    _set(money, "currency", currency)
    return money
