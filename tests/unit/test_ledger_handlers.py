"""The ledger's command handlers through the real command bus on the in-memory store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from commands import ledger
from commands import messages as m
from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from domain.accounts import Account
from domain.errors import AccountClosed, DomainError
from domain.transactions import Transaction
from tests.unit.ledger_world import NO_PROJECT, LedgerWorld


@pytest.fixture
def world() -> Iterator[LedgerWorld]:
    w = LedgerWorld()
    yield w
    w.close()


def _ok(world: LedgerWorld, command: m.Command, key: str | None = None) -> dict[str, Any]:
    attempt = world.run(command, key)
    assert attempt.outcome is not None, attempt.error
    return attempt.outcome.body


def _refused(world: LedgerWorld, command: m.Command, key: str | None = None) -> str:
    attempt = world.run(command, key)
    assert attempt.error is not None, attempt.outcome
    return attempt.error.code


def _open(world: LedgerWorld, owner: str, funds: int = 0, currency: str = "EUR") -> UUID:
    body = _ok(world, m.OpenAccount(owner_ref=owner, currency=currency))
    aid = UUID(body["account"]["id"])
    if funds:
        _ok(world, m.Deposit(account_id=aid, amount=funds, currency=currency))
    return aid


def _account(world: LedgerWorld, aid: UUID) -> Account:
    account: Account = world.load(Account, aid)
    return account


def test_transfer_moves_money_and_posts_one_balanced_entry(world: LedgerWorld) -> None:
    ann, bob = _open(world, "ann", 1000), _open(world, "bob")
    body = _ok(
        world, m.Transfer(from_account_id=ann, to_account_id=bob, amount=300, currency="EUR")
    )
    assert (body["from_account"]["ledger_balance"], body["to_account"]["ledger_balance"]) == (
        700,
        300,
    )
    txn = world.load(Transaction, UUID(body["transaction"]["id"]))
    assert txn.entries == [
        [{"account": f"wallet:{bob}", "amount": 300}, {"account": f"wallet:{ann}", "amount": -300}]
    ]
    world.check_invariants()


def test_transfer_to_the_same_account_is_refused(world: LedgerWorld) -> None:
    ann = _open(world, "ann", 1000)
    code = _refused(
        world, m.Transfer(from_account_id=ann, to_account_id=ann, amount=1, currency="EUR")
    )
    assert code == "invalid_combination"


def _held_for_shop(world: LedgerWorld) -> tuple[UUID, UUID, str]:
    """Ann's wallet of 1000 with a hold of 400 for an hour, to be captured into the
    shop's wallet: (ann, shop, the hold's id)."""
    ann, shop = _open(world, "ann", 1000), _open(world, "shop")
    placed = _ok(
        world,
        m.PlaceHold(
            account_id=ann,
            amount=400,
            currency="EUR",
            expires_at=world.clock.now() + timedelta(hours=1),
            destination_account_id=shop,
        ),
    )
    return ann, shop, str(placed["hold"]["id"])


def test_capture_into_a_wallet_credits_it_and_releases_the_rest(world: LedgerWorld) -> None:
    ann, shop, hold_id = _held_for_shop(world)
    _ok(world, m.CaptureHold(account_id=ann, hold_id=hold_id, amount=250))
    assert (_account(world, ann).ledger, _account(world, ann).held) == (750, 0)
    assert _account(world, shop).ledger == 250
    world.check_invariants()


def test_capture_after_expiry_is_refused_and_the_sweep_releases_the_hold(
    world: LedgerWorld,
) -> None:
    ann = _open(world, "ann", 1000)
    expires_at = world.clock.now() + timedelta(minutes=10)
    placed = _ok(
        world, m.PlaceHold(account_id=ann, amount=400, currency="EUR", expires_at=expires_at)
    )
    world.clock.advance(timedelta(minutes=10))
    capture = m.CaptureHold(account_id=ann, hold_id=placed["hold"]["id"])
    assert _refused(world, capture) == "hold_expired"
    swept = _ok(world, m.ExpireHolds(account_id=ann))
    assert swept["expired"] == [placed["hold"]["id"]]
    assert swept["account"]["available_balance"] == 1000
    assert _ok(world, m.ExpireHolds(account_id=ann))["expired"] == []


def test_capture_into_a_frozen_wallet_is_refused_and_the_hold_can_be_voided(
    world: LedgerWorld,
) -> None:
    ann, shop, hold_id = _held_for_shop(world)
    _ok(world, m.FreezeAccount(account_id=shop))
    assert _refused(world, m.CaptureHold(account_id=ann, hold_id=hold_id)) == "account_frozen"
    _ok(world, m.VoidHold(account_id=ann, hold_id=hold_id))
    assert _account(world, ann).available == 1000


def test_pending_deposit_credits_only_when_confirmed(world: LedgerWorld) -> None:
    ann = _open(world, "ann")
    body = _ok(world, m.Deposit(account_id=ann, amount=500, currency="EUR", pending=True))
    assert body["transaction"]["state"] == "processing"
    assert _account(world, ann).ledger == 0
    _ok(world, m.FreezeAccount(account_id=ann))
    _ok(world, m.ConfirmTransaction(transaction_id=UUID(body["transaction"]["id"])))
    assert _account(world, ann).ledger == 500
    assert _refused(
        world, m.ConfirmTransaction(transaction_id=UUID(body["transaction"]["id"]))
    ) == ("invalid_transition")


def test_reversing_a_failed_deposit_is_an_invalid_transition(world: LedgerWorld) -> None:
    # Without an amount the handler asks to reverse "what is left", which is nothing; the
    # answer must still say why: the transaction is failed, not that 0 is a bad amount.
    ann = _open(world, "ann")
    body = _ok(world, m.Deposit(account_id=ann, amount=500, currency="EUR", pending=True))
    txn_id = UUID(body["transaction"]["id"])
    assert _refused(world, m.ReverseTransaction(transaction_id=txn_id)) == "invalid_transition"
    _ok(world, m.FailTransaction(transaction_id=txn_id, reason="declined"))
    assert _refused(world, m.ReverseTransaction(transaction_id=txn_id)) == "invalid_transition"
    refused = _refused(world, m.ReverseTransaction(transaction_id=txn_id, amount=10))
    assert refused == "invalid_transition"


def test_reversing_a_transfer_needs_the_receiver_to_have_the_money(world: LedgerWorld) -> None:
    ann, bob = _open(world, "ann", 1000), _open(world, "bob")
    body = _ok(
        world, m.Transfer(from_account_id=ann, to_account_id=bob, amount=300, currency="EUR")
    )
    txn_id = UUID(body["transaction"]["id"])
    _ok(world, m.Withdraw(account_id=bob, amount=250, currency="EUR"))
    assert _refused(world, m.ReverseTransaction(transaction_id=txn_id)) == "insufficient_funds"
    _ok(world, m.ReverseTransaction(transaction_id=txn_id, amount=50))
    assert (_account(world, ann).ledger, _account(world, bob).ledger) == (750, 0)
    world.check_invariants()


def test_confirming_into_a_closed_account_is_refused_before_anything_is_recorded(
    world: LedgerWorld,
) -> None:
    # Handlers check every guard before changing any aggregate, so a refusal leaves the
    # shared unit of work of a batch untouched (else the whole batch must start over).
    ann = _open(world, "ann")
    body = _ok(world, m.Deposit(account_id=ann, amount=500, currency="EUR", pending=True))
    _ok(world, m.CloseAccount(account_id=ann))
    uow = UnitOfWork(world.app)
    cmd = m.ConfirmTransaction(transaction_id=UUID(body["transaction"]["id"]))
    with pytest.raises(AccountClosed):
        ledger.confirm_transaction(uow, cmd, Context(world.project_id, "k"))
    assert uow.pending_count() == 0


def test_same_key_same_body_replays_and_other_body_is_refused(world: LedgerWorld) -> None:
    ann = _open(world, "ann", 1000)
    cmd = m.Withdraw(account_id=ann, amount=100, currency="EUR")
    first = world.run(cmd, "w-1")
    head = world.head()
    again = world.run(cmd, "w-1")
    assert first.outcome is not None
    assert again.outcome is not None
    assert again.outcome.replayed
    assert again.outcome.body == first.outcome.body
    other = m.Withdraw(account_id=ann, amount=101, currency="EUR")
    assert _refused(world, other, "w-1") == "idempotency_key_reused"
    assert world.head() == head
    assert _account(world, ann).ledger == 900


def test_another_projects_account_is_not_found(world: LedgerWorld) -> None:
    ann = _open(world, "ann", 1000)
    created = world.bus.execute(m.CreateProject(name="other"), Context(NO_PROJECT, "cli"))
    other = UUID(created.body["project"]["id"])
    with pytest.raises(DomainError) as refused:
        world.bus.execute(m.Withdraw(account_id=ann, amount=1, currency="EUR"), Context(other, "k"))
    assert refused.value.code == "not_found"
    assert _account(world, ann).ledger == 1000


def test_opening_the_same_owner_and_currency_twice_is_refused(world: LedgerWorld) -> None:
    _open(world, "ann")
    assert _refused(world, m.OpenAccount(owner_ref="ann", currency="EUR")) == "already_exists"
    _open(world, "ann", currency="JPY")
