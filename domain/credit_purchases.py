"""Prepaid credits bought on an invoice (issue 13): granted when the invoice is paid.

``CreditBalance`` (``domain/credit_balance.py``) extends ``CreditPurchases``; its
``PurchaseInvoiced`` and ``PurchaseCanceled`` events stay declared on the balance, since
the library defines an aggregate's event classes from its own class body.

A purchase is remembered per invoice (``purchases``: ``{invoice id: {grant_id, amount,
priority, prices, description, status}}``, status ``invoiced``, ``granted`` or
``canceled``). ``invoice_purchase`` checks the grant's terms on the balance as it is
then (the same guards as a grant) and records ``PurchaseInvoiced``, which moves no
money: the invoice's finalization posts ``receivable`` -a, ``revenue`` +a.
``grant_purchase`` grants it, once: an invoice that is not ``invoiced`` (already
granted, canceled, or never a purchase) grants nothing, so a payment event delivered
twice grants once. The grant's counter is ``revenue`` (its ``source`` is
``invoice:<invoice id>``; a client's ``source`` cannot hold a colon): ``credits:<customer>``
+a, ``revenue`` -a moves the invoice's revenue into the credits liability, and the
consumption that spends them earns it back (``credits`` -a, ``revenue`` +a), so the
revenue is earned once, when the credits are used (or expire: breakage). A void of the
invoice cancels the purchase (``PurchaseCanceled``); its finalization entry is reversed
by the invoice itself, so nothing is left in any account.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.credits import Grant, check_grant
from domain.errors import InvalidTransition
from domain.limits import MAX_DESCRIPTION_CHARS, check_text
from domain.money import check_within_limit

Purchase = dict[str, Any]
INVOICE_SOURCE = "invoice:"


def purchase_source(invoice_id: str) -> str:
    """A purchased grant's ``source``: the invoice that paid for it."""
    return f"{INVOICE_SOURCE}{invoice_id}"


class CreditPurchases:
    """The purchase commands of a ``CreditBalance``, and what their events apply."""

    if TYPE_CHECKING:
        grants: dict[str, Grant]

        @property
        def total(self) -> int: ...
        def _purchase_invoiced(self, purchase: Purchase) -> None: ...
        def _purchase_canceled(self, invoice_id: str) -> None: ...
        def grant(
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
        ) -> Grant: ...

    @property
    def purchases(self) -> dict[str, Purchase]:
        """Kept in the instance's own dict, so a state saved before it existed (a
        snapshot, a read model's row) reads as having none."""
        found: dict[str, Purchase] = self.__dict__.setdefault("_purchases", {})
        return found

    def check_purchase(  # the grant's terms, each named
        self,
        *,
        grant_id: str,
        amount: int,
        now: datetime,
        priority: int,
        prices: list[str] | None,
        description: str,
    ) -> None:
        """Every rule the purchase's grant could break, on the balance as it is now."""
        check_grant(
            self.grants,
            kind="paid",
            amount=amount,
            priority=priority,
            expires_at=None,
            prices=prices,
            now=now,
        )
        check_text(description, "description", MAX_DESCRIPTION_CHARS)
        check_within_limit(self.total + amount, "the customer's credit balance")
        if grant_id in self.grants:
            raise InvalidTransition(f"credit grant {grant_id} exists", id=grant_id)

    def invoice_purchase(  # the grant's terms, each named
        self,
        *,
        invoice_id: str,
        grant_id: str,
        amount: int,
        now: datetime,
        priority: int = 0,
        prices: list[str] | None = None,
        description: str = "",
    ) -> Purchase:
        """Remember the credits ``invoice_id`` sells, to grant when it is paid."""
        self.check_purchase(
            grant_id=grant_id,
            amount=amount,
            now=now,
            priority=priority,
            prices=prices,
            description=description,
        )
        if invoice_id in self.purchases:
            raise InvalidTransition(f"invoice {invoice_id} already sells credits", id=invoice_id)
        purchase: Purchase = {
            "invoice_id": invoice_id,
            "grant_id": grant_id,
            "amount": amount,
            "priority": priority,
            "prices": None if prices is None else list(dict.fromkeys(prices)),
            "description": description,
            "status": "invoiced",
        }
        self._purchase_invoiced(purchase=purchase)
        return dict(purchase)

    def grant_purchase(self, invoice_id: str, now: datetime) -> Grant | None:
        """Grant what the paid ``invoice_id`` bought; None (nothing recorded) when it
        sells no credits waiting to be granted. Not held to the live grants' cap: the
        customer has paid, and the cap was checked when it was invoiced."""
        purchase = self.purchases.get(invoice_id)
        if purchase is None or purchase["status"] != "invoiced":
            return None
        return self.grant(
            grant_id=str(purchase["grant_id"]),
            kind="paid",
            amount=int(purchase["amount"]),
            now=now,
            priority=int(purchase["priority"]),
            prices=purchase["prices"],
            source=purchase_source(invoice_id),
            description=str(purchase["description"]),
            purchase=invoice_id,
        )

    def cancel_purchase(self, invoice_id: str) -> bool:
        """The invoice was voided: its credits will never be granted."""
        purchase = self.purchases.get(invoice_id)
        if purchase is None or purchase["status"] != "invoiced":
            return False
        self._purchase_canceled(invoice_id=invoice_id)
        return True

    # -- in the events' bodies ---------------------------------------------------------

    def _remember_purchase(self, purchase: Purchase) -> None:
        self.purchases[str(purchase["invoice_id"])] = dict(purchase)

    def _purchase_status(self, invoice_id: str | None, status: str) -> None:
        if invoice_id is not None and invoice_id in self.purchases:
            self.purchases[invoice_id]["status"] = status
