"""The command bus's usage source (``commands.bus.usage_source``): the running totals
of ``adapters.usage_queries``, read for a renewal's rating."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from adapters.usage_fences import raise_fence
from adapters.usage_queries import Scope, usage
from domain.usage import MeterRule


class PostgresUsage:
    def __init__(self, pool: ConnectionPool[Any], schema: str) -> None:
        self.pool = pool
        self.schema = schema

    def quantities(
        self,
        project_id: UUID,
        customer_id: UUID,
        subscription_id: UUID,
        rules: Sequence[MeterRule],
        period: tuple[datetime, datetime],
    ) -> dict[UUID, dict[str, Decimal | None]]:
        scope = Scope(project_id, customer_id, subscription_id)
        return usage(self.pool, self.schema, scope, rules, *period)

    def fence(
        self, project_id: UUID, customer_id: UUID, subscription_id: UUID, before: datetime
    ) -> None:
        raise_fence(self.pool, self.schema, project_id, customer_id, subscription_id, before)
