"""The ``entitlement_changes`` read model on a log written past the catalog (as the
billing catch-up benchmark writes it): an item whose price no read model holds grants
nothing, as GET's joins leave it out, and nothing stalls."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from api.bootstrap import Tally
from domain.customers import Customer
from domain.subscriptions import Subscription
from projections.entitlements import entitlements
from projections.replay import replay
from projections.runner import ProjectionWorker, stalls


def test_an_item_of_an_unknown_price_grants_nothing_and_stalls_nothing(tally: Tally) -> None:
    project_id = uuid4()
    customer = Customer.register(project_id, "user_1", "u@example.com", "", "EUR")
    sub = Subscription.start(
        project_id=project_id,
        customer_id=customer.id,
        currency="EUR",
        items=[{"price_id": str(uuid4()), "quantity": 1, "amount": 2900}],
        interval="month",
        interval_count=1,
        now=datetime(2027, 1, 31, 9, tzinfo=UTC),
    )
    tally.store.save(customer, sub)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    assert stalls(tally.views, tally.schema) == []
    found = entitlements(tally.views, tally.schema, project_id, customer.id)
    assert found == {"customer_id": str(customer.id), "plans": [], "features": [], "seats": {}}
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok
