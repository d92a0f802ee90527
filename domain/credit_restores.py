"""Credits given back when the invoice they paid for is voided (review finding 2).

``CreditBalance`` (``domain/credit_balance.py``) extends ``CreditRestores``; its
``Restored`` event stays declared on the balance, since the library defines an
aggregate's event classes from its own class body. Every ``Consumed`` that names an
invoice is remembered per invoice (``invoice_uses``: the grants and amounts it took);
``restore`` gives each grant back what it gave, in one ``Restored`` event, and forgets
the invoice, so a second restore gives nothing. What a grant gets back follows what
became of the grant meanwhile:

- a live grant: ``remaining`` +a; postings ``credits:<customer>`` +a, ``revenue`` -a;
- a grant past its expiry: ``expired`` +a (breakage, as if it had never been spent);
  ``breakage`` +a, ``revenue`` -a;
- a voided grant: ``voided`` +a (the void takes it back too); the grant's counter
  (``clearing:<source>`` or ``promotions``) +a, ``revenue`` -a.

Each allocation of the event names where its part went, so a replay never reads the
clock. A restore only raises the credits (it re-arms the watch, never fires it).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.credits import Grant, counter_ref, credits_ref, is_live

Posting = dict[str, Any]


class CreditRestores:
    """The restore command of a ``CreditBalance``, and what its event body applies."""

    if TYPE_CHECKING:
        customer_id: UUID
        grants: dict[str, Grant]

        def _restored(
            self, invoice_id: str, allocations: list[list[Any]], at: str, entry: list[Posting]
        ) -> None: ...
        def _rearm(self) -> None: ...

    @property
    def invoice_uses(self) -> dict[str, list[list[Any]]]:
        """``{invoice id: [[grant id, amount, price id], ...]}``: what each invoice's
        credits took, for which price.
        Kept in the instance's own dict, so a state saved before it existed (a
        snapshot, a read model's row) reads as having none."""
        uses: dict[str, list[list[Any]]] = self.__dict__.setdefault("_invoice_uses", {})
        return uses

    def restore(self, invoice_id: str, now: datetime) -> int:
        """Give back what the credits paid of ``invoice_id`` (0: they paid nothing, or
        it was given back already)."""
        uses = self.invoice_uses.get(invoice_id)
        if not uses:
            return 0
        back = [[u[0], int(u[1]), self._back_to(self.grants[u[0]], now)] for u in uses]
        sums: dict[str, int] = {}
        for grant_id, part, where in back:
            account = {
                "remaining": credits_ref(self.customer_id),
                "expired": "breakage",
                "voided": counter_ref(self.grants[grant_id]),
            }[where]
            sums[account] = sums.get(account, 0) + part
            sums["revenue"] = sums.get("revenue", 0) - part
        entry = [{"account": a, "amount": v} for a, v in sums.items() if v]
        self._restored(invoice_id=invoice_id, allocations=back, at=now.isoformat(), entry=entry)
        return sum(part for _, part, _ in back)

    @staticmethod
    def _back_to(grant: Grant, now: datetime) -> str:
        if grant["voided_at"] is not None:
            return "voided"
        return "remaining" if is_live({**grant, "remaining": 1}, now) else "expired"

    def _remember_use(
        self, invoice_id: str | None, allocations: list[list[Any]], price_id: str | None
    ) -> None:
        """In ``Consumed``'s body: what an invoice's credits took."""
        if invoice_id is not None:
            uses = self.invoice_uses.setdefault(invoice_id, [])
            uses.extend([g, part, price_id] for g, part in allocations)

    def paid_for(self, invoice_id: str) -> list[dict[str, Any]]:
        """Per price, what the credits paid of ``invoice_id`` and how much of it
        promotional grants gave (the credits line keeps it: creators' earnings)."""
        found: dict[str, dict[str, Any]] = {}
        for grant_id, part, price_id in self.invoice_uses.get(invoice_id, []):
            row = found.setdefault(
                str(price_id), {"price_id": str(price_id), "amount": 0, "promotional": 0}
            )
            row["amount"] += int(part)
            if self.grants[grant_id]["kind"] == "promotional":
                row["promotional"] += int(part)
        return list(found.values())

    def _give_back(self, invoice_id: str, allocations: list[list[Any]]) -> None:
        """In ``Restored``'s body."""
        for grant_id, part, where in allocations:
            grant = self.grants[grant_id]
            grant["consumed"] -= part
            grant[where] += part
        self.invoice_uses.pop(invoice_id, None)
        self._rearm()
