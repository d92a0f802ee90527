"""A product with one flat monthly price, made through the command messages by whatever
runs them in a test (a world's ``body``, a driver's ``run``, ``tally.execute`` in a
project): the plan most command-level tests subscribe their customers to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from commands import messages as m

Run = Callable[[m.Command], dict[str, Any]]


def monthly_plan(
    run: Run,
    code: str,
    amount: int,
    *,
    lookup_key: str,
    name: str | None = None,
    currency: str = "EUR",
    features: list[str] | None = None,
) -> UUID:
    """Define the product ``code`` (named ``name``, by default its code in title case)
    and its flat monthly price of ``amount`` under ``lookup_key``; the price's id."""
    defined = m.DefineProduct(code=code, name=name or code.title(), features=features or [])
    product = run(defined)
    price = run(
        m.DefinePrice(
            product_id=UUID(product["product"]["id"]),
            lookup_key=lookup_key,
            currency=currency,
            scheme="flat",
            unit_amount=amount,
            interval="month",
        )
    )
    return UUID(price["price"]["id"])
