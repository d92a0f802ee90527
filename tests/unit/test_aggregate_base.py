"""TallyAggregate's quick way to trigger an @event method's event records exactly what
the library's own way records."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import CommandMethodDecorator, event

from domain.accounts import Account
from domain.base import TallyAggregate, _DirectTrigger, current_actor
from domain.money import Money


class Gadget(TallyAggregate):
    @event("Made")
    def __init__(self, name: str) -> None:
        self.name = name
        self.size = 0
        self.colour = ""

    @event("Resized")
    def resize(self, size: int, colour: str = "grey") -> None:
        self.size = size
        self.colour = colour


def _library_way(aggregate: TallyAggregate, method: str, *args: Any, **kwargs: Any) -> None:
    direct = type(aggregate).__dict__[method]
    assert isinstance(direct, _DirectTrigger)
    direct.decorator.__get__(aggregate, type(aggregate))(*args, **kwargs)


def _fields(e: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(e).items() if k != "timestamp"}


def test_the_at_event_methods_get_the_quick_way() -> None:
    assert isinstance(Gadget.__dict__["resize"], _DirectTrigger)
    assert isinstance(Account.__dict__["_deposited"], _DirectTrigger)
    # The decorated __init__ stays the library's.
    assert isinstance(Gadget.__dict__["__init__"], CommandMethodDecorator)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {"size": 3, "colour": "red"}),  # every parameter by keyword: the quick way
        ((3,), {"colour": "red"}),  # positional: the library's way
        ((), {"size": 3}),  # a default left out: the library's way
        ((3, "red"), {}),
    ],
)
def test_the_same_event_either_way(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    quick, slow = Gadget(name="a"), Gadget(name="a")
    token = current_actor.set("key_1")
    try:
        quick.resize(*args, **kwargs)
        _library_way(slow, "resize", *args, **kwargs)
    finally:
        current_actor.reset(token)
    _, resized_q = quick.collect_events()
    _, resized_s = slow.collect_events()
    assert type(resized_q) is type(resized_s) is Gadget.Resized
    assert _fields(resized_q) == {**_fields(resized_s), "originator_id": quick.id}
    assert resized_q.issued_by == "key_1"  # type: ignore[attr-defined]
    assert (quick.size, quick.colour, quick.version) == (slow.size, slow.colour, slow.version)
    assert quick.modified_on == resized_q.timestamp


def test_wrong_arguments_are_refused_as_before() -> None:
    gadget = Gadget(name="a")
    with pytest.raises(TypeError):
        gadget.resize(size=1, colour="red", weight=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        gadget.resize()  # type: ignore[call-arg]
    assert gadget.version == 1


def test_a_deposit_records_the_libraries_event() -> None:
    quick = Account.open(UUID(int=1), "o", "EUR")
    slow = Account.open(UUID(int=1), "o", "EUR")
    quick.deposit(Money(5, "EUR"), UUID(int=9))
    _library_way(slow, "_deposited", amount=5, transaction_id=UUID(int=9))
    assert _fields(quick.collect_events()[-1]) == _fields(slow.collect_events()[-1])
    assert quick.ledger == slow.ledger == 5
