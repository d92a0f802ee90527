"""What a subscription's last invoiced usage period billed (issue 13): the watermark
that lets the next invoice bill late usage for that period once.

A renewal bills the usage of the period that just ended (``domain.usage_rating``) and
records here, per metered price and meter group, the quantity it billed. Usage for that
period may still arrive within the grace period (``USAGE_LATE_GRACE_S``); the next
renewal bills the quantity known then less what is recorded here, as an adjustment
line, and records the period it bills in its turn. Only the last period is kept: the
door refuses usage for any earlier one, so no later invoice could need it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.usage import decimal_text

NAMESPACE = UUID("4f0c2a51-8b7e-4d6a-9c3f-2e1d0b9a8c7f")


class UsageBilling(TallyAggregate):
    TOPIC = "tally:UsageBilling"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:UsageBilling.Created"

    @staticmethod
    def create_id(subscription_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"usage_billing:{subscription_id}")

    @event("Started", topic="tally:UsageBilling.Started")
    def __init__(self, project_id: UUID, subscription_id: UUID) -> None:
        self.project_id = project_id
        self.subscription_id = subscription_id
        self.period: list[str] | None = None  # [start, end] in ISO 8601
        self.prices: list[str] = []  # the metered prices billed for it
        self.billed: dict[str, str] = {}  # "price_id group_key" -> quantity
        self.invoice_id: str | None = None

    @classmethod
    def start(cls, project_id: UUID, subscription_id: UUID) -> UsageBilling:
        return cls(project_id=project_id, subscription_id=subscription_id)

    def billed_for(self, period: tuple[datetime, datetime]) -> dict[str, Decimal] | None:
        """What was billed for ``period`` per price and group; None if it was not
        the period billed last."""
        if self.period != [period[0].isoformat(), period[1].isoformat()]:
            return None
        return {key: Decimal(value) for key, value in self.billed.items()}

    @property
    def last_period(self) -> tuple[datetime, datetime] | None:
        if self.period is None:
            return None
        return datetime.fromisoformat(self.period[0]), datetime.fromisoformat(self.period[1])

    def record(
        self,
        invoice_id: UUID,
        period: tuple[datetime, datetime],
        prices: list[str],
        billed: dict[str, Decimal],
    ) -> None:
        """``invoice_id`` billed ``period``'s usage of ``prices`` up to ``billed``."""
        self._billed(
            invoice_id=str(invoice_id),
            period=[period[0].isoformat(), period[1].isoformat()],
            prices=list(prices),
            billed={key: str(decimal_text(value)) for key, value in sorted(billed.items())},
        )

    @event("Billed", topic="tally:UsageBilling.Billed")
    def _billed(
        self, invoice_id: str, period: list[str], prices: list[str], billed: dict[str, str]
    ) -> None:
        self.invoice_id = invoice_id
        self.period = period
        self.prices = prices
        self.billed = billed

    def summary(self) -> dict[str, Any]:
        return {
            "subscription_id": str(self.subscription_id),
            "invoice_id": self.invoice_id,
            "period": self.period,
            "prices": self.prices,
            "billed": self.billed,
        }
