"""What spends a customer's prepaid credits (issue 13): a direct consumption, the credits
applied to an invoice's usage, and expiry (breakage).

``CreditBalance`` (``domain/credit_balance.py``) extends ``CreditSpending``; the
``Consumed`` and ``Expired`` events stay declared on the balance, since the library
defines an aggregate's event classes from its own class body. Each command checks every
rule first, books what expired before it, spends in the consumption order
(``domain/credits.py``), watches the thresholds (``domain/credit_watch.py``) and ends
by retiring the grants it finished (``domain/credit_retirement.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.credits import Grant, allocate, credits_ref, due_to_expire
from domain.errors import InsufficientCredits
from domain.limits import MAX_DESCRIPTION_CHARS, check_text
from domain.money import check_amount

Posting = dict[str, Any]


class CreditSpending:
    """The spending commands of a ``CreditBalance``: guards first, then its events."""

    if TYPE_CHECKING:
        customer_id: UUID
        currency: str
        grants: dict[str, Grant]

        def available(self, at: datetime, price_id: str | None = None) -> int: ...
        def retire_finished(self) -> int: ...
        def _watch(self) -> None: ...
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
        ) -> None: ...
        def _expired(self, grants: list[list[Any]], entry: list[Posting]) -> None: ...

    def check_consume(self, amount: int, now: datetime, price_id: str | None = None) -> None:
        check_amount(amount)
        have = self.available(now, price_id)
        if have < amount:
            raise InsufficientCredits(
                f"the customer's credits ({have}) cannot cover {amount}",
                available=have,
                amount=amount,
                currency=self.currency,
            )

    def consume(
        self,
        consumption_id: str,
        amount: int,
        now: datetime,
        *,
        price_id: str | None = None,
        description: str = "",
    ) -> list[tuple[str, int]]:
        """Spend ``amount`` at once, all of it or nothing (``insufficient_credits``)."""
        self.check_consume(amount, now, price_id)
        check_text(description, "description", MAX_DESCRIPTION_CHARS)
        self.book_expiry(now)
        taken = allocate(self.grants.values(), amount, now, price_id)
        self._spend(consumption_id, taken, now, None, price_id, description)
        self.retire_finished()
        return taken

    def apply(
        self, invoice_id: str, charges: list[tuple[str, int]], now: datetime
    ) -> list[tuple[str, int]]:
        """Credits applied to an invoice's usage: for each ``(price id, amount)`` in
        order, as much of it as the grants that pay for that price hold. Answers the
        amount applied per charge (0 where none); records one ``Consumed`` per price."""
        self.book_expiry(now)
        applied: list[tuple[str, int]] = []
        for n, (price_id, amount) in enumerate(charges):
            taken = allocate(self.grants.values(), amount, now, price_id) if amount > 0 else []
            if taken:
                self._spend(f"{invoice_id}:{n}", taken, now, invoice_id, price_id, "")
            applied.append((price_id, sum(a for _, a in taken)))
        self.retire_finished()
        return applied

    def _spend(
        self,
        consumption_id: str,
        taken: list[tuple[str, int]],
        now: datetime,
        invoice_id: str | None,
        price_id: str | None,
        description: str,
    ) -> None:
        amount = sum(a for _, a in taken)
        entry = [
            {"account": credits_ref(self.customer_id), "amount": -amount},
            {"account": "revenue", "amount": amount},
        ]
        self._consumed(
            consumption_id=consumption_id,
            amount=amount,
            allocations=[[g, a] for g, a in taken],
            at=now.isoformat(),
            invoice_id=invoice_id,
            price_id=price_id,
            description=description,
            entry=entry,
        )
        self._watch()

    def expire_due(self, now: datetime) -> int:
        """Record as expired (breakage) what the grants past their expiry still hold, and
        retire the grants that leaves finished (``domain/credit_retirement.py``)."""
        expired = self.book_expiry(now)
        self.retire_finished()
        return expired

    def book_expiry(self, now: datetime) -> int:
        """Record as expired (breakage) what the grants past their expiry still hold; the
        commands call it first, so what they decide counts no expired credit."""
        due = due_to_expire(self.grants.values(), now)
        amount = sum(a for _, a, _ in due)
        if not due:
            return 0
        entry = [
            {"account": credits_ref(self.customer_id), "amount": -amount},
            {"account": "breakage", "amount": amount},
        ]
        self._expired(grants=[[g, a, at] for g, a, at in due], entry=entry)
        self._watch()
        return amount
