"""The ``created`` of an object in a command's answer (docs/api.md, Objects)."""

from __future__ import annotations

from typing import Any


def created(aggregate: Any) -> str:
    """When ``aggregate`` was created: its first event's timestamp, the instant its read
    model keeps as ``created_at``. Only answers carry it, never an aggregate's ``summary``,
    which read models store as they are."""
    return str(aggregate.created_on.isoformat())
