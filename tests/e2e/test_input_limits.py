"""Limits at the boundary over HTTP (issue 10, reproductions 1, 5 and 6): text with a
control character, a timestamp out of range and a malformed path id are each a 422 with
nothing written, never a 201 that stalls the read models or a 500."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from adapters.clock import FixedClock
from api.bootstrap import Tally
from domain.errors import ValidationFailed
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.conftest import Client, nothing_written

NUL = "a\u0000b"


def _refused(api: Client, tally: Tally, path: str, body: Any) -> dict[str, Any]:
    with nothing_written(tally):
        response = api.post(path, body)
    assert response.status_code == 422, response.text
    problem: dict[str, Any] = response.json()
    assert problem["code"] == "validation_error"
    return problem


def test_a_nul_in_any_stored_text_is_refused_with_nothing_written(
    api: Client, app_tally: Tally
) -> None:
    # Reproduction 1: each of these answered 201, and the projection worker then failed
    # on every pass (Postgres: \u0000 cannot be converted to text).
    account_id = api.open_account("alice")
    customer = {"external_id": "u1", "currency": "EUR"}
    customer_id = api.ok(api.post("/v1/customers", customer), 201)["id"]
    _refused(api, app_tally, "/v1/products", {"code": "P1", "name": NUL})
    _refused(api, app_tally, "/v1/customers", {**customer, "external_id": "u2", "name": NUL})
    _refused(api, app_tally, f"/v1/accounts/{account_id}/deposits", {
        "amount": 100, "currency": "EUR", "description": NUL,
    })  # fmt: skip
    _refused(api, app_tally, "/v1/accounts", {"owner_ref": NUL, "currency": "EUR"})
    _refused(api, app_tally, "/v1/accounts", {
        "owner_ref": "bob", "currency": "EUR", "metadata": {"team": NUL},
    })  # fmt: skip
    line = {"description": NUL, "quantity": 1, "unit_amount": 100}
    _refused(api, app_tally, "/v1/invoices", {"customer_id": customer_id, "lines": [line]})


@pytest.mark.parametrize("char", ["\u0001", "\n", "\u001f", "\u007f", "\u0085", "\u009f"])
def test_other_control_characters_are_refused_in_names_and_metadata_keys(
    api: Client, app_tally: Tally, char: str
) -> None:
    _refused(api, app_tally, "/v1/products", {"code": "P1", "name": f"x{char}"})
    _refused(api, app_tally, "/v1/accounts", {
        "owner_ref": "bob", "currency": "EUR", "metadata": {f"k{char}": "v"},
    })  # fmt: skip


def test_unicode_and_a_tab_in_a_description_are_stored_and_read_back(api: Client) -> None:
    name = "Zoë 😀 \u00a0 日本"
    account_id = api.open_account(name, metadata={"ключ": name})
    deposit = api.deposit(account_id, 100, description="first\tpayment")
    assert deposit["transaction"]["description"] == "first\tpayment"
    account = api.account(account_id)
    assert (account["owner_ref"], account["metadata"]) == (name, {"ключ": name})
    transaction_id = deposit["transaction"]["id"]
    read = api.ok(api.get(f"/v1/transactions/{transaction_id}"))
    assert read["description"] == "first\tpayment"


def test_a_tab_is_refused_where_text_is_not_free(api: Client, app_tally: Tally) -> None:
    _refused(api, app_tally, "/v1/products", {"code": "P1", "name": "a\tb"})


def test_the_schema_states_the_text_rules(api: Client) -> None:
    schemas = api.http.get("/openapi.json").json()["components"]["schemas"]
    name = schemas["DefineProductRequest"]["properties"]["name"]
    assert name["pattern"] == "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
    assert name["maxLength"] == 200
    metadata = schemas["OpenAccountRequest"]["properties"]["metadata"]
    assert metadata["propertyNames"]["pattern"] == name["pattern"]
    assert metadata["additionalProperties"]["pattern"] == name["pattern"]
    expires_at = schemas["PlaceHoldRequest"]["properties"]["expires_at"]
    assert expires_at["format"] == "date-time"
    assert "1970-01-01T00:00:00Z" in expires_at["description"]


def test_a_hold_expiring_past_the_timestamp_range_is_refused(
    api: Client, app_tally: Tally, clock: FixedClock
) -> None:
    # Reproduction 5: this hold was accepted (201), and the holds list and the hold itself
    # then answered 500 (timestamp out of range), even after it was captured.
    account_id = api.open_account()
    api.deposit(account_id, 1000)
    path = f"/v1/accounts/{account_id}/holds"
    for expires_at in ("9999-12-31T23:59:59-14:00", "9998-06-01T00:00:00Z", "2030-01-01"):
        body = {"amount": 100, "currency": "EUR", "expires_at": expires_at}
        _refused(api, app_tally, path, body)
    for naive_or_number in ("2030-01-01T00:00:00", 1900000000):
        body = {"amount": 100, "currency": "EUR", "expires_at": naive_or_number}
        _refused(api, app_tally, path, body)
    body = {"amount": 100, "currency": "EUR", "expires_at": "9997-12-31T23:59:59-14:00"}
    hold_id = api.ok(api.post(path, body), 201)["id"]
    assert api.ok(api.get(path))["data"][0]["id"] == hold_id
    api.ok(api.post(f"{path}/{hold_id}/capture", {}), 201)
    assert api.ok(api.get(f"{path}/{hold_id}"))["status"] == "captured"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/payment_methods/%C3%A9/detach",
        "/v1/payment_methods/a%20b/detach",
        "/v1/payment_methods/" + "a" * 201 + "/detach",
        "/v1/payment_methods/%C3%A9/default",
        "/v1/carts/{cart}/items/a%20b/remove",
        "/v1/carts/{cart}/items/" + "a" * 65 + "/remove",
        "/v1/invoices/{uuid}/lines/%00/remove",
        "/v1/accounts/{uuid}/holds/a%20b/void",
    ],
)
def test_a_malformed_path_id_is_a_422_not_a_500(api: Client, app_tally: Tally, path: str) -> None:
    # Reproduction 6: these answered 500 (the route took any text and the command
    # message then refused it).
    customer = {"external_id": "u1", "currency": "EUR"}
    customer_id = api.ok(api.post("/v1/customers", customer), 201)["id"]
    cart = api.ok(api.post("/v1/carts", {"currency": "EUR"}), 201)["cart"]["id"]
    with nothing_written(app_tally):
        response = api.post(path.format(cart=cart, uuid=uuid4()), {"customer_id": customer_id})
    assert response.status_code == 422, response.text


def test_a_well_formed_unknown_path_id_is_a_404(api: Client) -> None:
    cart = api.ok(api.post("/v1/carts", {"currency": "EUR"}), 201)["cart"]["id"]
    response = api.post(f"/v1/carts/{cart}/items/{'a' * 21}/remove")
    assert response.status_code == 404, response.text
    customer = {"external_id": "u1", "currency": "EUR"}
    customer_id = api.ok(api.post("/v1/customers", customer), 201)["id"]
    response = api.post("/v1/payment_methods/pm_unknown/detach", {"customer_id": customer_id})
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("value", ["0.5", "1700000000", "2030-01-01", "9999-06-01T00:00:00Z"])
def test_a_query_timestamp_is_strict_rfc3339_in_range(api: Client, value: str) -> None:
    # Reproduction 8's last point: period_to=0.5 was read as 0.5 s after 1970.
    response = api.get("/v1/invoices", period_to=value)
    assert response.status_code == 422, response.text
    assert api.ok(api.get("/v1/invoices", period_to="2030-01-01T00:00:00+02:00"))["data"] == []


def test_a_control_character_in_a_query_filter_is_a_422(api: Client) -> None:
    assert api.get("/v1/accounts", owner_ref=NUL).status_code == 422
    assert api.get("/v1/customers", email=NUL).status_code == 422


def test_a_lone_surrogate_escaped_in_json_is_a_422(api: Client, app_tally: Tally) -> None:
    # UTF-8, and so Postgres, cannot store U+D800 alone; JSON can spell it as an escape.
    body = '{"code": "P1", "name": "a\\ud800b"}'
    with nothing_written(app_tally):
        response = api.http.post(
            "/v1/products", content=body, headers=api.headers({"Content-Type": "application/json"})
        )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("escape", ["\\0", "\\x85", "\\n", "\\t"])
def test_the_catalog_file_loader_refuses_a_control_character(escape: str) -> None:
    # The loader builds its commands in Python (no HTTP); before, a NUL in a product
    # name or feature went through and stalled the read models like reproduction 1.
    from api.catalog_file import parse

    for field in (f'name: "Pro{escape}"', f'name: Pro\n    features: ["a{escape}"]'):
        text = f"products:\n  - code: PRO\n    {field}\n"
        with pytest.raises(ValidationFailed, match="not valid"):
            parse(text)


def test_a_billing_period_past_the_range_is_a_422_not_a_500(
    sandbox: Client, app_tally: Tally
) -> None:
    # A test clock may stand near the end of the range; a price of 365 years then puts the
    # subscription's next period end past what Python's datetime holds (year 10060): the
    # clock's advance answered 500, and a subscription created there too.
    api = sandbox
    clock = api.ok(api.post("/v1/test_clocks", {"frozen_time": "2030-01-01T00:00:00Z"}), 201)
    clock_id = clock["id"]
    body = {"external_id": "u1", "currency": "EUR", "test_clock_id": clock_id}
    customer_id = api.ok(api.post("/v1/customers", body), 201)["id"]
    product_id = api.ok(api.post("/v1/products", {"code": "P", "name": "P"}), 201)["id"]
    price = {"product_id": product_id, "lookup_key": "long", "currency": "EUR", "scheme": "flat",
             "unit_amount": 100, "interval": "year", "interval_count": 365}  # fmt: skip
    price_id = api.ok(api.post("/v1/prices", price), 201)["id"]
    items = {"customer_id": customer_id, "items": [{"price_id": price_id}]}
    api.ok(api.post("/v1/subscriptions", items), 201)
    _refused(api, app_tally, f"/v1/test_clocks/{clock_id}/advance", {"to": "9997-01-01T00:00:00Z"})
    late = api.ok(api.post("/v1/test_clocks", {"frozen_time": "9997-01-01T00:00:00Z"}), 201)
    body = {"external_id": "u2", "currency": "EUR", "test_clock_id": late["id"]}
    late_customer = api.ok(api.post("/v1/customers", body), 201)["id"]
    late_items = {"customer_id": late_customer, "items": [{"price_id": price_id}]}
    _refused(api, app_tally, "/v1/subscriptions", late_items)


def test_a_trial_ending_past_the_range_is_a_422_not_a_500(
    sandbox: Client, app_tally: Tally
) -> None:
    # Two years of trial from the last time the API takes end past MAX_TIMESTAMP; the
    # subscription's first period was then computed past Python's datetime (500).
    api = sandbox
    late = {"frozen_time": "9997-12-31T23:59:59-14:00"}
    clock_id = api.ok(api.post("/v1/test_clocks", late), 201)["id"]
    body = {"external_id": "u1", "currency": "EUR", "test_clock_id": clock_id}
    customer_id = api.ok(api.post("/v1/customers", body), 201)["id"]
    product_id = api.ok(api.post("/v1/products", {"code": "P", "name": "P"}), 201)["id"]
    price = {"product_id": product_id, "lookup_key": "monthly", "currency": "EUR",
             "scheme": "flat", "unit_amount": 100, "interval": "month"}  # fmt: skip
    price_id = api.ok(api.post("/v1/prices", price), 201)["id"]
    items = {"customer_id": customer_id, "items": [{"price_id": price_id}], "trial_days": 730}
    _refused(api, app_tally, "/v1/subscriptions", items)


def test_the_cli_refuses_a_control_character_in_one_line(
    pg_url: str, schema: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: a traceback (pydantic's ValidationError escaped the CLI's error table).
    from api.cli import EXIT_REFUSED, main

    monkeypatch.setenv("TALLY_DATABASE_URL", pg_url)
    monkeypatch.setenv("TALLY_DB_SCHEMA", schema)
    assert main(["projects", "create", "a\u0001b"]) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert err.startswith("tally: validation_error: name: String should match pattern")
    assert len(err.strip().splitlines()) == 1
