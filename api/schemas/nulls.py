"""Which nulls a write's answer shows: the one rule (``api.routes.common.answer``).

A null is left out of a write's answer, unless the model declares the field
``ShownNull`` and the command answered it. Such a null means something the GET of the
same object shows too (a subscription's ``canceled_at`` before it is canceled, a
customer's ``test_clock_id`` when it has none), so the write answers it the same way.
A field the command did not answer at all (a read-model timestamp it cannot know) is
never shown, ``ShownNull`` or not. A field declared ``AsRecorded`` holds a part kept as
the write side records it (an invoice's payments, a price's tiers): it and what it holds
are answered as recorded, every null the command answered included. Reads answer every
field, nulls included.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

T = TypeVar("T")


class _ShowsNull:
    """The mark of a field whose null a write answers (``ShownNull``)."""

    def __repr__(self) -> str:
        return "ShownNull"


class _AsRecorded:
    """The mark of a field answered as recorded, nulls and all (``AsRecorded``)."""

    def __repr__(self) -> str:
        return "AsRecorded"


SHOWS_NULL = _ShowsNull()
AS_RECORDED = _AsRecorded()

# A field that may be null and shows it in a write's answer when the command answered it.
ShownNull = Annotated[T | None, SHOWS_NULL]
# A field answered as recorded: its null, and every null inside it, when answered.
AsRecorded = Annotated[T, AS_RECORDED]


def _marked(model: type[BaseModel], mark: object) -> frozenset[str]:
    return frozenset(
        name for name, field in model.model_fields.items() if any(m is mark for m in field.metadata)
    )


@cache
def shown_null(model: type[BaseModel]) -> frozenset[str]:
    """The names of ``model``'s fields whose null is shown (``ShownNull``, ``AsRecorded``)."""
    return _marked(model, SHOWS_NULL) | _marked(model, AS_RECORDED)


@cache
def as_recorded(model: type[BaseModel]) -> frozenset[str]:
    """The names of ``model``'s fields declared ``AsRecorded``."""
    return _marked(model, AS_RECORDED)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a field's type holds (in a list, a dict, a union, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType) or get_args(annotation):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


@cache
def shows_null_within(model: type[BaseModel]) -> bool:
    """Whether ``model``, or a model it holds at any depth, has a ``ShownNull`` field."""
    return _shows_null_within(model, frozenset())


def _shows_null_within(model: type[BaseModel], seen: frozenset[type[BaseModel]]) -> bool:
    if shown_null(model):
        return True
    inside = seen | {model}
    return any(
        _shows_null_within(nested, inside)
        for field in model.model_fields.values()
        for nested in _models_in(field.annotation)
        if nested not in inside
    )


def nulls_left_out(value: BaseModel) -> dict[Any, Any]:
    """The ``exclude`` argument of ``model_dump`` that leaves out the nulls of ``value``
    that the rule does not show, at every depth."""
    shown = shown_null(type(value)) & value.model_fields_set
    recorded = as_recorded(type(value))
    left_out: dict[Any, Any] = {}
    for name in type(value).model_fields:
        item = getattr(value, name)
        if item is None:
            nested = None
        elif name in recorded:
            nested = _nested(item, _unset_left_out)
        else:
            nested = _nested(item, nulls_left_out)
        if item is None and name not in shown:
            left_out[name] = True
        elif nested:
            left_out[name] = nested
    for name, item in (value.model_extra or {}).items():
        if item is None:
            left_out[name] = True
    return left_out


def _unset_left_out(value: BaseModel) -> dict[Any, Any]:
    """Inside an ``AsRecorded`` field: only what the command did not answer is left out."""
    left_out: dict[Any, Any] = {}
    for name in type(value).model_fields:
        nested = _nested(getattr(value, name), _unset_left_out)
        if name not in value.model_fields_set:
            left_out[name] = True
        elif nested:
            left_out[name] = nested
    return left_out


Rule = Callable[[BaseModel], dict[Any, Any]]


def _nested(item: Any, rule: Rule) -> dict[Any, Any] | None:
    """What ``rule`` leaves out inside a field's value (a model, or models in a list or
    dict)."""
    if isinstance(item, BaseModel):
        return rule(item) or None
    if isinstance(item, list | tuple):
        inside = {i: n for i, x in enumerate(item) if (n := _nested(x, rule))}
        return inside or None
    if isinstance(item, dict):
        inside = {k: n for k, x in item.items() if (n := _nested(x, rule))}
        return inside or None
    return None
