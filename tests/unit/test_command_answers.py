"""A command's answer is the state its command left, whatever runs after it: a retry
under the same key in a later batch replays the recorded answer without running its
handler again, an answer never shares a list or dict with the aggregates later commands
of its batch change, and a batch that was not written leaves none of what it changed
(nor the records it made) in the bus's cache."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
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
from commands.bus.key_check import KeyCheck
from commands.bus.pipeline import Item
from commands.bus.unit_of_work import RecorderEventWriter, UnitOfWork
from domain.accounts import Account
from domain.idempotency import IdempotencyRecord
from tests.unit.invoicing_world import InvoicingWorld

PROJECT = UUID("5a1b2c3d-0000-4000-8000-000000000003")
AT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


class FailingWriter(RecorderEventWriter):
    """The recorder's writer, which fails its next ``fail`` writes as a lost
    connection would (nothing written)."""

    fail = 0

    def write(
        self,
        stored_events: Sequence[StoredEvent],
        reads: Sequence[tuple[UUID, int]] = (),
        keys: Collection[KeyCheck] = (),
    ) -> list[int]:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("the connection was lost before the commit")
        return super().write(stored_events, reads, keys)


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


def _one_batch(world: InvoicingWorld, *commands: m.Command) -> list[Outcome]:
    """Run ``commands`` into one unit of work and one write, as a batch is run."""
    ctx = [Context(world.project_id, "answers", f"k-{i}") for i in range(len(commands))]
    items = [Item(command, c) for command, c in zip(commands, ctx, strict=True)]
    with world.bus._mutex:
        assert world.bus._try_batch(items, check_keys=True)
    return [item.future.result() for item in items]


@pytest.fixture
def world() -> Iterator[InvoicingWorld]:
    world = InvoicingWorld()
    yield world
    world.bus.close()


def test_an_answer_does_not_show_what_a_later_command_of_its_batch_changed(
    world: InvoicingWorld,
) -> None:
    customer = world.customer("u1")
    world.wallet("u1", 5000)
    invoice = world.draft(customer, 1000)
    world.run(m.FinalizeInvoice(invoice_id=invoice))

    paid, second, noted = _one_batch(
        world,
        m.PayInvoice(invoice_id=invoice, method="wallet", amount=400),
        m.PayInvoice(invoice_id=invoice, method="wallet", amount=300),
        m.CreateCreditNote(invoice_id=invoice, amount=100, refund_to="original_payment"),
    )

    payments = paid.body["invoice"]["payments"]
    assert [(p["amount"], p["refunded"]) for p in payments] == [(400, 0)]
    assert paid.body["invoice"]["credit_notes"] == []
    assert [p["amount"] for p in second.body["invoice"]["payments"]] == [400, 300]
    assert sum(p["refunded"] for p in noted.body["invoice"]["payments"]) == 100
    assert noted.body["credit_note"] == noted.body["invoice"]["credit_notes"][0]


def _containers(value: Any, found: dict[int, str], where: str) -> None:
    """Every dict, list and set reachable from ``value`` (through domain objects too)."""
    if isinstance(value, dict | list | set):
        if id(value) in found:
            return
        found[id(value)] = where
        for inner in value.values() if isinstance(value, dict) else value:
            _containers(inner, found, where)
    elif type(value).__module__.startswith("domain.") and hasattr(value, "__dict__"):
        for inner in vars(value).values():
            _containers(inner, found, where)


def _shared(body: Any, state: dict[int, str], path: str) -> list[str]:
    if id(body) in state:
        return [f"{path} is {state[id(body)]}'s"]
    if isinstance(body, dict):
        return [s for k, v in body.items() for s in _shared(v, state, f"{path}.{k}")]
    if isinstance(body, list):
        return [s for v in body for s in _shared(v, state, f"{path}[]")]
    return []


def _watch_answers(world: InvoicingWorld) -> list[str]:
    """Check every answer the world's handlers give against the aggregates their unit of
    work holds (an idempotency record keeps the answer by design); return what is
    shared."""
    shared: list[str] = []

    def watched(handler: Handler) -> Handler:
        def check(uow: UnitOfWork, command: Any, ctx: Context) -> Result:
            result = handler(uow, command, ctx)
            state: dict[int, str] = {}
            for aggregate in uow.touched.values():
                if not isinstance(aggregate, IdempotencyRecord):
                    where = type(aggregate).__name__
                    for name, value in vars(aggregate).items():
                        if name != "_pending_events":
                            _containers(value, state, f"{where}.{name}")
            shared.extend(_shared(result.body, state, type(command).__name__))
            return result

        return check

    handlers = world.bus.handlers
    for kind, handler in list(handlers.items()):
        handlers[kind] = watched(handler)
    return shared


def test_no_answer_shares_a_list_or_dict_with_an_aggregate(world: InvoicingWorld) -> None:
    shared = _watch_answers(world)
    tax = world.tax()
    world.run(m.ConfigureBilling(retry_days=[2, 4], seller_address=["1 Main St"]))
    price = world.plan("pro", 1_500)
    customer = world.body(
        m.RegisterCustomer(external_id="u1", currency="EUR", metadata={"tier": "gold"})
    )
    customer_id = UUID(customer["customer"]["id"])
    world.wallet("u1", 9_000)
    world.run(m.DefineCoupon(code="TEN", percent_off="10", duration="forever"))
    world.run(m.ApplyCouponToCustomer(customer_id=customer_id, coupon_code="TEN"))
    item = m.SubscriptionItem(price_id=UUID(price))
    world.run(m.CreateSubscription(customer_id=customer_id, items=[item]))
    invoice = world.draft(str(customer_id), 1_000, 500, tax=tax)
    world.run(m.ApplyCoupon(invoice_id=invoice, coupon_code="TEN"))
    world.run(m.FinalizeInvoice(invoice_id=invoice))
    world.run(m.PayInvoice(invoice_id=invoice, method="wallet", amount=400))
    world.run(m.CreateCreditNote(invoice_id=invoice, amount=100, refund_to="original_payment"))
    voided = world.draft(str(customer_id), 300)
    world.run(m.FinalizeInvoice(invoice_id=voided))
    world.run(m.VoidInvoice(invoice_id=voided))

    assert shared == []
