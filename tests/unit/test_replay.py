"""Replaying an aggregate's own events gives the same state, both straight from the event
objects and after a round trip through the library's in-memory store (which encodes every
event to bytes, so stored topics and types are exercised too). No Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from domain.accounts import Account
from domain.idempotency import IdempotencyRecord
from domain.money import Money
from domain.projects import Project
from domain.transactions import Transaction

PROJECT = UUID("00000000-0000-0000-0000-0000000000aa")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _state(aggregate: Aggregate) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def _busy_account() -> Account:
    account = Account.open(PROJECT, "cust-1", "EUR", overdraft_limit=50, metadata={"tier": "a"})
    account.deposit(Money(1000, "EUR"), uuid4())
    account.withdraw(Money(120, "EUR"), uuid4())
    account.transfer_in(Money(30, "EUR"), uuid4())
    account.transfer_out(Money(10, "EUR"), uuid4())
    account.place_hold("h1", Money(200, "EUR"), NOW + timedelta(hours=1), "clearing:card", NOW)
    account.place_hold("h2", Money(100, "EUR"), NOW + timedelta(hours=2), "wallet:x", NOW)
    account.place_hold("h3", Money(50, "EUR"), NOW + timedelta(minutes=5), "clearing:card", NOW)
    account.capture_hold("h1", 150, uuid4(), NOW)
    account.void_hold("h2")
    account.expire_hold("h3", NOW + timedelta(minutes=5))
    account.post_reversal(Money(-20, "EUR"), uuid4())
    account.freeze("review")
    account.credit_confirmed_deposit(Money(5, "EUR"), uuid4())
    account.unfreeze()
    return account


def _busy_transaction() -> Transaction:
    txn = Transaction.begin(
        id=uuid4(),
        project_id=PROJECT,
        kind="deposit",
        amount=Money(900, "BHD"),
        from_ref="clearing:stripe",
        to_ref="wallet:y",
        complete_now=False,
    )
    txn.complete()
    txn.reverse(100, "part")
    txn.reverse(800, "rest")
    return txn


def _busy_project() -> Project:
    project = Project.create("Acme", mode="test")
    project.issue_key("k1", "h1", "tly_k1", "ci")
    project.issue_key("k2", "h2", "tly_k2", "")
    project.revoke_key("k1")
    return project


def _record() -> IdempotencyRecord:
    return IdempotencyRecord(
        project_id=PROJECT, key="d1", request_hash="abc", happened="created", response={"x": [1]}
    )


def _aggregates() -> list[Aggregate]:
    return [_busy_account(), _busy_transaction(), _busy_project(), _record()]


def test_folding_the_collected_events_rebuilds_the_same_state() -> None:
    for aggregate in _aggregates():
        expected = _state(aggregate)
        rebuilt: Any = None
        for domain_event in aggregate.collect_events():
            rebuilt = domain_event.mutate(rebuilt)
        assert type(rebuilt) is type(aggregate)
        assert _state(rebuilt) == expected


def test_saving_and_loading_through_the_in_memory_store_gives_the_same_state() -> None:
    app = Application[UUID]()
    aggregates = _aggregates()
    expected = [_state(a) for a in aggregates]
    app.save(*aggregates)
    for aggregate, state in zip(aggregates, expected, strict=True):
        assert _state(app.repository.get(aggregate.id)) == state


def test_an_earlier_version_replays_to_the_balance_it_had_then() -> None:
    app = Application[UUID]()
    account = Account.open(PROJECT, "cust-1", "EUR")
    account.deposit(Money(500, "EUR"), uuid4())
    account.withdraw(Money(200, "EUR"), uuid4())
    app.save(account)
    assert app.repository.get(account.id, version=2).ledger == 500
    assert app.repository.get(account.id, version=3).ledger == 300


def test_stored_events_carry_the_explicit_topics() -> None:
    app = Application[UUID]()
    account = Account.open(PROJECT, "cust-1", "EUR")
    account.deposit(Money(500, "EUR"), uuid4())
    account.place_hold("h1", Money(100, "EUR"), NOW + timedelta(hours=1), "clearing:card", NOW)
    app.save(account)
    topics = [stored.topic for stored in app.recorder.select_events(account.id)]
    assert topics == ["tally:Account.Opened", "tally:Account.Deposited", "tally:Account.HoldPlaced"]


def test_every_event_records_the_actor_that_issued_it() -> None:
    from domain.base import current_actor

    token = current_actor.set("key_123")
    try:
        account = Account.open(PROJECT, "cust-1", "EUR")
        account.deposit(Money(5, "EUR"), uuid4())
    finally:
        current_actor.reset(token)
    account.withdraw(Money(5, "EUR"), uuid4())
    issued_by = [getattr(e, "issued_by", None) for e in account.collect_events()]
    assert issued_by == ["key_123", "key_123", "system"]
