"""The read models, built by the real projection worker from a real event log, agree with
the aggregates and with double-entry bookkeeping after a workload that uses every kind
of event (``tests/integration/ledger_workload.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from api.bootstrap import Tally
from domain.accounts import Account
from projections import api_keys, balances, holds, journal, system_accounts, transactions
from tests.integration.ledger_workload import Driver, caught_up, mixed_workload, new_project


def test_projected_balances_equal_the_aggregates_after_a_mixed_workload(tally: Tally) -> None:
    world = mixed_workload(tally)
    mixed_workload(tally, world, part=1)
    caught_up(tally)
    for name, account_id in world.accounts.items():
        aggregate: Account = tally.store.repository.get(account_id)
        row = balances.get_account(tally.views, tally.schema, world.project_id, account_id)
        assert row is not None, name
        assert {k: row[k] for k in aggregate.summary()} == aggregate.summary(), name
        assert row["metadata"] == {"n": name}
    statuses = {
        n: balances.get_account(tally.views, tally.schema, world.project_id, i)["status"]  # type: ignore[index]
        for n, i in world.accounts.items()
    }
    assert statuses == {
        "alice": "open",
        "bob": "open",
        "carol": "open",
        "dave": "frozen",
        "erin": "closed",
    }


def test_every_journal_entry_sums_to_zero_per_currency(tally: Tally) -> None:
    mixed_workload(tally)
    caught_up(tally)
    with tally.views.connection() as conn:
        entries = conn.execute(f"SELECT count(*) AS n FROM {tally.schema}.journal_entries")
        assert entries.fetchone()["n"] > 10  # type: ignore[index]
        unbalanced = conn.execute(
            f"SELECT entry_id, currency, sum(amount) FROM {tally.schema}.postings "
            "GROUP BY entry_id, currency HAVING sum(amount) <> 0"
        ).fetchall()
    assert unbalanced == []


def test_postings_add_up_to_wallet_and_system_account_balances(tally: Tally) -> None:
    world = mixed_workload(tally)
    caught_up(tally)
    with tally.views.connection() as conn:
        sums = {
            (r["account"], r["currency"]): r["total"]
            for r in conn.execute(
                f"SELECT account, currency, sum(amount)::bigint AS total "
                f"FROM {tally.schema}.postings WHERE project_id = %s GROUP BY account, currency",
                (world.project_id,),
            )
        }
    for account_id in world.accounts.values():
        row = balances.get_account(tally.views, tally.schema, world.project_id, account_id)
        assert row is not None
        assert sums.get((f"wallet:{account_id}", row["currency"]), 0) == row["ledger_balance"]
    system = system_accounts.list_system_accounts(tally.views, tally.schema, world.project_id)
    assert {(s["account"], s["currency"]): s["balance"] for s in system} == {
        k: v for k, v in sums.items() if not k[0].startswith("wallet:")
    }
    # Money only moves, so wallets and system accounts net to zero in each currency.
    net: dict[str, int] = {}
    for account_id in world.accounts.values():
        row = balances.get_account(tally.views, tally.schema, world.project_id, account_id)
        assert row is not None
        net[row["currency"]] = net.get(row["currency"], 0) + row["ledger_balance"]
    for s in system:
        net[s["currency"]] += s["balance"]
    assert net == {"EUR": 0, "USD": 0}
    assert {(s["account"], s["currency"]) for s in system} == {
        ("clearing:bank", "EUR"), ("clearing:manual", "EUR"), ("clearing:stripe", "EUR"),
        ("clearing:manual", "USD"), ("clearing:paddle", "USD"),
    }  # fmt: skip


def test_holds_read_model_follows_each_hold_to_its_end(tally: Tally) -> None:
    world = mixed_workload(tally)
    caught_up(tally)
    alice = world.accounts["alice"]

    def hold(key: str) -> dict[str, Any]:
        found = holds.get_hold(tally.views, tally.schema, world.project_id, alice, world.holds[key])
        assert found is not None
        return found

    assert (hold("p0captured")["status"], hold("p0captured")["captured_amount"]) == (
        "captured",
        1_000,
    )
    assert hold("p0captured")["destination"] == f"wallet:{world.accounts['bob']}"
    assert hold("p0captured")["transaction_id"] is not None
    assert hold("p0voided")["status"] == "voided"
    assert hold("p0expired")["status"] == "expired"
    assert hold("p0active")["status"] == "active"
    assert hold("p0active")["currency"] == "EUR"
    active, more = holds.list_holds(
        tally.views, tally.schema, world.project_id, alice, status="active", limit=10,
        starting_after=None,
    )  # fmt: skip
    assert [h["id"] for h in active] == [world.holds["p0active"]]
    assert not more
    page1, more1 = holds.list_holds(
        tally.views, tally.schema, world.project_id, alice, limit=2, starting_after=None
    )
    page2, more2 = holds.list_holds(
        tally.views, tally.schema, world.project_id, alice, limit=2, starting_after=page1[-1]["id"]
    )
    assert more1
    assert not more2
    assert [h["id"] for h in page1 + page2] == [
        world.holds[k] for k in ("p0captured", "p0voided", "p0expired", "p0active")
    ]
    in_ten_hours = datetime.now(UTC) + timedelta(hours=11)
    assert holds.due_holds(tally.views, tally.schema, in_ten_hours, 10) == [
        (world.project_id, alice)
    ]
    assert holds.due_holds(tally.views, tally.schema, datetime.now(UTC), 10) == []


def test_transactions_read_model_shows_states_and_reversals(tally: Tally) -> None:
    world = mixed_workload(tally)
    caught_up(tally)

    def txn(key: str) -> dict[str, Any]:
        found = transactions.get_transaction(
            tally.views, tally.schema, world.project_id, world.txns[key]
        )
        assert found is not None
        return found

    assert txn("p0confirmed")["state"] == "completed"
    assert (txn("p0failed")["state"], txn("p0failed")["failure_reason"]) == (
        "failed",
        "card declined",
    )
    assert (txn("p0transfer")["state"], txn("p0transfer")["reversed_amount"]) == ("reversed", 1_000)
    assert txn("p0refunded")["reversed_amount"] == 300
    aggregate: Any = tally.store.repository.get(world.txns["p0transfer"])
    assert {k: txn("p0transfer")[k] for k in aggregate.summary()} == aggregate.summary()
    alice = world.accounts["alice"]
    everything, more = transactions.list_transactions(
        tally.views, tally.schema, world.project_id, alice, limit=100, starting_after=None
    )
    assert not more
    assert {world.txns[k] for k in ("p0confirmed", "p0transfer")} <= {
        UUID(t["id"]) for t in everything
    }
    paged: list[dict[str, Any]] = []
    cursor: UUID | None = None
    while True:
        page, more = transactions.list_transactions(
            tally.views, tally.schema, world.project_id, alice, limit=3, starting_after=cursor
        )
        paged += page
        if not more:
            break
        cursor = UUID(page[-1]["id"])
    assert paged == everything


def test_journal_lists_the_entries_of_one_wallet_with_their_postings(tally: Tally) -> None:
    world = mixed_workload(tally)
    caught_up(tally)
    bob = world.accounts["bob"]
    entries, more = journal.list_entries(
        tally.views, tally.schema, world.project_id, bob, limit=100, starting_after=None
    )
    assert not more
    kinds = [e["kind"] for e in entries]
    # deposit, transfer in, transfer out, hold capture in, two partial reversals; the
    # failed pending deposit posted nothing.
    assert kinds == ["deposit", "transfer", "transfer", "capture", "reversal", "reversal"]
    assert all(sum(p["amount"] for p in e["postings"]) == 0 for e in entries)
    assert all(any(p["account"] == f"wallet:{bob}" for p in e["postings"]) for e in entries)
    second, more = journal.list_entries(
        tally.views, tally.schema, world.project_id, bob, limit=2, starting_after=entries[1]["id"]
    )
    assert [e["id"] for e in second] == [entries[2]["id"], entries[3]["id"]]
    assert more


def test_queries_never_show_another_projects_rows(tally: Tally) -> None:
    world = mixed_workload(tally)
    other = new_project(tally, "other")
    Driver(tally, other).open("mallory")
    caught_up(tally)
    alice = world.accounts["alice"]
    assert balances.get_account(tally.views, tally.schema, other.project_id, alice) is None
    listed, _ = balances.list_accounts(
        tally.views, tally.schema, other.project_id, limit=10, starting_after=None
    )
    assert [a["owner_ref"] for a in listed] == ["mallory"]
    assert transactions.list_transactions(
        tally.views, tally.schema, other.project_id, alice, limit=10, starting_after=None
    ) == ([], False)
    assert journal.list_entries(
        tally.views, tally.schema, other.project_id, alice, limit=10, starting_after=None
    ) == ([], False)
    assert system_accounts.list_system_accounts(tally.views, tally.schema, other.project_id) == []
    hold_id = world.holds["p0active"]
    assert holds.get_hold(tally.views, tally.schema, other.project_id, alice, hold_id) is None
    # A cursor from another project gives an empty page, not that project's rows.
    assert balances.list_accounts(
        tally.views, tally.schema, world.project_id, limit=10, starting_after=listed[0]["id"]
    ) == ([], False)


def test_accounts_list_pages_in_opening_order_and_filters_by_owner(tally: Tally) -> None:
    world = mixed_workload(tally)
    caught_up(tally)
    seen: list[str] = []
    cursor: UUID | None = None
    while True:
        page, more = balances.list_accounts(
            tally.views, tally.schema, world.project_id, limit=2, starting_after=cursor
        )
        seen += [a["owner_ref"] for a in page]
        if not more:
            break
        cursor = UUID(page[-1]["id"])
    assert seen == ["alice", "bob", "erin", "carol", "dave"]
    only, more = balances.list_accounts(
        tally.views, tally.schema, world.project_id, limit=5, starting_after=None, owner_ref="carol"
    )
    assert [a["currency"] for a in only] == ["USD"]
    assert not more


def test_api_keys_read_model_serves_authentication(tally: Tally) -> None:
    world = mixed_workload(tally)
    caught_up(tally)
    one = api_keys.lookup_key(tally.views, tally.schema, world.keys["one"])
    two = api_keys.lookup_key(tally.views, tally.schema, world.keys["two"])
    assert one is not None
    assert two is not None
    assert one["project_id"] == str(world.project_id)
    assert one["project_mode"] == "live"
    assert (one["revoked"], two["revoked"]) == (False, True)
    assert len(one["key_hash"]) == 64
    assert api_keys.lookup_key(tally.views, tally.schema, "nope") is None
    listed = api_keys.list_keys(tally.views, tally.schema, world.project_id)
    assert [k["label"] for k in listed] == ["one", "two"]
    assert all("key_hash" not in k for k in listed)
    assert [p["name"] for p in api_keys.list_projects(tally.views, tally.schema)] == ["acme"]
