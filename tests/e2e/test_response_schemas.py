"""The OpenAPI document states what the API does, and write responses say what it says
they say, and what was stored.

Found by the fuzzing run (test_fuzz.py); each is a case it cannot reach on its own often
enough to be a regression test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from api.app import create_app
from api.settings import Settings
from tests.e2e.billing import customer
from tests.e2e.conftest import Client


@pytest.fixture(scope="module")
def openapi(pg_url: str) -> dict[str, Any]:
    """The app's OpenAPI document, as /openapi.json serves it (no database needed)."""
    document: dict[str, Any] = create_app(settings=Settings(database_url=pg_url)).openapi()
    return document


def test_detaching_the_last_payment_method_answers_its_required_default_as_null(
    api: Client,
) -> None:
    ada = customer(api, "ada")
    ref = "stub_pm_4242424242424242"
    api.ok(api.post("/v1/payment_methods", {"customer_id": ada, "payment_method": ref}))
    detached = api.ok(api.post(f"/v1/payment_methods/{ref}/detach", {"customer_id": ada}))
    # `default` is required (nullable) in the schema: a client reads it without a guard.
    assert detached["payment_methods"]["default"] is None
    assert detached["payment_methods"]["data"] == []
    assert required_fields(api, "PaymentMethods") <= set(detached["payment_methods"])


def test_opening_an_account_with_metadata_answers_the_metadata_it_stored(api: Client) -> None:
    metadata = {"plan": "pro", "region": "eu"}
    opened = api.ok(
        api.post("/v1/accounts", {"owner_ref": "ada", "currency": "EUR", "metadata": metadata}),
        201,
    )
    assert opened["metadata"] == metadata
    stored = api.account(opened["id"])
    assert stored["metadata"] == metadata


def required_fields(api: Client, name: str) -> set[str]:
    schema = api.http.get("/openapi.json").json()["components"]["schemas"][name]
    return set(schema.get("required", []))


def test_the_openapi_document_states_whole_number_bounds_as_integers(
    openapi: dict[str, Any],
) -> None:
    # They were floats ("maximum": 1000000000000000.0): a client sending the bound as
    # written sent 1e15 with a fraction part, and the API refused it (an integer amount).
    document = json.dumps(openapi)
    bounds = re.findall(r'"(?:exclusiveM|m)(?:in|ax)imum": (-?[0-9.eE+-]+)', document)
    assert bounds, "the document states no bounds at all"
    written_as_floats = [
        b for b in bounds if float(b).is_integer() and not re.fullmatch(r"-?[0-9]+", b)
    ]
    assert written_as_floats == []


