"""A provider-run subscription's status is mirrored from Stripe's and Paddle's webhooks
over HTTP (payloads from Stripe's object fixtures signed with the SDK's generator, and
from Paddle's documented notification shape): past_due, unpaid, canceled, recovered, a
cancel scheduled for the period end and taken back; trial_will_end announces the
trial's end (issue 18); Stripe's invoice.created/finalized are recorded with the reason.
Duplicates change nothing, and so does an event older than one already applied,
whatever the delivery order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.providers.signing import ts_h1_signature
from api.settings import Settings
from tests.e2e.billing import customer, plan, subscribe
from tests.e2e.conftest import Client, head, serve
from tests.e2e.provider_shop import post_stripe, resource

HOOK_SECRET = "whsec_e2e_secret"
PADDLE_SECRET = "pdl_ntfset_e2e_secret"
T0 = 1_790_000_000


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        client.tally.providers.environ = {
            "ACME_STRIPE_KEY": "sk_test_e2e",
            "ACME_STRIPE_HOOK": HOOK_SECRET,
            "ACME_PADDLE_KEY": "pdl_key",
            "ACME_PADDLE_HOOK": PADDLE_SECRET,
        }
        chosen = {
            "provider": "stripe",
            "credential_env": {"api_key": "ACME_STRIPE_KEY", "webhook_secret": "ACME_STRIPE_HOOK"},
            "api_base": "http://127.0.0.1:9",  # nothing listens: no API call is needed
        }
        client.ok(client.post("/v1/payment_provider", chosen))
        yield client


class Stripe:
    """Delivers customer.subscription.* events about one Tally subscription."""

    def __init__(self, api: Client, subscription_id: str) -> None:
        self.api = api
        self.subscription_id = subscription_id

    def send(
        self,
        event_id: str,
        at: int,
        *,
        status: str = "active",
        kind: str = "customer.subscription.updated",
        cancel_at_period_end: bool = False,
    ) -> dict[str, Any]:
        obj = resource(
            "subscription",
            id="sub_e2e",
            status=status,
            cancel_at_period_end=cancel_at_period_end,
            metadata={"tally_subscription": self.subscription_id},
        )
        event = resource("event", id=event_id, type=kind, created=at, data={"object": obj})
        response = post_stripe(self.api, event, HOOK_SECRET)
        assert response.status_code == 200, response.text
        self.api.tally.outbox.drain()
        self.api.position = head(self.api.tally)
        return self.subscription()

    def subscription(self) -> dict[str, Any]:
        return self.api.ok(self.api.get(f"/v1/subscriptions/{self.subscription_id}"))

    def status(self) -> tuple[str, bool]:
        sub = self.subscription()
        return sub["status"], sub["cancel_at_period_end"]


def events(api: Client) -> dict[str, dict[str, Any]]:
    listed = api.ok(api.get("/v1/webhook_events", limit=100))["data"]
    return {e["event_id"]: e for e in listed}


def active_subscription(api: Client, name: str, **fields: Any) -> str:
    ada = customer(api, name)
    return str(subscribe(api, ada, plan(api, name.upper(), 1000), **fields)["id"])


def test_past_due_then_unpaid_then_canceled_each_once(shop: Client) -> None:
    hooks = Stripe(shop, active_subscription(shop, "ada"))
    assert hooks.status() == ("active", False)
    assert hooks.send("evt_1", T0 + 10, status="past_due")["status"] == "past_due"
    assert hooks.send("evt_1", T0 + 10, status="past_due")["status"] == "past_due"  # replay
    assert hooks.send("evt_2", T0 + 20, status="unpaid")["status"] == "unpaid"
    # Unpaid cannot be canceled in Tally's table: the deletion is recorded, nothing moves.
    assert hooks.send("evt_3", T0 + 30, kind="customer.subscription.deleted", status="canceled")[
        "status"
    ] == ("unpaid")
    seen = events(shop)
    assert seen["evt_1"]["effects"][0]["status"] == "past_due"
    assert seen["evt_2"]["effects"][0]["status"] == "unpaid"
    assert seen["evt_3"]["status"] == "ignored"


def test_a_recovered_subscription_is_active_again_and_a_deletion_cancels_it(shop: Client) -> None:
    hooks = Stripe(shop, active_subscription(shop, "bo"))
    assert hooks.send("evt_due", T0 + 10, status="past_due")["status"] == "past_due"
    assert hooks.send("evt_ok", T0 + 20, status="active")["status"] == "active"
    gone = hooks.send("evt_del", T0 + 30, kind="customer.subscription.deleted", status="canceled")
    assert (gone["status"], gone["canceled_at"] is not None) == ("canceled", True)
    # Anything after a cancellation, even newer, cannot revive it.
    assert hooks.send("evt_late", T0 + 40, status="active")["status"] == "canceled"


def test_unpaid_straight_from_active_goes_through_past_due(shop: Client) -> None:
    hooks = Stripe(shop, active_subscription(shop, "cy"))
    assert hooks.send("evt_unpaid", T0 + 10, status="unpaid")["status"] == "unpaid"
    # The past_due that came first at Stripe arrives last: older, so nothing changes.
    assert hooks.send("evt_due", T0 + 5, status="past_due")["status"] == "unpaid"
    assert events(shop)["evt_due"]["effects"][0]["action"] == "outdated"


def test_an_older_event_delivered_late_changes_nothing(shop: Client) -> None:
    hooks = Stripe(shop, active_subscription(shop, "di"))
    # At Stripe: past_due at +10, recovered at +20. Delivered newest first.
    assert hooks.send("evt_ok", T0 + 20, status="active")["status"] == "active"
    assert hooks.send("evt_due", T0 + 10, status="past_due")["status"] == "active"
    # In order, the same two events would have gone past_due and back.
    other = Stripe(shop, active_subscription(shop, "di2"))
    assert other.send("evt_due2", T0 + 10, status="past_due")["status"] == "past_due"
    assert other.send("evt_ok2", T0 + 20, status="active")["status"] == "active"


def test_cancel_at_period_end_is_scheduled_and_taken_back(shop: Client) -> None:
    hooks = Stripe(shop, active_subscription(shop, "ed"))
    assert hooks.send("evt_end", T0 + 10, cancel_at_period_end=True)["cancel_at_period_end"]
    assert hooks.status() == ("active", True)
    assert hooks.send("evt_end", T0 + 10, cancel_at_period_end=True)["cancel_at_period_end"]
    # The customer changed their mind in Stripe's portal.
    assert hooks.send("evt_keep", T0 + 20)["cancel_at_period_end"] is False
    # The first event, delivered again under another id (older): still not canceling.
    assert hooks.send("evt_end_old", T0 + 15, cancel_at_period_end=True)[
        "cancel_at_period_end"
    ] is (False)
    assert hooks.status() == ("active", False)


def test_trial_will_end_announces_the_trial_end_once_as_billing_trial_will_end(
    shop: Client,
) -> None:
    """The provider's notice is Tally's (issue 18, item 6): the subscription records
    that its trial's end was announced, which publishes
    ``billing.subscription.trial_will_end``; a second notice, or Tally's own scheduler
    later, announces nothing more for the same trial end."""
    from tests.e2e.test_integration_events import published

    hooks = Stripe(shop, active_subscription(shop, "flo", trial_days=14))
    before = hooks.subscription()
    assert before["status"] == "trialing"
    after = hooks.send(
        "evt_trial", T0 + 10, kind="customer.subscription.trial_will_end", status="trialing"
    )
    assert (after["status"], after["trial_end"]) == ("trialing", before["trial_end"])
    recorded = events(shop)["evt_trial"]
    assert (recorded["type"], recorded["status"]) == ("trial_will_end", "applied")
    assert recorded["effects"][0]["action"] == "trial_end_announced"
    hooks.send("evt_trial_again", T0 + 20, kind="customer.subscription.trial_will_end")
    assert events(shop)["evt_trial_again"]["status"] == "ignored"
    notices = [e for e in published(shop) if e["type"] == "billing.subscription.trial_will_end"]
    assert [n["data"]["object"]["id"] for n in notices] == [before["id"]]
    assert notices[0]["data"]["object"]["trial_end"] == before["trial_end"]


def test_stripe_invoice_created_and_finalized_are_recorded_with_why_they_change_nothing(
    shop: Client,
) -> None:
    hooks = Stripe(shop, active_subscription(shop, "hal"))
    for kind in ("invoice.created", "invoice.finalized"):
        obj = resource("invoice", metadata={"tally_subscription": hooks.subscription_id})
        obj["parent"] = None
        event = resource(
            "event", id=f"evt_{kind.replace('.', '_')}", type=kind, created=T0, data={"object": obj}
        )
        response = post_stripe(shop, event, HOOK_SECRET)
        assert response.status_code == 200, response.text
    shop.tally.outbox.drain()
    shop.position = head(shop.tally)
    for kind in ("invoice.created", "invoice.finalized"):
        recorded = events(shop)[f"evt_{kind.replace('.', '_')}"]
        assert (recorded["type"], recorded["status"]) == (kind, "ignored")
        assert "Tally drafts and finalizes its own invoices" in recorded["reason"]


def test_a_status_for_a_subscription_not_yet_active_waits_for_its_activation(
    shop: Client,
) -> None:
    hooks = Stripe(shop, active_subscription(shop, "gus", incomplete=True))
    assert hooks.status() == ("incomplete", False)
    # past_due (newer) arrives before the event that activated the subscription.
    assert hooks.send("evt_due", T0 + 20, status="past_due")["status"] == "incomplete"
    assert events(shop)["evt_due"]["status"] == "parked"
    assert hooks.send("evt_created", T0 + 10, kind="customer.subscription.created")["status"] == (
        "past_due"
    )
    seen = events(shop)
    assert (seen["evt_created"]["status"], seen["evt_due"]["status"]) == ("applied", "applied")


def test_paddle_statuses_and_scheduled_cancel_are_mirrored(shop: Client) -> None:
    chosen = {
        "provider": "paddle",
        "credential_env": {"api_key": "ACME_PADDLE_KEY", "webhook_secret": "ACME_PADDLE_HOOK"},
        "api_base": "http://127.0.0.1:9",
    }
    shop.ok(shop.post("/v1/payment_provider", chosen))
    sub_id = active_subscription(shop, "hal")

    def send(event_id: str, at: str, status: str, change: dict[str, Any] | None) -> Any:
        # Paddle's ids are a prefix and 26 lower-case letters or digits; Tally checks them.
        event_id = "evt_" + event_id.removeprefix("evt_").rjust(26, "0")
        notification = {
            "event_id": event_id,
            "event_type": "subscription.updated",
            "occurred_at": at,
            "notification_id": f"ntf_{event_id}",
            "data": {
                "id": "sub_01hv8x29kz0t586xy6zn1a62ny",
                "status": status,
                "customer_id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
                "currency_code": "EUR",
                "scheduled_change": change,
                "custom_data": {"tally_subscription": sub_id},
            },
        }
        body = json.dumps(notification).encode()
        now = int(shop.tally.clock.now().timestamp())
        header = ts_h1_signature(PADDLE_SECRET, now, body)
        response = shop.http.post(
            f"/v1/webhooks/paddle/{shop.project_id}",
            content=body,
            headers={"Paddle-Signature": header, "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        shop.tally.outbox.drain()
        shop.position = head(shop.tally)
        return shop.ok(shop.get(f"/v1/subscriptions/{sub_id}"))

    cancel = {"action": "cancel", "effective_at": "2026-12-21T00:00:00Z", "resume_at": None}
    scheduled = send("evt_p1", "2026-11-21T10:00:00Z", "active", cancel)
    assert (scheduled["status"], scheduled["cancel_at_period_end"]) == ("active", True)
    due = send("evt_p2", "2026-11-21T11:00:00Z", "past_due", cancel)
    assert (due["status"], due["cancel_at_period_end"]) == ("past_due", True)
    late = send("evt_p0", "2026-11-21T09:00:00Z", "active", None)  # older: nothing
    assert (late["status"], late["cancel_at_period_end"]) == ("past_due", True)
    ended = send("evt_p3", "2026-11-21T12:00:00Z", "canceled", None)
    assert ended["status"] == "canceled"
