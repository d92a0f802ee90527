"""The prepaid-credit commands (issue 13), kept apart from ``commands/messages/`` so
that credits and the other usage work change different files. Handlers:
``commands.credits``."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StrictInt

from commands.limits_types import Id, Timestamp
from commands.messages import Command
from commands.messages.base import Amount, CurrencyCode, Source, Text
from domain.limits import MAX_AMOUNT_MINOR, MAX_CREDIT_GRANT_PRICES, MAX_CREDIT_PRIORITY

Priority = Annotated[
    StrictInt,
    Field(
        ge=0,
        le=MAX_CREDIT_PRIORITY,
        description="Higher is consumed first (then the soonest expiry, then the oldest)",
    ),
]
GrantPrices = Annotated[
    list[UUID],
    Field(
        min_length=1,
        max_length=MAX_CREDIT_GRANT_PRICES,
        description="The metered prices the grant pays for; omitted: every metered price "
        "and direct consumption",
    ),
]
Threshold = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)]


class GrantCredits(Command):
    customer_id: UUID
    kind: Literal["paid", "promotional"]
    amount: Amount
    currency: CurrencyCode | None = None  # the customer's currency
    expires_at: Timestamp | None = None
    priority: Priority = 0
    prices: GrantPrices | None = None
    source: Source = "manual"
    description: Text = ""
    # A paid grant funded by a withdrawal from the customer's wallet, in the same write.
    wallet_account_id: UUID | None = None


class ConsumeCredits(Command):
    customer_id: UUID
    amount: Amount
    currency: CurrencyCode | None = None
    price_id: UUID | None = None
    description: Text = ""


class VoidCreditGrant(Command):
    grant_id: Id


class SetCreditThreshold(Command):
    customer_id: UUID
    currency: CurrencyCode | None = None
    low_threshold: Threshold | None = None
    top_up_amount: Amount | None = None


class ExpireCredits(Command):
    """Record the breakage of a customer's credits past their expiry (the sweeper's)."""

    customer_id: UUID
    currency: CurrencyCode


class PurchaseCredits(Command):
    """Paid credits bought on an invoice: a finalized one-line invoice now, the grant
    when it is paid (``commands.credit_purchases``)."""

    customer_id: UUID
    amount: Amount
    currency: CurrencyCode | None = None  # the customer's (an invoice is in it)
    priority: Priority = 0
    prices: GrantPrices | None = None
    description: Text = ""
