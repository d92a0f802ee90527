"""The HTTP surface: problem documents everywhere, body limits, probes, OpenAPI."""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Iterator

from fastapi.testclient import TestClient

import adapters
import commands
import domain
import domain.errors
from adapters.clock import FixedClock
from api.bootstrap import Tally
from api.errors import STATUS_BY_CODE
from api.settings import Settings
from tests.e2e.conftest import Client, nothing_written, serve


def _all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _all_subclasses(sub)
    return found


def test_every_domain_error_code_has_an_http_status() -> None:
    # Error classes live beside the rules they guard (domain/*, adapters/providers/*), so
    # load every module first and then ask for every subclass, wherever it is defined.
    for package in (domain, commands, adapters):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(info.name)
    codes = {cls.code for cls in _all_subclasses(domain.errors.DomainError)}
    assert codes - STATUS_BY_CODE.keys() == set()


def test_malformed_json_is_400_and_writes_nothing(api: Client, app_tally: Tally) -> None:
    with nothing_written(app_tally):
        response = api.http.post(
            "/v1/accounts",
            content=b'{"owner_ref": "x", "currency": ',
            headers=api.headers({"Content-Type": "application/json"}),
        )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "malformed_json"


def test_oversized_body_is_413_with_content_length(api: Client, app_tally: Tally) -> None:
    limit = app_tally.settings.max_body_bytes
    body = {"owner_ref": "x" * (limit + 1), "currency": "EUR"}
    with nothing_written(app_tally):
        response = api.post("/v1/accounts", body)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.json()["max_bytes"] == limit


