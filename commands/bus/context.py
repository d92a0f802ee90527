"""What a command runs with and what it answers: shared by the bus, the handlers and
the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from commands.bus.key_check import KeyCheck
from commands.bus.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Context:
    """Who asks, for which project, and under which idempotency key; and, for a caller
    authenticated from a key cache, the key its write must confirm (``key_check``)."""

    project_id: UUID
    actor: str
    idempotency_key: str | None = None
    now: datetime | None = None
    key_check: KeyCheck | None = None


class Happened(StrEnum):
    """What a command did, in the domain's words. The API decides what each means on
    the wire (``api/routes/common.py``, ``STATUS_BY_HAPPENED``); idempotency records keep
    the value, so the values are stored names and never change."""

    CREATED = "created"
    """Something new exists: an account, a transaction, an invoice, a subscription."""
    EXISTED = "existed"
    """What a create asked for was there already (same external id or lookup key)."""
    CHANGED = "changed"
    """Something that existed changed (or may have: the command's own rules decide)."""
    UNCHANGED = "unchanged"
    """Nothing needed doing, or the command only answered a question."""
    ACCEPTED = "accepted"
    """Asked of someone outside (a provider); it happens when they act."""


@dataclass(frozen=True)
class Result:
    """A handler's answer: what happened and the objects it concerns."""

    happened: Happened
    body: dict[str, Any]

    @classmethod
    def created(cls, body: dict[str, Any]) -> Result:
        return cls(Happened.CREATED, body)

    @classmethod
    def existed(cls, body: dict[str, Any]) -> Result:
        return cls(Happened.EXISTED, body)

    @classmethod
    def changed(cls, body: dict[str, Any]) -> Result:
        return cls(Happened.CHANGED, body)

    @classmethod
    def unchanged(cls, body: dict[str, Any]) -> Result:
        return cls(Happened.UNCHANGED, body)

    @classmethod
    def accepted(cls, body: dict[str, Any]) -> Result:
        return cls(Happened.ACCEPTED, body)


@dataclass
class Outcome:
    """A command's result as the bus answers it: whether it is the stored answer to an
    earlier request with the same key, and the event-log position of its write."""

    happened: Happened
    body: dict[str, Any]
    replayed: bool = False
    position: int | None = None
    # True when its command's ``key_check`` was confirmed by the append that committed
    # its batch. Otherwise (no key check, or nothing written: a replay alone, a command
    # that changed nothing) whoever answers must confirm the key itself.
    key_checked: bool = False


Handler = Callable[[UnitOfWork, Any, Context], Result]
