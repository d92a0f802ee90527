"""The billing read models (customers, catalog, subscriptions, test clocks), built by the
real projection worker, equal the aggregates: every row is the write side's summary.

``billing_workload`` (also used by the other billing read-model tests) runs through the
real command bus on Postgres: customers, a catalog with a replaced price and archived
ones, subscriptions in every state, renewals on the system clock and through a test
clock whose time has a +05:00 offset."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from api.bootstrap import NO_PROJECT, Tally
from commands import catalog as cmd_catalog
from commands import customers as cmd_customers
from commands import messages as m
from commands import subscriptions as cmd_subs
from commands import test_clocks as cmd_test_clocks
from commands.bus import Context
from projections import catalog as catalog_views
from projections import customers, subscriptions, test_clocks
from projections.aggregates import decode_state
from projections.replay import replay
from projections.runner import ProjectionWorker, wait_for_position

# A month-end anchor: the periods that follow are Feb 28, Mar 31, Apr 30, ...
T0 = datetime(2027, 1, 31, 9, tzinfo=UTC)
PLUS_FIVE = timezone(timedelta(hours=5))
CLOCK_START = datetime(2027, 1, 31, 23, 30, tzinfo=PLUS_FIVE)


@dataclass
class BillingWorld:
    project_id: UUID
    customers: dict[str, UUID] = field(default_factory=dict)
    products: dict[str, UUID] = field(default_factory=dict)
    prices: dict[str, UUID] = field(default_factory=dict)
    subs: dict[str, UUID] = field(default_factory=dict)
    clock_id: UUID | None = None
    writes: int = 0


class BillingDriver:
    def __init__(self, tally: Tally, world: BillingWorld) -> None:
        self.tally = tally
        self.world = world

    def run(self, command: m.Command, now: datetime = T0) -> dict[str, Any]:
        self.world.writes += 1
        context = Context(self.world.project_id, "k", f"b{self.world.writes}", now)
        return self.tally.execute(command, context).body

    def product(self, code: str, features: list[str]) -> UUID:
        body = self.run(m.DefineProduct(code=code, name=code.title(), features=features))
        self.world.products[code] = UUID(body["product"]["id"])
        return self.world.products[code]

    def price(self, name: str, product: str, amount: int, **kw: Any) -> UUID:
        body = self.run(
            m.DefinePrice(
                product_id=self.world.products[product],
                lookup_key=kw.pop("lookup_key", name),
                currency="EUR",
                scheme=kw.pop("scheme", "flat"),
                unit_amount=amount,
                interval=kw.pop("interval", "month"),
                **kw,
            )
        )
        self.world.prices[name] = UUID(body["price"]["id"])
        return self.world.prices[name]

    def customer(self, external_id: str, **kw: Any) -> UUID:
        body = self.run(m.RegisterCustomer(external_id=external_id, currency="EUR", **kw))
        self.world.customers[external_id] = UUID(body["customer"]["id"])
        return self.world.customers[external_id]

    def subscribe(
        self, name: str, customer: str, prices: dict[str, int], now: datetime = T0, **kw: Any
    ) -> UUID:
        items = [
            m.SubscriptionItem(price_id=self.world.prices[p], quantity=q) for p, q in prices.items()
        ]
        body = self.run(
            m.CreateSubscription(customer_id=self.world.customers[customer], items=items, **kw), now
        )
        self.world.subs[name] = UUID(body["subscription"]["id"])
        return self.world.subs[name]

    def sub(self, command: type[m.Command], name: str, now: datetime = T0, **kw: Any) -> None:
        self.run(command(subscription_id=self.world.subs[name], **kw), now)  # type: ignore[call-arg]


def new_billing_project(tally: Tally, name: str = "billing") -> BillingWorld:
    created = m.CreateProject(name=name, mode="test")
    body = tally.execute(created, Context(NO_PROJECT, "cli")).body
    return BillingWorld(UUID(body["project"]["id"]))


def catalog(d: BillingDriver) -> None:
    """BASIC (revised), PRO with a replaced monthly price and a seat price, LEGACY
    archived with its price."""
    d.product("BASIC", ["api"])
    d.product("BASIC", ["api", "exports"])  # revised features
    d.price("basic", "BASIC", 1000)
    d.product("PRO", ["api", "sso"])
    d.price("pro_old", "PRO", 2900, lookup_key="pro_monthly", trial_days=14)
    d.price("pro", "PRO", 3900, lookup_key="pro_monthly", trial_days=14)  # archives pro_old
    d.price("seats", "PRO", 500, scheme="per_unit")
    d.price("setup", "PRO", 10_000, interval=None)  # one-time
    d.product("LEGACY", ["fax"])
    d.price("legacy", "LEGACY", 100)
    d.run(m.ArchivePrice(price_id=d.world.prices["legacy"]))
    d.run(m.ArchiveProduct(product_id=d.world.products["LEGACY"]))


def billing_workload(tally: Tally, world: BillingWorld | None = None) -> BillingWorld:
    world = world or new_billing_project(tally)
    d = BillingDriver(tally, world)
    catalog(d)
    for i, name in enumerate(("ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal")):
        d.customer(name, email=f"{name}@example.com", name=name.title(), metadata={"n": str(i)})
    d.run(m.UpdateCustomer(customer_id=world.customers["ada"], email="ada@new.example"))
    d.run(m.UpdateCustomer(customer_id=world.customers["bob"], metadata={"tier": "gold"}))
    _system_clock_subscriptions(d)
    _test_clock_subscriptions(d)
    _outside_the_bus(tally, world)
    return world


def _system_clock_subscriptions(d: BillingDriver) -> None:
    sub = d.sub
    d.subscribe("trial", "ada", {"pro": 1})  # trialing, 14 days
    sub(m.ExtendTrial, "trial", trial_end=T0 + timedelta(days=20))
    d.subscribe("seats", "bob", {"basic": 1, "seats": 5})
    d.subscribe("canceled", "cy", {"basic": 1})
    sub(m.CancelSubscription, "canceled", T0 + timedelta(days=3))
    d.subscribe("ends", "dee", {"basic": 1})
    sub(m.CancelSubscription, "ends", at_period_end=True)
    d.subscribe("kept", "dee", {"basic": 2})
    sub(m.CancelSubscription, "kept", at_period_end=True)
    sub(m.UndoCancelSubscription, "kept")
    d.subscribe("change", "eve", {"basic": 1})
    later = T0 + timedelta(days=10)
    sub(
        m.ChangeSubscriptionItems,
        "change",
        later,
        items=[m.SubscriptionItem(price_id=d.world.prices["pro"])],
    )
    basic = m.SubscriptionItem(price_id=d.world.prices["basic"], quantity=3)
    sub(m.ChangeSubscriptionItems, "change", later, items=[basic], proration="period_end")
    d.subscribe("paused", "fay", {"basic": 1})
    sub(m.PauseSubscription, "paused", later, resume_at=T0 + timedelta(days=90))
    d.subscribe("resumed", "eve", {"basic": 1})
    sub(m.PauseSubscription, "resumed", later)
    sub(m.ResumeSubscription, "resumed", T0 + timedelta(days=15))
    d.subscribe("activated", "gus", {"basic": 1}, incomplete=True)
    sub(m.ActivateSubscription, "activated", T0 + timedelta(hours=1))
    d.subscribe("expired", "hal", {"basic": 1}, incomplete=True)
    d.subscribe("waiting", "hal", {"basic": 1}, T0 + timedelta(days=40), incomplete=True)
    # Two months on: renewals (with the pending change and the cancellation at period
    # end), the incomplete one expires, the trial ends.
    due = T0 + timedelta(days=61)
    for name in ("seats", "ends", "kept", "change", "expired", "trial"):
        sub(m.ProcessDueSubscription, name, due)


def _test_clock_subscriptions(d: BillingDriver) -> None:
    world = d.world
    body = d.run(m.CreateTestClock(name="quarter", frozen_time=CLOCK_START))
    world.clock_id = UUID(body["test_clock"]["id"])
    d.customer("kim", test_clock_id=world.clock_id)
    d.customer("lee", test_clock_id=world.clock_id)
    d.subscribe("clock_trial", "kim", {"pro": 1})
    d.subscribe("clock_basic", "lee", {"basic": 1})
    d.run(m.AdvanceTestClock(test_clock_id=world.clock_id, to=CLOCK_START + timedelta(days=95)))


def _outside_the_bus(tally: Tally, world: BillingWorld) -> None:
    """Events no command records yet (a provider link, a failed payment), written
    straight to the store the way their future handlers will."""
    store: Any = tally.store
    customer = store.repository.get(world.customers["bob"])
    customer.link_provider("stripe", "cus_123")
    store.save(customer)
    seats = store.repository.get(world.subs["seats"])
    seats.mark_past_due()
    store.save(seats)


# -- the rows equal the aggregates -----------------------------------------------------


def projected(tally: Tally) -> BillingWorld:
    world = billing_workload(tally)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    return world


def _expected(aggregate: Any, summary: dict[str, Any]) -> dict[str, Any]:
    # Answers carry created, the instant the read model keeps as created_at.
    created = summary.pop("created", aggregate.created_on.isoformat())
    assert created == aggregate.created_on.isoformat()
    return {
        **summary,
        "created_at": aggregate.created_on.isoformat(),
        "updated_at": aggregate.modified_on.isoformat(),
    }


def _same_instants(row: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal rows; created_at/updated_at compared as instants (Postgres answers UTC)."""
    for key in ("created_at", "updated_at"):
        assert datetime.fromisoformat(row[key]) == datetime.fromisoformat(expected[key])
    strip = {"created_at", "updated_at"}
    assert {k: v for k, v in row.items() if k not in strip} == {
        k: v for k, v in expected.items() if k not in strip
    }


