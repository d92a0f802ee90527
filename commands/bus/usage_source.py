"""The usage a command may read (issue 13): declared here, implemented by an adapter
(``adapters.usage_source``) that the composition root hands the command bus.

Usage events are not in the event log (docs/architecture.md, "Usage events"), so a
handler that rates usage (a renewal) reads their running totals through this. What it
read is then recorded in the events it writes (the invoice's usage lines), so a replay
never reads usage again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from domain.usage import MeterRule


class UsageSource(Protocol):
    def quantities(
        self,
        project_id: UUID,
        customer_id: UUID,
        subscription_id: UUID,
        rules: Sequence[MeterRule],
        period: tuple[datetime, datetime],
    ) -> dict[UUID, dict[str, Decimal | None]]:
        """Per meter id, per group (its stored key), the meter's quantity over
        ``period`` of the usage that counts toward the subscription."""
        ...

    def fence(
        self, project_id: UUID, customer_id: UUID, subscription_id: UUID, before: datetime
    ) -> None:
        """No usage dated before ``before`` may be stored for the subscription from now
        on: every write of the customer's usage either committed before this returns
        (a read after it counts it) or refuses such an event."""
        ...
