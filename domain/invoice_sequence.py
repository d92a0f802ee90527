"""The per-project invoice number sequence (``ACME-2027-000123``)."""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate


class InvoiceSequence(TallyAggregate):
    """The next invoice number of one project. Every finalization changes it, so two
    concurrent finalizations conflict on its version and one retries: no gap, no twin."""

    TOPIC = "tally:InvoiceSequence"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:InvoiceSequence.Created"

    @staticmethod
    def create_id(project_id: UUID) -> UUID:
        return uuid5(project_id, "invoice-sequence")

    @event("Opened", topic="tally:InvoiceSequence.Opened")
    def __init__(self, project_id: UUID, prefix: str) -> None:
        self.project_id = project_id
        self.prefix = prefix
        self.last = 0

    def take(self, year: int, prefix: str | None = None) -> str:
        """The next number, ``<prefix>-<year>-<six digits>``. The counter is per project,
        whatever the prefix or year: a new prefix does not restart it."""
        self._taken(number=self.last + 1)
        return f"{prefix or self.prefix}-{year}-{self.last:06d}"

    @event("Taken", topic="tally:InvoiceSequence.Taken")
    def _taken(self, number: int) -> None:
        self.last = number