def test_every_billing_row_equals_the_aggregate_summary(tally: Tally) -> None:
    world = projected(tally)
    get = tally.store.repository.get
    p, views, schema = world.project_id, tally.views, tally.schema
    for cid in world.customers.values():
        row = customers.get_customer(views, schema, p, cid)
        assert row is not None
        _same_instants(row, _expected(get(cid), cmd_customers.customer_summary(get(cid))))
    for pid in world.products.values():
        row = catalog_views.get_product(views, schema, p, pid)
        assert row is not None
        _same_instants(row, _expected(get(pid), cmd_catalog.product_summary(get(pid))))
    for price_id in world.prices.values():
        row = catalog_views.get_price(views, schema, p, price_id)
        assert row is not None
        _same_instants(row, _expected(get(price_id), cmd_catalog.price_summary(get(price_id))))
    for sid in world.subs.values():
        row = subscriptions.get_subscription(views, schema, p, sid)
        assert row is not None
        _same_instants(row, _expected(get(sid), cmd_subs.subscription_summary(get(sid))))
    assert world.clock_id is not None
    clock = get(world.clock_id)
    row = test_clocks.get_test_clock(views, schema, p, world.clock_id)
    assert row is not None
    _same_instants(row, _expected(clock, cmd_test_clocks.clock_summary(clock)))


