"""What Tally's Stripe adapter reads of Stripe's answers, checked against Stripe's
published OpenAPI description (issue 18): ``tests/fixtures/stripe_api/objects.json``
carries the object schemas the adapter reads, copied from the spec (its ``source`` says
which). Every field the adapter reads at the current API version must exist there under
that name and shape, and the objects the tests answer with must be instances of them;
an object Stripe would never send (an old-version tax shape, an invoice status Stripe
has not) is refused, so the check can fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from adapters.providers.stripe_subscriptions import invoice_from
from tests.unit.test_provider_stripe_webhooks import resource

SPEC = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "stripe_api" / "objects.json").read_text()
)
SCHEMAS: dict[str, Any] = SPEC["schemas"]

# Every field the adapter reads of each object at the current API version
# (adapters/providers/stripe.py, stripe_subscriptions.py, stripe_events.py,
# stripe_invoice_payments.py); ``[]`` walks into a list's items. The fields it reads
# only as older versions' fallbacks are the fixture's ``removed_at_this_version``.
READS = {
    "invoice": [
        "id",
        "status",
        "currency",
        "customer",
        "metadata",
        "number",
        "subtotal",
        "total",
        "amount_paid",
        "amount_due",
        "period_start",
        "period_end",
        "starting_balance",
        "ending_balance",
        "lines.data[].id",
        "lines.has_more",
        "payments.data[].status",
        "payments.data[].created",
        "payments.data[].status_transitions.paid_at",
        "payments.data[].payment.payment_intent",
        "payments.data[].payment.charge",
        "parent.subscription_details.subscription",
        "parent.subscription_details.metadata",
    ],
    "line_item": [
        "id",
        "amount",
        "quantity",
        "description",
        "discount_amounts[].amount",
        "taxes[].amount",
        "taxes[].tax_behavior",
        "pricing.price_details.price",
        "parent.subscription_item_details.proration",
        "parent.invoice_item_details.proration",
    ],
    "payment_intent": [
        "id",
        "status",
        "amount",
        "amount_received",
        "currency",
        "customer",
        "metadata",
        "payment_method",
        "last_payment_error",
    ],
    "billing_portal.session": ["id", "url"],
    # stripe.py (create) and stripe_events.py (checkout.session.*).
    "checkout.session": [
        "id",
        "url",
        "amount_total",
        "client_reference_id",
        "currency",
        "customer",
        "metadata",
        "payment_intent",
        "payment_status",
        "status",
        "subscription",
    ],
    # stripe.py (create), stripe_customer_refs.py and stripe_events.py (customer.*).
    "customer": ["id", "metadata", "invoice_settings.default_payment_method"],
    # stripe_subscriptions.py (create, the item change) and stripe_events.py
    # (customer.subscription.*: items and period for a subscription Stripe runs).
    "subscription": [
        "id",
        "status",
        "currency",
        "customer",
        "cancel_at_period_end",
        "metadata",
        "items.data[].id",
        "items.data[].quantity",
        "items.data[].price.id",
        "items.data[].current_period_start",
    ],
    # stripe_events.py (charge.refunded) and stripe_refund_refs.py.
    "charge": [
        "id",
        "status",
        "currency",
        "amount_refunded",
        "customer",
        "payment_intent",
        "metadata",
        "refunds.has_more",
        "refunds.data[].id",
        "refunds.data[].amount",
        "refunds.data[].created",
        "refunds.data[].metadata",
    ],
    # stripe_events.py (setup_intent.succeeded: a trial's card).
    "setup_intent": ["id", "status", "customer", "payment_method", "metadata"],
    # stripe_events.py (payment_method.attached/detached).
    "payment_method": ["id", "customer"],
    # stripe.py (create) and stripe_refund_refs.py (the charge's refunds listed).
    "refund": ["id", "status", "amount", "created", "metadata"],
    "notification_event_data": ["object", "previous_attributes"],
}


def _options(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas a value of ``schema`` may be (through $ref and anyOf)."""
    if "$ref" in schema:
        return _options(SCHEMAS[schema["$ref"]])
    if "anyOf" in schema:
        return [found for option in schema["anyOf"] for found in _options(option)]
    return [schema]


