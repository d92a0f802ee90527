"""What a command runs with and what it answers: shared by the bus, the handlers and
the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from commands.bus.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Context:
    """Who asks, for which project, and under which idempotency key."""

    project_id: UUID
    actor: str
    idempotency_key: str | None = None
    now: datetime | None = None


@dataclass
class Outcome:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False
    position: int | None = None


Handler = Callable[[UnitOfWork, Any, Context], tuple[int, dict[str, Any]]]
