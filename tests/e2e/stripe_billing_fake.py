"""A fake Stripe Billing on 127.0.0.1 for provider-run subscriptions, and a sender of
its signed webhooks. Objects are Stripe's own fixtures (``../shared/stripe``) with the
fields a subscription and its invoice change; each POST with an idempotency key already
seen answers the first object again, as Stripe does."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.conftest import Client
from tests.e2e.provider_shop import (
    FakeStripe,
    Shop,
    post_stripe,
    resource,
    settle,
    stripe_shop,
)
from tests.integration.provider_fake import Reply, Seen

SUBSCRIPTION = re.compile(r"^/v1/subscriptions/(sub_[A-Za-z0-9]+)$")
INVOICE = re.compile(r"^/v1/invoices/(in_[A-Za-z0-9]+)$")
LINES = re.compile(r"^/v1/invoices/(in_[A-Za-z0-9]+)/lines$")
PERIOD_START = 1_790_000_000
MONTH_S = 30 * 86_400


def _items(form: dict[str, str]) -> list[dict[str, str]]:
    """``items[0][price]=...`` form fields as a list of dicts."""
    found: dict[int, dict[str, str]] = {}
    for key, value in form.items():
        match = re.fullmatch(r"items\[(\d+)\]\[(\w+)\]", key)
        if match:
            found.setdefault(int(match[1]), {})[match[2]] = value
    return [found[n] for n in sorted(found)]


def _page(lines: list[dict[str, Any]], limit: int, after: str | None) -> dict[str, Any]:
    """One page of an invoice's lines, as Stripe lists them: ``limit`` lines after the
    one named ``after``, and whether more follow."""
    start = next((n + 1 for n, line in enumerate(lines) if line["id"] == after), 0)
    data = lines[start : start + limit]
    return {"object": "list", "data": data, "has_more": start + limit < len(lines)}


class FakeBilling(FakeStripe):
    """FakeStripe that also runs subscriptions and serves their invoices."""

    def __init__(self) -> None:
        super().__init__()
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.refuse_subscriptions = False

    def __call__(self, seen: Seen) -> Reply:
        key = seen.headers.get("idempotency-key", "")
        if self.refuse_subscriptions and seen.path == "/v1/subscriptions":
            error = {"type": "invalid_request_error", "message": "No such price: 'price_pro'"}
            return Reply(400, {"error": error})
        with self.lock:
            if seen.method == "POST" and key in self.by_key:
                return Reply(200, self.by_key[key])
            made = self._answer(seen)
            if made is not None and seen.method == "POST" and key:
                self.by_key[key] = made
        return Reply(200, made) if made is not None else super().__call__(seen)

    def _answer(self, seen: Seen) -> dict[str, Any] | None:
        form = FakeStripe.form(seen) if seen.body else {}
        if seen.path == "/v1/subscriptions" and seen.method == "POST":
            return self._create(form)
        if match := SUBSCRIPTION.match(seen.path):
            sub = self.subscriptions[match[1]]
            if seen.method == "POST":
                self._update(sub, form)
            elif seen.method == "DELETE":
                sub["status"] = "canceled"
            return json.loads(json.dumps(sub))
        if (match := INVOICE.match(seen.path)) and seen.method == "GET":
            invoice = json.loads(json.dumps(self.invoices[match[1]]))
            invoice["lines"] = _page(invoice["lines"]["data"], 10, None)
            return invoice
        if (match := LINES.match(seen.path)) and seen.method == "GET":
            lines = self.invoices[match[1]]["lines"]["data"]
            after = seen.query.get("starting_after", [None])[0]
            return _page(lines, int(seen.query.get("limit", ["10"])[0]), after)
        return None

    def _create(self, form: dict[str, str]) -> dict[str, Any]:
        n = len(self.subscriptions) + 1
        metadata = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
        sub = resource(
            "subscription",
            id=f"sub_fake{n}",
            status="incomplete",
            customer=form["customer"],
            cancel_at_period_end=False,
            metadata=metadata,
            items={"object": "list", "data": []},
        )
        self.subscriptions[sub["id"]] = sub
        self._update(sub, form)
        return sub

    def _update(self, sub: dict[str, Any], form: dict[str, str]) -> None:
        if "cancel_at_period_end" in form:
            sub["cancel_at_period_end"] = form["cancel_at_period_end"] == "true"
        items = sub["items"]["data"]
        for change in _items(form):
            if change.get("deleted") == "true":
                items[:] = [i for i in items if i["id"] != change["id"]]
            elif "id" in change:
                kept = next(i for i in items if i["id"] == change["id"])
                kept["quantity"] = int(change.get("quantity", kept["quantity"]))
            else:
                item = resource("subscription", id="x")["items"]["data"][0]
                item["id"] = f"si_fake{len(self.by_key)}{len(items)}"
                item["price"] = {**item["price"], "id": change["price"]}
                item["quantity"] = int(change.get("quantity", 1))
                item["current_period_start"] = PERIOD_START
                items.append(item)

    def add_invoice(self, sub_ref: str, amount_paid: int, payment: str) -> str:
        """A paid invoice of ``sub_ref`` for its items (one line per item)."""
        sub = self.subscriptions[sub_ref]
        line = resource("invoice")["lines"]["data"][0]
        lines = [
            {
                **line,
                "amount": amount_paid,
                "description": "1 x Pro (at 10.00 / month)",
                "quantity": 1,
                "pricing": {"type": "price_details", "price_details": {"price": i["price"]["id"]}},
            }
            for i in sub["items"]["data"][:1]
        ]
        invoice_id = f"in_fake{len(self.invoices) + 1}"
        self.invoices[invoice_id] = resource(
            "invoice",
            id=invoice_id,
            status="paid",
            currency="eur",
            number=f"STR-{len(self.invoices) + 1:04d}",
            subtotal=amount_paid,
            total=amount_paid,
            amount_paid=amount_paid,
            amount_due=amount_paid,
            starting_balance=0,
            ending_balance=0,
            period_start=PERIOD_START,
            period_end=PERIOD_START + MONTH_S,
            lines={"object": "list", "data": lines, "has_more": False},
            parent={
                "type": "subscription_details",
                "subscription_details": {"subscription": sub_ref, "metadata": sub["metadata"]},
            },
            payments={
                "object": "list",
                "data": [
                    {
                        "status": "paid",
                        "payment": {"type": "payment_intent", "payment_intent": payment},
                    }
                ],
            },
        )
        return invoice_id


def send(api: Client, event_id: str, kind: str, obj: dict[str, Any], at: int) -> dict[str, Any]:
    """Deliver one signed Stripe event about ``obj`` and let the outbox apply it."""
    event = resource("event", id=event_id, type=kind, created=at, data={"object": obj})
    response = post_stripe(api, event)
    assert response.status_code == 200, response.text
    settle(api)
    listed = api.ok(api.get("/v1/webhook_events", limit=100))["data"]
    found: dict[str, Any] = next(e for e in listed if e["event_id"] == event_id)
    return found


@contextmanager
def billing_shop(settings: Settings, clock: FixedClock) -> Iterator[tuple[Shop, FakeBilling]]:
    fake = FakeBilling()
    with stripe_shop(settings, clock, fake) as shop:
        yield shop, fake
