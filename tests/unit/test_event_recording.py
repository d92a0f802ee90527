"""Events recorded through the recipes of domain/recording.py are stored exactly as the
library's own way stores them (same topics, same state bytes) and build the same
aggregates; and the recipes are really taken, so these tests compare two paths."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import CanCreateTimestamp
from eventsourcing.persistence import StoredEvent

from adapters.clock import FixedClock
from commands import ledger
from commands import messages as m
from commands.bus import CommandBus, Context
from commands.bus.unit_of_work import stored_event_maker
from domain.accounts import Account
from domain.errors import DomainError
from domain.idempotency import IdempotencyRecord
from domain.money import Money
from domain.recording import creation, library_way, recipe
from domain.transactions import Transaction
from tests.unit.billing_world import World

PROJECT = UUID("5a1b2c3d-0000-4000-8000-000000000001")
AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def fixed_event_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event gets the same timestamp, whichever way it is recorded, so that two
    runs of the same commands can be compared byte for byte."""
    monkeypatch.setattr(CanCreateTimestamp, "create_timestamp", staticmethod(lambda: AT))


def _ledger_commands(bus: CommandBus) -> None:
    """Keyed commands (so every id derives from a key) with refusals among them."""

    def run(command: m.Command, key: str) -> None:
        with contextlib.suppress(DomainError):
            bus.execute(command, Context(PROJECT, "key_rec", key))

    for owner in ("ann", "bob"):
        run(m.OpenAccount(owner_ref=owner, currency="EUR", metadata={"tier": "gold"}), owner)
    ann = Account.create_id(PROJECT, "ann", "EUR")
    bob = Account.create_id(PROJECT, "bob", "EUR")
    run(m.Deposit(account_id=ann, amount=1_000, currency="EUR"), "d1")
    run(m.Deposit(account_id=ann, amount=5, currency="EUR", pending=True), "d2")
    run(m.Withdraw(account_id=ann, amount=300, currency="EUR"), "w1")
    run(m.Withdraw(account_id=bob, amount=300, currency="EUR"), "w2")  # refused
    run(m.Transfer(from_account_id=ann, to_account_id=bob, amount=200, currency="EUR"), "t1")
    run(m.FreezeAccount(account_id=bob, reason="checks"), "f1")
    run(m.Deposit(account_id=bob, amount=1, currency="EUR"), "d3")  # refused: frozen
    run(m.UnfreezeAccount(account_id=bob), "u1")


def _stored(quick: bool) -> list[StoredEvent]:
    app = Application[UUID]()
    bus = CommandBus(app, dict(ledger.HANDLERS), FixedClock(AT))
    try:
        if quick:
            _ledger_commands(bus)
        else:
            with library_way():
                _ledger_commands(bus)
    finally:
        bus.close()
    return list(app.recorder.select_notifications(1, 10_000))


@pytest.mark.usefixtures("fixed_event_time")
def test_the_same_commands_store_the_same_bytes_either_way() -> None:
    quick, library = _stored(quick=True), _stored(quick=False)

    assert len(quick) == len(library) >= 20
    for ours, theirs in zip(quick, library, strict=True):
        assert (ours.originator_id, ours.originator_version, ours.topic) == (
            theirs.originator_id,
            theirs.originator_version,
            theirs.topic,
        )
        assert ours.state == theirs.state, ours.topic


def test_the_recipes_are_taken_for_the_ledgers_events() -> None:
    for event_class in (Account.Deposited, Transaction.Initiated, IdempotencyRecord.Recorded):
        assert recipe(event_class) is not None, event_class
    for aggregate, created in (
        (Account, Account.Opened),
        (IdempotencyRecord, IdempotencyRecord.Recorded),
    ):
        assert creation(aggregate, created) is not None
    with library_way():
        assert recipe(Account.Deposited) is None


def _billing_workload(world: World) -> None:
    price = world.plan("pro", 1_500)
    customer = world.customer("u1")
    item = m.SubscriptionItem(price_id=UUID(price))
    world.run(m.CreateSubscription(customer_id=UUID(customer), items=[item]), "s1")
    for i in range(3):
        world.run(m.OpenAccount(owner_ref=f"o{i}", currency="EUR"), f"open-{i}")


