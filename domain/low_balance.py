"""Low balance (issue 12): when an account's available balance falls below its threshold.

An account may have a low-balance threshold (minor units of its currency, from 0 to
MAX_AMOUNT_MINOR; None: no threshold). The rule, decided by the Account aggregate and
kept in the log as a ``BalanceLow`` event in the same command as the change that caused
it, so the same history always gives the same events:

- The watch is *armed* from the start. After every command that can lower the available
  balance (a withdrawal, a transfer out, a reversal that takes money out, a new hold) or
  that sets the threshold (at open or later), an armed account whose available balance is
  strictly below its threshold records ``BalanceLow`` and is disarmed.
- It re-arms when the available balance is back **at or above** the threshold, which an
  event body decides (a credit, a released hold, a threshold change), so replay arms and
  disarms the account exactly as the commands did.
- Setting the threshold is a change like a movement: raising it above the available
  balance fires (once, if armed); lowering it to or below the available balance re-arms;
  clearing it (None) re-arms, so setting one again while below fires again. Opening an
  account with a threshold above its (zero) balance fires at once: it is low.
"""

from __future__ import annotations

from domain.money import check_amount


def check_threshold(threshold: int | None) -> int | None:
    """A usable threshold: None, or 0..MAX_AMOUNT_MINOR minor units."""
    return None if threshold is None else check_amount(threshold, allow_zero=True)


def is_low(available: int, threshold: int | None) -> bool:
    """Whether ``available`` is below ``threshold`` (never, without one)."""
    return threshold is not None and available < threshold
