"""Replay covers the billing read models: it matches after a billing workload, names a
corrupted or missing billing row, and the fast decoder builds every billing event as
the library mapper does."""

from __future__ import annotations

from api.bootstrap import Tally
from projections.decoding import FastDecoder
from projections.replay import replay
from projections.runner import ProjectionWorker
from tests.integration.applied_twice import apply_twice
from tests.integration.ledger_workload import mixed_workload
from tests.integration.test_billing_projections import billing_workload, projected

BILLING_TABLES = {"customers", "products", "prices", "subscriptions", "test_clocks"}


def test_replay_of_a_ledger_and_billing_log_matches_every_table(tally: Tally) -> None:
    world = billing_workload(tally)
    mixed_workload(tally)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()
    counts = {t.table: (t.live_rows, t.replayed_rows) for t in report.tables}
    assert set(counts) >= BILLING_TABLES
    assert counts["subscriptions"] == (len(world.subs), len(world.subs))
    assert counts["prices"] == (len(world.prices), len(world.prices))
    assert counts["test_clocks"] == (1, 1)
    assert counts["accounts"] == (5, 5)


def test_a_ledger_and_billing_log_applied_twice_builds_what_one_pass_builds(
    tally: Tally,
) -> None:
    billing_workload(tally)
    mixed_workload(tally)
    apply_twice(tally)  # tests/integration/applied_twice.py
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()


def test_replay_names_a_corrupted_subscription_row(tally: Tally) -> None:
    world = projected(tally)
    sid = world.subs["kept"]
    with tally.views.connection() as conn:
        conn.execute(
            f"UPDATE {tally.schema}.subscriptions "
            "SET next_due_at = next_due_at + interval '1 day' WHERE id = %s",
            (sid,),
        )
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert not report.ok
    differing = {t.table: (t.only_live, t.only_replayed) for t in report.tables if t.differences}
    assert differing == {"subscriptions": (1, 1)}
    assert f"id={sid}: next_due_at live" in report.summary()


def test_replay_names_a_changed_summary_and_a_missing_customer(tally: Tally) -> None:
    world = projected(tally)
    with tally.views.connection() as conn:
        conn.execute(
            f"UPDATE {tally.schema}.products SET summary = jsonb_set(summary, "
            "'{features}', '[\"everything\"]') WHERE id = %s",
            (world.products["PRO"],),
        )
        conn.execute(
            f"DELETE FROM {tally.schema}.customers WHERE id = %s", (world.customers["eve"],)
        )
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    differing = {t.table: (t.only_live, t.only_replayed) for t in report.tables if t.differences}
    assert differing == {"products": (1, 1), "customers": (0, 1)}
    summary = report.summary()
    assert f"id={world.products['PRO']}: summary live" in summary
    assert f"id={world.customers['eve']}: missing from the live table" in summary


def test_fast_decoder_builds_every_billing_event_as_the_library_mapper(tally: Tally) -> None:
    billing_workload(tally)
    decoder = FastDecoder(tally.store)
    topics = set()
    for n in tally.store.recorder.select_notifications(1, 10_000):
        fast, library = decoder(n), tally.store.mapper.to_domain_event(n)
        assert type(fast) is type(library)
        assert fast.__dict__ == library.__dict__
        topics.add(n.topic)
    expected = {
        f"tally:{name}"
        for name in [
            "Customer.Registered",
            "Customer.Updated",
            "Customer.ProviderLinked",
            "Product.Defined",
            "Product.Revised",
            "Product.PriceSet",
            "Product.Archived",
            "Price.Defined",
            "Price.Archived",
            "Subscription.Created",
            "Subscription.Renewed",
            "Subscription.TrialEnded",
            "Subscription.TrialExtended",
            "Subscription.CancelScheduled",
            "Subscription.CancelUndone",
            "Subscription.Canceled",
            "Subscription.Paused",
            "Subscription.Resumed",
            "Subscription.Activated",
            "Subscription.StatusChanged",
            "Subscription.ChangeScheduled",
            "Subscription.ItemsChanged",
            "TestClock.Created",
            "TestClock.Advanced",
            "TestClock.SubscriptionAttached",
        ]
    }
    assert expected <= topics, expected - topics