def test_the_workload_reaches_every_state_the_rows_show(tally: Tally) -> None:
    world = projected(tally)
    p, views, schema = world.project_id, tally.views, tally.schema

    def status(name: str) -> str:
        row = subscriptions.get_subscription(views, schema, p, world.subs[name])
        assert row is not None
        return str(row["status"])

    states = {name: status(name) for name in world.subs}
    assert states == {
        "trial": "active",
        "seats": "past_due",
        "canceled": "canceled",
        "ends": "canceled",
        "kept": "active",
        "change": "active",
        "paused": "paused",
        "resumed": "active",
        "activated": "active",
        "expired": "incomplete_expired",
        "waiting": "incomplete",
        "clock_trial": "active",
        "clock_basic": "active",
    }
    bob = customers.get_customer(views, schema, p, world.customers["bob"])
    assert bob is not None
    assert (bob["provider_refs"], bob["metadata"]) == ({"stripe": "cus_123"}, {"tier": "gold"})
    old = catalog_views.get_price(views, schema, p, world.prices["pro_old"])
    assert old is not None
    assert old["active"] is False
    change = subscriptions.get_subscription(views, schema, p, world.subs["change"])
    assert change is not None
    assert change["items"][0]["quantity"] == 3  # the change scheduled for the period end
    assert change["pending_items"] is None


def test_projected_periods_follow_the_calendar_and_keep_the_clock_offset(tally: Tally) -> None:
    world = projected(tally)
    p, views, schema = world.project_id, tally.views, tally.schema
    kept = subscriptions.get_subscription(views, schema, p, world.subs["kept"])
    assert kept is not None
    # Anchored on Jan 31 and renewed twice: the third period runs Mar 31 to Apr 30.
    assert (kept["current_period_start"], kept["current_period_end"]) == (
        "2027-03-31T09:00:00+00:00",
        "2027-04-30T09:00:00+00:00",
    )
    assert kept["next_due_at"] == kept["current_period_end"]
    on_clock = subscriptions.get_subscription(views, schema, p, world.subs["clock_basic"])
    assert on_clock is not None
    # Started at the clock's Jan 31 23:30 +05:00, so the months end on local month ends.
    assert on_clock["current_period_start"] == "2027-04-30T23:30:00+05:00"
    assert on_clock["next_due_at"] == "2027-05-31T23:30:00+05:00"
    clock = test_clocks.get_test_clock(views, schema, p, world.clock_id)  # type: ignore[arg-type]
    assert clock is not None
    assert (clock["frozen_time"], clock["subscriptions"]) == ("2027-05-06T23:30:00+05:00", 2)


def test_read_models_built_in_batches_of_one_equal_those_built_in_one_batch(
    tally: Tally,
) -> None:
    world = billing_workload(tally)
    worker = ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=1)
    worker.start()
    try:
        head = tally.store.recorder.max_notification_id() or 0
        assert wait_for_position(tally.views, tally.schema, head, 30.0)
    finally:
        worker.stop()
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()
    rows = {t.table: t.live_rows for t in report.tables}
    assert rows["subscriptions"] == len(world.subs)
    assert rows["customers"] == len(world.customers)


def test_every_stored_state_rebuilds_the_aggregate_the_store_loads(tally: Tally) -> None:
    world = projected(tally)
    ids = [
        *world.customers.values(),
        *world.products.values(),
        *world.prices.values(),
        *world.subs.values(),
        world.clock_id,
    ]
    rebuilt = 0
    with tally.views.connection() as conn:
        for name in ("customers", "products", "prices", "subscriptions", "test_clocks"):
            rows = conn.execute(
                f"SELECT id, version, state::text AS state FROM {tally.schema}.{name}"
            ).fetchall()
            for row in rows:
                loaded = tally.store.repository.get(row["id"])
                again = decode_state(type(loaded), row["id"], row["version"], row["state"])
                assert type(again) is type(loaded)
                assert vars(again) == vars(loaded)
                rebuilt += 1
    assert rebuilt == len(ids)
