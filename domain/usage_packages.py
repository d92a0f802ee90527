"""Package prices of usage (issue 13): Lago's ``package`` charge, Stripe's
``transform_quantity``.

A ``metered_package`` price charges its ``unit_amount`` per package of ``size`` units
of its meter's quantity over a period, after ``free_units`` units that cost nothing. A
started package is charged whole (``round: up``, the default, as Lago does) or only
complete packages are (``round: down``, Stripe's other choice). So with packages of
1,000 tokens at 50 cents, 100 free, 2,150 tokens are ``ceil(2,050 / 1,000) = 3``
packages: 150 cents. No usage, or no more than the free units, costs nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.errors import InvalidCombination
from domain.limits import MAX_PACKAGE_UNITS

ROUNDINGS = ("up", "down")
Package = dict[str, Any]  # {"size": int, "round": "up" | "down", "free_units": int}


def check_package(package: Package | None) -> Package:
    """The package terms as a price records them, refused when malformed."""
    if not package:
        raise InvalidCombination("a package price needs its package: size, round, free_units")
    size, rounding = package.get("size"), package.get("round", "up")
    free = package.get("free_units", 0)
    for name, value, least in (("size", size, 1), ("free_units", free, 0)):
        if type(value) is not int or not least <= value <= MAX_PACKAGE_UNITS:
            raise InvalidCombination(
                f"a package's {name} is a whole number from {least} to {MAX_PACKAGE_UNITS}"
            )
    if rounding not in ROUNDINGS:
        raise InvalidCombination("a package's round is up or down")
    return {"size": size, "round": rounding, "free_units": free}


def package_count(package: Package, quantity: Decimal | None) -> int:
    """How many packages ``quantity`` units come to once the free units are taken off:
    a started package counts (``up``) or not (``down``); none for none or less."""
    if quantity is None:
        return 0
    chargeable = quantity - int(package["free_units"])
    if chargeable <= 0:
        return 0
    # divmod is exact here (at most 15 digits before the point), a division might round.
    whole, rest = divmod(chargeable, Decimal(int(package["size"])))
    return int(whole) + (1 if rest and package["round"] == "up" else 0)
