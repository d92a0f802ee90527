"""A fake Stripe API on 127.0.0.1 answering by path (``Script``, replaceable per test),
Stripe's own object fixtures, and the Stripe adapter pointed at it, for the tests of
the adapter through the real SDK and its real HTTP client
(``test_provider_stripe_api``, ``test_provider_stripe_checkouts``)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.providers.base import (
    ChargeRequest,
    idempotency_key,
)
from adapters.providers.stripe import StripeProvider
from tests.integration.provider_fake import FakeApi, Reply, Seen, fake_api

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "stripe" / "fixtures3.json"
RESOURCES: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
API_KEY = "sk_test_integration_key"
TRANSACTION = "0b6f3c1e-5a7d-4c1b-9a51-2f1f3f0e9a10"


def resource(name: str, **changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = copy.deepcopy(RESOURCES[name])
    obj.update(changes)
    return obj


def card_error(code: str, decline_code: str | None = None) -> Reply:
    error: dict[str, Any] = {
        "type": "card_error",
        "code": code,
        "message": "Your card was declined.",
    }
    if decline_code:
        error["decline_code"] = decline_code
    error["payment_intent"] = resource("payment_intent", status="requires_payment_method")
    return Reply(402, {"error": error})


class Script:
    """Answers by path, replaceable per test."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}

    def __call__(self, seen: Seen) -> Reply:
        for prefix, reply in self.replies.items():
            if seen.path.startswith(prefix):
                return reply
        return Reply(404, {"error": {"type": "invalid_request_error", "message": "no route"}})


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def api(script: Script) -> Iterator[FakeApi]:
    with fake_api(script) as running:
        yield running


@pytest.fixture
def stripe_provider(api: FakeApi) -> StripeProvider:
    return StripeProvider(
        api_key=API_KEY,
        webhook_secret="whsec_x",
        api_base=api.url,
        timeout_s=1.0,
        max_network_retries=0,
    )


def charge_request(attempt: int = 1) -> ChargeRequest:
    return ChargeRequest(
        customer_ref="cus_QXg1o8vcGmoR32",
        payment_method_ref="pm_card_visa",
        amount_minor=1099,
        currency="EUR",
        idempotency_key=idempotency_key(TRANSACTION, attempt),
        description="Wallet top-up",
        references={"tally_transaction": TRANSACTION},
    )
