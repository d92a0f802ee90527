"""Webhook endpoints' routes (issue 12), end to end: which events an endpoint gets,
secret rotation, live projects' URL rule, tenancy, deletion and the per-project limit,
against a real local receiver that verifies every signature."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.bootstrap import Tally
from tests.e2e.conftest import Client, make_client
from tests.e2e.webhook_receiver import Receiver
from tests.e2e.webhook_sandbox import deposits, endpoint, hooks_http, hooks_tally, sandbox

__all__ = ["hooks_http", "hooks_tally", "sandbox"]  # the fixtures, used by name


def test_only_enabled_types_are_sent_and_rotation_signs_with_both_secrets(
    sandbox: Client, receiver: Receiver
) -> None:
    made = endpoint(sandbox, receiver, enabled_events=["billing.wallet.deposited"])
    old = made["secret"]
    deposits(sandbox, 2)
    sandbox.tally.webhooks.drain()
    assert [e["type"] for e in receiver.received] == ["billing.wallet.deposited"] * 2
    path = f"/v1/webhook_endpoints/{made['id']}/rotate_secret"
    rotated = sandbox.ok(sandbox.post(path, {"previous_expires_in_s": 3600}))
    assert rotated["secret"] != old
    assert rotated["previous_secret_expires_at"]
    receiver.secret = old  # the receiver has not switched yet: the old one still verifies
    deposits(sandbox, 1)
    sandbox.tally.webhooks.drain()
    assert len(receiver.received) == 3
    assert len(receiver.headers[-1]["webhook-signature"].split(" ")) == 2


def test_live_projects_refuse_private_urls_and_other_projects_see_404(
    hooks_http: TestClient, hooks_tally: Tally, sandbox: Client, receiver: Receiver
) -> None:
    live = make_client(hooks_http, hooks_tally, "live")
    refused = live.post("/v1/webhook_endpoints", {"url": receiver.url})
    assert refused.status_code == 422
    assert refused.json()["code"] == "webhook_url_not_allowed"
    made = endpoint(sandbox, receiver)
    assert live.get(f"/v1/webhook_endpoints/{made['id']}").status_code == 404
    assert live.ok(live.get("/v1/webhook_endpoints"))["data"] == []
    other = live.post(f"/v1/webhook_endpoints/{made['id']}", {"description": "mine"})
    assert other.status_code == 404
    assert hooks_http.get("/v1/webhook_endpoints").status_code == 401
    assert hooks_http.get("/v1/webhook_deliveries").status_code == 401
    bad = sandbox.post("/v1/webhook_endpoints", {"url": "ftp://x", "enabled_events": ["*"]})
    assert bad.status_code == 422
    unknown = sandbox.post(
        "/v1/webhook_endpoints", {"url": receiver.url, "enabled_events": ["billing.nope.x"]}
    )
    assert unknown.status_code == 422


def test_delete_stops_delivery_and_leaves_the_list(sandbox: Client, receiver: Receiver) -> None:
    made = endpoint(sandbox, receiver)
    sandbox.ok(sandbox.post(f"/v1/webhook_endpoints/{made['id']}/delete"))
    deposits(sandbox, 1)
    sandbox.tally.webhooks.drain()
    assert receiver.received == []
    assert sandbox.ok(sandbox.get("/v1/webhook_endpoints"))["data"] == []
    assert sandbox.get(f"/v1/webhook_endpoints/{made['id']}").status_code == 404


def test_a_project_has_at_most_the_limit_of_endpoints_and_a_delete_frees_a_place(
    sandbox: Client, receiver: Receiver
) -> None:
    from domain.limits import MAX_WEBHOOK_ENDPOINTS_PER_PROJECT

    made = [endpoint(sandbox, receiver) for _ in range(MAX_WEBHOOK_ENDPOINTS_PER_PROJECT)]
    refused = sandbox.post("/v1/webhook_endpoints", {"url": receiver.url})
    assert refused.status_code == 409
    assert refused.json()["code"] == "limit_reached"
    listed = sandbox.ok(sandbox.get("/v1/webhook_endpoints", limit=100))["data"]
    assert len(listed) == MAX_WEBHOOK_ENDPOINTS_PER_PROJECT  # nothing written
    sandbox.ok(sandbox.post(f"/v1/webhook_endpoints/{made[0]['id']}/delete"))
    endpoint(sandbox, receiver)  # the deleted one's place is free again
    spec = sandbox.http.get("/openapi.json").json()
    url = spec["components"]["schemas"]["CreateWebhookEndpointRequest"]["properties"]["url"]
    assert (url["maxLength"], url["pattern"]) == (2048, r"^https?://[^\x00-\x20\x7f-\x9f]+$")
    create = spec["paths"]["/v1/webhook_endpoints"]["post"]
    assert f"at most {MAX_WEBHOOK_ENDPOINTS_PER_PROJECT} endpoints" in create["description"]
    bad_urls = ("HTTP://example.com/x", "http://exa mple.com/x", "ftp://example.com",
                "http://[::1/x", "http://example.com:99999/x", "http://example.com:x/")  # fmt: skip
    for bad in bad_urls:
        assert sandbox.post("/v1/webhook_endpoints", {"url": bad}).status_code == 422
