"""What a subscription's last invoiced usage period billed (issue 13): the watermark
that lets the next invoice bill late usage for that period once.

A renewal bills the usage of the period that just ended (``domain.usage_rating``) and
records here, per metered price and meter group, the quantity it billed. Usage for that
period may still arrive within the grace period (``USAGE_LATE_GRACE_S``); the next
renewal bills the quantity known then less what is recorded here, as an adjustment
line, and records the period it bills in its turn. The period before the last is kept
too (``earlier``: what it has been billed, its late adjustment included): the door
refuses usage for it once the read models show the renewal that billed the last one,
but an event the door admitted just before that renewal committed, and whose batch
committed just after the renewal read the usage, is in it; the next renewal bills it
as late usage. Nothing older is kept: no event for it can pass the door.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.copies import plain_copy
from domain.usage import decimal_text

NAMESPACE = UUID("4f0c2a51-8b7e-4d6a-9c3f-2e1d0b9a8c7f")


class UsageBilling(TallyAggregate):
    """Version 2 keeps the subscription's usage thresholds and what progressive
    invoices billed of its current period (``domain.progressive_billing``); a ledger
    stored before has none."""

    TOPIC = "tally:UsageBilling"
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state.update(thresholds=[], progressive=None, progressive_billed={}, progressive_level=0)

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
        # The period billed before ``period``, its prices and what it has been billed.
        self.earlier: list[str] | None = None
        self.earlier_prices: list[str] = []
        self.earlier_billed: dict[str, str] = {}
        # Progressive billing: the thresholds, and the period progressive invoices
        # billed, what they billed of it and how many thresholds it reached.
        self.thresholds: list[int] = []
        self.progressive: list[str] | None = None
        self.progressive_billed: dict[str, str] = {}
        self.progressive_level = 0

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
        return _period(self.period)

    @property
    def earlier_period(self) -> tuple[datetime, datetime] | None:
        return _period(self.earlier)

    def earlier_billed_for(self) -> dict[str, Decimal]:
        return {key: Decimal(value) for key, value in self.earlier_billed.items()}

    def record(
        self,
        invoice_id: UUID,
        period: tuple[datetime, datetime],
        prices: list[str],
        billed: dict[str, Decimal],
        last_billed: dict[str, Decimal] | None = None,
    ) -> None:
        """``invoice_id`` billed ``period``'s usage of ``prices`` up to ``billed``, and
        the period billed last (if another) up to ``last_billed``."""
        earlier = self.period if self.period != _iso(period) else self.earlier
        keep = self.period != _iso(period) and earlier is not None
        self._billed(
            invoice_id=str(invoice_id),
            period=_iso(period),
            prices=list(prices),
            billed=_texts(billed),
            earlier=earlier,
            earlier_prices=list(self.prices if keep else self.earlier_prices),
            earlier_billed=_texts(last_billed or {}) if keep else self.earlier_billed,
        )

    # ``earlier*`` came with keeping the period before the last: a Billed event stored
    # before has none and replays as nothing kept, which is what it was.
    @event("Billed", topic="tally:UsageBilling.Billed")
    def _billed(
        self,
        invoice_id: str,
        period: list[str],
        prices: list[str],
        billed: dict[str, str],
        earlier: list[str] | None = None,
        earlier_prices: list[str] | None = None,
        earlier_billed: dict[str, str] | None = None,
    ) -> None:
        self.invoice_id = invoice_id
        self.period = period
        self.prices = prices
        self.billed = billed
        self.earlier = earlier
        self.earlier_prices = list(earlier_prices or [])
        self.earlier_billed = dict(earlier_billed or {})

    def set_thresholds(self, thresholds: list[int], customer_id: UUID) -> None:
        """The usage thresholds (``check_thresholds``: the caller checks them)."""
        if list(thresholds) != self.thresholds:
            # Whose they are rides along, for the read model that finds them.
            self._thresholds_set(
                thresholds=list(thresholds),
                project_id=str(self.project_id),
                subscription_id=str(self.subscription_id),
                customer_id=str(customer_id),
            )

    @event("ThresholdsSet", topic="tally:UsageBilling.ThresholdsSet")
    def _thresholds_set(
        self, thresholds: list[int], project_id: str, subscription_id: str, customer_id: str
    ) -> None:
        self.thresholds = thresholds

    def progressive_for(self, period: tuple[datetime, datetime]) -> tuple[dict[str, Decimal], int]:
        """What progressive invoices billed of ``period`` and the thresholds it reached
        (nothing and 0 for another period)."""
        if self.progressive != _iso(period):
            return {}, 0
        billed = {key: Decimal(value) for key, value in self.progressive_billed.items()}
        return billed, self.progressive_level

    def record_progressive(
        self,
        invoice_id: UUID,
        period: tuple[datetime, datetime],
        billed: dict[str, Decimal],
        level: int,
    ) -> None:
        self._progressive_billed(
            invoice_id=str(invoice_id), period=_iso(period), billed=_texts(billed), level=level
        )

    @event("ProgressiveBilled", topic="tally:UsageBilling.ProgressiveBilled")
    def _progressive_billed(
        self, invoice_id: str, period: list[str], billed: dict[str, str], level: int
    ) -> None:
        self.progressive = period
        self.progressive_billed = billed
        self.progressive_level = level

    def summary(self) -> dict[str, Any]:
        return {
            "subscription_id": str(self.subscription_id),
            "invoice_id": self.invoice_id,
            "period": plain_copy(self.period),
            "prices": plain_copy(self.prices),
            "billed": plain_copy(self.billed),
            "earlier": plain_copy(self.earlier),
            "earlier_billed": plain_copy(self.earlier_billed),
            "thresholds": plain_copy(self.thresholds),
            "progressive": plain_copy(self.progressive),
            "progressive_billed": plain_copy(self.progressive_billed),
        }


def _iso(period: tuple[datetime, datetime]) -> list[str]:
    return [period[0].isoformat(), period[1].isoformat()]


def _period(stored: list[str] | None) -> tuple[datetime, datetime] | None:
    if stored is None:
        return None
    return datetime.fromisoformat(stored[0]), datetime.fromisoformat(stored[1])


def _texts(billed: dict[str, Decimal]) -> dict[str, str]:
    return {key: str(decimal_text(value)) for key, value in sorted(billed.items())}
