"""Base aggregate for Tally: every event records the project and the API key that issued it.

The issuing key comes from a context variable set by the command bus for the duration of
one command, so aggregate methods do not have to thread it through every call.
"""

from __future__ import annotations

import inspect
from contextvars import ContextVar
from types import MethodType
from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import (
    Aggregate,
    CommandMethodDecorator,
    _annotations_mention_id,
    _created_event_classes,
    decorated_func_callers,
)

from domain.recording import creation, recipe

# "system" marks work Tally does on its own behalf (the hold sweep, replays).
current_actor: ContextVar[str] = ContextVar("current_actor", default="system")


class TallyAggregate(Aggregate):
    """An aggregate owned by one project; its events say which key issued them."""

    class Event(Aggregate.Event):
        issued_by: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The library has now defined an event class for each @event method; put a
        # quicker way to trigger it in front of each (see _DirectTrigger).
        for name, value in tuple(cls.__dict__.items()):
            direct = _DirectTrigger.wrap(value)
            if direct is not None:
                setattr(cls, name, direct)

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        kwargs.setdefault("issued_by", current_actor.get())
        # The library's steps, with what it looks up per event looked up per class
        # (domain/recording.py); the library's own way where the recipe declines.
        made = recipe(event_class)
        if made is not None:
            values = {**kwargs, "originator_id": self.id, "originator_version": self.version + 1}
            if values.get("timestamp") is None:
                values["timestamp"] = event_class.create_timestamp()
            new_event = made.build(values)
            if new_event is not None:
                made.apply(new_event, self)  # guards ran before: this only changes state
                self.version = values["originator_version"]
                self.modified_on = values["timestamp"]
                self._pending_events.append(new_event)
                return
        super().trigger_event(event_class, **kwargs)

    @classmethod
    def _create(cls, event_class: Any, *, id: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("issued_by", current_actor.get())
        made = creation(cls, event_class)
        if made is not None:
            originator_id = id
            if originator_id is None:
                names = made.id_names
                originator_id = cls.create_id(**{k: v for k, v in kwargs.items() if k in names})
            if isinstance(originator_id, UUID):
                created = made.create(originator_id, dict(kwargs))
                if created is not None:
                    return created
        return super()._create(event_class, id=id, **kwargs)

    @classmethod
    def _new(cls, **kwargs: Any) -> Self:
        """What ``cls(**kwargs)`` makes. Given every parameter of the decorated
        ``__init__`` by keyword, the library's ``__call__`` has nothing to fill in or
        reorder, yet matches the arguments to the signature again on every call (about a
        quarter of creating a transaction); this calls its ``_create`` straight away.
        Anything else goes the library's way."""
        names = _init_names(cls)
        if names is not None and kwargs.keys() == names:
            made: Self = cls._create(_created_event_classes[cls][0], **kwargs)
            return made
        return cls(**kwargs)


_INIT_NAMES: dict[type, frozenset[str] | None] = {}


def _init_names(cls: type[TallyAggregate]) -> frozenset[str] | None:
    """The names ``cls(**kwargs)`` passes on to ``_create`` when all are given, or None
    where the library's ``__call__`` would do more than pass them on (no single created
    event class, a parameter that is positional-only or variadic)."""
    try:
        return _INIT_NAMES[cls]
    except KeyError:
        pass
    names: frozenset[str] | None = None
    if len(_created_event_classes.get(cls, ())) == 1:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
        if all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in parameters):
            names = frozenset(p.name for p in parameters)
            if cls in _annotations_mention_id:
                names |= {"id"}
    _INIT_NAMES[cls] = names
    return names


class _DirectTrigger:
    """An @event method called with every parameter by keyword triggers its event
    straight through ``trigger_event``, which the library documents as the equivalent
    of calling the decorated method. Its own way builds a bound decorator object, maps
    the arguments to the signature and filters them against the event class on every
    call: about half the cost of recording a ``Deposited``. Positional arguments, or
    parameters left to their defaults, go the library's way, unchanged."""

    __slots__ = ("decorator", "event_class", "names")

    def __init__(self, decorator: CommandMethodDecorator, event_class: type, names: Any) -> None:
        self.decorator = decorator
        self.event_class = event_class
        self.names = names

    @classmethod
    def wrap(cls, value: Any) -> _DirectTrigger | None:
        """The fast path for a class attribute, or None where it does not apply: not an
        @event method, a decorated ``__init__`` or property, or an event class whose
        fields do not include every parameter (so the library would filter some out)."""
        if not isinstance(value, CommandMethodDecorator) or value.decorated_property:
            return None
        func = value.decorated_func
        if func.__name__ in ("__init__", "_"):
            return None
        event_class = decorated_func_callers.get(value)
        if not isinstance(event_class, type):
            return None
        parameters = list(inspect.signature(func).parameters.values())[1:]  # after self
        if any(p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in parameters):
            return None
        names = {p.name for p in parameters}
        if not names <= set(inspect.signature(event_class).parameters):
            return None
        return cls(value, event_class, names)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self.decorator.__get__(instance, owner)  # type: ignore[arg-type]
        return MethodType(self._call, instance)

    def _call(self, instance: TallyAggregate, *args: Any, **kwargs: Any) -> None:
        if args or kwargs.keys() != self.names:
            self.decorator.__get__(instance, type(instance))(*args, **kwargs)
            return
        instance.trigger_event(self.event_class, **kwargs)
