"""Subscription states, the transition table, and the rules for items.

States and triggers (one module-level ``transitions`` table, never bound to an aggregate):

    incomplete --start_trial--> trialing      incomplete --activate--> active
    incomplete --expire--> incomplete_expired
    trialing --activate--> active   trialing --mark_past_due--> past_due
    trialing --cancel--> canceled
    active --mark_past_due--> past_due   active --pause--> paused   active --cancel--> canceled
    past_due --activate--> active   past_due --mark_unpaid--> unpaid   past_due --cancel--> canceled
    unpaid --activate--> active (its invoice paid after all, as at Stripe)
    paused --resume--> active   paused --cancel--> canceled (now only: no period runs to end)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.errors import InvalidCombination, ValidationFailed
from domain.limits import MAX_QUANTITY
from domain.money import check_within_limit
from domain.state_machine import transition_table

INCOMPLETE, TRIALING, ACTIVE, PAST_DUE = "incomplete", "trialing", "active", "past_due"
PAUSED, CANCELED, UNPAID, EXPIRED = "paused", "canceled", "unpaid", "incomplete_expired"

MACHINE = transition_table(
    states=[INCOMPLETE, TRIALING, ACTIVE, PAST_DUE, PAUSED, CANCELED, UNPAID, EXPIRED],
    transitions=[
        ("start_trial", INCOMPLETE, TRIALING),
        ("activate", [INCOMPLETE, TRIALING, PAST_DUE, UNPAID], ACTIVE),
        ("expire", INCOMPLETE, EXPIRED),
        ("mark_past_due", [TRIALING, ACTIVE], PAST_DUE),
        # A paused subscription can be canceled (as at Stripe and Paddle), but only now:
        # ``Subscription.check_cancel`` refuses a cancel at the end of a period that
        # does not run while it is paused.
        ("cancel", [TRIALING, ACTIVE, PAST_DUE, PAUSED], CANCELED),
        ("pause", ACTIVE, PAUSED),
        ("resume", PAUSED, ACTIVE),
        ("mark_unpaid", PAST_DUE, UNPAID),
    ],
    initial=INCOMPLETE,
)

Item = dict[str, Any]  # {"price_id": str, "quantity": int, "amount": int}
PRORATION_MODES = ("prorate", "none", "period_end")
# As with Stripe: an incomplete subscription whose first payment never comes expires.
INCOMPLETE_EXPIRY = timedelta(hours=23)
# A scheduler that was down for years must still stop somewhere in one command.
MAX_DUE_STEPS = 1000


def check_renewal_amount(items: list[Item], proration_lines: list[dict[str, Any]]) -> None:
    """Each renewal invoice has a line per item and the proration lines collected since
    the last one; what they charge must fit the money limit (``domain/limits/``), or
    the renewal, made later by the scheduler, could not be invoiced."""
    charged = sum(int(i["amount"]) for i in items)
    charged += sum(max(0, int(line["amount"])) for line in proration_lines)
    check_within_limit(charged, "the subscription's amount for a period")


def check_items(items: list[Item]) -> list[Item]:
    if not items:
        raise ValidationFailed("a subscription needs at least one item")
    seen: set[str] = set()
    for item in items:
        if not 0 < item["quantity"] <= MAX_QUANTITY:
            raise ValidationFailed(f"quantity must be 1 to {MAX_QUANTITY}")
        if item["price_id"] in seen:
            raise InvalidCombination("each price appears once; change its quantity instead")
        seen.add(item["price_id"])
    check_renewal_amount(items, [])
    return [
        {"price_id": str(i["price_id"]), "quantity": i["quantity"], "amount": i["amount"]}
        for i in items
    ]
