"""A real command bus on the library's in-memory store, plus the ledger's invariants
checked against what the store holds. Shared by the property tests of the unit tier."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from hypothesis import currently_in_test_context, event

from adapters.clock import FixedClock
from commands import ledger, projects
from commands import messages as m
from commands.bus import CommandBus, Context, Outcome
from domain.accounts import Account, wallet_ref
from domain.errors import ConcurrentUpdate, DomainError
from domain.transactions import Transaction

NO_PROJECT = UUID(int=0)
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


@dataclass
class Attempt:
    """What one command did: its outcome, or the domain error that refused it."""

    outcome: Outcome | None
    error: DomainError | None


class LedgerWorld:
    """One project on an in-memory store, driven only through real command buses.

    There are two buses on the one store, like two server processes: each has its own
    cache of aggregates, so commands sent through one must notice what the other wrote.
    Commands go through the current ``writer`` (the first unless told otherwise)."""

    def __init__(self) -> None:
        self.app = Application[UUID]()
        self.clock = FixedClock(START)
        handlers = {**ledger.HANDLERS, **projects.HANDLERS}
        self.buses = [CommandBus(self.app, handlers, self.clock) for _ in range(2)]
        self.writer = 0
        created = self.bus.execute(m.CreateProject(name="props"), Context(NO_PROJECT, "cli"))
        self.project_id = UUID(created.body["project"]["id"])

    @property
    def bus(self) -> CommandBus:
        return self.buses[self.writer]

    def close(self) -> None:
        for bus in self.buses:
            bus.close()

    # -- running commands ----------------------------------------------------------------

    def run(self, command: m.Command, key: str | None = None) -> Attempt:
        """Run ``command``; a refusal must leave the store exactly as it was."""
        head, versions = self.head(), self.versions()
        try:
            outcome = self.bus.execute(command, Context(self.project_id, "key_props", key))
        except ConcurrentUpdate:
            # Commands run one at a time, so a retry on fresh aggregates always succeeds.
            raise AssertionError("sequential commands cannot keep conflicting") from None
        except DomainError as error:
            refused = error
        else:
            self._report(command, "replayed" if outcome.replayed else "done")
            return Attempt(outcome, None)
        self._report(command, refused.code)
        assert self.head() == head, f"{type(refused).__name__} refused but events were written"
        assert self.versions() == versions
        return Attempt(None, refused)

    @staticmethod
    def _report(command: m.Command, result: str) -> None:
        # Shown by --hypothesis-show-statistics, to see that random sequences do real work.
        if currently_in_test_context():
            event(f"{type(command).__name__}: {result}")

    def head(self) -> int:
        return int(self.app.recorder.max_notification_id() or 0)

    def versions(self) -> dict[UUID, int]:
        return {aid: self.load(Account, aid).version for aid in self.account_ids()}

    # -- reading the store ---------------------------------------------------------------

    def _originators(self, topic: str) -> list[UUID]:
        notifications = self.app.recorder.select_notifications(1, 1_000_000, topics=[topic])
        return [UUID(str(n.originator_id)) for n in notifications]

    def account_ids(self) -> list[UUID]:
        return self._originators("tally:Account.Opened")

    def transaction_ids(self) -> list[UUID]:
        return self._originators("tally:Transaction.Initiated")

    def load(self, cls: type[Any], aggregate_id: UUID) -> Any:
        """Rebuild an aggregate from its stored events (the repository has no cache)."""
        aggregate: Any = self.app.repository.get(aggregate_id)
        assert isinstance(aggregate, cls)
        return aggregate

    def entries(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Every journal entry recorded in Transaction events, with its currency."""
        found: list[tuple[str, list[dict[str, Any]]]] = []
        for txn_id in self.transaction_ids():
            currency = self.load(Transaction, txn_id).currency
            for domain_event in self.app.repository.event_store.get(txn_id):
                entry = getattr(domain_event, "entry", None)
                if entry is not None:
                    found.append((currency, entry))
        return found

    # -- invariants ----------------------------------------------------------------------

    def check_invariants(self) -> None:
        postings_by_ref: dict[str, int] = defaultdict(int)
        totals: dict[str, int] = defaultdict(int)
        for currency, entry in self.entries():
            # (a) every entry balances, per currency.
            assert sum(p["amount"] for p in entry) == 0, entry
            for posting in entry:
                assert isinstance(posting["amount"], int)
                postings_by_ref[posting["account"]] += posting["amount"]
                totals[currency] += posting["amount"]
        assert all(total == 0 for total in totals.values()), totals

        for account_id in self.account_ids():
            stored = self.load(Account, account_id)
            # (b) the guarded balance never goes below its floor.
            assert stored.available >= -stored.overdraft_limit, stored.summary()
            # (c) available is ledger minus held, and held is the sum of active holds.
            active = sum(h.amount for h in stored.holds.values() if h.status == "active")
            assert stored.held == active
            assert stored.available == stored.ledger - stored.held
            assert stored.held >= 0
            # (d) the ledger is the fold of every posting to the wallet.
            assert stored.ledger == postings_by_ref[wallet_ref(account_id)], account_id
            # (f) a copy a bus works on is never ahead of the store, and one at the stored
            # version equals the aggregate rebuilt from the stored events.
            for bus in self.buses:
                live = bus.cache.get(account_id)
                if live is None:
                    continue
                assert isinstance(live, Account)
                assert live.version <= stored.version
                if live.version == stored.version:
                    assert live.summary() == stored.summary()
                    assert live.holds == stored.holds
