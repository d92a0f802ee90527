"""Holds on an account: the ``Hold`` record an Account keeps per hold, and the rules that
read holds (which one a command may use, what it may capture, which have expired).

The Account (``domain.accounts``) asks these before it records a hold's events; they
change nothing themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.errors import CaptureExceedsHold, HoldExpired, HoldNotActive, NotFound, TimeNotInFuture
from domain.limits import MAX_REF_CHARS, check_text, check_timestamp
from domain.money import check_amount


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
