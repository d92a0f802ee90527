"""The Account aggregate: a customer wallet with a guarded balance and holds.

Balances: ``ledger`` is every posted movement; ``held`` is the sum of active holds;
``available = ledger - held``. A debit or a new hold must leave ``available`` at or above
the floor, which is ``-overdraft_limit`` (0 unless the account allows an overdraft).
A credit must leave ``ledger`` and a new hold ``held`` at or below MAX_AMOUNT_MINOR
(``domain/limits/``), so the balance is always within ±MAX_AMOUNT_MINOR.

Movements take ``Money``; the balances are kept as ints in the account's currency and
summed in Money, so money in another currency is refused. Whether the status allows a
step is asked of the transition table in ``domain/account_status.py``. The hold
commands (place, capture, void, expire) and the rules they check are in
``domain/holds.py`` (``AccountHolds``, which the Account extends); their events are
declared here with the others. When the available balance falls below the account's
low-balance threshold it records ``BalanceLow``; the rule is in ``domain/low_balance.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.account_status import CLOSED, FROZEN, OPEN, next_status
from domain.base import TallyAggregate
from domain.errors import (
    AccountNotEmpty,
    CurrencyMismatch,
    InsufficientFunds,
)
from domain.holds import AccountHolds, Hold
from domain.ids import uuid_text
from domain.limits import (
    MAX_AMOUNT_MINOR,
    MAX_DESCRIPTION_CHARS,
    MAX_REF_CHARS,
    check_metadata,
    check_text,
)
from domain.low_balance import check_threshold, is_low
from domain.money import Money, check_amount, check_currency, check_within_limit

__all__ = ["CLOSED", "FROZEN", "OPEN", "Account", "Hold", "clearing_ref", "wallet_ref"]

NAMESPACE = UUID("6c1f4a7e-3d52-4f0b-9a8e-1f3b2c4d5e6f")


def wallet_ref(account_id: UUID) -> str:
    """The name of a wallet in journal postings."""
    return f"wallet:{uuid_text(account_id)}"


def clearing_ref(source: str) -> str:
    """The system account that money from or to an outside source passes through."""
    return f"clearing:{source}"


class Account(TallyAggregate, AccountHolds):
    TOPIC = "tally:Account"
    # Class defaults, so that an account opened (or snapshotted) before thresholds
    # existed reads as having none, armed.
    low_balance_threshold: int | None = None
    low_balance_armed: bool = True

    class Created(TallyAggregate.Created):
        TOPIC = "tally:Account.Created"

    @staticmethod
    def create_id(project_id: UUID, owner_ref: str, currency: str) -> UUID:
        # Deterministic, so a second open of the same (project, owner, currency) conflicts.
        return uuid5(NAMESPACE, f"account:{project_id}:{owner_ref}:{currency}")

    @event("Opened", topic="tally:Account.Opened")
    def __init__(
        self,
        project_id: UUID,
        owner_ref: str,
        currency: str,
        overdraft_limit: int,
        metadata: dict[str, str],
        low_balance_threshold: int | None = None,
    ) -> None:
        self.project_id = project_id
        self.owner_ref = owner_ref
        self.currency = currency
        self.overdraft_limit = overdraft_limit
        self.metadata = metadata
        self.status = OPEN
        self.ledger = 0
        self.held = 0
        self.holds: dict[str, Hold] = {}
        self.low_balance_threshold = low_balance_threshold

    @classmethod
    def open(
        cls,
        project_id: UUID,
        owner_ref: str,
        currency: str,
        overdraft_limit: int = 0,
        metadata: dict[str, str] | None = None,
        low_balance_threshold: int | None = None,
    ) -> Account:
        check_currency(currency)
        check_amount(overdraft_limit, allow_zero=True)
        check_text(owner_ref, "owner_ref", MAX_REF_CHARS, min_chars=1)
        check_metadata(dict(metadata or {}))
        check_threshold(low_balance_threshold)
        account = cls(
            project_id=project_id,
            owner_ref=owner_ref,
            currency=currency,
            overdraft_limit=overdraft_limit,
            metadata=dict(metadata or {}),
            low_balance_threshold=low_balance_threshold,
        )
        account._watch_balance()
        return account

    # -- derived values ----------------------------------------------------------------

    @property
    def available(self) -> int:
        return self.ledger - self.held

    @property
    def floor(self) -> int:
        return -self.overdraft_limit

    @property
    def ref(self) -> str:
        return wallet_ref(self.id)

    # -- guards ------------------------------------------------------------------------

    def money(self, amount: int) -> Money:
        """``amount`` minor units in this account's currency."""
        return Money(amount, self.currency)

    def check_currency(self, amount: Money) -> None:
        if amount.currency != self.currency:
            raise CurrencyMismatch(
                f"account {self.id} holds {self.currency}, not {amount.currency}",
                account_currency=self.currency,
                currency=amount.currency,
            )

    def check_can_move(self) -> None:
        self._check_status("move")

    def check_can_credit(self, amount: Money) -> None:
        check_amount(amount.amount)
        self.check_currency(amount)
        self.check_can_move()
        self.check_room(amount)

    def check_room(self, amount: Money) -> None:
        """The ledger balance after a credit of ``amount`` must fit the money limit. The
        sum is taken in Money, so an amount in another currency is refused here too."""
        after = self.money(self.ledger) + amount
        if not -MAX_AMOUNT_MINOR <= after.amount <= MAX_AMOUNT_MINOR:
            # Formatting the account's id costs more than the rest of the check (this
            # runs twice per deposit), so the name is only made for the refusal.
            check_within_limit(after.amount, f"the balance of account {self.id}")

    def check_can_debit(self, amount: Money) -> None:
        check_amount(amount.amount)
        self.check_currency(amount)
        self.check_can_move()
        self.check_funds(amount)

    def check_funds(self, amount: Money) -> None:
        after = self.money(self.available) - amount
        if after.amount < self.floor:
            raise InsufficientFunds(
                f"account {self.id} has {self.available} available; {amount.amount} was asked for",
                available=self.available,
                requested=amount.amount,
            )

    # -- movements ---------------------------------------------------------------------
    # The command methods take Money and check it against the account; the events keep
    # recording a bare ``amount`` in the account's currency, as they always have.

    def deposit(self, amount: Money, transaction_id: UUID) -> None:
        self.check_can_credit(amount)
        self._deposited(amount=amount.amount, transaction_id=transaction_id)

    def check_can_receive_confirmed(self) -> None:
        self._check_status("receive_confirmed")

    def credit_confirmed_deposit(self, amount: Money, transaction_id: UUID) -> None:
        """Credit a pending deposit whose money has arrived. A frozen account still
        receives it (the money is already ours to hold); a closed one does not."""
        self.check_can_receive_confirmed()
        self.check_room(amount)
        self._deposited(amount=amount.amount, transaction_id=transaction_id)

    @event("Deposited", topic="tally:Account.Deposited")
    def _deposited(self, amount: int, transaction_id: UUID) -> None:
        self.ledger += amount
        self._rearm()

    def withdraw(self, amount: Money, transaction_id: UUID) -> None:
        self.check_can_debit(amount)
        self._withdrawn(amount=amount.amount, transaction_id=transaction_id)
        self._watch_balance()

    @event("Withdrawn", topic="tally:Account.Withdrawn")
    def _withdrawn(self, amount: int, transaction_id: UUID) -> None:
        self.ledger -= amount

    def transfer_out(self, amount: Money, transaction_id: UUID) -> None:
        self.check_can_debit(amount)
        self._transferred_out(amount=amount.amount, transaction_id=transaction_id)
        self._watch_balance()

    @event("TransferredOut", topic="tally:Account.TransferredOut")
    def _transferred_out(self, amount: int, transaction_id: UUID) -> None:
        self.ledger -= amount

    def transfer_in(self, amount: Money, transaction_id: UUID) -> None:
        self.check_can_credit(amount)
        self._transferred_in(amount=amount.amount, transaction_id=transaction_id)

    @event("TransferredIn", topic="tally:Account.TransferredIn")
    def _transferred_in(self, amount: int, transaction_id: UUID) -> None:
        self.ledger += amount
        self._rearm()

    def post_reversal(self, delta: Money, transaction_id: UUID) -> None:
        """Apply one side of a reversal: ``delta`` is signed (negative takes money out)."""
        self._check_status("reverse")
        if delta.amount < 0:
            self.check_funds(-delta)
        else:
            self.check_room(delta)
        self._reversal_posted(delta=delta.amount, transaction_id=transaction_id)
        self._watch_balance()

    @event("ReversalPosted", topic="tally:Account.ReversalPosted")
    def _reversal_posted(self, delta: int, transaction_id: UUID) -> None:
        self.ledger += delta
        self._rearm()

    # -- holds: the events (the commands that record them: domain/holds.py) -----------

    @event("HoldPlaced", topic="tally:Account.HoldPlaced")
    def _hold_placed(
        self, hold_id: str, amount: int, expires_at: datetime, destination: str
    ) -> None:
        self.holds[hold_id] = Hold(amount=amount, expires_at=expires_at, destination=destination)
        self.held += amount

    @event("HoldCaptured", topic="tally:Account.HoldCaptured")
    def _hold_captured(self, hold_id: str, amount: int, transaction_id: UUID) -> None:
        hold = self.holds[hold_id]
        self.held -= hold.amount
        self.ledger -= amount
        hold.status = "captured"
        hold.captured = amount
        self._rearm()  # the uncaptured rest of the hold is released

    @event("HoldVoided", topic="tally:Account.HoldVoided")
    def _hold_voided(self, hold_id: str) -> None:
        hold = self.holds[hold_id]
        self.held -= hold.amount
        hold.status = "voided"
        self._rearm()

    @event("HoldExpired", topic="tally:Account.HoldExpired")
    def _hold_expired(self, hold_id: str) -> None:
        hold = self.holds[hold_id]
        self.held -= hold.amount
        hold.status = "expired"
        self._rearm()

    # -- low balance (rules: domain/low_balance.py) -----------------------------------

    def set_low_balance_threshold(self, threshold: int | None) -> bool:
        """Set (None: clear) the threshold. Returns False, recording nothing, when the
        account already has it."""
        check_threshold(threshold)
        self._check_status("set_threshold")
        if threshold == self.low_balance_threshold:
            return False
        self._low_balance_threshold_set(threshold=threshold)
        self._watch_balance()
        return True

    @event("LowBalanceThresholdSet", topic="tally:Account.LowBalanceThresholdSet")
    def _low_balance_threshold_set(self, threshold: int | None) -> None:
        self.low_balance_threshold = threshold
        self._rearm()

    def _watch_balance(self) -> None:
        """After a change that can lower the available balance or raise the threshold:
        record BalanceLow if the account is armed and now below its threshold."""
        threshold = self.low_balance_threshold
        if self.low_balance_armed and threshold is not None and is_low(self.available, threshold):
            self._balance_low(available=self.available, threshold=threshold)

    @event("BalanceLow", topic="tally:Account.BalanceLow")
    def _balance_low(self, available: int, threshold: int) -> None:
        self.low_balance_armed = False

    def _rearm(self) -> None:
        # Runs inside event bodies (and so on replay): at or above the threshold, or
        # with none, the next fall below it fires again.
        if not self.low_balance_armed and not is_low(self.available, self.low_balance_threshold):
            self.low_balance_armed = True

    # -- lifecycle ---------------------------------------------------------------------

    def _check_status(self, trigger: str) -> str:
        """Where ``trigger`` takes the account's status (``domain.account_status``), or
        the refusal for it. Every status guard asks here."""
        return next_status(self.id, self.status, trigger)

    def freeze(self, reason: str) -> None:
        check_text(reason, "reason", MAX_DESCRIPTION_CHARS, free_text=True)
        self._check_status("freeze")
        self._frozen(reason=reason)

    # The events set their status as a constant, not by asking the table: an event body
    # re-runs on every replay and must not depend on a table that may change.
    @event("Frozen", topic="tally:Account.Frozen")
    def _frozen(self, reason: str) -> None:
        self.status = FROZEN

    def unfreeze(self) -> None:
        self._check_status("unfreeze")
        self._unfrozen()

    @event("Unfrozen", topic="tally:Account.Unfrozen")
    def _unfrozen(self) -> None:
        self.status = OPEN

    def close(self) -> None:
        self._check_status("close")
        if self.ledger != 0 or self.held != 0:
            raise AccountNotEmpty(
                f"account {self.id} can only be closed at zero (ledger {self.ledger}, "
                f"held {self.held})",
                ledger=self.ledger,
                held=self.held,
            )
        self._closed()

    @event("Closed", topic="tally:Account.Closed")
    def _closed(self) -> None:
        self.status = CLOSED

    def summary(self) -> dict[str, Any]:
        """The account as the write side knows it, for command responses."""
        return {
            "id": uuid_text(self.id),
            "owner_ref": self.owner_ref,
            "currency": self.currency,
            "status": self.status,
            "ledger_balance": self.ledger,
            "held_balance": self.held,
            "available_balance": self.available,
            "overdraft_limit": self.overdraft_limit,
            "low_balance_threshold": self.low_balance_threshold,
            "metadata": dict(self.metadata),
            "version": self.version,
        }
