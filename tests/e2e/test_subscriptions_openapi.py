"""OpenAPI for customers, catalog, subscriptions, test clocks: every route authenticated and
documented with its problems; every request and response example valid for its model."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.schemas import (
    catalog,
    common,
    customers,
    provider_subscriptions,
    subscriptions,
    test_clocks,
)

PREFIXES = (
    "/v1/customers",
    "/v1/products",
    "/v1/prices",
    "/v1/plans",
    "/v1/subscriptions",
    "/v1/test_clocks",
    "/v1/subscription_runner",
)


def models(module: Any, base: type[BaseModel] = BaseModel) -> list[type[BaseModel]]:
    """The pydantic models ``module`` defines itself (not the ones it imports)."""
    return [
        model
        for model in vars(module).values()
        if isinstance(model, type)
        and issubclass(model, base)
        and model.__module__ == module.__name__
    ]


def openapi_operations(
    spec: dict[str, Any], prefixes: tuple[str, ...]
) -> list[tuple[str, str, dict[str, Any]]]:
    """``(path, method, operation)`` of every documented route under ``prefixes``."""
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        if path.startswith(prefixes)
        for method, op in item.items()
    ]


def test_every_billing_route_is_authenticated_and_documents_its_problems(
    http: TestClient,
) -> None:
    spec = http.get("/openapi.json").json()
    operations = openapi_operations(spec, PREFIXES)
    # 31, plus 5 invoicing routes under these prefixes (customer billing, credit balance
    # and coupon; a subscription's coupon and upcoming invoice), plus the 2 usage reads
    # (a subscription's and a customer's usage, issue 13), plus a price's provider prices
    # and who runs the subscriptions, set and read (issue 18), plus a product's usage and
    # earnings (its creator's, issue 13) and a subscription's usage thresholds (issue 13).
    assert len(operations) == 46
    for path, method, op in operations:
        responses = op["responses"]
        assert op["security"] == [{"ApiKey": []}], path
        assert {"401", "422"} <= responses.keys(), (method, path)
        assert "application/problem+json" in responses["401"]["content"]
        assert op["summary"], path
        if method == "post":
            assert "Idempotency-Key" in [p["name"] for p in op.get("parameters", [])], path
            success = next(r for s, r in responses.items() if s.startswith("2"))
            assert "Tally-Position" in success["headers"], path
            assert "409" in responses, path
        else:
            assert "503" in responses, path  # read_model_behind
    register = spec["paths"]["/v1/customers"]["post"]["responses"]
    assert {"200", "201"} <= register.keys()
    advance = spec["paths"]["/v1/test_clocks/{test_clock_id}/advance"]["post"]["responses"]
    assert "clock_cannot_go_backwards" in advance["422"]["description"]
    create = spec["paths"]["/v1/subscriptions"]["post"]["responses"]
    assert "price_archived" in create["409"]["description"]
    assert "currency_mismatch" in create["422"]["description"]
    price_scheme = spec["components"]["schemas"]["DefinePriceRequest"]["properties"]["scheme"]
    assert price_scheme["enum"] == [
        "flat",
        "per_unit",
        "graduated",
        "volume",
        "metered",
        "metered_graduated",
        "metered_volume",
        "metered_package",
    ]


def test_request_examples_are_valid_requests() -> None:
    checked = 0
    for module in (customers, catalog, subscriptions, test_clocks, provider_subscriptions):
        for model in models(module, common.Request):
            extra = model.model_config.get("json_schema_extra")
            assert isinstance(extra, dict), model
            examples = extra["examples"]
            assert isinstance(examples, list), model
            assert examples, model
            for example in examples:
                model.model_validate(example)
                checked += 1
    assert checked >= 17


def test_response_examples_match_their_models() -> None:
    checked = 0
    for module in (customers, catalog, subscriptions, test_clocks, provider_subscriptions):
        for model in models(module):
            extra = model.model_config.get("json_schema_extra")
            if issubclass(model, common.Request) or not isinstance(extra, dict):
                continue
            examples = extra["examples"]
            assert isinstance(examples, list)
            for example in examples:
                assert isinstance(example, dict)
                dumped = model.model_validate(example).model_dump(
                    mode="json", by_alias=True, exclude_none=True
                )
                assert dumped.keys() >= example.keys(), model
                checked += 1
    assert checked >= 7
