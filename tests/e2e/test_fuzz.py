"""Schemathesis fuzzes every operation of the API over the ASGI app, each with its caller's
credentials: a project key, a customer session on /v1/me, an operator key on the
operator API (/v1/projects, pinned to a project of its own).

The run (``tests/e2e/fuzzing.py``) sends schema-valid and schema-breaking requests to
every operation, with the path parameters pinned to resources seeded first, and fails
on: any 5xx; an answer its operation does not document (status, content type, headers,
body schema); a schema-valid request refused by a rule the OpenAPI document does not
state (a 4xx other than 401/403/404/409 without a problem code the operation lists); a
schema-breaking request accepted; an operation never called; a customer's or operator's
read that never answered 2xx (its credentials were not taken); and, after the run, any
read model stalled or behind the log's head, since a request a read model cannot apply
would stall the projections of every tenant. Nothing is excluded: the webhook receivers
answer 400 ``invalid_signature`` (listed) to the unsigned bodies, and are tested signed in
test_webhooks*.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr

from adapters.clock import FixedClock
from api.app import create_app
from api.bootstrap import Tally, build
from api.settings import Settings
from commands import operator_messages as om
from commands.bus import Context
from domain.operators import OPERATOR_ID
from tests.e2e import fuzzing
from tests.e2e.billing import client_in_mode, clock, customer, price, product, subscribe
from tests.e2e.conftest import Client
from tests.e2e.invoicing import coupon, draft, line, tax_rate


@pytest.fixture
def fuzz_tally(settings: Settings) -> Iterator[Tally]:
    # A secrets key, so that customer sessions (the /v1/me routes' callers) can be made.
    sealed = settings.model_copy(update={"secrets_key": SecretStr(Fernet.generate_key().decode())})
    tally = build(sealed, clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)))
    yield tally
    tally.close()


BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}


def _seed(api: Client) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """One of each resource a path names, so that the fuzzer's requests reach the
    handlers behind the 404s of made-up ids: the path parameters to use (each name, in
    every operation) and the operations whose parameter of a shared name differs."""
    customer_id = customer(api, "fuzz_user")
    product_id = product(api, "PRO")
    price_id = price(api, product_id, "pro_monthly", unit_amount=1000)
    account_id = api.open_account("fuzz")
    api.deposit(account_id, 100_000)
    hold = {"amount": 100, "currency": "EUR", "expires_at": "2030-01-01T00:00:00Z"}
    hold_id = api.ok(api.post(f"/v1/accounts/{account_id}/holds", hold), 201)["id"]
    pending = api.deposit(account_id, 500, pending=True)["transaction"]["id"]
    invoice = draft(api, customer_id, line("seats", 100))
    cart = api.ok(api.post("/v1/carts", {"currency": "EUR"}), 201)["cart"]["id"]
    item = {"line": {"name": "mug", "unit_amount": 900, "currency": "EUR"}}
    cart_line = api.ok(api.post(f"/v1/carts/{cart}/items", item))["cart"]["lines"][0]["id"]
    card = {"customer_id": customer_id, "payment_method": "stub_pm_4242424242424242"}
    api.ok(api.post("/v1/payment_methods", card))
    checkout = {"customer_id": customer_id, "line": {"price_id": price_id}, **BACK}
    page = api.ok(api.post("/v1/checkout/item", checkout), 201)["url"]
    coupon(api, "PRO", percent_off="10")
    parameters = {
        "account_id": account_id,
        "hold_id": hold_id,
        "transaction_id": pending,
        "customer_id": customer_id,
        "external_id": "fuzz_user",
        "product_id": product_id,
        "price_id": price_id,
        "code": "PRO",  # the plan's code and the coupon's
        "subscription_id": subscribe(api, customer_id, price_id)["id"],
        "test_clock_id": clock(api),
        "invoice_id": invoice["id"],
        "line_id": invoice["lines"][0]["id"],
        "tax_rate_id": tax_rate(api, "20"),
        "cart_id": cart,
        "payment_method": card["payment_method"],
        "project_id": str(api.project_id),
        "token": page.rsplit("/", 1)[-1],
    }
    cart_lines = {"include-path-regex": "^/v1/carts/", "parameters": {"line_id": cart_line}}
    return parameters, [cart_lines, *_callers(api, customer_id)]


def _callers(api: Client, customer_id: str) -> list[dict[str, Any]]:
    """The other callers' credentials, so that their routes are fuzzed past the 401 a
    project key gets there: a customer session for /v1/me (the seeded customer's), and an
    operator key for the operator API, pinned to a project of its own so that its writes
    (rate limits, provider, mode, keys) never change the project the run works in."""
    body = {"customer_id": customer_id, "expires_in_s": 86_400}
    session = api.ok(api.post("/v1/customer_sessions", body), 201)["token"]
    wallet = api.open_account(customer_id)  # a customer's wallet is owned by its Tally id
    issued = api.tally.execute(om.IssueOperatorKey(label="fuzz"), Context(OPERATOR_ID, "cli"))
    other = client_in_mode(api.http, api.tally, "fuzz_operated", "test")
    return [
        {
            "include-path-regex": "^/v1/me/wallets/",
            "headers": bearer(session),
            "parameters": {"account_id": wallet},
        },
        {"include-path-regex": "^/v1/me(/|$)", "headers": bearer(session)},
        {
            "include-path-regex": "^/v1/projects",
            "headers": bearer(issued.body["secret"]),
            "parameters": {"project_id": str(other.project_id)},
        },
    ]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# The suite's 300 s per test is there to catch hangs. This test's time is the engine's own
# case generation, CPU-bound: 9,236 cases over 121 operations took 434 s with two other
# CPU-bound processes on the two cores, and de9f586's 8,494 cases took 384 s beside it
# (the same 45 to 47 ms per case), so it gets a budget for its work, not for a hang.
@pytest.mark.timeout(1200)
def test_fuzzing_every_operation_finds_no_error_and_the_read_models_keep_up(
    fuzz_tally: Tally,
) -> None:
    app = create_app(fuzz_tally)
    # Seeded through the app's own lifespan, which ends with the block; the engine starts
    # it again for its run.
    with TestClient(app, raise_server_exceptions=False) as http:
        api = client_in_mode(http, fuzz_tally, "fuzz", "test")
        parameters, operations = _seed(api)
    started = time.monotonic()
    try:
        report = fuzzing.run(app, fuzzing.config(api.key, parameters, operations))
        elapsed_s = time.monotonic() - started
        # Checked while the app's projection worker still runs: it must reach the head.
        behind = fuzzing.lagging(fuzz_tally)
    finally:
        fuzzing.stop_apps()
    print(
        f"fuzzed {len(report.operations)} operations, {report.cases} cases, "
        f"{len(report.findings)} findings in {elapsed_s:.0f} s\n{report.table()}"
    )
    documented = {
        f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items() for method in ops
    }
    assert documented - report.operations == set(), "operations the run never called"
    # The customer's and the operator's reads answered: their callers' credentials held.
    reads = {
        op
        for op in documented
        if op == "GET /v1/me" or op.startswith(("GET /v1/me/", "GET /v1/projects"))
    }
    assert reads - report.succeeded == set(), "reads that never answered 2xx"
    assert report.findings == [], report.table()
    assert report.errors == [], report.table()
    assert behind == []
