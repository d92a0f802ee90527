"""The API follows its own conventions (docs/api.md), read from the OpenAPI document and
checked against real answers: every object has ``id``, ``object`` and ``created``; every
timestamp one format; every request body and every object an example; a create answers
the object itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from api.app import create_app
from api.objects import INSTANT_PATTERN
from api.settings import Settings
from tests.e2e.billing import clock, customer, price, product
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.conftest import Client
from tests.e2e.invoicing import draft, line

Schema = dict[str, Any]
REF = "#/components/schemas/"
# A string that a client would take for a timestamp, in any RFC 3339 spelling.
LOOKS_LIKE_TIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d")


@pytest.fixture(scope="module")
def openapi(pg_url: str) -> Schema:
    """The app's OpenAPI document, as /openapi.json serves it (no database needed)."""
    document: Schema = create_app(settings=Settings(database_url=pg_url)).openapi()
    return document


def _refs(schema: Any) -> Iterator[str]:
    """The names of the component schemas ``schema`` refers to, at any depth inside it
    (not through them)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            yield ref.removeprefix(REF)
        for value in schema.values():
            yield from _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _refs(value)


def _operations(openapi: Schema) -> Iterator[tuple[str, Schema]]:
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def _answered(openapi: Schema) -> set[str]:
    """Every component schema a successful answer can hold, however deep."""
    schemas = openapi["components"]["schemas"]
    todo = [
        name
        for _, operation in _operations(openapi)
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for name in _refs(response.get("content", {}))
    ]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_refs(schemas[name]))
    return seen


def _objects(openapi: Schema) -> dict[str, Schema]:
    """The object schemas: those with an ``id`` that an answer is, or holds as one of its
    own fields or list items (an action's result, a page). Parts of an object (an
    invoice's lines) are not objects of their own."""
    schemas = openapi["components"]["schemas"]
    answers = {
        name
        for _, operation in _operations(openapi)
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for name in _refs(response.get("content", {}))
    }
    held = {
        name
        for answer in answers
        if "id" not in schemas[answer].get("properties", {})
        for name in _refs(schemas[answer].get("properties", {}))
    }
    return {
        name: schemas[name]
        for name in sorted(answers | held)
        if "id" in schemas[name].get("properties", {})
    }


def _timestamps(schema: Schema) -> Iterator[tuple[str, Schema]]:
    """The properties of ``schema`` a client reads as times (stated as date-time)."""
    for name, prop in schema.get("properties", {}).items():
        for option in [prop, *prop.get("anyOf", []), prop.get("items", {})]:
            if option.get("format") == "date-time":
                yield name, option


def test_every_object_schema_has_id_object_created_and_an_example(openapi: Schema) -> None:
    objects = _objects(openapi)
    assert {"Account", "Hold", "Customer", "Price", "Subscription", "Invoice"} <= set(objects)
    lacking = {
        name: [f for f in ("id", "object", "created") if f not in schema["properties"]]
        for name, schema in objects.items()
    }
    assert {name: fields for name, fields in lacking.items() if fields} == {}
    wrong_type = {
        name: schema["properties"]["object"]
        for name, schema in objects.items()
        if schema["properties"]["object"].get("const") is None
    }
    assert wrong_type == {}
    assert [name for name, schema in objects.items() if not schema.get("examples")] == []
    # The examples show what a real answer holds: its type, its created, the one format.
    for name, schema in objects.items():
        for example in schema["examples"]:
            assert example.get("object") == schema["properties"]["object"]["const"], name
            assert re.match(INSTANT_PATTERN, example.get("created", "")), name
            _check_answer(example, name)


def test_every_timestamp_an_answer_holds_has_the_one_format(openapi: Schema) -> None:
    schemas = openapi["components"]["schemas"]
    loose = [
        f"{name}.{field}"
        for name in sorted(_answered(openapi))
        for field, prop in _timestamps(schemas[name])
        if prop.get("pattern") != INSTANT_PATTERN
    ]
    assert loose == []
    named_like_times = [
        f"{name}.{field}"
        for name in sorted(_answered(openapi))
        for field, prop in schemas[name].get("properties", {}).items()
        if re.search(r"(_at|_time|^created|_start|_end)$", field)
        and any(
            option.get("type") == "string" and option.get("format") != "date-time"
            for option in [prop, *prop.get("anyOf", [])]
        )
    ]
    assert named_like_times == []


def test_every_request_body_has_an_example(openapi: Schema) -> None:
    schemas = openapi["components"]["schemas"]
    missing = []
    for name, operation in _operations(openapi):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is None:
            continue
        refs = list(_refs(body["schema"]))
        stated = body.get("example") or body.get("examples")
        if not stated and not any(schemas[ref].get("examples") for ref in refs[:1]):
            missing.append(name)
    assert missing == []


def test_creates_answer_the_object_itself_with_object_and_created(openapi: Schema) -> None:
    creates = {
        "POST /v1/accounts": "Account",
        "POST /v1/customers": "RegisteredCustomer",
        "POST /v1/products": "Product",
        "POST /v1/prices": "DefinedPrice",
        "POST /v1/subscriptions": "CreatedSubscription",
        "POST /v1/test_clocks": "TestClock",
        "POST /v1/invoices": "Invoice",
        "POST /v1/tax_rates": "TaxRate",
        "POST /v1/coupons": "Coupon",
        "POST /v1/promotion_codes": "PromotionCode",
        "POST /v1/accounts/{account_id}/holds": "PlacedHold",
    }
    operations = dict(_operations(openapi))
    answered = {
        name: next(_refs(operations[name]["responses"]["201"]["content"])) for name in creates
    }
    assert answered == creates


def _check_answer(answer: Any, where: str = "") -> None:
    """Every time in ``answer`` has the one format, at any depth."""
    if isinstance(answer, dict):
        for key, value in answer.items():
            _check_answer(value, f"{where}.{key}")
    elif isinstance(answer, list):
        for i, value in enumerate(answer):
            _check_answer(value, f"{where}[{i}]")
    elif isinstance(answer, str) and LOOKS_LIKE_TIME.match(answer):
        assert re.match(INSTANT_PATTERN, answer), f"{where}: {answer}"


def test_real_answers_of_the_main_creates_carry_object_and_one_timestamp_format(
    sandbox: Client,
) -> None:
    api = sandbox
    account_id = api.open_account("ada")
    api.deposit(account_id, 5000)
    hold = {"amount": 100, "currency": "EUR", "expires_at": "2031-01-01T00:00:00.5+02:00"}
    clock_id = clock(api)
    customer_id = customer(api, "ada", test_clock_id=clock_id)
    product_id = product(api, "PRO")
    price_id = price(api, product_id, "pro_monthly", unit_amount=2900)
    answers = {
        "account": api.account(account_id),
        "hold": api.ok(api.post(f"/v1/accounts/{account_id}/holds", hold), 201),
        "test_clock": api.ok(api.get(f"/v1/test_clocks/{clock_id}")),
        "customer": api.ok(api.get(f"/v1/customers/{customer_id}")),
        "product": api.ok(api.get(f"/v1/products/{product_id}")),
        "price": api.ok(api.get(f"/v1/prices/{price_id}")),
        "subscription": api.ok(
            api.post("/v1/subscriptions", {"customer_id": customer_id, "plan": "PRO"}), 201
        ),
        "invoice": draft(api, customer_id, line("seats", 100)),
    }
    for kind, answer in answers.items():
        assert answer["object"] == kind, answer
        assert re.match(INSTANT_PATTERN, answer["created"]), answer
        _check_answer(answer, kind)
    # The parts of an invoice the write side records as it goes (a payment) too.
    invoice_id = answers["invoice"]["id"]
    api.ok(api.post(f"/v1/invoices/{invoice_id}/finalize"))
    paid = {"method": "out_of_band", "reference": "bank transfer"}
    _check_answer(api.ok(api.post(f"/v1/invoices/{invoice_id}/pay", paid)), "pay")
    invoice = api.ok(api.get(f"/v1/invoices/{invoice_id}"))
    assert invoice["payments"]
    _check_answer(invoice, "paid invoice")
    # A time sent with a fraction and an offset comes back as the same instant, in UTC.
    assert answers["hold"]["expires_at"] == "2030-12-31T22:00:00.500000Z"
    assert answers["subscription"]["latest_invoice"]["object"] == "invoice"
    assert api.ok(api.get("/v1/accounts"))["object"] == "list"
    assert api.ok(api.get("/v1/plans"))["object"] == "list"
