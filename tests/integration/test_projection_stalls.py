"""A read model that fails on an event stalls alone and loudly, never past that event:
the others advance, the stall is recorded where every process sees it, the log has one
line for it, and once the cause is gone it resumes and the stall clears.

The failing read model is the real ``transactions`` one with a test-only twist: on a
deposit of ``Poisoned.amount`` it writes its rows and then runs SQL that Postgres
refuses, so the savepoint must undo a real partial write. The product with a NUL in its
name is an event the domain refuses, written straight through the event store as a bug
or an old version could have: Postgres itself refuses it in the catalog read model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, ClassVar
from uuid import UUID

import pytest
from psycopg import Cursor

from api.bootstrap import Tally
from commands import messages as m
from domain.catalog import Product
from projections import api_keys, balances, transactions
from projections import events as ev
from projections.applying import ProjectionFailed
from projections.base import ReadModel, Tracked
from projections.decoding import FastDecoder
from projections.reading import decode, fetch_notifications
from projections.replay import replay
from projections.runner import (
    PROJECTIONS,
    ProjectionWorker,
    current_position,
    make_models,
    read_positions,
    stalls,
    status,
    wait_for_position,
)
from projections.stalls import readers
from projections.transactions import Transactions
from tests.integration.ledger_workload import Driver, new_project

POISON = 13  # the deposit amount the poisoned read model cannot apply


class Poisoned(Transactions):
    """``transactions``, failing in Postgres on a deposit of ``amount`` until fixed."""

    name = "transactions"
    amount: ClassVar[int | None] = POISON

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        super().apply(cur, events)  # a partial write the savepoint must undo
        if any(getattr(e, "amount", None) == type(self).amount for e, _ in events):
            cur.execute("SELECT 1 / 0")


@pytest.fixture
def poisoned() -> Any:
    Poisoned.amount = POISON
    yield Poisoned
    Poisoned.amount = POISON


def _models(poisoned: type[ReadModel]) -> list[type[ReadModel]]:
    return [poisoned if cls is Transactions else cls for cls in PROJECTIONS]


def _until(condition: Any, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _head(tally: Tally) -> int:
    return int(tally.store.recorder.max_notification_id() or 0)


def _position_of(tally: Tally, match: Any) -> int:
    """The notification id of the first event ``match`` accepts."""
    events = decode(FastDecoder(tally.store), fetch_notifications(tally.store, 1, 100_000))
    return next(position for event, position in events if match(event))


def _positions(tally: Tally) -> dict[str, int]:
    with tally.views.connection() as conn, conn.cursor() as cur:
        return read_positions(cur, tally.schema, make_models(tally.views, tally.schema))


def _poisoned_ledger(tally: Tally) -> tuple[Driver, UUID, int, UUID]:
    """Deposits of 10, the poison and 20 into one wallet, then a new API key: returns
    the driver, the wallet, the poison event's position and the last transaction."""
    driver = Driver(tally, new_project(tally))
    alice = driver.open("alice")
    driver.deposit("alice", 10)
    driver.deposit("alice", POISON)
    last = driver.deposit("alice", 20)
    key = driver.run(m.IssueApiKey(project_id=driver.world.project_id, label="late"))
    driver.world.keys["late"] = key["key_id"]
    poison = _position_of(
        tally, lambda e: type(e) is ev.TransactionInitiated and e.amount == POISON
    )
    return driver, alice, poison, last


def test_a_failing_read_model_stalls_alone_before_its_event_and_resumes_once_fixed(
    tally: Tally, poisoned: type[Poisoned], caplog: pytest.LogCaptureFixture
) -> None:
    driver, alice, poison, last = _poisoned_ledger(tally)
    head = _head(tally)
    worker = ProjectionWorker(
        tally.store, tally.views, tally.schema, 3, poll_interval_s=0.1, stall_retry_s=0.2,
        models=_models(poisoned),
    )  # fmt: skip
    caplog.set_level(logging.INFO, logger="tally.projections")
    worker.start()
    try:
        assert _until(lambda: {s.name for s in stalls(tally.views, tally.schema)} >= {
            "transactions", "journal", "system_accounts"
        })  # fmt: skip
        assert wait_for_position(tally.views, tally.schema, head, 10.0)
        time.sleep(1.5)  # several passes, and several retries of the failed read model
        found = {s.name: s for s in stalls(tally.views, tally.schema)}
        positions = _positions(tally)
        # The failed one and its readers stop just before the poison event, never past.
        assert found["transactions"].position == poison
        assert found["transactions"].blocked_by is None
        assert found["transactions"].error.startswith("DivisionByZero: division by zero")
        readers = ("journal", "system_accounts", "integration_events")
        for reader in readers:
            assert (found[reader].position, found[reader].blocked_by) == (poison, "transactions")
        assert set(found) == {"transactions", *readers}
        for name in ("transactions", *readers):
            assert positions[name] == poison - 1
        assert transactions.get_transaction(
            tally.views, tally.schema, driver.world.project_id, last
        ) is None  # fmt: skip
        # The others went on: balances and API keys are at the head.
        assert all(p == head for n, p in positions.items() if n not in found)
        row = balances.get_account(tally.views, tally.schema, driver.world.project_id, alice)
        assert row is not None
        assert row["ledger_balance"] == 10 + POISON + 20
        assert api_keys.lookup_key(tally.views, tally.schema, driver.world.keys["late"])
        assert current_position(tally.views, tally.schema) == head
        states = {s.name: s for s in status(tally.views, tally.schema)}
        assert states["transactions"].stall == found["transactions"]
        assert states["accounts"].stall is None
        assert states["accounts"].position == head
        # One line for it over all those passes, and no traceback.
        said = [r for r in caplog.records if "stalled at position" in r.getMessage()]
        assert [r.getMessage().split(":")[0] for r in said if r.levelname == "ERROR"] == [
            f"read model transactions is stalled at position {poison}"
        ]
        assert len(said) == 4  # the failed one, and once each of its three readers
        assert not [r for r in caplog.records if r.exc_info]

        poisoned.amount = None  # the fixed projection: the retry resumes it
        assert _until(lambda: not stalls(tally.views, tally.schema))
        assert wait_for_position(tally.views, tally.schema, _head(tally), 10.0)
        assert set(_positions(tally).values()) == {_head(tally)}
        assert transactions.get_transaction(
            tally.views, tally.schema, driver.world.project_id, last
        )  # fmt: skip
    finally:
        worker.stop()
    assert any("resumed" in r.getMessage() for r in caplog.records)
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok


