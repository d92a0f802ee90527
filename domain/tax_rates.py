"""Tax rate definitions.

Tax rates are defined once per project and never edited: a different percentage is a new
rate, so every finalized invoice can always be explained.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.limits import MAX_LABEL_CHARS, check_text
from domain.tax import TaxRate, check_percentage


class TaxRateDefinition(TallyAggregate):
    TOPIC = "tally:TaxRate"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:TaxRate.Created"

    @event("Defined", topic="tally:TaxRate.Defined")
    def __init__(
        self, project_id: UUID, percentage: str, inclusive: bool, jurisdiction: str, name: str
    ) -> None:
        self.project_id = project_id
        self.percentage = percentage
        self.inclusive = inclusive
        self.jurisdiction = jurisdiction
        self.name = name
        self.active = True

    @classmethod
    def define(
        cls, project_id: UUID, percentage: str, inclusive: bool, jurisdiction: str, name: str
    ) -> TaxRateDefinition:
        pct = check_percentage(percentage)
        check_text(jurisdiction, "jurisdiction", MAX_LABEL_CHARS)
        check_text(name, "name", MAX_LABEL_CHARS)
        return cls(
            project_id=project_id,
            percentage=str(pct),
            inclusive=inclusive,
            jurisdiction=jurisdiction,
            name=name,
        )

    def rate(self) -> TaxRate:
        return TaxRate(str(self.id), Decimal(self.percentage), self.inclusive, self.jurisdiction)

    def archive(self) -> None:
        if self.active:
            self._archived()

    @event("Archived", topic="tally:TaxRate.Archived")
    def _archived(self) -> None:
        self.active = False

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "percentage": self.percentage,
            "inclusive": self.inclusive,
            "jurisdiction": self.jurisdiction,
            "name": self.name,
            "active": self.active,
        }
