"""Grants a customer's credits no longer need, retired from the balance's state (issue 13).

``CreditBalance`` (``domain/credit_balance.py``) extends ``CreditRetirement``; its
``Retired`` event stays declared on the balance, since the library defines an
aggregate's event classes from its own class body. A grant that holds nothing
(``remaining`` 0: spent, expired, voided or refunded) and that no invoice's consumption
names (a void of that invoice would give back to it: ``invoice_uses``) can never change
again, so every command that empties grants ends by retiring them: ``Retired`` carries
each grant as it ended (the history keeps it, and the read model
``credit_grants_retired`` lists it), and its body removes them from ``grants`` and adds
them to ``retired``, four running totals and a count. So the state, a snapshot of it,
and the cost of every consumption (which reads every kept grant) stay as large as what
is live, however many grants a long-lived customer has had.

``retired`` is kept in the instance's own dict, so a state saved before it existed (a
snapshot, a read model's row) reads as having retired none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.credits import Grant

PARTS = ("amount", "consumed", "expired", "voided")
_TOTALS = "_retired_totals"


class CreditRetirement:
    """The retirement of a ``CreditBalance``'s finished grants."""

    if TYPE_CHECKING:
        grants: dict[str, Grant]

        def _retired(self, grants: list[Grant]) -> None: ...

    @property
    def retired(self) -> dict[str, int]:
        """``{count, amount, consumed, expired, voided}`` of the grants retired. Reading
        it changes nothing (only ``Retired`` keeps it), so a balance rebuilt from its
        events has exactly the attributes the commands left."""
        found: dict[str, int] | None = self.__dict__.get(_TOTALS)
        return found if found is not None else {"count": 0, **dict.fromkeys(PARTS, 0)}

    @property
    def grants_made(self) -> int:
        """Every grant the balance ever had: the next one's ``seq``."""
        return len(self.grants) + self.retired["count"]

    def retire_finished(self) -> int:
        """Record ``Retired`` for the grants that can no longer change; how many."""
        uses_by_invoice: dict[str, list[list[Any]]] = self.__dict__.get("_invoice_uses", {})
        named = {use[0] for uses in uses_by_invoice.values() for use in uses}
        done = [
            dict(g)
            for g in sorted(self.grants.values(), key=lambda g: int(g["seq"]))
            if int(g["remaining"]) == 0 and g["id"] not in named
        ]
        if done:
            self._retired(grants=done)
        return len(done)

    def _forget(self, grants: list[Grant]) -> None:
        """In ``Retired``'s body."""
        totals: dict[str, int] = self.__dict__.setdefault(_TOTALS, self.retired)
        for grant in grants:
            self.grants.pop(str(grant["id"]), None)
            totals["count"] += 1
            for part in PARTS:
                totals[part] += int(grant[part])
