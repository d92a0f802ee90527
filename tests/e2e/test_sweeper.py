"""The hold sweeper: expires due holds once, however many processes sweep at the same time."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from uuid import UUID

from adapters.clock import FixedClock
from api.bootstrap import NO_PROJECT, build
from api.settings import Settings
from api.sweeper import ACTOR, Sweeper
from commands import messages as m
from commands.bus import Context
from projections.runner import ProjectionWorker


def test_two_sweepers_at_once_expire_each_due_hold_exactly_once(
    settings: Settings, clock: FixedClock
) -> None:
    # Two Tallys on one schema stand for two server processes: separate buses and caches.
    first = build(settings, clock=clock)
    second = build(settings, clock=clock)
    try:
        project = first.execute(m.CreateProject(name="p"), Context(NO_PROJECT, "cli"))
        project_id = UUID(project.body["project"]["id"])
        ctx = Context(project_id, "test")
        accounts: list[UUID] = []
        for i in range(6):
            opened = first.execute(m.OpenAccount(owner_ref=f"o{i}", currency="EUR"), ctx)
            account_id = UUID(opened.body["account"]["id"])
            first.execute(m.Deposit(account_id=account_id, amount=100, currency="EUR"), ctx)
            for due_s in (10, 20, 3600):
                first.execute(
                    m.PlaceHold(
                        account_id=account_id,
                        amount=10,
                        currency="EUR",
                        expires_at=clock.now() + timedelta(seconds=due_s),
                    ),
                    ctx,
                )
            accounts.append(account_id)
        ProjectionWorker(first.store, first.views, first.schema).catch_up()
        clock.advance(timedelta(seconds=30))

        counts: list[int] = []
        threads = [
            threading.Thread(target=lambda s=s: counts.append(Sweeper(s).sweep_once()))
            for s in (first, second, first, second)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        # A sweep still running would make the sum below a count taken too early.
        assert not any(thread.is_alive() for thread in threads)
        assert len(counts) == 4

        assert sum(counts) == 12  # two due holds on each of six accounts, each once
        for account_id in accounts:
            events = list(first.store.events.get(account_id))
            expired = [e for e in events if type(e).__name__ == "HoldExpired"]
            assert len(expired) == 2
            assert {getattr(e, "issued_by", None) for e in expired} == {ACTOR}
            account: Any = second.store.repository.get(account_id)
            assert (account.ledger, account.held) == (100, 10)
        # A sweep with nothing due writes nothing.
        head = first.store.recorder.max_notification_id()
        ProjectionWorker(first.store, first.views, first.schema).catch_up()
        assert Sweeper(first).sweep_once() == 0
        assert first.store.recorder.max_notification_id() == head
    finally:
        first.close()
        second.close()
