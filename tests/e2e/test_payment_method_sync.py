"""Saved payment methods kept in step with Stripe (issue 18, item 2), for a project on
Stripe (the real adapter and SDK against a fake Stripe API on 127.0.0.1).

Tally's attach, detach and set-default reach Stripe through the outbox, once each:
``POST /v1/payment_methods/{pm}/attach`` with the customer, ``.../detach``, and the
customer's ``invoice_settings[default_payment_method]``. Stripe's own changes arrive by
webhook (``payment_method.attached``/``detached``, ``customer.updated``) and are
mirrored into Tally's methods without a call back. Before, a method "removed" in Tally
stayed attached and chargeable at Stripe: no request reached it at all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.billing import customer
from tests.e2e.provider_shop import (
    FakeStripe,
    Shop,
    post_stripe,
    resource,
    settle,
    stripe_shop,
)
from tests.e2e.test_provider_calls_once import RacingStripe
from tests.integration.provider_fake import Reply, Seen

METHOD_PATH = re.compile(r"/v1/payment_methods/(?P<pm>[^/]+)/(?P<action>attach|detach)")
CUSTOMER_PATH = re.compile(r"/v1/customers/(?P<cus>[^/]+)")


class FakeStripeMethods(RacingStripe):
    """Also attaches and detaches methods, updates and reads customers (with the
    metadata they were made with), as Stripe does."""

    def __init__(self) -> None:
        super().__init__()
        self.customers: dict[str, dict[str, Any]] = {}

    def __call__(self, seen: Seen) -> Reply:
        if self.racing and seen.path in self.racing and seen.path not in self.raced:
            return super().__call__(seen)
        method = METHOD_PATH.fullmatch(seen.path)
        if method is not None and seen.method == "POST":
            form = FakeStripe.form(seen)
            owner = form.get("customer") if method["action"] == "attach" else None
            return Reply(200, resource("payment_method", id=method["pm"], customer=owner))
        found = CUSTOMER_PATH.fullmatch(seen.path)
        if found is not None:
            known = self.customers.get(found["cus"])
            if known is None:
                return Reply(
                    404, {"error": {"type": "invalid_request_error", "message": "No such"}}
                )
            if seen.method == "POST":
                default = FakeStripe.form(seen).get("invoice_settings[default_payment_method]")
                known["invoice_settings"]["default_payment_method"] = default
            return Reply(200, known)
        reply = super().__call__(seen)
        if seen.path == "/v1/customers" and reply.status == 200:
            made = dict(reply.body)
            metadata = {
                k[len("metadata[") : -1]: v
                for k, v in FakeStripe.form(seen).items()
                if k.startswith("metadata[")
            }
            self.customers[made["id"]] = {**made, "metadata": metadata}
        return reply


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Shop]:
    fake = FakeStripeMethods()
    with stripe_shop(settings, clock, fake) as made:
        # The worker's pass, as the background thread runs it (never waiting for a call
        # in flight, as a drain does: here that would hold the answer the route waits for).
        fake.during = made.api.tally.outbox.run_pass
        yield made


def posted(shop: Shop, path: str) -> list[dict[str, str]]:
    return [FakeStripe.form(seen) for seen in shop.stripe.sent("POST", path)]


def methods(shop: Shop, customer_id: str) -> dict[str, Any]:
    found: dict[str, Any] = shop.api.ok(
        shop.api.get("/v1/payment_methods", customer_id=customer_id)
    )
    return found


def attach(shop: Shop, customer_id: str, method: str, **extra: Any) -> dict[str, Any]:
    body = {"customer_id": customer_id, "payment_method": method, **extra}
    answer: dict[str, Any] = shop.api.ok(shop.api.post("/v1/payment_methods", body))
    return answer


def deliver(
    shop: Shop, event_id: str, kind: str, obj: dict[str, Any], at: int = 1_790_000_000, **extra: Any
) -> None:
    event = resource("event", id=event_id, type=kind, created=at, data={"object": obj, **extra})
    response = post_stripe(shop.api, event)
    assert response.status_code == 200, response.text
    settle(shop.api)


def test_attach_set_default_and_detach_reach_stripe_once_each(shop: Shop) -> None:
    api = shop.api
    ida = customer(api, "ida", email="ida@example.com")
    first = attach(shop, ida, "pm_visa")
    assert len(first["provider_calls"]) == 2  # attach, and the first method's default
    attach(shop, ida, "pm_amex", make_default=True)
    settle(api)
    assert posted(shop, "/v1/payment_methods/pm_visa/attach") == [{"customer": "cus_fake1"}]
    assert posted(shop, "/v1/payment_methods/pm_amex/attach") == [{"customer": "cus_fake1"}]
    defaults = [
        f["invoice_settings[default_payment_method]"]
        for f in posted(shop, "/v1/customers/cus_fake1")
    ]
    assert defaults == ["pm_visa", "pm_amex"]

    api.ok(api.post("/v1/payment_methods/pm_visa/default", {"customer_id": ida}))
    # Detaching the default makes pm_amex the default, at Stripe too.
    detached = api.ok(api.post("/v1/payment_methods/pm_visa/detach", {"customer_id": ida}))
    assert len(detached["provider_calls"]) == 2
    settle(api)
    assert len(posted(shop, "/v1/payment_methods/pm_visa/detach")) == 1
    defaults = [
        f["invoice_settings[default_payment_method]"]
        for f in posted(shop, "/v1/customers/cus_fake1")
    ]
    assert defaults == ["pm_visa", "pm_amex", "pm_visa", "pm_amex"]
    assert (
        shop.fake.customers["cus_fake1"]["invoice_settings"]["default_payment_method"] == "pm_amex"
    )  # type: ignore[attr-defined]
    calls = api.ok(api.get("/v1/provider_calls", limit=100))["data"]
    synced = [c for c in calls if c["operation"] == "payment_method"]
    assert len(synced) == 7
    assert {c["state"] for c in synced} == {"succeeded"}
    # Each call was made once: its key reached Stripe once.
    keys = [
        s.headers["idempotency-key"]
        for s in shop.stripe.requests
        if "/payment_methods/" in s.path or s.path.startswith("/v1/customers/")
    ]
    assert sorted(keys) == sorted({c["idempotency_key"] for c in synced})


def test_a_replayed_write_makes_no_second_call(shop: Shop) -> None:
    api = shop.api
    ida = customer(api, "ida", email="ida@example.com")
    body = {"customer_id": ida, "payment_method": "pm_visa"}
    api.ok(api.post("/v1/payment_methods", body, key="attach-visa"))
    replayed = api.post("/v1/payment_methods", body, key="attach-visa")
    assert replayed.headers.get("Idempotency-Replayed") == "true"
    settle(api)
    assert len(posted(shop, "/v1/payment_methods/pm_visa/attach")) == 1


def test_an_attach_made_by_the_route_is_sent_once_while_the_worker_passes(shop: Shop) -> None:
    fake: FakeStripeMethods = shop.fake  # type: ignore[assignment]
    fake.racing = {"/v1/payment_methods/pm_visa/attach"}
    ida = customer(shop.api, "ida", email="ida@example.com")
    attach(shop, ida, "pm_visa")
    assert fake.raced == ["/v1/payment_methods/pm_visa/attach"]
    settle(shop.api)
    assert len(posted(shop, "/v1/payment_methods/pm_visa/attach")) == 1


def test_stripes_own_changes_are_mirrored_without_a_call_back(shop: Shop) -> None:
    api = shop.api
    ida = customer(api, "ida", email="ida@example.com")
    attach(shop, ida, "pm_visa")
    settle(api)
    before = len(shop.stripe.requests)

    deliver(
        shop,
        "evt_att",
        "payment_method.attached",
        resource("payment_method", id="pm_dash", customer="cus_fake1"),
    )
    assert [m["id"] for m in methods(shop, ida)["data"]] == ["pm_visa", "pm_dash"]

    stripe_customer = dict(shop.fake.customers["cus_fake1"])  # type: ignore[attr-defined]
    stripe_customer["invoice_settings"] = {
        **stripe_customer["invoice_settings"],
        "default_payment_method": "pm_dash",
    }
    deliver(shop, "evt_upd", "customer.updated", stripe_customer)
    assert methods(shop, ida)["default"] == "pm_dash"

    gone = resource("payment_method", id="pm_visa", customer=None)
    deliver(
        shop,
        "evt_det",
        "payment_method.detached",
        gone,
        previous_attributes={"customer": "cus_fake1"},
    )
    assert [m["id"] for m in methods(shop, ida)["data"]] == ["pm_dash"]
    # Only the customer look-ups went to Stripe: nothing was attached, detached or
    # defaulted there in answer to its own events.
    since = shop.stripe.requests[before:]
    assert {(s.method, s.path) for s in since} == {("GET", "/v1/customers/cus_fake1")}
    events = {e["event_id"]: e for e in api.ok(api.get("/v1/webhook_events", limit=10))["data"]}
    assert [events[e]["status"] for e in ("evt_att", "evt_upd", "evt_det")] == ["applied"] * 3

    # A second report of the same change (Stripe reporting Tally's own detach) is ignored.
    deliver(
        shop,
        "evt_det2",
        "payment_method.detached",
        gone,
        previous_attributes={"customer": "cus_fake1"},
    )
    events = {e["event_id"]: e for e in api.ok(api.get("/v1/webhook_events", limit=10))["data"]}
    assert events["evt_det2"]["status"] == "ignored"


def _dash_detached(shop: Shop) -> tuple[str, int]:
    """Ida with pm_visa attached through Tally, then Stripe's detach of pm_dash (at t0 +
    20) delivered before anything older about pm_dash: ida's id and t0."""
    ida = customer(shop.api, "ida", email="ida@example.com")
    attach(shop, ida, "pm_visa")
    settle(shop.api)
    t0 = 1_790_000_000
    gone = resource("payment_method", id="pm_dash", customer=None)
    before = {"previous_attributes": {"customer": "cus_fake1"}}
    deliver(shop, "evt_det", "payment_method.detached", gone, at=t0 + 20, **before)
    return ida, t0


