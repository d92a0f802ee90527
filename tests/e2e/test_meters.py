"""Meters over HTTP (issue 13): define, read, list; the same definition again; refusals;
tenancy; a metered price names a meter of its project."""

from __future__ import annotations

from typing import Any

from api.bootstrap import Tally
from tests.e2e.billing import price, problem, product
from tests.e2e.conftest import Client, nothing_written

TOKENS: dict[str, Any] = {
    "code": "llm_tokens",
    "name": "LLM tokens",
    "event_name": "completion",
    "aggregation": "sum",
    "property": "tokens",
    "filters": {"region": ["eu", "us"]},
    "group_by": ["model"],
}


def test_define_then_read_and_list_a_meter(api: Client) -> None:
    created = api.ok(api.post("/v1/meters", TOKENS), 201)
    assert created["object"] == "meter"
    assert created["existed"] is False
    assert {k: created[k] for k in TOKENS} == TOKENS
    read = api.ok(api.get(f"/v1/meters/{created['id']}"))
    assert {k: read[k] for k in TOKENS} == TOKENS
    assert read["created"] == created["created"]
    calls = {"code": "calls", "name": "Calls", "event_name": "call", "aggregation": "count"}
    count = api.ok(api.post("/v1/meters", calls), 201)
    assert count["property"] == ""
    listed = api.ok(api.get("/v1/meters"))
    assert [m["code"] for m in listed["data"]] == ["llm_tokens", "calls"]
    first = api.ok(api.get("/v1/meters", limit=1))
    assert first["has_more"] is True
    rest = api.ok(api.get("/v1/meters", starting_after=first["data"][0]["id"]))
    assert [m["code"] for m in rest["data"]] == ["calls"]


def test_the_same_definition_answers_the_meter_and_another_is_refused(
    api: Client, app_tally: Tally
) -> None:
    created = api.ok(api.post("/v1/meters", TOKENS), 201)
    with nothing_written(app_tally):
        again = api.ok(api.post("/v1/meters", TOKENS), 200)
        changed = api.post("/v1/meters", {**TOKENS, "aggregation": "max"})
    assert (again["id"], again["existed"]) == (created["id"], True)
    problem(changed, 409, "already_exists")


def test_definitions_that_break_a_rule_write_nothing(api: Client, app_tally: Tally) -> None:
    bad: list[tuple[dict[str, Any], str]] = [
        ({"aggregation": "median"}, "validation_error"),
        ({"aggregation": "count"}, "invalid_combination"),
        ({"property": None}, "invalid_combination"),
        ({"group_by": ["model", "model"]}, "invalid_combination"),
        ({"group_by": ["a", "b", "c", "d"]}, "validation_error"),
        ({"filters": {"region": []}}, "validation_error"),
        ({"event_name": "a b"}, "validation_error"),
        ({"code": "x" * 41}, "validation_error"),
        ({"unknown": 1}, "validation_error"),
    ]
    for fields, code in bad:
        with nothing_written(app_tally):
            response = api.post("/v1/meters", {**TOKENS, **fields})
        problem(response, 422, code)


def test_another_projects_meter_is_not_found_nor_listed(api: Client, other: Client) -> None:
    meter_id = api.ok(api.post("/v1/meters", TOKENS), 201)["id"]
    problem(other.get(f"/v1/meters/{meter_id}"), 404, "not_found")
    assert other.ok(other.get("/v1/meters"))["data"] == []


def test_a_metered_price_names_a_meter_of_its_own_project(
    api: Client, other: Client, app_tally: Tally
) -> None:
    other.ok(other.post("/v1/meters", TOKENS), 201)
    product_id = product(api, "API")
    body = {"scheme": "metered", "unit_amount": 2, "meter": "llm_tokens"}
    with nothing_written(app_tally):
        refused = api.post(
            "/v1/prices",
            {"product_id": product_id, "lookup_key": "tokens", "currency": "EUR",
             "interval": "month", **body},
        )  # fmt: skip
    problem(refused, 422, "unknown_meter")
    api.ok(api.post("/v1/meters", TOKENS), 201)
    price_id = price(api, product_id, "tokens", **body)
    assert api.ok(api.get(f"/v1/prices/{price_id}"))["meter"] == "llm_tokens"


def test_a_project_defines_at_most_its_limit_of_meters(api: Client, app_tally: Tally) -> None:
    """Every usage event is read against the meters of its name, and ingestion loads the
    project's meters whole: the count is bounded, and the limit is the project's own."""
    from domain.limits import MAX_METERS_PER_PROJECT

    for n in range(MAX_METERS_PER_PROJECT):
        api.ok(api.post("/v1/meters", {**TOKENS, "code": f"m{n}"}), 201)
    with nothing_written(app_tally):
        refused = api.post("/v1/meters", {**TOKENS, "code": "one_more"})
        again = api.ok(api.post("/v1/meters", {**TOKENS, "code": "m0"}), 200)
    problem(refused, 409, "limit_reached")
    assert again["existed"] is True
