"""A keyed command's idempotency record is stored by its event alone: the unit of work
does not build the record unless a later command of the same batch reuses the key, and
then builds the same record the constructor makes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import CanCreateTimestamp

from adapters.clock import FixedClock
from commands import ledger
from commands import messages as m
from commands.bus import CommandBus, Context
from commands.bus.pipeline import Item
from commands.bus.unit_of_work import UnitOfWork
from domain.base import current_actor
from domain.errors import IdempotencyKeyReused
from domain.idempotency import IdempotencyRecord, request_hash
from domain.recording import library_way

PROJECT = UUID("5a1b2c3d-0000-4000-8000-000000000002")
AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[CommandBus]:
    monkeypatch.setattr(CanCreateTimestamp, "create_timestamp", staticmethod(lambda: AT))
    bus = CommandBus(Application[UUID](), dict(ledger.HANDLERS), FixedClock(AT))
    yield bus
    bus.close()


def _account(bus: CommandBus) -> UUID:
    opened = bus.execute(m.OpenAccount(owner_ref="ann", currency="EUR"), Context(PROJECT, "k"))
    return UUID(opened.body["account"]["id"])


def _deposit(account_id: UUID, key: str, amount: int = 100) -> Item:
    command = m.Deposit(account_id=account_id, amount=amount, currency="EUR")
    return Item(command, Context(PROJECT, "key_rec", key))


def _run(bus: CommandBus, uow: UnitOfWork, item: Item) -> None:
    uow.begin_command()
    item.outcome = bus._run_one(uow, item)
    assert uow.command_recorded() or item.outcome.replayed


def test_the_record_is_stored_without_being_built(bus: CommandBus) -> None:
    item = _deposit(_account(bus), "d-1")
    uow = UnitOfWork(bus.app)

    _run(bus, uow, item)
    sealed = uow.seal()

    assert item.record_id is not None
    assert uow.reached(item.record_id) is None
    assert item.outcome is not None
    stored = sealed.events[-1]  # after the command's own events, as add() put it
    assert [e.topic for e in sealed.events] == [
        "tally:Account.Deposited",
        "tally:Transaction.Initiated",
        "tally:IdempotencyRecord.Recorded",
    ]
    # The bytes the record made by its constructor is stored as.
    token = current_actor.set("key_rec")
    with library_way():
        made = IdempotencyRecord(
            project_id=PROJECT,
            key="d-1",
            request_hash=request_hash("Deposit", item.command.model_dump(mode="json")),
            happened="created",
            response=item.outcome.body,
        )
    current_actor.reset(token)
    theirs = bus.app.mapper.to_stored_event(made.collect_events()[0])
    assert (stored.originator_id, stored.originator_version, stored.topic, stored.state) == (
        theirs.originator_id,
        theirs.originator_version,
        theirs.topic,
        theirs.state,
    )


def test_a_key_reused_in_the_same_batch_replays_from_the_record_built_then(
    bus: CommandBus,
) -> None:
    account_id = _account(bus)
    first, again = _deposit(account_id, "d-2"), _deposit(account_id, "d-2")
    uow = UnitOfWork(bus.app)

    _run(bus, uow, first)
    _run(bus, uow, again)

    assert first.outcome is not None
    assert again.outcome is not None
    assert again.outcome.replayed
    assert again.outcome.body == first.outcome.body
    assert first.record_id is not None
    built = uow.reached(first.record_id)
    assert built is not None
    assert not built.collect_events()  # nothing recorded twice
    token = current_actor.set("key_rec")
    made = IdempotencyRecord.record(
        first.record_id,
        project_id=PROJECT,
        key="d-2",
        request_hash=request_hash("Deposit", first.command.model_dump(mode="json")),
        happened="created",
        response=first.outcome.body,
    )
    current_actor.reset(token)
    made.collect_events()
    assert vars(built) == vars(made)
    assert len(uow.seal().events) == 3  # one deposit, one record

    with pytest.raises(IdempotencyKeyReused):
        _run(bus, uow, _deposit(account_id, "d-2", amount=5))


def test_a_key_reused_across_batches_replays_through_the_bus(bus: CommandBus) -> None:
    account_id = _account(bus)
    command = m.Deposit(account_id=account_id, amount=100, currency="EUR")
    first = bus.execute(command, Context(PROJECT, "key_rec", "d-3"))
    again = bus.execute(command, Context(PROJECT, "key_rec", "d-3"))
    assert not first.replayed
    assert again.replayed
    assert again.body == first.body


def test_an_item_derives_its_record_id_once_and_holds_no_dict() -> None:
    keyed, unkeyed = (
        _deposit(UUID(int=3), "d-4"),
        Item(m.Deposit(account_id=UUID(int=3), amount=1, currency="EUR"), Context(PROJECT, "k")),
    )
    assert keyed.record_id == IdempotencyRecord.create_id(PROJECT, "d-4")
    assert unkeyed.record_id is None
    assert keyed.outcome is None
    assert not keyed.future.done()
    assert not hasattr(keyed, "__dict__")  # one is made per command: slots only


def test_a_class_with_a_snapshotting_interval_is_built_and_snapshotted() -> None:
    class Snapshotting(Application[UUID]):
        snapshotting_intervals = {IdempotencyRecord: 1}

    app = Snapshotting(env={"IS_SNAPSHOTTING_ENABLED": "y"})
    record_id = IdempotencyRecord.create_id(PROJECT, "s-1")
    event = IdempotencyRecord.recorded_event(
        record_id, project_id=PROJECT, key="s-1", request_hash="h", happened="created", response={}
    )
    uow = UnitOfWork(app)

    uow.add_created_event(IdempotencyRecord, event)
    sealed = uow.seal()

    assert isinstance(uow.reached(record_id), IdempotencyRecord)
    assert [e.topic for e in sealed.events] == ["tally:IdempotencyRecord.Recorded"]
    assert len(sealed.snapshots) == 1
