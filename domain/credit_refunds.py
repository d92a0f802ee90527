"""Credits taken back when what bought them is refunded (issue 13).

``CreditBalance`` (``domain/credit_balance.py``) extends ``CreditRefunds``; its
``Refunded`` event stays declared on the balance, since the library defines an
aggregate's event classes from its own class body. A paid grant is bought three ways,
and each has its refund:

- bought on an invoice (``POST /v1/credit_purchases``): a credit note of that invoice;
  the part taken back posts ``credits:<customer>`` -a, ``revenue`` +a (the grant's
  counter; the note's own entry gives the money back);
- funded by the customer's wallet (``wallet_account_id``): a reversal of its withdrawal;
- bought by an automatic top-up's charge: a reversal of its transaction (a provider's
  refund). A reversal posts ``credits:<customer>`` -a against the wallet or ``clearing``
  itself, so the part taken back posts nothing more.

A refund takes back at most what the grant still holds: credits spent, expired or voided
are not given back as money, so a larger refund is refused (``credits_already_spent``,
409), before anything is recorded; refund what the grant holds (``GET
/v1/credit_grants``). What is taken back is counted as ``voided`` (the grant's
``remaining``, ``consumed``, ``expired`` and ``voided`` still add up to its ``amount``);
the grant stays live with the rest. A refund can cross the low threshold or empty the
credits: ``billing.credits.low`` / ``.depleted`` then fire as for a consumption.

That refusal is for a refund Tally is asked to make. A refund the provider reports
(a dashboard refund of a top-up's charge, by webhook or the outbox's answer) already
happened: it is a fact, never refused (``reported_refund``). It takes back what the grant
still holds, and the rest (credits already spent, so earned) posts
``credits:<customer>`` +s, ``credits_refund_shortfall`` -s: revenue given back, so the
reversal's own ``credits:<customer>`` -a leaves the liability equal to what the grants
hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.credits import Grant, counter_ref, credits_ref, is_live
from domain.errors import CreditsAlreadySpent
from domain.money import check_amount

Posting = dict[str, Any]

# The account a provider-reported refund's part beyond the grant posts to: money given
# back for credits already spent (a contra-revenue account, docs/usage.md's journal).
SHORTFALL_ACCOUNT = "credits_refund_shortfall"


class CreditRefunds:
    """The refund commands of a ``CreditBalance``, and what their event body applies."""

    if TYPE_CHECKING:
        customer_id: UUID
        grants: dict[str, Grant]

        def _refunded(
            self, grant_id: str, amount: int, at: str, reference: str, entry: list[Posting]
        ) -> None: ...
        def book_expiry(self, now: datetime) -> int: ...
        def _watch(self) -> None: ...
        def retire_finished(self) -> int: ...

    def unspent(self, grant_id: str, now: datetime) -> int:
        """What ``grant_id`` can still give back at ``now`` (0: spent, expired, voided,
        or no longer kept because nothing was left of it)."""
        grant = self.grants.get(grant_id)
        return int(grant["remaining"]) if grant is not None and is_live(grant, now) else 0

    def check_refund(self, grant_id: str, amount: int, now: datetime) -> None:
        check_amount(amount)
        holds = self.unspent(grant_id, now)
        if amount > holds:
            raise CreditsAlreadySpent(
                f"credit grant {grant_id} holds {holds} unspent; a refund of {amount} would "
                "give back credits already spent",
                id=grant_id,
                holds=holds,
                amount=amount,
            )

    def refund_grant(
        self, grant_id: str, amount: int, now: datetime, *, reference: str, posted: bool
    ) -> None:
        """Take ``amount`` back from ``grant_id`` for the refund ``reference`` (a credit
        note's id, a transaction's). ``posted``: the refund's own entry moved the credits
        (a reversed transaction's), so this posts none."""
        self.check_refund(grant_id, amount, now)
        self.book_expiry(now)
        entry = [
            {"account": credits_ref(self.customer_id), "amount": -amount},
            {"account": counter_ref(self.grants[grant_id]), "amount": amount},
        ]
        self._refunded(
            grant_id=grant_id,
            amount=amount,
            at=now.isoformat(),
            reference=reference,
            entry=[] if posted else entry,
        )
        self._watch()
        self.retire_finished()

    def reported_refund(self, grant_id: str, amount: int, now: datetime, *, reference: str) -> int:
        """Record a refund the provider already made of the transaction that funded
        ``grant_id`` (the reversal's entry moved ``amount``): take back what the grant
        still holds, post the rest to ``SHORTFALL_ACCOUNT``. Never refused; answers the
        shortfall."""
        check_amount(amount)
        self.book_expiry(now)
        taken = min(amount, self.unspent(grant_id, now))
        shortfall = amount - taken
        entry = [
            {"account": credits_ref(self.customer_id), "amount": shortfall},
            {"account": SHORTFALL_ACCOUNT, "amount": -shortfall},
        ]
        self._refunded(
            grant_id=grant_id,
            amount=taken,
            at=now.isoformat(),
            reference=reference,
            entry=entry if shortfall else [],
        )
        self._watch()
        self.retire_finished()
        return shortfall

    def _take_back(self, grant_id: str, amount: int) -> None:
        """In ``Refunded``'s body (nothing taken: a reported refund of spent credits,
        whose grant may be retired)."""
        if not amount:
            return
        grant = self.grants[grant_id]
        grant["remaining"] -= amount
        grant["voided"] += amount
