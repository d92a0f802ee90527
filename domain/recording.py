"""Recording an event on an aggregate, the library's way but with the work done once per
event class instead of once per event.

The ``eventsourcing`` library records an event in general terms on every call: it
checks the class's explicit topic is registered, builds the event through the frozen
dataclass's ``__init__`` (one ``object.__setattr__`` per field), lets the event find
its aggregate class by topic, and maps the event's attributes to the parameters of the
aggregate's ``__init__`` or ``@event`` method through ``inspect`` results looked up in
caches. For a deposit that was about a third of the command's Python time.

``EventRecipe`` and ``CreationRecipe`` look all of that up once per class and then do
the same steps: the event object holds the same attributes in the same order (so it is
stored as the same bytes: a test compares them), the aggregate is initialised and
mutated by the same methods, and the event is appended to its pending events. Whatever
a recipe is not sure of (a field with a default factory, an argument that is not a
field, an event class with its own ``apply``), it leaves to the library: ``recipe()``
and ``creation()`` answer None, or ``build`` does, and the caller goes the library's
way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.domain import (
    CanMutateAggregate,
    DecoratedFuncCaller,
    _check_explicit_topic_is_registered,
    _create_id_param_names,
    _init_mentions_id,
    _spec_filter_kwargs_for_method_params,
    decorated_funcs,
)
from eventsourcing.utils import get_topic, resolve_topic

_MISSING = dataclasses.MISSING


class EventRecipe:
    """How to build one event class's objects: its fields in order, their defaults, and
    the ``@event`` method that applies it (when that is all its ``apply`` does)."""

    __slots__ = (
        "apply_func",
        "apply_names",
        "defaults",
        "event_class",
        "names",
        "order",
        "required",
    )

    def __init__(self, event_class: type) -> None:
        self.event_class = event_class
        fields = dataclasses.fields(event_class)  # type: ignore[arg-type]
        # The dataclass's fields in its order, which is the order its __init__ sets them
        # in, and so the order of the stored state's keys.
        self.order = tuple(f.name for f in fields)
        self.defaults = tuple(f.default for f in fields)
        self.names = frozenset(self.order)
        self.required = frozenset(f.name for f in fields if f.default is _MISSING)
        self.apply_func: Callable[..., None] | None = None
        self.apply_names: tuple[str, ...] = ()
        if _applies_only_decorated_func(event_class):
            func = decorated_funcs[event_class]
            wanted = _spec_filter_kwargs_for_method_params(func)
            self.apply_func = func
            # The library passes the method those of its parameters the event has.
            self.apply_names = tuple(name for name in self.order if name in wanted)

    def build(self, values: Mapping[str, Any]) -> Any:
        """The event the dataclass's ``__init__`` would make of ``values``, or None where
        that would raise or do something else (the library then gets the call)."""
        if not (self.required <= values.keys() <= self.names):
            return None
        if not isinstance(values["originator_id"], UUID):
            return None  # the library's __post_init__ raises TypeError
        # zip and map run in C: no bytecode per field.
        state = dict(zip(self.order, map(values.get, self.order, self.defaults), strict=True))
        event: Any = object.__new__(self.event_class)
        object.__setattr__(event, "__dict__", state)
        return event

    def apply(self, event: Any, aggregate: Any) -> None:
        """What ``event.apply(aggregate)`` does."""
        func = self.apply_func
        if func is None:
            event.apply(aggregate)
            return
        names = self.apply_names
        func(aggregate, **dict(zip(names, map(event.__dict__.__getitem__, names), strict=True)))


def _applies_only_decorated_func(event_class: type) -> bool:
    """Whether the class's ``apply`` is ``DecoratedFuncCaller.apply`` and what it calls
    after that (``super().apply``) is the library's empty one."""
    if event_class not in decorated_funcs:
        return False
    owners = [c for c in event_class.__mro__ if "apply" in c.__dict__]
    return len(owners) >= 2 and owners[0] is DecoratedFuncCaller and owners[1] is CanMutateAggregate


