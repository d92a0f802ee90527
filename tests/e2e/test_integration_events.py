"""Integration events (issue 12): every public ``billing.*`` type Tally emits is written
once per domain event, in log order, with the object as the API answers it."""

from __future__ import annotations

from typing import Any

from api.integration_events import envelope, envelopes, event_model, event_schema
from projections.integration_catalog import CATALOG, event_id
from projections.integration_events import events_after
from projections.runner import wait_for_position
from tests.e2e.billing import customer, plan, subscribe
from tests.e2e.conftest import Client
from tests.e2e.invoicing import act, draft, line


def published(api: Client, entitlements: bool = False) -> list[dict[str, Any]]:
    """The project's events in outbox order (the entitlement changes only when
    ``entitlements``: tests/e2e/test_entitlement_changes.py follows them)."""
    assert wait_for_position(api.tally.views, api.tally.schema, api.position, 10)
    rows = events_after(api.tally.views, api.tally.schema, api.project_id, 0, 1000)
    wanted = [r for r in rows if entitlements or r["type"] != "billing.entitlements.changed"]
    one_by_one = [envelope(r, api.tally) for r in wanted]
    # A publisher's batch: the collections read once per project, the same envelopes.
    assert envelopes(wanted, api.tally) == one_by_one
    return one_by_one


def test_each_flow_publishes_its_types_in_log_order_with_the_object_as_get_answers_it(
    api: Client, other: Client
) -> None:
    customer_id = customer(api, "ada")
    api.ok(api.post(f"/v1/customers/{customer_id}", {"name": "Ada"}))
    price_id = plan(api, "pro", 900)
    subscription = subscribe(api, customer_id, price_id)
    api.ok(api.post(f"/v1/subscriptions/{subscription['id']}/cancel", {}))
    account_id = api.open_account("ada")
    api.deposit(account_id, 500)
    api.ok(
        api.post(f"/v1/accounts/{account_id}/withdrawals", {"amount": 200, "currency": "EUR"}), 201
    )
    invoice = draft(api, customer_id, line("setup", 1000))
    act(api, invoice["id"], "finalize")
    act(api, invoice["id"], "pay", {"method": "out_of_band", "amount": 400, "reference": "a"})
    act(api, invoice["id"], "pay", {"method": "out_of_band", "reference": "b"})
    voided = draft(api, customer_id, line("extra", 300))
    act(api, voided["id"], "finalize")
    act(api, voided["id"], "void")
    customer(other, "someone else")  # another project's events are not this project's

    events = published(api)
    types = [e["type"] for e in events]
    assert types == [
        "billing.customer.created",
        "billing.customer.updated",
        "billing.subscription.created",
        *types[3 : types.index("billing.wallet.deposited")],
        "billing.wallet.deposited",
        "billing.transaction.completed",
        "billing.wallet.withdrawn",
        "billing.transaction.completed",
        "billing.invoice.created",
        "billing.invoice.finalized",
        "billing.payment.succeeded",  # the part payment: a payment, the invoice still open
        "billing.invoice.paid",  # once: the part payment left it open
        "billing.payment.succeeded",  # derived at the same position, after it
        "billing.invoice.created",
        "billing.invoice.finalized",
        "billing.invoice.voided",
    ]
    assert "billing.subscription.canceled" in types[3 : types.index("billing.wallet.deposited")]
    keys = [(e["position"], e["ordinal"]) for e in events]
    assert keys == sorted(set(keys))
    assert all(e["project_id"] == str(api.project_id) for e in events)
    ids = [event_id(e["position"], e["type"], e["ordinal"]) for e in events]
    assert [e["id"] for e in events] == ids
    # The last event of each object carries it as its GET route answers now.
    last: dict[str, dict[str, Any]] = {}
    for e in events:
        last[e["data"]["object"]["id"]] = e
    paths = {
        customer_id: f"/v1/customers/{customer_id}",
        subscription["id"]: f"/v1/subscriptions/{subscription['id']}",
        account_id: f"/v1/accounts/{account_id}",
        invoice["id"]: f"/v1/invoices/{invoice['id']}",
        voided["id"]: f"/v1/invoices/{voided['id']}",
    }
    for object_id, path in paths.items():
        assert last[object_id]["data"]["object"] == api.ok(api.get(path)), path
    for e in events:
        # What its JSON Schema describes, and (built without the model) what it dumps.
        dumped = event_model(e["type"]).model_validate(e).model_dump(mode="json")
        assert dumped == e
        assert list(dumped) == list(e)


def test_every_catalogued_type_has_a_schema_naming_its_object() -> None:
    for t in CATALOG:
        schema = event_schema(t.name)
        assert schema["properties"]["type"]["const"] == t.name
        assert schema["$id"].endswith(f"/{t.name}.json")