# Rules that schema-valid requests can break, each refused with a code of its own that the
# operation lists (they were all 422 validation_error, a code the document lists for
# requests that break their schema: the fuzzing run counted them as unstated rules).
STATED_RULES = [
    ("/v1/transfers", "422", "invalid_combination"),
    ("/v1/coupons", "422", "invalid_combination"),
    ("/v1/customers/{customer_id}/coupon", "422", "invalid_combination"),
    ("/v1/subscriptions/{subscription_id}/coupon", "422", "invalid_combination"),
    ("/v1/invoices/{invoice_id}/coupon", "422", "invalid_combination"),
    ("/v1/carts/{cart_id}/items", "422", "invalid_combination"),
    ("/v1/checkout/item", "422", "invalid_combination"),
    ("/v1/checkout/subscription", "422", "invalid_combination"),
    ("/v1/checkout/subscription", "422", "price_not_recurring"),
    ("/v1/subscriptions", "422", "price_not_recurring"),
    ("/v1/subscriptions/{subscription_id}/items", "422", "price_not_recurring"),
    ("/v1/accounts/{account_id}/holds", "422", "time_not_in_future"),
    ("/v1/subscriptions/{subscription_id}/pause", "422", "time_not_in_future"),
    ("/v1/checkout/cart", "422", "cart_empty"),
    ("/v1/transactions/{transaction_id}/refunds", "409", "not_refundable"),
    ("/v1/subscriptions", "422", "invalid_combination"),
    ("/v1/subscriptions/{subscription_id}/items", "422", "invalid_combination"),
    ("/v1/prices", "422", "invalid_combination"),
    ("/v1/accounts/{account_id}/holds", "422", "invalid_combination"),
    ("/v1/billing_settings", "422", "invalid_combination"),
    ("/v1/payment_provider", "422", "credential_not_set"),
    ("/v1/payment_provider", "422", "invalid_combination"),
    ("/v1/carts/{cart_id}/items", "422", "invalid_amount"),
    ("/v1/invoices/{invoice_id}/pay", "422", "invalid_combination"),
    ("/v1/carts/{cart_id}/items", "409", "limit_reached"),
    ("/v1/payment_methods", "409", "limit_reached"),
    ("/v1/invoices/{invoice_id}/lines", "409", "limit_reached"),
    ("/v1/subscriptions", "409", "limit_reached"),
    ("/v1/checkout/subscription", "409", "limit_reached"),
    ("/v1/invoices", "409", "tax_rate_archived"),
    ("/v1/invoices/{invoice_id}/lines", "409", "tax_rate_archived"),
    ("/v1/billing_settings", "409", "tax_rate_archived"),
    ("/v1/transactions/{transaction_id}/confirm", "409", "invalid_transition"),
]


@pytest.mark.parametrize(("path", "status", "code"), STATED_RULES)
def test_a_rule_the_schema_cannot_express_is_stated_by_its_code(
    openapi: dict[str, Any], path: str, status: str, code: str
) -> None:
    operation = openapi["paths"][path]["post"]
    assert f"`{code}`" in operation["responses"][status]["description"]


def test_every_operation_that_takes_a_currency_lists_unknown_currency(
    openapi: dict[str, Any],
) -> None:
    # Coupons, one-item checkouts, top-ups and cart items answered 422 unknown_currency
    # without listing it.
    document = openapi
    schemas = document["components"]["schemas"]
    silent = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if _mentions(operation.get("requestBody", {}), "currency", schemas)
        and "`unknown_currency`" not in operation["responses"]["422"]["description"]
    ]
    assert silent == []


def _mentions(
    node: object, name: str, schemas: dict[str, Any], seen: frozenset[str] = frozenset()
) -> bool:
    """Whether a schema (following $refs once each) has a property called ``name``."""
    if isinstance(node, list):
        return any(_mentions(item, name, schemas, seen) for item in node)
    if not isinstance(node, dict):
        return False
    if "$ref" in node:
        ref = str(node["$ref"]).rsplit("/", 1)[-1]
        return ref not in seen and _mentions(schemas[ref], name, schemas, seen | {ref})
    if name in node.get("properties", {}):
        return True
    return any(_mentions(value, name, schemas, seen) for value in node.values())


def test_a_map_with_a_key_pattern_refuses_other_keys_in_the_document_too(
    openapi: dict[str, Any],
) -> None:
    # pydantic wrote only patternProperties, which leaves other keys open to any value; the
    # fuzzing run sent credentials keyed by control characters, refused 422 (unstated).
    maps = list(_with_key(openapi, "patternProperties"))
    assert maps, "no map with a key pattern at all"
    assert [m for m in maps if m.get("additionalProperties") is not False] == []


def _with_key(node: object, key: str) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if key in node:
            yield node
        for value in node.values():
            yield from _with_key(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _with_key(item, key)


def test_a_credit_adjustment_states_that_it_is_never_zero(openapi: dict[str, Any]) -> None:
    # Found by the fuzzing run at 75 examples: amount 0 was schema-valid and refused 422.
    amount = openapi["components"]["schemas"]["AdjustCreditRequest"]["properties"]["amount"]
    assert amount["not"] == {"const": 0}
