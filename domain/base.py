"""Base aggregate for Tally: every event records the project and the API key that issued it.

The issuing key comes from a context variable set by the command bus for the duration of
one command, so aggregate methods do not have to thread it through every call.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from eventsourcing.domain import Aggregate

# "system" marks work Tally does on its own behalf (the hold sweep, replays).
current_actor: ContextVar[str] = ContextVar("current_actor", default="system")


class TallyAggregate(Aggregate):
    """An aggregate owned by one project; its events say which key issued them."""

    class Event(Aggregate.Event):
        issued_by: str

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        kwargs.setdefault("issued_by", current_actor.get())
        super().trigger_event(event_class, **kwargs)

    @classmethod
    def _create(cls, event_class: Any, *, id: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("issued_by", current_actor.get())
        return super()._create(event_class, id=id, **kwargs)
