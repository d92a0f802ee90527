"""The watch over a customer's prepaid credits (issue 13): its low threshold, the
``Low`` and ``Depleted`` crossings and the automatic top-ups they ask for.

``CreditBalance`` (``domain/credit_balance.py``) extends ``CreditWatch``; the events
(``ThresholdSet``, ``Low``, ``Depleted``, ``TopUpRequested``, ``TopUpFailed``) stay
declared on the balance, since the library defines an aggregate's event classes from
its own class body. The rule is a wallet's low balance (``domain/low_balance.py``): a
command that leaves the credits strictly below the threshold while the watch is armed
records ``Low`` (and, with a ``top_up_amount``, ``TopUpRequested`` with the crossing's
number); one that leaves them at 0 records ``Depleted``; the event bodies re-arm both
when a grant brings the credits back (``_rearm``), so a replay arms them as the
commands did.

A top-up ends ``granted`` (its charge succeeded) or ``failed`` (``TopUpFailed`` with a
reason). It fails before any charge when it cannot be asked for (``NOT_CHARGED``: no
provider, no payment method, or its grant could not be recorded, ``limit_reached``),
and the watch stays off until a grant brings the credits back; a charge the provider
declined fails it with the decline's code and re-arms the low watch, so the next
change that leaves the credits below the threshold asks again (one charge at a time).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.credits import check_grant
from domain.errors import DomainError
from domain.low_balance import check_threshold
from domain.money import check_amount, check_within_limit

# The reasons a top-up fails without a charge: nothing new will happen at the next
# crossing, so they leave the watch off.
NOT_CHARGED = ("no_auto_charge_provider", "no_payment_method", "limit_reached")


class CreditWatch:
    """The threshold commands of a ``CreditBalance``: guards first, then its events."""

    if TYPE_CHECKING:
        grants: dict[str, dict[str, Any]]
        low_threshold: int | None
        top_up_amount: int | None
        low_armed: bool
        depleted_armed: bool
        crossings: int
        top_ups: list[dict[str, Any]]

        @property
        def total(self) -> int: ...
        def _threshold_set(self, threshold: int | None, top_up_amount: int | None) -> None: ...
        def _low(self, balance: int, threshold: int) -> None: ...
        def _depleted(self, balance: int) -> None: ...
        def _top_up_requested(self, crossing: int, amount: int) -> None: ...
        def _top_up_failed(self, crossing: int, reason: str) -> None: ...

    def set_threshold(self, threshold: int | None, top_up_amount: int | None) -> None:
        check_threshold(threshold)
        if top_up_amount is not None:
            check_amount(top_up_amount)
        if (threshold, top_up_amount) == (self.low_threshold, self.top_up_amount):
            return
        self._threshold_set(threshold=threshold, top_up_amount=top_up_amount)
        self._watch()

    def top_up_failed(self, crossing: int, reason: str) -> None:
        """A top-up that could not be asked for (``NOT_CHARGED``), or whose charge was
        declined (any other reason: the low watch re-arms). Once per top-up."""
        if any(t["crossing"] == crossing and t["status"] == "requested" for t in self.top_ups):
            self._top_up_failed(crossing=crossing, reason=reason[:100])

    def top_up_refusal(self, amount: int, now: datetime) -> str | None:
        """Why the grant of a top-up of ``amount`` could not be recorded now (its error
        code), checked before the charge: a charge whose credits cannot be granted must
        not be made. None: it could."""
        try:
            check_grant(self.grants, kind="paid", amount=amount, priority=0, expires_at=None,
                        prices=None, now=now)  # fmt: skip
            check_within_limit(self.total + amount, "the customer's credit balance")
        except DomainError as refused:
            return refused.code
        return None

    def _failed(self, crossing: int, reason: str) -> None:
        """``TopUpFailed``'s body."""
        for top_up in self.top_ups:
            if top_up["crossing"] == crossing:
                top_up["status"], top_up["reason"] = "failed", reason
        if reason not in NOT_CHARGED:
            self.low_armed = True

    def _watch(self) -> None:
        """After a change that can lower the balance: record a crossing, once."""
        total, threshold = self.total, self.low_threshold
        if self.low_armed and threshold is not None and total < threshold:
            top_up = self.top_up_amount
            self._low(balance=total, threshold=threshold)
            if top_up is not None:
                self._top_up_requested(crossing=self.crossings, amount=top_up)
        if self.depleted_armed and total == 0 and self.grants:
            self._depleted(balance=0)

    def _rearm(self) -> None:
        """In the event bodies that can raise the credits or change the threshold."""
        total = self.total
        if not self.low_armed and (self.low_threshold is None or total >= self.low_threshold):
            self.low_armed = True
        if not self.depleted_armed and total > 0:
            self.depleted_armed = True


def top_up_grant_id(balance_id: UUID, crossing: int) -> str:
    """The grant an automatic top-up's charge buys: named by its balance and crossing, so
    a second report of the charge's success grants nothing more, and the reversal of its
    transaction finds what it bought."""
    return f"cg_{balance_id.hex}_t{crossing:015d}"
