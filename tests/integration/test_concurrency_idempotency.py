"""One idempotency key sent many times at once, through several independent Tally
instances on one schema (separate command buses: separate writers, like processes)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from api.bootstrap import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context, Happened, Outcome
from domain.accounts import Account
from domain.errors import DomainError
from domain.idempotency import IdempotencyRecord
from tests.concurrency import at_once, instances

__all__ = ["instances"]  # the fixture, used by name


def _setup(tally: Tally, funds: int) -> tuple[UUID, UUID]:
    created = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    pid = UUID(created.body["project"]["id"])
    opened = tally.execute(m.OpenAccount(owner_ref="ann", currency="EUR"), Context(pid, "k"))
    aid = UUID(opened.body["account"]["id"])
    tally.execute(m.Deposit(account_id=aid, amount=funds, currency="EUR"), Context(pid, "k"))
    return pid, aid


def _topic_count(tally: Tally, topic: str) -> int:
    return len(tally.store.recorder.select_notifications(1, 1_000_000, topics=[topic]))


def _account(tally: Tally, aid: UUID) -> Account:
    account: Any = tally.store.repository.get(aid)
    assert isinstance(account, Account)
    return account


def test_same_key_sent_16_times_at_once_has_exactly_one_effect(instances: list[Tally]) -> None:
    pid, aid = _setup(instances[0], funds=1000)
    deposits_before = _topic_count(instances[0], "tally:Transaction.Initiated")
    head_before = instances[0].store.recorder.max_notification_id()
    cmd = m.Deposit(account_id=aid, amount=500, currency="EUR", description="top-up")

    results = at_once(
        16, lambda i: instances[i % 3].execute(cmd, Context(pid, f"k{i % 3}", "top-up-1"))
    )

    outcomes = [r for r in results if isinstance(r, Outcome)]
    assert len(outcomes) == 16, [r for r in results if not isinstance(r, Outcome)]
    first = [o for o in outcomes if not o.replayed]
    assert len(first) == 1
    assert all(o.body == first[0].body for o in outcomes)
    assert {o.happened for o in outcomes} == {Happened.CREATED}
    assert _topic_count(instances[0], "tally:Transaction.Initiated") == deposits_before + 1
    assert _topic_count(instances[0], "tally:IdempotencyRecord.Recorded") == 1
    assert _account(instances[1], aid).ledger == 1500
    # Exactly three events were written: the deposit, its transaction, the record.
    assert instances[0].store.recorder.max_notification_id() == (head_before or 0) + 3


def test_same_key_with_different_bodies_at_once_lets_one_win_and_writes_nothing_else(
    instances: list[Tally],
) -> None:
    pid, aid = _setup(instances[0], funds=1000)
    head_before = instances[0].store.recorder.max_notification_id() or 0

    def deposit(i: int) -> Outcome:
        cmd = m.Deposit(account_id=aid, amount=100 + i, currency="EUR")
        return instances[i % 3].execute(cmd, Context(pid, "k", "top-up-2"))

    results = at_once(9, deposit)

    winners = [(i, r) for i, r in enumerate(results) if isinstance(r, Outcome)]
    losers = [r for r in results if isinstance(r, DomainError)]
    assert len(winners) == 1
    assert len(losers) == 8
    assert {e.code for e in losers} == {"idempotency_key_reused"}
    index, winner = winners[0]
    assert not winner.replayed
    assert _account(instances[2], aid).ledger == 1000 + 100 + index
    assert instances[0].store.recorder.max_notification_id() == head_before + 3
    record: Any = instances[1].store.repository.get(IdempotencyRecord.create_id(pid, "top-up-2"))
    assert record.response == winner.body


def test_replay_after_the_fact_through_another_instance_answers_the_first_result(
    instances: list[Tally],
) -> None:
    pid, aid = _setup(instances[0], funds=1000)
    cmd = m.Withdraw(account_id=aid, amount=300, currency="EUR")
    first = instances[0].execute(cmd, Context(pid, "k", "w-1"))
    head = instances[0].store.recorder.max_notification_id()

    again = instances[1].execute(cmd, Context(pid, "k", "w-1"))
    with pytest.raises(DomainError) as refused:
        instances[2].execute(
            m.Withdraw(account_id=aid, amount=301, currency="EUR"), Context(pid, "k", "w-1")
        )

    assert again.replayed
    assert again.body == first.body
    assert refused.value.code == "idempotency_key_reused"
    assert instances[0].store.recorder.max_notification_id() == head
    assert _account(instances[0], aid).ledger == 700