def test_every_stored_event_is_what_the_library_would_store_for_its_values() -> None:
    world = World()
    _billing_workload(world)
    mapper = world.app.mapper

    stored = list(world.app.recorder.select_notifications(1, 10_000))
    assert len(stored) > 10
    for event in stored:
        decoded: Any = mapper.to_domain_event(event)
        # Built again through the event dataclass's own __init__, from the same values.
        rebuilt = type(decoded)(**vars(decoded))
        again = mapper.to_stored_event(rebuilt)
        assert (again.topic, again.state) == (event.topic, event.state)
    world.bus.close()


def test_aggregates_the_bus_built_equal_their_replay_from_the_store() -> None:
    world = World()
    _billing_workload(world)

    # The cache keeps an idempotency record by its created event until it is asked for.
    cache = world.bus.cache
    cached = [cache.get(aggregate_id) for aggregate_id in cache.ids()]
    assert len(cached) > 5
    for aggregate in cached:
        assert aggregate is not None
        assert world.app.repository.get(aggregate.id) == aggregate
    world.bus.close()


@pytest.mark.usefixtures("fixed_event_time")
@pytest.mark.parametrize("library", [False, True], ids=["recipes", "library"])
def test_a_record_made_with_its_id_is_stored_as_the_constructor_stores_it(library: bool) -> None:
    """The bus makes idempotency records with ``IdempotencyRecord.record(id, ...)``;
    before, with ``IdempotencyRecord(...)``. Same event, same bytes, either recording."""
    mapper = Application[UUID]().mapper
    values: dict[str, Any] = {
        "project_id": PROJECT,
        "key": "k-1",
        "request_hash": "ab" * 32,
        "happened": "created",
        "response": {"transaction": {"id": "t", "amount": 100}, "note": None},
    }
    with library_way() if library else contextlib.nullcontext():
        made = IdempotencyRecord(**values)
        given = IdempotencyRecord.record(IdempotencyRecord.create_id(PROJECT, "k-1"), **values)
    assert given.id == made.id
    assert given == made
    ours, theirs = (mapper.to_stored_event(r.collect_events()[0]) for r in (given, made))
    assert (ours.originator_id, ours.originator_version, ours.topic, ours.state) == (
        theirs.originator_id,
        theirs.originator_version,
        theirs.topic,
        theirs.state,
    )


def test_the_bus_makes_the_stored_events_the_mapper_makes() -> None:
    """``stored_event_maker`` builds each ``StoredEvent`` without its dataclass
    ``__init__``: the object must be the one the library's mapper makes."""
    mapper = Application[UUID]().mapper
    to_stored = stored_event_maker(mapper)
    account = Account.open(PROJECT, "ann", "EUR", metadata={"tier": "gold"})
    account.deposit(Money(250, "EUR"), UUID(int=9))
    record = IdempotencyRecord.record(
        UUID(int=10), project_id=PROJECT, key="k", request_hash="h", happened="created", response={}
    )
    for event in [*account.collect_events(), *record.collect_events()]:
        ours, theirs = to_stored(event), mapper.to_stored_event(event)
        assert ours == theirs
        assert vars(ours) == vars(theirs)
        assert hash(ours) == hash(theirs)
        assert type(ours) is StoredEvent
        with pytest.raises(dataclasses.FrozenInstanceError):
            ours.topic = "x"  # type: ignore[misc]


@pytest.mark.usefixtures("fixed_event_time")
def test_new_makes_what_calling_the_class_makes() -> None:
    """``Transaction.begin`` creates with ``_new`` (every parameter by keyword, so the
    library's ``__call__`` is skipped): same aggregate, same stored event."""
    mapper = Application[UUID]().mapper
    values: dict[str, Any] = {
        "id": UUID(int=11),
        "project_id": PROJECT,
        "kind": "deposit",
        "amount": 100,
        "currency": "EUR",
        "from_ref": "clearing:manual",
        "to_ref": "wallet:x",
        "state": "completed",
        "description": "",
        "external_ref": "",
        "entry": [{"account": "wallet:x", "amount": 100}],
    }
    quick, called = Transaction._new(**values), Transaction(**values)
    assert vars(quick) == vars(called)
    ours, theirs = (mapper.to_stored_event(t.collect_events()[0]) for t in (quick, called))
    assert (ours.topic, ours.state) == (theirs.topic, theirs.state)
    # Not every parameter given: the library's way, which refuses as it always did.
    del values["entry"]
    with pytest.raises(TypeError):
        Transaction._new(**values)
