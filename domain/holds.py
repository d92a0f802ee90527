"""Holds on an account: the ``Hold`` record an Account keeps per hold, the rules that read
holds (which one a command may use, what it may capture, which have expired), and the
Account's hold commands (``AccountHolds``).

The Account (``domain.accounts``) extends ``AccountHolds``: each command checks these
rules, then the account's balance, before it records its event. The events
(``HoldPlaced``, ``HoldCaptured``, ``HoldVoided``, ``HoldExpired``) stay declared on the
Account, since the library defines an aggregate's event classes from its own class body.
The rule functions change nothing themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from domain.errors import CaptureExceedsHold, HoldExpired, HoldNotActive, NotFound, TimeNotInFuture
from domain.limits import MAX_REF_CHARS, check_text, check_timestamp
from domain.money import Money, check_amount, check_within_limit


@dataclass
class Hold:
    amount: int
    expires_at: datetime
    destination: str
    status: str = "active"  # active | captured | voided | expired
    captured: int = 0


def find_hold(holds: dict[str, Hold], hold_id: str) -> Hold:
    hold = holds.get(hold_id)
    if hold is None:
        raise NotFound(f"hold {hold_id} not found", hold_id=hold_id)
    return hold


def active_hold(holds: dict[str, Hold], hold_id: str) -> Hold:
    """The hold, if it is active (else the refusal naming its status)."""
    hold = find_hold(holds, hold_id)
    if hold.status != "active":
        raise HoldNotActive(f"hold {hold_id} is {hold.status}", status=hold.status)
    return hold


def usable_hold(holds: dict[str, Hold], hold_id: str, now: datetime) -> Hold:
    """The hold, if it is active and not past its expiry at ``now``."""
    hold = find_hold(holds, hold_id)
    if hold.status == "active" and now >= hold.expires_at:
        raise HoldExpired(f"hold {hold_id} expired at {hold.expires_at.isoformat()}")
    return active_hold(holds, hold_id)


def check_new_hold(
    holds: dict[str, Hold], hold_id: str, expires_at: datetime, destination: str, now: datetime
) -> None:
    """The request's own content: a sane expiry in the future, a destination, a new id."""
    check_timestamp(expires_at, "expires_at")
    check_text(destination, "destination", MAX_REF_CHARS, min_chars=1)
    if expires_at <= now:
        raise TimeNotInFuture("expires_at must be in the future", expires_at=expires_at.isoformat())
    if hold_id in holds:
        raise HoldNotActive(f"hold {hold_id} already exists")


def capture_amount(hold: Hold, hold_id: str, amount: int | None) -> int:
    """What a capture of ``amount`` (None: all of it) takes from the hold."""
    captured = hold.amount if amount is None else check_amount(amount)
    if captured > hold.amount:
        raise CaptureExceedsHold(
            f"cannot capture {captured}: hold {hold_id} is for {hold.amount}",
            hold_amount=hold.amount,
            requested=captured,
        )
    return captured


def expired_holds(holds: dict[str, Hold], now: datetime) -> list[str]:
    """The ids of the active holds past their expiry at ``now``."""
    return [
        hold_id
        for hold_id, hold in holds.items()
        if hold.status == "active" and hold.expires_at <= now
    ]


class AccountHolds:
    """The hold commands of an ``Account``: guards first, then the Account's event."""

    # What the commands read and record, all the Account's own (its fields, its balance
    # guards and its @event methods): named here so the commands type-check.
    if TYPE_CHECKING:

        @property
        def id(self) -> UUID: ...

        holds: dict[str, Hold]
        held: int

        def money(self, amount: int) -> Money: ...
        def check_can_debit(self, amount: Money) -> None: ...
        def check_can_move(self) -> None: ...
        def _watch_balance(self) -> None: ...
        def _hold_placed(
            self, hold_id: str, amount: int, expires_at: datetime, destination: str
        ) -> None: ...
        def _hold_captured(self, hold_id: str, amount: int, transaction_id: UUID) -> None: ...
        def _hold_voided(self, hold_id: str) -> None: ...
        def _hold_expired(self, hold_id: str) -> None: ...

    def place_hold(
        self,
        hold_id: str,
        amount: Money,
        expires_at: datetime,
        destination: str,
        now: datetime,
    ) -> None:
        # The request's own content first (the rules above), then the account's state.
        check_new_hold(self.holds, hold_id, expires_at, destination, now)
        self.check_can_debit(amount)
        held = self.money(self.held) + amount
        check_within_limit(held.amount, f"the held amount of account {self.id}")
        self._hold_placed(
            hold_id=hold_id, amount=amount.amount, expires_at=expires_at, destination=destination
        )
        self._watch_balance()

    def capture_hold(
        self, hold_id: str, amount: int | None, transaction_id: UUID, now: datetime
    ) -> Money:
        """Capture all or part of a hold (``amount`` is in the hold's currency, which is the
        account's); the rest is released. Returns the captured money."""
        self.check_can_move()
        hold = usable_hold(self.holds, hold_id, now)
        captured = capture_amount(hold, hold_id, amount)
        self._hold_captured(hold_id=hold_id, amount=captured, transaction_id=transaction_id)
        return self.money(captured)

    def void_hold(self, hold_id: str) -> None:
        active_hold(self.holds, hold_id)
        self._hold_voided(hold_id=hold_id)

    def get_hold(self, hold_id: str) -> Hold:
        return find_hold(self.holds, hold_id)

    def expired_holds(self, now: datetime) -> list[str]:
        return expired_holds(self.holds, now)

    def expire_hold(self, hold_id: str, now: datetime) -> bool:
        """Release a hold past its expiry. Returns False (and records nothing) when the
        hold is already settled or not yet due, so the sweep can run any number of times."""
        hold = self.holds.get(hold_id)
        if hold is None or hold.status != "active" or hold.expires_at > now:
            return False
        self._hold_expired(hold_id=hold_id)
        return True
