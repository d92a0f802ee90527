"""The Transaction aggregate: one movement of money and its journal entries.

Every transaction moves ``amount`` of one currency from ``from_ref`` to ``to_ref``
(wallets are ``wallet:<id>``, system accounts such as ``clearing:stripe`` exist only in
projections). When it completes it posts one balanced journal entry; each reversal posts
another with the signs flipped. Postings are signed: positive raises the named account's
balance, and the postings of every entry sum to zero.

State machine (a transition table, see docs/ledger.md):

    created --start--> processing --complete--> completed --reverse--> reversed
                        processing --fail-----> failed      reversed --reverse--> reversed
    created --fail--> failed
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.errors import ReversalExceedsAmount
from domain.limits import MAX_DESCRIPTION_CHARS, MAX_REF_CHARS, check_text
from domain.money import Money, check_amount
from domain.state_machine import destination, transition_table, walk

CREATED, PROCESSING, COMPLETED, FAILED, REVERSED = (
    "created",
    "processing",
    "completed",
    "failed",
    "reversed",
)

MACHINE = transition_table(
    states=[CREATED, PROCESSING, COMPLETED, FAILED, REVERSED],
    transitions=[
        ("start", CREATED, PROCESSING),
        ("complete", PROCESSING, COMPLETED),
        ("fail", [CREATED, PROCESSING], FAILED),
        ("reverse", [COMPLETED, REVERSED], REVERSED),
    ],
    initial=CREATED,
)

KINDS = ("deposit", "withdrawal", "transfer", "capture")

# Where a new transaction starts, walked through the table once at import instead of on
# every begin(): completed at once, or left processing. The table never changes.
START_STATE = {
    complete_now: walk(MACHINE, CREATED, triggers, what="transaction")
    for complete_now, triggers in ((True, ("start", "complete")), (False, ("start",)))
}

Posting = dict[str, Any]  # {"account": str, "amount": int}


def entry_postings(from_ref: str, to_ref: str, amount: int) -> list[Posting]:
    """A balanced entry moving ``amount`` from one account to another."""
    return [{"account": to_ref, "amount": amount}, {"account": from_ref, "amount": -amount}]


class Transaction(TallyAggregate):
    TOPIC = "tally:Transaction"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:Transaction.Created"

    @event("Initiated", topic="tally:Transaction.Initiated")
    def __init__(
        self,
        id: UUID,
        project_id: UUID,
        kind: str,
        amount: int,
        currency: str,
        from_ref: str,
        to_ref: str,
        state: str,
        description: str,
        external_ref: str,
        entry: list[Posting] | None,
    ) -> None:
        self.project_id = project_id
        self.kind = kind
        self.amount = amount
        self.currency = currency
        self.from_ref = from_ref
        self.to_ref = to_ref
        self.state = state
        self.description = description
        self.external_ref = external_ref
        self.reversed_amount = 0
        self.entries: list[list[Posting]] = [entry] if entry is not None else []
        self.failure_reason = ""

    @classmethod
    def begin(
        cls,
        *,
        id: UUID,
        project_id: UUID,
        kind: str,
        amount: Money,
        from_ref: str,
        to_ref: str,
        complete_now: bool,
        description: str = "",
        external_ref: str = "",
    ) -> Transaction:
        """Start a transaction. One that completes at once walks created → processing →
        completed through the table (``START_STATE``) and records a single event holding
        its entry. The event records ``amount`` and ``currency`` apart, as it always has."""
        assert kind in KINDS, kind
        check_amount(amount.amount)
        check_text(description, "description", MAX_DESCRIPTION_CHARS, free_text=True)
        check_text(external_ref, "external_ref", MAX_REF_CHARS)
        # A clearing account is named after a caller's source or destination.
        check_text(from_ref, "source", MAX_REF_CHARS, min_chars=1)
        check_text(to_ref, "destination", MAX_REF_CHARS, min_chars=1)
        state = START_STATE[bool(complete_now)]
        entry = entry_postings(from_ref, to_ref, amount.amount) if state == COMPLETED else None
        return cls._new(
            id=id,
            project_id=project_id,
            kind=kind,
            amount=amount.amount,
            currency=amount.currency,
            from_ref=from_ref,
            to_ref=to_ref,
            state=state,
            description=description,
            external_ref=external_ref,
            entry=entry,
        )

    @staticmethod
    def id_for(project_id: UUID, idempotency_key: str) -> UUID:
        return uuid5(project_id, f"transaction:{idempotency_key}")

    def money(self, amount: int) -> Money:
        """``amount`` minor units in this transaction's currency."""
        return Money(amount, self.currency)

    @property
    def reversible_amount(self) -> int:
        return self.amount - self.reversed_amount if self.state in (COMPLETED, REVERSED) else 0

    def complete(self) -> None:
        state = destination(MACHINE, self.state, "complete", what="transaction")
        self._completed(state=state, entry=entry_postings(self.from_ref, self.to_ref, self.amount))

    @event("Completed", topic="tally:Transaction.Completed")
    def _completed(self, state: str, entry: list[Posting]) -> None:
        self.state = state
        self.entries.append(entry)

    def fail(self, reason: str) -> None:
        check_text(reason, "reason", MAX_DESCRIPTION_CHARS, free_text=True)
        state = destination(MACHINE, self.state, "fail", what="transaction")
        self._failed(state=state, reason=reason)

    @event("Failed", topic="tally:Transaction.Failed")
    def _failed(self, state: str, reason: str) -> None:
        self.state = state
        self.failure_reason = reason

    def check_reversal(self, amount: int) -> None:
        # The state first: reversing a failed or pending transaction is refused as such,
        # whatever amount was asked for (none means "what is left", which is then 0).
        destination(MACHINE, self.state, "reverse", what="transaction")
        if self.reversible_amount == 0:
            raise ReversalExceedsAmount(
                f"nothing is left to reverse: all {self.amount} was reversed already",
                reversible=0,
                requested=amount,
            )
        check_amount(amount)
        if amount > self.reversible_amount:
            raise ReversalExceedsAmount(
                f"cannot reverse {amount}: {self.reversible_amount} of {self.amount} is left",
                reversible=self.reversible_amount,
                requested=amount,
            )

    def reverse(self, amount: int, reason: str) -> None:
        check_text(reason, "reason", MAX_DESCRIPTION_CHARS, free_text=True)
        self.check_reversal(amount)
        state = destination(MACHINE, self.state, "reverse", what="transaction")
        self._reversed(
            state=state,
            amount=amount,
            reason=reason,
            entry=entry_postings(self.to_ref, self.from_ref, amount),
        )

    @event("Reversed", topic="tally:Transaction.Reversed")
    def _reversed(self, state: str, amount: int, reason: str, entry: list[Posting]) -> None:
        self.state = state
        self.reversed_amount += amount
        self.entries.append(entry)

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "kind": self.kind,
            "state": self.state,
            "amount": self.amount,
            "currency": self.currency,
            "from": self.from_ref,
            "to": self.to_ref,
            "reversed_amount": self.reversed_amount,
            "description": self.description,
            "external_ref": self.external_ref,
            "failure_reason": self.failure_reason,
        }