def resolves(name: str, path: str) -> bool:
    level = [SCHEMAS[name]]
    for part in path.split("."):
        key, into_items = part.removesuffix("[]"), part.endswith("[]")
        level = [
            found
            for schema in level
            for option in _options(schema)
            for found in _options(option.get("properties", {}).get(key, {"x": 1}))
            if "x" not in found
        ]
        if into_items:
            level = [found for s in level for found in _options(s.get("items", {}))]
        if not level:
            return False
    return True


def json_schema(node: Any) -> Any:
    """The fixture's OpenAPI 3.0 schema as JSON Schema: ``nullable`` admits null, a
    ``$ref`` names a definition."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: json_schema(v) for k, v in node.items() if k not in ("nullable", "format")}
    if "$ref" in node:
        out["$ref"] = f"#/$defs/{node['$ref']}"
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def problems(name: str, value: Any) -> list[str]:
    schema = {"$ref": f"#/$defs/{name}", "$defs": json_schema(SCHEMAS)}
    validator = jsonschema_rs.Draft202012Validator(schema)
    return [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(value)]


@pytest.mark.parametrize(("name", "path"), [(n, p) for n, paths in READS.items() for p in paths])
def test_every_field_the_adapter_reads_is_in_stripes_published_object(name: str, path: str) -> None:
    assert resolves(name, path), f"{name}.{path} is not in Stripe's published {name}"


def test_the_check_can_fail_for_a_field_stripe_removed() -> None:
    for name, removed in SPEC["removed_at_this_version"].items():
        for field in removed:
            assert not resolves(name, field)


def taxed_line() -> dict[str, Any]:
    """A line as the e2e tests answer it: prorated, discounted and taxed."""
    line = resource("invoice")["lines"]["data"][0]
    line.update(amount=733, quantity=2)
    line["discount_amounts"] = [{"amount": 100, "discount": "di_1"}]
    line["taxes"] = [
        {
            "amount": 127,
            "tax_behavior": "exclusive",
            "type": "tax_rate_details",
            "taxability_reason": "standard_rated",
            "taxable_amount": 633,
        }
    ]
    line["parent"] = {
        "type": "subscription_item_details",
        "subscription_item_details": {"proration": True, "subscription": "sub_1"},
    }
    return dict(line)


def test_the_objects_the_tests_answer_with_are_stripes() -> None:
    invoice = resource("invoice")
    invoice["lines"]["data"] = [taxed_line()]
    assert problems("invoice", invoice) == []
    assert problems("payment_intent", resource("payment_intent")) == []
    assert problems("billing_portal.session", resource("billing_portal.session")) == []
    assert problems("customer", resource("customer")) == []
    assert problems("refund", resource("refund")) == []
    assert problems("charge", resource("charge")) == []
    assert problems("setup_intent", resource("setup_intent")) == []
    assert problems("subscription", resource("subscription")) == []
    assert problems("checkout.session", resource("checkout.session")) == []
    assert problems("payment_method", resource("payment_method", customer=None)) == []
    # And the adapter reads them as Stripe means them.
    [line] = invoice_from(invoice).lines
    assert (line.amount_minor, line.discount_minor, line.tax_minor, line.proration) == (
        733,
        100,
        127,
        True,
    )


@pytest.mark.parametrize(
    ("name", "change", "refusal"),
    [
        # Before 2025-03-31 a line's tax was tax_amounts[].inclusive; now taxes[].tax_behavior.
        ("line_item", {"taxes": [{"amount": 21, "inclusive": False}]}, "taxes"),
        ("line_item", {"taxes": [{"amount": 21, "tax_behavior": "included"}]}, "taxes"),
        ("invoice", {"status": "past_due"}, "past_due"),
        ("invoice", {"total": "10.00"}, "integer"),
        ("refund", {"created": "2026-12-05"}, "integer"),
        ("charge", {"amount_refunded": 10.5}, "integer"),
        ("subscription", {"status": "pending"}, "pending"),
        ("checkout.session", {"payment_status": "complete"}, "complete"),
        ("payment_method", {"customer": ["cus_1"]}, "customer"),
        ("customer", {"invoice_settings": {"default_payment_method": 7}}, "default_payment_method"),
    ],
)
def test_an_object_stripe_would_not_send_is_refused(
    name: str, change: dict[str, Any], refusal: str
) -> None:
    base = taxed_line() if name == "line_item" else resource(name)
    found = problems(name, {**base, **change})
    assert any(refusal in p for p in found), found
