"""Events derived at a log position (ordinal 1, 2, ...) reach RabbitMQ as every other
event does (issue 12): a consumer bound to ``billing.#`` gets ``billing.payment.*`` (an
invoice paid out of band, then refunded by a credit note) and
``billing.entitlements.changed`` (a subscription's features granted, then revoked by its
cancellation), each once, in (position, ordinal) order, with the envelope's id as the
AMQP ``message_id``, the type as the routing key, the position and ordinal in the
headers, and the payment and entitlement set as the API answers them."""

from __future__ import annotations

import time
from functools import partial
from typing import Any
from uuid import UUID

from pydantic import SecretStr

from api.bootstrap import NO_PROJECT, Tally, build
from api.settings import Settings
from commands import messages as m
from commands.bus import Context
from projections.integration_catalog import event_id
from projections.payment_fold import invoice_payment_id
from projections.payment_queries import get_payment
from projections.runner import ProjectionWorker
from tests.integration.broker_consumers import RABBIT_URL, RabbitConsumer
from tests.plans import monthly_plan

DERIVED = ("billing.payment.", "billing.entitlements.changed")


def _run(tally: Tally, project_id: UUID, command: m.Command) -> dict[str, Any]:
    """Run one command and project it, as a live server does between requests: an
    event's object is its row as of the projection batch that recorded it (see
    docs/events.md, How events are produced), so each step gets a batch of its own."""
    body: dict[str, Any] = tally.execute(command, Context(project_id, "test")).body
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    return body


def _history(tally: Tally) -> tuple[UUID, UUID, UUID]:
    """A customer subscribed to a plan with a feature, an invoice paid out of band and
    refunded in part, the subscription canceled: (project, customer, payment)."""
    made = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    pid = UUID(made.body["project"]["id"])
    customer = _run(tally, pid, m.RegisterCustomer(external_id="u1", currency="EUR"))
    cid = UUID(customer["customer"]["id"])
    run = partial(_run, tally, pid)
    price = monthly_plan(run, "PRO", 2900, lookup_key="pro_monthly", features=["api"])
    item = m.SubscriptionItem(price_id=price)
    sub = _run(tally, pid, m.CreateSubscription(customer_id=cid, items=[item]))
    line = m.InvoiceLineInput(description="Setup", unit_amount=1500)
    invoice = _run(tally, pid, m.CreateInvoice(customer_id=cid, lines=[line]))["invoice"]
    iid = UUID(invoice["id"])
    _run(tally, pid, m.FinalizeInvoice(invoice_id=iid))
    paid = _run(tally, pid, m.PayInvoice(invoice_id=iid, method="out_of_band", reference="w1"))
    payment_key = paid["invoice"]["payments"][0]["id"]
    note = m.CreateCreditNote(invoice_id=iid, amount=500, refund_to="original_payment")
    _run(tally, pid, note)
    sub_id = UUID(sub["subscription"]["id"])
    _run(tally, pid, m.CancelSubscription(subscription_id=sub_id))
    return pid, cid, invoice_payment_id(iid, payment_key)


def test_rabbitmq_gets_payment_and_entitlement_events_once_in_order(
    settings: Settings,
) -> None:
    name = f"test.derived.{time.monotonic_ns()}"
    consumer = RabbitConsumer(name)
    update = {"broker_url": SecretStr(RABBIT_URL), "broker_exchange": name}
    tally = build(settings.model_copy(update=update))
    try:
        pid, cid, payment_id = _history(tally)
        assert tally.broker is not None
        published = tally.broker.drain()
        consumer.wait_for(published)
        time.sleep(0.3)  # anything sent twice would be here by now
        assert len(consumer.ids) == published == len(set(consumer.ids))
        keys = [(b["position"], b["ordinal"]) for b in consumer.bodies]
        assert keys == sorted(keys)
        derived = [
            (body, headers)
            for body, headers in zip(consumer.bodies, consumer.headers, strict=True)
            if body["type"].startswith(DERIVED)
        ]
        assert [b["type"] for b, _ in derived] == [
            "billing.entitlements.changed",
            "billing.payment.succeeded",
            "billing.payment.refunded",
            "billing.entitlements.changed",
        ]
        for body, headers in derived:
            assert body["ordinal"] >= 1
            assert body["id"] == event_id(body["position"], body["type"], body["ordinal"])
            at = consumer.bodies.index(body)
            assert (consumer.ids[at], consumer.routing_keys[at]) == (body["id"], body["type"])
            assert (int(headers["position"]), int(headers["ordinal"])) == (
                body["position"],
                body["ordinal"],
            )
            assert headers["project_id"] == str(pid)
        granted, succeeded, refunded, revoked = (b["data"]["object"] for b, _ in derived)
        assert (granted["customer_id"], granted["features"]) == (str(cid), ["api"])
        assert (revoked["customer_id"], revoked["features"]) == (str(cid), [])
        assert (succeeded["id"], succeeded["status"]) == (str(payment_id), "succeeded")
        now = get_payment(tally.views, tally.schema, pid, payment_id)
        assert now is not None
        assert refunded["id"] == str(now["id"]) == str(payment_id)
        assert (refunded["status"], refunded["amount_refunded"]) == ("partially_refunded", 500)
        assert tally.broker.drain() == 0  # everything confirmed was recorded
    finally:
        tally.close()
        consumer.close()
