"""A project on a payment provider whose API is a fake on 127.0.0.1, for the provider
tests over HTTP: the real adapter and SDK send real requests. ``FakeStripe`` answers
like Stripe (the same idempotency key, the same object, built from Stripe's own
fixtures); ``Shop`` is a project on it served without the outbox thread, the test
settling the outbox itself (``settle``); ``Outage`` puts ``create_customer`` behind an
outage. ``provider_project`` does the same for any provider and its credentials."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from adapters.clock import FixedClock
from adapters.outbox import provider_for
from adapters.providers.base import CustomerRequest, PaymentProvider, ProviderCustomer
from api.settings import Settings
from commands.provider_errors import ProviderUnavailable
from tests.e2e.conftest import Client, head, serve
from tests.integration.provider_fake import FakeApi, Reply, Seen, fake_api

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "stripe" / "fixtures3.json"
RESOURCES: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}
LINE = {"name": "Ebook", "unit_amount": 1500, "currency": "EUR"}
HOOK_SECRET = "whsec_e2e"  # the webhook secret of stripe_shop's project


def resource(name: str, **changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = copy.deepcopy(RESOURCES[name])
    obj.update(changes)
    return obj


def post_stripe(api: Client, event: dict[str, Any], secret: str = HOOK_SECRET) -> httpx.Response:
    """``event`` posted to the project's Stripe webhook, signed with ``secret`` by the
    SDK's own generator, as Stripe signs it (stripe_shop's secret unless told)."""
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret)
    return api.http.post(
        f"/v1/webhooks/stripe/{api.project_id}",
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


class FakeStripe:
    """Answers like Stripe for customers, checkout sessions and payment intents: the
    same idempotency key gets the same object back, as at Stripe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_key: dict[str, dict[str, Any]] = {}
        self.refuse_customers = False

    def __call__(self, seen: Seen) -> Reply:
        key = seen.headers.get("idempotency-key", "")
        with self.lock:
            if seen.path == "/v1/customers" and self.refuse_customers:
                error = {"type": "invalid_request_error", "message": "Invalid email address"}
                return Reply(400, {"error": error})
            if key in self.by_key:
                return Reply(200, self.by_key[key])
            n = len(self.by_key) + 1
            if seen.path == "/v1/customers":
                made = resource("customer", id=f"cus_fake{n}")
            elif seen.path == "/v1/checkout/sessions":
                made = resource(
                    "checkout.session", id=f"cs_fake{n}", url=f"https://pay.example/cs_fake{n}"
                )
            elif seen.path == "/v1/payment_intents":
                made = resource("payment_intent", id=f"pi_fake{n}", status="succeeded", amount=700)
            else:
                return Reply(404, {"error": {"type": "invalid_request_error", "message": "no"}})
            self.by_key[key] = made
            return Reply(200, made)

    @staticmethod
    def form(seen: Seen) -> dict[str, str]:
        return {k: v[0] for k, v in seen.form().items()}


@dataclass
class Shop:
    api: Client
    stripe: FakeApi
    fake: FakeStripe

    def customers_made(self) -> list[Seen]:
        # Exactly the create: a customer's update (its default method) is /v1/customers/{id}.
        return [
            seen
            for seen in self.stripe.sent("POST", "/v1/customers")
            if seen.path == "/v1/customers"
        ]

    def calls(self, **filters: Any) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.api.ok(
            self.api.get("/v1/provider_calls", limit=100, **filters)
        )["data"]
        return listed


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Shop]:
    with stripe_shop(settings, clock, FakeStripe()) as made:
        yield made


@contextmanager
def stripe_shop(settings: Settings, clock: FixedClock, fake: FakeStripe) -> Iterator[Shop]:
    """A project on Stripe whose API is ``fake``, served without the outbox thread."""
    secrets = {"api_key": "sk_test_e2e", "webhook_secret": HOOK_SECRET}
    with provider_project(settings, clock, fake, "stripe", secrets) as (client, stripe):
        yield Shop(client, stripe, fake)


@contextmanager
def provider_project(
    settings: Settings,
    clock: FixedClock,
    handler: Callable[[Seen], Reply],
    provider: str,
    secrets: dict[str, str],
) -> Iterator[tuple[Client, FakeApi]]:
    """A served project (no outbox thread) on ``provider``, whose API is ``handler`` on
    127.0.0.1 and whose credentials ``secrets`` come from environment variables."""
    names = {purpose: f"ACME_{purpose.upper()}" for purpose in secrets}
    with (
        fake_api(handler) as server,
        serve(settings.model_copy(update={"run_outbox": False}), clock) as client,
    ):
        client.tally.providers.environ = {names[p]: value for p, value in secrets.items()}
        chosen = {"provider": provider, "credential_env": names, "api_base": server.url}
        client.ok(client.post("/v1/payment_provider", chosen))
        yield client, server


def settle(api: Client) -> None:
    api.tally.outbox.drain()
    api.position = head(api.tally)


class Outage:
    """The project's real provider behind an outage of ``create_customer`` only."""

    def __init__(self, inner: PaymentProvider, down: int) -> None:
        self.inner = inner
        self.down = down
        self.name = inner.name
        self.manages_subscriptions = inner.manages_subscriptions
        self.tries = 0

    def create_customer(self, request: CustomerRequest) -> ProviderCustomer:
        self.tries += 1
        if self.down > 0:
            self.down -= 1
            raise ProviderUnavailable("connection refused", provider=self.name)
        return self.inner.create_customer(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def outage(shop: Shop, down: int) -> Outage:
    provider = Outage(provider_for(shop.api.tally, shop.api.project_id), down)
    shop.api.tally.providers.overrides[shop.api.project_id] = provider
    return provider
