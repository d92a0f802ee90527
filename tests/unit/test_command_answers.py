"""A retry under the same key in a later batch replays the recorded answer without
running its handler again, and a batch that was not written leaves none of what it
changed (nor the records it made) in the bus's cache."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from adapters.clock import FixedClock
from commands import ledger
from commands import messages as m
from commands.bus import CommandBus, Context, Outcome
from commands.bus.context import Handler, Result
from commands.bus.unit_of_work import RecorderEventWriter, UnitOfWork
from domain.accounts import Account

PROJECT = UUID("5a1b2c3d-0000-4000-8000-000000000003")
AT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


class FailingWriter(RecorderEventWriter):
    """The recorder's writer, which fails its next ``fail`` writes as a lost
    connection would (nothing written)."""

    fail = 0

    def write(
        self, stored_events: Sequence[StoredEvent], reads: Sequence[tuple[UUID, int]] = ()
    ) -> list[int]:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("the connection was lost before the commit")
        return super().write(stored_events, reads)


class Ledger:
    """The ledger's handlers on the in-memory store, counting the handlers run."""

    def __init__(self) -> None:
        self.app = Application[UUID]()
        self.runs: list[str] = []
        self.writer = FailingWriter(self.app.recorder)
        handlers = {kind: self._counted(h) for kind, h in ledger.HANDLERS.items()}
        self.bus = CommandBus(self.app, handlers, FixedClock(AT), writer=self.writer)

    def _counted(self, handler: Handler) -> Handler:
        def counted(uow: UnitOfWork, command: Any, ctx: Context) -> Result:
            self.runs.append(type(command).__name__)
            return handler(uow, command, ctx)

        return counted

    def run(self, command: m.Command, key: str | None = None) -> Outcome:
        return self.bus.execute(command, Context(PROJECT, "answers", key))

    def head(self) -> int:
        return int(self.app.recorder.max_notification_id() or 0)


@pytest.fixture
def books() -> Iterator[Ledger]:
    books = Ledger()
    yield books
    books.bus.close()


def _open(books: Ledger) -> UUID:
    return UUID(books.run(m.OpenAccount(owner_ref="ann", currency="EUR")).body["account"]["id"])


def test_a_retry_under_the_same_key_in_the_next_batch_runs_no_handler(books: Ledger) -> None:
    account = _open(books)
    deposit = m.Deposit(account_id=account, amount=100, currency="EUR")
    first = books.run(deposit, key="d-1")
    runs, head = len(books.runs), books.head()

    again = books.run(deposit, key="d-1")

    assert again.replayed
    assert again.body == first.body
    assert len(books.runs) == runs  # replayed from the record the cache kept
    assert books.head() == head


def test_a_batch_not_written_leaves_neither_its_aggregates_nor_its_records_cached(
    books: Ledger,
) -> None:
    account = _open(books)
    deposit = m.Deposit(account_id=account, amount=100, currency="EUR")
    books.writer.fail = 1
    with pytest.raises(ConnectionError):
        books.run(deposit, key="d-1")

    cached = books.bus.cache.get(account)
    assert cached is None or cached == books.app.repository.get(account)
    # Its key was never written: the same request runs, it is not a replay.
    done = books.run(deposit, key="d-1")
    assert not done.replayed
    stored = books.app.repository.get(account)
    assert isinstance(stored, Account)
    assert (stored.ledger, done.body["account"]["ledger_balance"]) == (100, 100)