def test_oversized_body_is_413_without_content_length(api: Client, app_tally: Tally) -> None:
    limit = app_tally.settings.max_body_bytes

    def chunks() -> Iterator[bytes]:
        yield b'{"owner_ref": "'
        for _ in range(limit // 1000 + 2):
            yield b"y" * 1000
        yield b'", "currency": "EUR"}'

    with nothing_written(app_tally):
        response = api.http.post(
            "/v1/accounts",
            content=chunks(),
            headers=api.headers({"Content-Type": "application/json"}),
        )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_body_just_under_the_limit_is_accepted(api: Client, app_tally: Tally) -> None:
    # Big enough to be split into several ASGI messages, small enough to be allowed.
    response = api.post(
        "/v1/accounts", {"owner_ref": "z", "currency": "EUR", "metadata": {"note": "n" * 400}}
    )
    assert response.status_code == 201


def test_unknown_route_and_wrong_method_are_problems(http: TestClient) -> None:
    missing = http.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "not_found"
    wrong = http.delete("/v1/accounts")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET, POST"


def test_healthz_and_readyz_answer_without_a_key(http: TestClient, api: Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    api.open_account()
    ready = http.get("/readyz", params={})
    assert ready.status_code == 200, ready.text
    report = ready.json()
    assert report["status"] == "ready"
    assert report["database"] == "ok"
    assert report["head_position"] >= api.position
    assert report["lag"] == report["head_position"] - report["projection_position"]


def test_query_waits_for_a_position_and_answers_503_while_unreached(
    settings: Settings, clock: FixedClock
) -> None:
    from projections.runner import ProjectionWorker

    # No projection worker in this process: nothing applies the write until catch_up.
    quiet = settings.model_copy(update={"run_projections": False, "read_wait_max_ms": 100})
    with serve(quiet, clock) as api:
        account_id = api.open_account()
        behind = api.get(f"/v1/accounts/{account_id}")
        assert behind.status_code == 503
        assert behind.json()["code"] == "read_model_behind"
        assert behind.json()["position"] == api.position
        assert behind.headers["retry-after"] == "1"
        ProjectionWorker(api.tally.store, api.tally.views, api.tally.schema).catch_up()
        assert api.account(account_id)["id"] == account_id


def test_a_position_no_write_has_answered_is_refused_at_once_not_waited_for(
    settings: Settings, clock: FixedClock
) -> None:
    # Found by the fuzzing run: a schema-valid position past the log's head waited the
    # whole read_wait_max_ms and answered 503 with Retry-After, which no retry can help.
    quiet = settings.model_copy(update={"run_projections": False, "read_wait_max_ms": 5000})
    with serve(quiet, clock) as api:
        account_id = api.open_account()
        started = time.monotonic()
        ahead = api.get(f"/v1/accounts/{account_id}", wait_for_position=api.position + 1)
        assert time.monotonic() - started < 2.5
        assert ahead.status_code == 422, ahead.text
        assert ahead.json()["code"] == "position_not_issued"
        assert ahead.json()["position"] == api.position + 1


# Who calls a route decides the scheme it states (docs/access.md). Provider webhooks (the
# signature authenticates) and the stub provider's hosted pages (a signed token in the
# address authorizes them) state none; the operator API (/v1/projects) takes an operator
# key, a customer's own routes (/v1/me) a customer token (a session or a JWT, one scheme)
# and every other /v1 route a project's API key. The probes are outside /v1 and open.
UNAUTHENTICATED = ("/v1/webhooks/", "/v1/stub/")
CALLERS = (("/v1/projects", "OperatorKey"), ("/v1/me", "CustomerToken"), ("/v1", "ApiKey"))


def scheme_for(path: str) -> str | None:
    """The one security scheme the rule above gives ``path``, or None for an open route."""
    if path.startswith(UNAUTHENTICATED):
        return None
    # A whole path segment must match: /v1/meters is a project-key route, not /v1/me.
    return next((s for p, s in CALLERS if path == p or path.startswith(p + "/")), None)


# Usage events are not commands (docs/usage.md): each event's transaction_id is its
# idempotency key, and they are not in the event log, so they answer no position.
# POSTs that are not commands: usage ingestion (deduplicated by transaction id) and a
# backtest (a question that writes nothing: docs/audit.md).
NOT_COMMANDS = ("/v1/usage_events", "/v1/usage_events/batch", "/v1/backtests")
# Writes whose answer holds a key's secret take no Idempotency-Key (a stored answer would
# keep the secret: docs/access.md); they are commands in every other way.
SECRET_ANSWERS = (
    "/v1/projects/{project_id}/api_keys",
    "/v1/projects/{project_id}/api_keys/{key_id}/rotate",
)


def test_openapi_documents_every_route_with_errors_and_security(http: TestClient) -> None:
    spec = http.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert {scheme for _, scheme in CALLERS} <= schemes.keys()
    assert all(schemes[scheme]["scheme"] == "bearer" for _, scheme in CALLERS)
    operations = [
        (path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
    ]
    assert len(operations) >= 21
    seen: set[str | None] = set()
    for path, method, op in operations:
        responses = op["responses"]
        scheme = scheme_for(path)
        seen.add(scheme)
        if scheme is None:
            assert "security" not in op, (method, path)
            if path.startswith(UNAUTHENTICATED):
                continue  # authenticated by a provider's signature or a signed page token
        else:
            assert op["security"] == [{scheme: []}], (method, path)
            # Every authenticated route states its refusal of a caller and its rate limit.
            for status in ("401", "429"):
                assert "application/problem+json" in responses[status]["content"], (status, path)
        if method == "post" and path not in NOT_COMMANDS:
            if path not in SECRET_ANSWERS:
                names = [p["name"] for p in op.get("parameters", [])]
                assert "Idempotency-Key" in names, path
            success = next(r for s, r in responses.items() if s.startswith("2"))
            assert "Tally-Position" in success["headers"], path
            assert "409" in responses, path
    assert seen == {None, *(scheme for _, scheme in CALLERS)}
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    deposit = spec["components"]["schemas"]["DepositRequest"]
    assert deposit["properties"]["amount"]["type"] == "integer"
    assert deposit["examples"]


def test_request_examples_in_openapi_are_valid_requests() -> None:
    from api.schemas import accounts, common, holds, transactions, transfers
    from tests.e2e.test_subscriptions_openapi import models

    checked = 0
    for model in (
        model
        for module in (accounts, holds, transfers, transactions)
        for model in models(module, common.Request)
    ):
        name = model.__name__
        extra = model.model_config.get("json_schema_extra")
        assert isinstance(extra, dict), name
        examples = extra["examples"]
        assert isinstance(examples, list), name
        for example in examples:
            model.model_validate(example)
            checked += 1
    assert checked >= 10


def test_response_examples_in_openapi_match_their_models() -> None:
    from api.schemas import accounts, holds, journal, transactions

    for model in (accounts.Account, transactions.Transaction, holds.Hold, journal.Entry):
        extra = model.model_config.get("json_schema_extra")
        assert isinstance(extra, dict)
        examples = extra["examples"]
        assert isinstance(examples, list)
        for example in examples:
            assert isinstance(example, dict)
            dumped = model.model_validate(example).model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
            assert dumped.keys() >= example.keys()
