"""The bus's pipelined group commit on real Postgres: what callers are told is in the
store, the writer's kept connection survives losing its server session, and a batch
that conflicts is decided again without losing or doubling anything."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import UUID

import psycopg
import pytest

from api.bootstrap import NO_PROJECT, Tally, build
from api.settings import Settings
from commands import messages as m
from commands.bus import Context, Happened
from domain.accounts import Account


def _project(tally: Tally) -> UUID:
    created = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    return UUID(created.body["project"]["id"])


def _open(tally: Tally, pid: UUID, owner: str) -> UUID:
    opened = tally.execute(m.OpenAccount(owner_ref=owner, currency="EUR"), Context(pid, "k"))
    return UUID(opened.body["account"]["id"])


def _account(tally: Tally, account_id: UUID) -> Account:
    account: object = tally.store.repository.get(account_id)
    assert isinstance(account, Account)
    return account


@pytest.fixture
def reader(settings: Settings) -> Iterator[Tally]:
    """A second Tally on the same schema, to look at the store from outside the bus."""
    app = build(settings.model_copy(update={"pool_size": 2}))
    yield app
    app.close()


def test_every_answered_deposit_is_already_in_the_store(tally: Tally, reader: Tally) -> None:
    pid = _project(tally)
    accounts = [_open(tally, pid, f"owner-{i}") for i in range(8)]
    missing: list[str] = []

    def client(i: int) -> None:
        for n in range(15):
            outcome = tally.execute(
                m.Deposit(account_id=accounts[i], amount=10, currency="EUR"),
                Context(pid, "k", f"c{i}-{n}"),
            )
            txn_id = UUID(outcome.body["transaction"]["id"])
            if not list(reader.store.repository.event_store.get(txn_id)):
                missing.append(str(txn_id))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert missing == []
    for account_id in accounts:
        account = _account(reader, account_id)
        assert account.ledger == 150


def test_writer_reconnects_when_its_server_session_is_killed(tally: Tally, pg_url: str) -> None:
    pid = _project(tally)
    aid = _open(tally, pid, "ann")
    # The session of the connection the bus's writer keeps (and only that one: the
    # database is shared with other suites).
    writer_pid = tally.bus._writer._conn.info.backend_pid  # type: ignore[attr-defined]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        # With a timeout, it returns once the session has ended, not as it is signalled.
        killed = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (writer_pid,)).fetchone()
    assert killed == (True,)

    outcome = tally.execute(
        m.Deposit(account_id=aid, amount=25, currency="EUR"), Context(pid, "k", "after-kill")
    )

    assert outcome.happened is Happened.CREATED
    account = _account(tally, aid)
    assert account.ledger == 25


def test_batch_on_a_stale_cached_account_is_decided_again_with_nothing_lost(
    tally: Tally, reader: Tally
) -> None:
    pid = _project(tally)
    aid = _open(tally, pid, "bob")
    tally.execute(m.Deposit(account_id=aid, amount=100, currency="EUR"), Context(pid, "k"))
    # Another writer moves the account on; the bus still has the old copy cached.
    reader.execute(m.Deposit(account_id=aid, amount=1, currency="EUR"), Context(pid, "k"))
    answers: list[int] = []

    def client(i: int) -> None:
        outcome = tally.execute(
            m.Deposit(account_id=aid, amount=10, currency="EUR"), Context(pid, "k", f"s{i}")
        )
        answers.append(outcome.body["account"]["ledger_balance"])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    account = _account(reader, aid)
    assert account.ledger == 161
    # Each answer is the balance right after its own deposit: all different, the last 161.
    assert sorted(answers) == [111, 121, 131, 141, 151, 161]