class CreationRecipe:
    """How to create one aggregate class from one of its "created" event classes."""

    __slots__ = ("aggregate_class", "event", "id_names", "init", "init_names", "topic", "wants_id")

    def __init__(self, aggregate_class: Any, event: EventRecipe) -> None:
        self.aggregate_class: Any = aggregate_class
        self.event = event
        self.topic = get_topic(aggregate_class)
        self.id_names = tuple(_create_id_param_names[aggregate_class])
        # Read on the class, a decorated __init__ is the function it decorates.
        self.init: Callable[..., None] = aggregate_class.__init__
        wanted = _spec_filter_kwargs_for_method_params(self.init)
        # The library passes __init__ those of its parameters the event has.
        self.init_names = tuple(name for name in event.order if name in wanted)
        self.wants_id = aggregate_class in _init_mentions_id

    def created_event(self, originator_id: Any, values: dict[str, Any]) -> Any:
        """The "created" event ``create`` would make the aggregate from, or None (see
        ``build``)."""
        values["originator_topic"] = self.topic
        values["originator_id"] = originator_id
        values["originator_version"] = self.aggregate_class.INITIAL_VERSION
        if values.get("timestamp") is None:
            event_class: Any = self.event.event_class
            values["timestamp"] = event_class.create_timestamp()
        return self.event.build(values)

    def create(self, originator_id: Any, values: dict[str, Any]) -> Any:
        """The new aggregate with its created event pending, or None (see ``build``)."""
        created = self.created_event(originator_id, values)
        if created is None:
            return None
        state = created.__dict__
        aggregate = self.aggregate_class.__new__(self.aggregate_class)
        aggregate.__base_init__(
            originator_id=state["originator_id"],
            originator_version=state["originator_version"],
            timestamp=state["timestamp"],
        )
        names = self.init_names
        init_kwargs = dict(zip(names, map(state.__getitem__, names), strict=True))
        if self.wants_id:
            init_kwargs["id"] = state["originator_id"]
        self.init(aggregate, **init_kwargs)
        self.event.apply(created, aggregate)
        aggregate._pending_events.append(created)
        return aggregate


_events: dict[type, EventRecipe | None] = {}
_creations: dict[tuple[type, type], CreationRecipe | None] = {}
_library_only = False


@contextmanager
def library_way() -> Iterator[None]:
    """Record every event the library's own way while inside: what the tests compare the
    recipes against. Not for use while commands run on other threads."""
    global _library_only
    before, _library_only = _library_only, True
    try:
        yield
    finally:
        _library_only = before


def recipe(event_class: type) -> EventRecipe | None:
    """The recipe for an event class, made on first use; None if it has none."""
    if _library_only:
        return None
    try:
        return _events[event_class]
    except KeyError:
        pass
    made: EventRecipe | None = None
    if _recordable(event_class):
        made = EventRecipe(event_class)
    _events[event_class] = made
    return made


def creation(aggregate_class: type, event_class: type) -> CreationRecipe | None:
    """The recipe to create an aggregate class from an event class; None if none."""
    if _library_only:
        return None
    key = (aggregate_class, event_class)
    try:
        return _creations[key]
    except KeyError:
        pass
    made: CreationRecipe | None = None
    event = recipe(event_class)
    # The class the created event names by topic must be the one being created.
    if event is not None and resolve_topic(get_topic(aggregate_class)) is aggregate_class:
        made = CreationRecipe(aggregate_class, event)
    _creations[key] = made
    return made


def _recordable(event_class: type) -> bool:
    if not dataclasses.is_dataclass(event_class) or event_class.__name__ == "Event":
        return False
    # Tally's events have explicit topics; the library checks on every event that the
    # topic is registered to the class. Without one, or with a failure, the library
    # gets the call (and reports the problem).
    if not getattr(event_class, "TOPIC", None):
        return False
    try:
        _check_explicit_topic_is_registered(event_class)
    except Exception:
        return False
    # A field with a default factory, or none in __init__, is the library's to fill.
    return all(f.default_factory is _MISSING and f.init for f in dataclasses.fields(event_class))
