"""The per-project invoice number sequences: the real one (``ACME-2027-000123``) and the
test-clock one (``ACME-TC-2030-000007``).

An invoice finalized on a test clock is dated in the clock's time, which may be years
ahead of the real one; numbered in the real series, it would put the clock's year in it
(``INV-2030-...`` before a later ``INV-2026-...``) and use up its numbers. So test-clock
invoices have a series of their own, one per project, with its own counter. Sequences
opened before this existed were all real ones and keep their id.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate

# The series of invoices finalized on a test clock; it is written after the prefix.
TEST_CLOCK_SERIES = "TC"


def series_prefix(prefix: str, series: str) -> str:
    """The prefix the numbers of ``series`` are written with (``INV``, ``INV-TC``)."""
    return f"{prefix}-{series}" if series else prefix


class InvoiceSequence(TallyAggregate):
    """The next invoice number of one series of a project. Every finalization changes it,
    so two concurrent finalizations conflict on its version and one retries: no gap, no
    twin."""

    TOPIC = "tally:InvoiceSequence"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:InvoiceSequence.Created"

    @staticmethod
    def create_id(project_id: UUID, series: str = "") -> UUID:
        """The real series (``series=""``) or another one, such as ``TEST_CLOCK_SERIES``."""
        return uuid5(project_id, f"invoice-sequence:{series}" if series else "invoice-sequence")

    # ``series`` came with the test-clock series: an Opened event stored before it has
    # none and replays as the real series, which is what it was.
    @event("Opened", topic="tally:InvoiceSequence.Opened")
    def __init__(self, project_id: UUID, prefix: str, series: str = "") -> None:
        self.project_id = project_id
        self.prefix = prefix
        self.series = series
        self.last = 0

    def take(self, year: int, prefix: str | None = None) -> str:
        """The next number, ``<prefix>-<year>-<six digits>``. The counter is per series,
        whatever the prefix or year: a new prefix does not restart it."""
        self._taken(number=self.last + 1)
        return f"{prefix or self.prefix}-{year}-{self.last:06d}"

    @event("Taken", topic="tally:InvoiceSequence.Taken")
    def _taken(self, number: int) -> None:
        self.last = number
