"""A customer's prepaid credits in one currency (issue 13): grants, consumption,
expiry (breakage), voids and the low/depleted watch.

One ``CreditBalance`` aggregate per (customer, currency), so every consumption of a
customer's credits is decided on the one aggregate that holds them all: the bus loads
it fresh for each command (a version conflict is retried on fresh state), the guard
runs before any event, and two consumers can never both spend the last credits.

Every event that moves credit carries its journal ``entry`` (signed postings summing to
zero, in the balance's currency; ``projections.journal`` posts it):

| event | postings |
|---|---|
| ``Granted``, paid from ``source`` | ``credits:<customer>`` +a, ``clearing:<source>`` -a |
| ``Granted``, promotional | ``credits:<customer>`` +a, ``promotions`` -a |
| ``Consumed`` (direct, or applied to an invoice) | ``credits:<customer>`` -a, ``revenue`` +a |
| ``Expired`` | ``credits:<customer>`` -a, ``breakage`` +a (revenue recognised from breakage) |
| ``Voided`` (what remained) | the grant's own postings reversed for it |
| ``Restored`` (an invoice voided) | a consumption's reversed (``domain/credit_restores.py``) |
| ``Granted``, bought on a paid invoice | ``credits:<customer>`` +a, ``revenue`` -a |

``credits:<customer>`` is a liability (positive: credit Tally owes the customer in
service). Expiry is recorded by the first command that touches the balance at or after
a grant's expiry (every command calls ``book_expiry`` first), and by the test clock's
advance and the sweeper, so breakage is booked when the clock passes it. The rules that
read the grants (order, applicability, liveness) are in ``domain/credits.py``.

Thresholds, the ``Low``/``Depleted`` crossings and automatic top-ups are
``domain/credit_watch.py`` (``CreditWatch``); credits given back when an invoice they
paid for is voided are ``domain/credit_restores.py`` (``CreditRestores``); credits
bought on an invoice are ``domain/credit_purchases.py`` (``CreditPurchases``): the balance
extends them, and declares their events (the library takes them from its class body).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.copies import plain_copy
from domain.credit_purchases import CreditPurchases, Purchase
from domain.credit_refunds import CreditRefunds
from domain.credit_restores import CreditRestores
from domain.credit_retirement import CreditRetirement
from domain.credit_spending import CreditSpending
from domain.credit_watch import CreditWatch
from domain.credits import (
    Grant,
    available,
    balance,
    check_grant,
    check_voidable,
    counter_ref,
    credits_ref,
    new_grant,
    next_expiry,
)
from domain.errors import InvalidTransition, NotFound
from domain.limits import MAX_DESCRIPTION_CHARS, check_text
from domain.money import check_within_limit

NAMESPACE = UUID("0b8f3c6e-5a41-4e27-b9d2-7c1e4f6a2d93")
Posting = dict[str, Any]


__all__ = ["CreditBalance", "credits_ref"]


class CreditBalance(  # each concern in a module of its own; the events declared here
    CreditSpending,
    CreditWatch,
    CreditRestores,
    CreditPurchases,
    CreditRefunds,
    CreditRetirement,
    TallyAggregate,
):
    TOPIC = "tally:CreditBalance"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:CreditBalance.Created"

    @staticmethod
    def create_id(customer_id: UUID, currency: str) -> UUID:
        return uuid5(NAMESPACE, f"credits:{customer_id}:{currency}")

    @event("Opened", topic="tally:CreditBalance.Opened")
    def __init__(self, project_id: UUID, customer_id: UUID, currency: str) -> None:
        self.project_id = project_id
        self.customer_id = customer_id
        self.currency = currency
        self.grants: dict[str, Grant] = {}
        self.low_threshold: int | None = None
        self.top_up_amount: int | None = None
        self.low_armed = True
        self.depleted_armed = True
        self.crossings = 0  # how many times Low fired: the top-ups' numbers
        # The automatic top-ups asked for: {crossing, amount, status, reason}.
        self.top_ups: list[dict[str, Any]] = []

    @classmethod
    def open(cls, project_id: UUID, customer_id: UUID, currency: str) -> CreditBalance:
        return cls(project_id=project_id, customer_id=customer_id, currency=currency)

    # -- reading -----------------------------------------------------------------------

    @property
    def total(self) -> int:
        """What the grants hold as recorded (expiry counted once recorded)."""
        return sum(int(g["remaining"]) for g in self.grants.values())

    def available(self, at: datetime, price_id: str | None = None) -> int:
        return available(self.grants.values(), at, price_id)

    def balance(self, at: datetime) -> int:
        return balance(self.grants.values(), at)

    def next_expiry(self) -> datetime | None:
        return next_expiry(self.grants.values())

    def grant_of(self, grant_id: str) -> Grant:
        grant = self.grants.get(grant_id)
        if grant is None and self.retired["count"]:
            raise InvalidTransition(
                f"credit grant {grant_id} holds nothing: it finished (spent, expired, voided "
                "or refunded) and was retired",
                id=grant_id,
            )
        if grant is None:
            raise NotFound(f"credit grant {grant_id} not found", id=grant_id)
        return grant

    # -- commands ----------------------------------------------------------------------

    def grant(  # a grant's terms are independent facts, each named
        self,
        *,
        grant_id: str,
        kind: str,
        amount: int,
        now: datetime,
        priority: int = 0,
        expires_at: datetime | None = None,
        prices: list[str] | None = None,
        source: str = "manual",
        description: str = "",
        posted: bool = False,
        top_up: int | None = None,
        purchase: str | None = None,
    ) -> Grant:
        """Record a grant. ``posted``: the money's entry was already posted (a top-up's
        ledger transaction posted ``clearing`` -> ``credits``), so the grant posts none.
        ``purchase``: the paid invoice that bought it (``domain/credit_purchases.py``)."""
        check_grant(
            self.grants,
            kind=kind,
            amount=amount,
            priority=priority,
            expires_at=expires_at,
            prices=prices,
            now=now,
            capped=top_up is None and purchase is None,
        )
        check_text(description, "description", MAX_DESCRIPTION_CHARS)
        check_within_limit(self.total + amount, "the customer's credit balance")
        if grant_id in self.grants:
            raise InvalidTransition(f"credit grant {grant_id} exists", id=grant_id)
        self.book_expiry(now)
        grant = new_grant(
            grant_id, kind, amount, now, priority, expires_at, prices, source, description
        )
        grant["seq"], grant["top_up"] = self.grants_made, top_up
        if purchase is not None:
            grant["invoice_id"] = purchase
        entry = [
            {"account": credits_ref(self.customer_id), "amount": amount},
            {"account": counter_ref(grant), "amount": -amount},
        ]
        self._granted(grant=grant, entry=[] if posted else entry)
        return grant

    def void(self, grant_id: str, now: datetime) -> int:
        """Void a grant: what it still holds is taken back (reversing its postings)."""
        grant = self.grant_of(grant_id)
        check_voidable(grant)
        if grant["voided_at"] is not None:
            raise InvalidTransition(f"credit grant {grant_id} is already voided", id=grant_id)
        self.book_expiry(now)
        amount = int(self.grants[grant_id]["remaining"])
        entry = [
            {"account": credits_ref(self.customer_id), "amount": -amount},
            {"account": counter_ref(grant), "amount": amount},
        ]
        self._voided(
            grant_id=grant_id,
            amount=amount,
            at=now.isoformat(),
            entry=[p for p in entry if p["amount"]],
        )
        self._watch()
        self.retire_finished()  # the grant holds nothing now (unless an invoice names it)
        return amount

    # -- events ------------------------------------------------------------------------

    @event("Granted", topic="tally:CreditBalance.Granted")
    def _granted(self, grant: Grant, entry: list[Posting]) -> None:
        self.grants[grant["id"]] = dict(grant)
        for top_up in self.top_ups:
            if top_up["crossing"] == grant.get("top_up"):
                top_up["status"] = "granted"
        self._purchase_status(grant.get("invoice_id"), "granted")
        self._rearm()

    @event("PurchaseInvoiced", topic="tally:CreditBalance.PurchaseInvoiced")
    def _purchase_invoiced(self, purchase: Purchase) -> None:
        self._remember_purchase(purchase)

    @event("PurchaseCanceled", topic="tally:CreditBalance.PurchaseCanceled")
    def _purchase_canceled(self, invoice_id: str) -> None:
        self._purchase_status(invoice_id, "canceled")

    @event("Consumed", topic="tally:CreditBalance.Consumed")
    def _consumed(  # the consumption's facts, as recorded
        self,
        consumption_id: str,
        amount: int,
        allocations: list[list[Any]],
        at: str,
        invoice_id: str | None,
        price_id: str | None,
        description: str,
        entry: list[Posting],
    ) -> None:
        for grant_id, part in allocations:
            grant = self.grants[grant_id]
            grant["remaining"] -= part
            grant["consumed"] += part
        self._remember_use(invoice_id, allocations, price_id)

    @event("Restored", topic="tally:CreditBalance.Restored")
    def _restored(
        self, invoice_id: str, allocations: list[list[Any]], at: str, entry: list[Posting]
    ) -> None:
        self._give_back(invoice_id, allocations)

    @event("Expired", topic="tally:CreditBalance.Expired")
    def _expired(self, grants: list[list[Any]], entry: list[Posting]) -> None:
        for grant_id, part, _ in grants:
            grant = self.grants[grant_id]
            grant["remaining"] -= part
            grant["expired"] += part

    @event("Voided", topic="tally:CreditBalance.Voided")
    def _voided(self, grant_id: str, amount: int, at: str, entry: list[Posting]) -> None:
        grant = self.grants[grant_id]
        grant["remaining"] -= amount
        grant["voided"] += amount
        grant["voided_at"] = at

    @event("Retired", topic="tally:CreditBalance.Retired")
    def _retired(self, grants: list[Grant]) -> None:
        self._forget(grants)

    @event("Refunded", topic="tally:CreditBalance.Refunded")
    def _refunded(
        self, grant_id: str, amount: int, at: str, reference: str, entry: list[Posting]
    ) -> None:
        self._take_back(grant_id, amount)

    @event("ThresholdSet", topic="tally:CreditBalance.ThresholdSet")
    def _threshold_set(self, threshold: int | None, top_up_amount: int | None) -> None:
        self.low_threshold = threshold
        self.top_up_amount = top_up_amount
        self._rearm()

    @event("Low", topic="tally:CreditBalance.Low")
    def _low(self, balance: int, threshold: int) -> None:
        self.low_armed = False
        self.crossings += 1

    @event("Depleted", topic="tally:CreditBalance.Depleted")
    def _depleted(self, balance: int) -> None:
        self.depleted_armed = False

    @event("TopUpRequested", topic="tally:CreditBalance.TopUpRequested")
    def _top_up_requested(self, crossing: int, amount: int) -> None:
        self.top_ups.append({"crossing": crossing, "amount": amount, "status": "requested"})

    @event("TopUpFailed", topic="tally:CreditBalance.TopUpFailed")
    def _top_up_failed(self, crossing: int, reason: str) -> None:
        self._failed(crossing, reason)

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "customer_id": str(self.customer_id),
            "currency": self.currency,
            "balance": self.total,
            "low_threshold": self.low_threshold,
            "top_up_amount": self.top_up_amount,
            "top_ups": plain_copy(self.top_ups),
            "retired": plain_copy(self.retired),
            # Oldest first: a stored state (jsonb) keeps the grants' keys in its own order.
            "grants": plain_copy(sorted(self.grants.values(), key=lambda g: g["seq"])),
        }
