"""A ledger workload for the read-model tests: ``Driver`` runs commands for one project
through the real command bus, and ``mixed_workload`` uses every kind of ledger event
(wallets opened, deposits, withdrawals, transfers, holds to each of their ends, pending
deposits, reversals, freeze, unfreeze and close, API keys issued and revoked).
``test_projections``, the replay tests and the projection worker's tests drive it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from api.bootstrap import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context, Outcome
from projections.runner import ProjectionWorker


@dataclass
class World:
    """Ids a workload created, for the assertions."""

    project_id: UUID
    accounts: dict[str, UUID] = field(default_factory=dict)
    holds: dict[str, str] = field(default_factory=dict)
    txns: dict[str, UUID] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    last: Outcome | None = None
    writes: int = 0


class Driver:
    def __init__(self, tally: Tally, world: World) -> None:
        self.tally = tally
        self.world = world

    def run(self, command: m.Command, *, now: datetime | None = None) -> dict[str, Any]:
        # Every command carries an idempotency key, so the log holds idempotency records
        # too, as it does in production; the read models must skip them.
        self.world.writes += 1
        key = f"w{self.world.writes}"
        outcome = self.tally.execute(command, Context(self.world.project_id, "k", key, now))
        self.world.last = outcome
        return outcome.body

    def open(self, name: str, currency: str = "EUR", overdraft: int = 0) -> UUID:
        body = self.run(
            m.OpenAccount(
                owner_ref=name, currency=currency, overdraft_limit=overdraft, metadata={"n": name}
            )
        )
        self.world.accounts[name] = UUID(body["account"]["id"])
        return self.world.accounts[name]

    def deposit(self, name: str, amount: int, currency: str = "EUR", **kw: Any) -> UUID:
        body = self.run(
            m.Deposit(account_id=self.world.accounts[name], amount=amount, currency=currency, **kw)
        )
        return UUID(body["transaction"]["id"])

    def hold(self, name: str, amount: int, hours: float, **kw: Any) -> str:
        account = self.world.accounts[name]
        currency = "USD" if name == "carol" else "EUR"
        expires = datetime.now(UTC) + timedelta(hours=hours)
        body = self.run(
            m.PlaceHold(
                account_id=account, amount=amount, currency=currency, expires_at=expires, **kw
            )
        )
        return str(body["hold"]["id"])


def new_project(tally: Tally, name: str = "acme") -> World:
    body = tally.execute(m.CreateProject(name=name), Context(NO_PROJECT, "cli")).body
    return World(UUID(body["project"]["id"]))


def _open_world(tally: Tally, world: World, d: Driver) -> None:
    """Two API keys (one revoked) and five wallets, one in USD, one with an overdraft."""
    for key in ("one", "two"):
        cmd = m.IssueApiKey(project_id=world.project_id, label=key)
        world.keys[key] = tally.execute(cmd, Context(world.project_id, "cli")).body["key_id"]
    revoke = m.RevokeApiKey(project_id=world.project_id, key_id=world.keys["two"])
    tally.execute(revoke, Context(world.project_id, "cli"))
    for name in ("alice", "bob", "erin"):
        d.open(name)
    d.open("carol", "USD")
    d.open("dave", overdraft=500)


def mixed_workload(tally: Tally, world: World | None = None, part: int = 0) -> World:
    """Every kind of event: accounts, movements, holds (captured, voided, expired,
    active), pending deposits (confirmed, failed), reversals (full, partial, repeated),
    freeze/unfreeze/close, API keys issued and revoked. ``part`` 0 opens the accounts;
    later parts move more money between the same accounts."""
    world = world or new_project(tally)
    d = Driver(tally, world)
    a = world.accounts
    if part == 0:
        _open_world(tally, world, d)
    p = f"p{part}"
    d.deposit("alice", 10_000, source="stripe")
    d.deposit("bob", 5_000)
    d.deposit("carol", 7_000, "USD", source="paddle")
    d.run(m.Withdraw(account_id=a["alice"], amount=1_000, currency="EUR", destination="bank"))
    assert world.last is not None
    world.txns[p + "withdrawal"] = UUID(world.last.body["transaction"]["id"])
    t = d.run(
        m.Transfer(from_account_id=a["alice"], to_account_id=a["bob"], amount=2_000, currency="EUR")
    )
    world.txns[p + "transfer"] = UUID(t["transaction"]["id"])
    d.run(m.Transfer(from_account_id=a["bob"], to_account_id=a["dave"], amount=500, currency="EUR"))
    overdrawn = 800 if part == 0 else 600  # into the overdraft, within its limit
    d.run(m.Withdraw(account_id=a["dave"], amount=overdrawn, currency="EUR"))
    world.holds[p + "captured"] = d.hold("alice", 1_500, 1, destination_account_id=a["bob"])
    d.run(m.CaptureHold(account_id=a["alice"], hold_id=world.holds[p + "captured"], amount=1_000))
    world.holds[p + "voided"] = d.hold("alice", 700, 1)
    d.run(m.VoidHold(account_id=a["alice"], hold_id=world.holds[p + "voided"]))
    world.holds[p + "expired"] = d.hold("alice", 300, 1)
    world.holds[p + "active"] = d.hold("alice", 400, 10)
    later = datetime.now(UTC) + timedelta(hours=2)
    d.run(m.ExpireHolds(account_id=a["alice"]), now=later)
    world.holds[p + "usd"] = d.hold("carol", 1_000, 1)
    d.run(m.CaptureHold(account_id=a["carol"], hold_id=world.holds[p + "usd"]))
    world.txns[p + "confirmed"] = d.deposit("alice", 2_500, pending=True, source="stripe")
    d.run(m.ConfirmTransaction(transaction_id=world.txns[p + "confirmed"]))
    world.txns[p + "failed"] = d.deposit("bob", 900, pending=True)
    d.run(m.FailTransaction(transaction_id=world.txns[p + "failed"], reason="card declined"))
    d.run(m.ReverseTransaction(transaction_id=world.txns[p + "transfer"], amount=600))
    d.run(m.ReverseTransaction(transaction_id=world.txns[p + "transfer"], amount=400))
    world.txns[p + "refunded"] = d.deposit("carol", 300, "USD")
    d.run(m.ReverseTransaction(transaction_id=world.txns[p + "refunded"], reason="refund"))
    d.run(m.ReverseTransaction(transaction_id=world.txns[p + "withdrawal"]))
    d.run(m.FreezeAccount(account_id=a["bob"], reason="check"))
    d.run(m.UnfreezeAccount(account_id=a["bob"]))
    if part == 0:
        d.deposit("erin", 100)
        d.run(m.Withdraw(account_id=a["erin"], amount=100, currency="EUR"))
        d.run(m.CloseAccount(account_id=a["erin"]))
    else:
        d.run(m.FreezeAccount(account_id=a["dave"], reason="overdrawn"))
    return world


def caught_up(tally: Tally) -> ProjectionWorker:
    worker = ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=7)
    worker.catch_up()
    return worker
