"""Prepaid credit grants (issue 13): the rules that read a customer's grants.

A grant is a dict kept in the ``CreditBalance`` aggregate (``domain/credit_balance.py``),
one per customer and currency:

| key | meaning |
|---|---|
| ``id`` | the grant's id (``cg_...``) |
| ``kind`` | ``paid`` (funded: ``source`` names where the money came from) or ``promotional`` |
| ``amount`` | what was granted, in minor units |
| ``remaining``, ``consumed``, ``expired``, ``voided`` | where it went; they add up to ``amount`` |
| ``voided_at`` | when it was voided (None: it was not) |
| ``expires_at`` | ISO 8601, or None: it never expires |
| ``priority`` | 0..MAX_CREDIT_PRIORITY; higher is consumed first |
| ``prices`` | None: every metered price and direct consumption; else the prices it pays for |
| ``seq`` | its order among the balance's grants (oldest first) |

Consumption order: the highest ``priority`` first, then the soonest expiry (a grant that
never expires last), then the oldest (``seq``). A grant is *live* at a moment while it
has something remaining, is not voided and has not reached its expiry. Nothing here
takes more than a grant holds, so no grant ever goes below zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.errors import InvalidCombination, InvalidTransition, LimitReached, ValidationFailed
from domain.limits import (
    MAX_CREDIT_GRANT_PRICES,
    MAX_CREDIT_GRANTS,
    MAX_CREDIT_PRIORITY,
    check_timestamp,
)
from domain.money import check_amount

Grant = dict[str, Any]
KINDS = ("paid", "promotional")
# A grant without expiry sorts after every one with an expiry.
_NEVER = "9999-12-31T23:59:59.999999+00:00"


def check_grant(
    grants: dict[str, Grant],
    *,
    kind: str,
    amount: int,
    priority: int,
    expires_at: datetime | None,
    prices: list[str] | None,
    now: datetime,
    capped: bool = True,
) -> None:
    """Guards for a new grant: every rule it could break, before anything is recorded.
    ``capped``: held to ``MAX_CREDIT_GRANTS`` live grants (a top-up the customer has
    paid for is not: it was checked before the charge, and its money is in)."""
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    check_amount(amount)
    if isinstance(priority, bool) or not 0 <= priority <= MAX_CREDIT_PRIORITY:
        raise ValidationFailed(f"priority must be 0 to {MAX_CREDIT_PRIORITY}", field="priority")
    if expires_at is not None:
        check_timestamp(expires_at, "expires_at")
        if expires_at <= now:
            raise InvalidCombination("expires_at must be after the customer's clock")
    if prices is not None and not 1 <= len(prices) <= MAX_CREDIT_GRANT_PRICES:
        raise ValidationFailed(
            f"prices lists 1 to {MAX_CREDIT_GRANT_PRICES} prices (omit it for all)",
            field="prices",
        )
    if capped and sum(1 for g in grants.values() if is_live(g, now)) >= MAX_CREDIT_GRANTS:
        raise LimitReached(
            f"a customer has at most {MAX_CREDIT_GRANTS} live credit grants per currency",
            limit=MAX_CREDIT_GRANTS,
        )


def new_grant(  # a grant's terms are independent facts
    grant_id: str,
    kind: str,
    amount: int,
    now: datetime,
    priority: int,
    expires_at: datetime | None,
    prices: list[str] | None,
    source: str,
    description: str,
) -> Grant:
    """A grant as granted (its ``seq`` and ``top_up`` are the balance's to set)."""
    return {
        "id": grant_id,
        "kind": kind,
        "amount": amount,
        "remaining": amount,
        "consumed": 0,
        "expired": 0,
        "voided": 0,
        "voided_at": None,
        "expires_at": None if expires_at is None else expires_at.isoformat(),
        "priority": priority,
        "prices": None if prices is None else list(dict.fromkeys(prices)),
        "seq": 0,
        "granted_at": now.isoformat(),
        "source": source if kind == "paid" else "",
        "description": description,
        "top_up": None,
    }


def credits_ref(customer_id: UUID) -> str:
    """The journal account of a customer's credits (a liability)."""
    return f"credits:{customer_id}"


def counter_ref(grant: Grant) -> str:
    """The account a grant's credit came from: ``clearing:<source>`` or ``promotions``,
    or ``revenue`` for credits bought on an invoice (its finalization earned the money:
    ``domain/credit_purchases.py``)."""
    if str(grant["source"]).startswith("invoice:"):
        return "revenue"
    return f"clearing:{grant['source']}" if grant["kind"] == "paid" else "promotions"


def check_voidable(grant: Grant) -> None:
    """A grant bought on an invoice is not voided: the customer paid for it, and what
    gives the money back is a credit note of that invoice. A wallet-funded grant (its
    ``source`` ``wallet:<account id>``: a client's ``source`` cannot hold a colon, so
    no other grant has one like it) is not voided either: its money was the customer's
    own, and a void gives back to the grant's counter, which for it would be the wallet
    (whose balance the void would not move)."""
    if str(grant["source"]).startswith("invoice:"):
        raise InvalidTransition(
            f"credit grant {grant['id']} was bought on an invoice; it cannot be voided",
            id=str(grant["id"]),
        )
    if str(grant["source"]).startswith("wallet:"):
        raise InvalidTransition(
            f"credit grant {grant['id']} was funded by the customer's wallet; it cannot be voided",
            id=str(grant["id"]),
        )


def is_live(grant: Grant, at: datetime) -> bool:
    """Whether ``grant`` can be consumed at ``at``."""
    if grant["remaining"] <= 0 or grant["voided_at"] is not None:
        return False
    expires_at = grant["expires_at"]
    return expires_at is None or at < datetime.fromisoformat(expires_at)


def applies(grant: Grant, price_id: str | None) -> bool:
    """Whether ``grant`` pays for ``price_id`` (None: a direct consumption, which only
    grants for everything pay for)."""
    prices = grant["prices"]
    return prices is None or (price_id is not None and price_id in prices)


def order_key(grant: Grant) -> tuple[int, datetime, int]:
    """The consumption order: highest priority, soonest expiry, oldest."""
    expires_at = datetime.fromisoformat(grant["expires_at"] or _NEVER)
    return (-int(grant["priority"]), expires_at, int(grant["seq"]))


def usable(grants: Iterable[Grant], at: datetime, price_id: str | None) -> list[Grant]:
    """The grants that can pay for ``price_id`` at ``at``, in consumption order."""
    return sorted((g for g in grants if is_live(g, at) and applies(g, price_id)), key=order_key)


def available(grants: Iterable[Grant], at: datetime, price_id: str | None = None) -> int:
    """What the grants can pay for ``price_id`` at ``at``."""
    return sum(int(g["remaining"]) for g in usable(grants, at, price_id))


def balance(grants: Iterable[Grant], at: datetime) -> int:
    """Everything live at ``at``, whatever it applies to."""
    return sum(int(g["remaining"]) for g in grants if is_live(g, at))


def allocate(
    grants: Iterable[Grant], amount: int, at: datetime, price_id: str | None
) -> list[tuple[str, int]]:
    """``(grant id, amount)`` taken from the grants, in consumption order, for at most
    ``amount`` (less when they hold less); never more than a grant's remaining."""
    taken: list[tuple[str, int]] = []
    left = amount
    for grant in usable(grants, at, price_id):
        if left <= 0:
            break
        part = min(int(grant["remaining"]), left)
        taken.append((str(grant["id"]), part))
        left -= part
    return taken


def due_to_expire(grants: Iterable[Grant], at: datetime) -> list[tuple[str, int, str]]:
    """``(grant id, remaining, expires_at)`` of the grants whose expiry is at or before
    ``at`` with something remaining, in expiry order: what becomes breakage."""
    due = [
        (str(g["id"]), int(g["remaining"]), str(g["expires_at"]))
        for g in grants
        if g["expires_at"] is not None
        and g["remaining"] > 0
        and g["voided_at"] is None
        and datetime.fromisoformat(g["expires_at"]) <= at
    ]
    return sorted(due, key=lambda d: (datetime.fromisoformat(d[2]), d[0]))


def next_expiry(grants: Iterable[Grant]) -> datetime | None:
    """The soonest expiry of a grant that still holds something."""
    times = [
        datetime.fromisoformat(g["expires_at"])
        for g in grants
        if g["expires_at"] is not None and g["remaining"] > 0 and g["voided_at"] is None
    ]
    return min(times) if times else None