def test_stripes_events_count_in_stripes_order_not_in_delivery_order(shop: Shop) -> None:
    """A detach delivered before the older attach of the same method: the attach is
    recorded and changes nothing; a newer attach then counts. The same for defaults."""
    api = shop.api
    ida, t0 = _dash_detached(shop)
    dash = resource("payment_method", id="pm_dash", customer="cus_fake1")
    deliver(shop, "evt_att_old", "payment_method.attached", dash, at=t0 + 10)
    assert [m["id"] for m in methods(shop, ida)["data"]] == ["pm_visa"]
    events = {e["event_id"]: e for e in api.ok(api.get("/v1/webhook_events", limit=10))["data"]}
    assert events["evt_att_old"]["effects"][0]["action"] == "outdated"
    deliver(shop, "evt_att_new", "payment_method.attached", dash, at=t0 + 30)
    assert [m["id"] for m in methods(shop, ida)["data"]] == ["pm_visa", "pm_dash"]

    stripe_customer = dict(shop.fake.customers["cus_fake1"])  # type: ignore[attr-defined]
    settings = stripe_customer["invoice_settings"]
    newer = {
        **stripe_customer,
        "invoice_settings": {**settings, "default_payment_method": "pm_dash"},
    }
    older = {
        **stripe_customer,
        "invoice_settings": {**settings, "default_payment_method": "pm_visa"},
    }
    deliver(shop, "evt_upd_new", "customer.updated", newer, at=t0 + 50)
    deliver(shop, "evt_upd_old", "customer.updated", older, at=t0 + 40)
    assert methods(shop, ida)["default"] == "pm_dash"


def test_an_older_default_does_not_bring_back_a_method_detached_since(shop: Shop) -> None:
    """At Stripe: pm_dash made the default (t+10), then detached (t+20), which clears
    the default. Delivered newest first, the older ``customer.updated`` naming pm_dash
    is outdated for that method: it is not attached again nor made Tally's default."""
    api = shop.api
    ida, t0 = _dash_detached(shop)
    stripe_customer = dict(shop.fake.customers["cus_fake1"])  # type: ignore[attr-defined]
    older = {
        **stripe_customer,
        "invoice_settings": {
            **stripe_customer["invoice_settings"],
            "default_payment_method": "pm_dash",
        },
    }
    deliver(shop, "evt_upd_old", "customer.updated", older, at=t0 + 10)
    found = methods(shop, ida)
    assert ([m["id"] for m in found["data"]], found["default"]) == (["pm_visa"], "pm_visa")
    events = {e["event_id"]: e for e in api.ok(api.get("/v1/webhook_events", limit=10))["data"]}
    assert events["evt_upd_old"]["effects"][0]["action"] == "outdated"
