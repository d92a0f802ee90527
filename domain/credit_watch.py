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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.low_balance import check_threshold
from domain.money import check_amount


class CreditWatch:
    """The threshold commands of a ``CreditBalance``: guards first, then its events."""

    if TYPE_CHECKING:
        grants: dict[str, dict[str, Any]]
        low_threshold: int | None
        top_up_amount: int | None
        low_armed: bool
        depleted_armed: bool
        crossings: int

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
        """A top-up that could not even be asked for (no provider, no payment method)."""
        self._top_up_failed(crossing=crossing, reason=reason)

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