def test_a_stall_is_retried_when_a_worker_starts_and_logged_once_per_worker(
    tally: Tally, poisoned: type[Poisoned], caplog: pytest.LogCaptureFixture
) -> None:
    driver, alice, poison, _ = _poisoned_ledger(tally)
    models = _models(poisoned)
    first = ProjectionWorker(tally.store, tally.views, tally.schema, models=models)
    first.catch_up()
    first.catch_up()
    assert [s.name for s in stalls(tally.views, tally.schema) if s.blocked_by is None] == [
        "transactions"
    ]
    lines = [r for r in caplog.records if r.getMessage().startswith("read model transactions")]
    assert len(lines) == 1
    # More events, then a restart that still fails: the retry reads the log again from
    # the stalled position, and the read models ahead must not apply any event twice.
    before = _head(tally)
    driver.deposit("alice", 5)
    driver.run(m.IssueApiKey(project_id=driver.world.project_id, label="later"))
    batch = 3
    retried = ProjectionWorker(tally.store, tally.views, tally.schema, batch, models=models)
    applied = retried.catch_up()
    assert stalls(tally.views, tally.schema)[0].position == poison
    # One batch from the stalled position (the failed retry), then on from the others':
    # a retry does not read the rest of the log again.
    assert applied <= batch + _head(tally) - before < _head(tally) - poison
    row = balances.get_account(tally.views, tally.schema, driver.world.project_id, alice)
    assert row is not None
    assert row["ledger_balance"] == 10 + POISON + 20 + 5
    poisoned.amount = None  # deployed a fix; a new worker (a restart) retries at once
    ProjectionWorker(tally.store, tally.views, tally.schema, models=models).catch_up()
    assert stalls(tally.views, tally.schema) == []
    assert set(_positions(tally).values()) == {_head(tally)}
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok


def test_a_nul_in_a_stored_event_stalls_only_the_catalog_and_its_readers(tally: Tally) -> None:
    driver = Driver(tally, new_project(tally))
    alice = driver.open("alice")
    bad = Product(project_id=driver.world.project_id, code="P1", name="a\x00b", features=[])
    tally.store.save(bad)  # what the domain refuses, written as a bug once could have
    driver.deposit("alice", 30)
    poison = _position_of(tally, lambda e: getattr(e, "originator_id", None) == bad.id)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    found = stalls(tally.views, tally.schema)
    # Entitlement changes read a price's product (and the outbox, those changes): they
    # stop with it, so no event is published out of order.
    assert sorted((s.name, s.position, s.blocked_by) for s in found) == [
        ("catalog", poison, None),
        ("entitlement_changes", poison, "catalog"),
        ("integration_events", poison, "catalog"),
    ]
    found = [s for s in found if s.name == "catalog"]
    assert "Unicode" in found[0].error or "NUL" in found[0].error, found[0].error
    assert "\n" not in found[0].error
    row = balances.get_account(tally.views, tally.schema, driver.world.project_id, alice)
    assert row is not None
    assert row["ledger_balance"] == 30
    assert current_position(tally.views, tally.schema) == _head(tally)
    assert _positions(tally)["catalog"] == poison - 1


def test_replay_over_a_poison_event_names_the_read_model_and_the_event(tally: Tally) -> None:
    driver = Driver(tally, new_project(tally))
    bad = Product(project_id=driver.world.project_id, code="P1", name="a\x00b", features=[])
    tally.store.save(bad)
    poison = _position_of(tally, lambda e: getattr(e, "originator_id", None) == bad.id)
    driver.open("alice")
    with tally.views.connection() as conn, conn.cursor() as cur:
        # As if no worker had ever run: replay rebuilds up to the tracked position.
        read_positions(cur, tally.schema, make_models(tally.views, tally.schema))
        cur.execute(f'UPDATE "{tally.schema}".projection_tracking SET position = %s', (poison,))
    with pytest.raises(ProjectionFailed) as failed:
        replay(tally.store, tally.views, tally.schema, progress=False)
    assert (failed.value.name, failed.value.position) == ("catalog", poison)


def test_readers_follow_the_read_models_they_read() -> None:
    closure = readers([cls.__new__(cls) for cls in PROJECTIONS])
    # Integration events read the objects they publish (projections.integration_events).
    published = "integration_events"
    assert closure["transactions"] == {"journal", "system_accounts", published}
    # The payment objects take an invoice payment's customer and currency there.
    assert closure["invoices"] == {"journal", "system_accounts", "payment_objects", published}
    assert closure["billing_setup"] == {"journal", "system_accounts"}
    # Holds read accounts and accounts read holds: they stop together.
    assert closure["accounts"] == {"holds", published}
    assert closure["holds"] == {"accounts", published}
    assert closure["api_keys"] == set()
    # Entitlement changes read a price's product; the outbox copies those changes.
    assert closure["catalog"] == {"entitlement_changes", published}
    assert closure["entitlement_changes"] == {published}
