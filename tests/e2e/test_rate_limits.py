"""Rate limits per API key (issue 14), counted in this process (no TALLY_REDIS_URL): the
project's policy admits that many requests per window and no more; the next answers 429
``rate_limited`` with Retry-After and the draft RateLimit headers, having executed
nothing; idempotent replays count; another key of the project has its own bucket."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from adapters.providers.stub import StubProvider
from api.bootstrap import Tally
from commands import messages as m
from commands import operator_messages as om
from commands.bus import Context
from domain.limits import KEY_CACHE_S
from domain.rate_limits import default_policy
from projections.runner import wait_for_position
from tests.e2e.conftest import Client, nothing_written


def set_limit(tally: Tally, client: Client, kind: str, requests: int, window_s: int) -> None:
    """The project's policy, set with the command the operator API runs, projected
    (authentication reads it with the key), and past the key cache's bound: the write
    routes take the key's row, the policy with it, from a cache at most KEY_CACHE_S old
    (api/key_lookups.py, KeyCache). Without that bound these tests fail: the writes keep the old
    policy."""
    limits: dict[str, Any] = {kind: {"requests": requests, "window_s": window_s}}
    out = tally.execute(
        om.SetRateLimits.model_validate({"project_id": client.project_id, "rate_limits": limits}),
        Context(client.project_id, "cli"),
    )
    assert out.position is not None
    assert wait_for_position(tally.views, tally.schema, out.position, 10)
    time.sleep(KEY_CACHE_S)


def test_the_bucket_admits_its_policy_then_429_with_headers_and_nothing_executed(
    api: Client, app_tally: Tally
) -> None:
    account = api.open_account("alice")
    set_limit(app_tally, api, "api_key", 3, 60)
    for n in range(3):
        done = api.post(f"/v1/accounts/{account}/deposits", {"amount": 100, "currency": "EUR"})
        assert done.status_code == 201, (n, done.text)
        assert done.headers["RateLimit-Policy"] == '"api_key";q=3;w=60'
        # Counted in this process: the admitted answer says what is left (finding 11).
        remaining, reset = done.headers["RateLimit"].removeprefix('"api_key";').split(";")
        assert remaining == f"r={2 - n}"
        assert 59 <= int(reset.removeprefix("t=")) <= 60
    with nothing_written(app_tally):
        refused = api.post(f"/v1/accounts/{account}/deposits", {"amount": 100, "currency": "EUR"})
        listed = api.http.get("/v1/accounts", headers=api.headers())
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "rate_limited"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert refused.headers["RateLimit-Policy"] == '"api_key";q=3;w=60'
    assert refused.headers["RateLimit"] == f'"api_key";r=0;t={retry_after}'
    assert listed.status_code == 429  # reads count too


def test_idempotent_replays_count_against_the_bucket(api: Client, app_tally: Tally) -> None:
    account = api.open_account("alice")
    set_limit(app_tally, api, "api_key", 3, 60)
    body = {"amount": 100, "currency": "EUR"}
    first = api.post(f"/v1/accounts/{account}/deposits", body, key="dep-1")
    replays = [api.post(f"/v1/accounts/{account}/deposits", body, key="dep-1") for _ in range(2)]
    assert [first.status_code, *(r.status_code for r in replays)] == [201, 201, 201]
    assert all(r.headers["Idempotency-Replayed"] == "true" for r in replays)
    assert api.post(f"/v1/accounts/{account}/deposits", body, key="dep-1").status_code == 429


def test_each_key_has_its_own_bucket(http: TestClient, api: Client, app_tally: Tally) -> None:
    set_limit(app_tally, api, "api_key", 2, 60)
    issued = app_tally.execute(
        m.IssueApiKey(project_id=api.project_id, label="second"), Context(api.project_id, "cli")
    )
    assert issued.position is not None
    assert wait_for_position(app_tally.views, app_tally.schema, issued.position, 10)
    second = Client(http, app_tally, issued.body["secret"], api.project_id, issued.body["key_id"])
    assert [api.get("/v1/accounts").status_code for _ in range(3)] == [200, 200, 429]
    assert [second.get("/v1/accounts").status_code for _ in range(3)] == [200, 200, 429]


def signed(tally: Tally, event_id: str) -> tuple[dict[str, str], bytes]:
    provider = tally.providers.default
    assert isinstance(provider, StubProvider)
    return provider.sign_delivery([{"id": event_id, "type": "payment.failed", "data": {}}])


def test_forged_webhooks_fill_their_own_bucket_and_signed_ones_are_still_accepted(
    http: TestClient, api: Client, app_tally: Tally
) -> None:
    """Review finding 3: unsigned deliveries count per project, provider and source
    address (30 a minute), never in the route's bucket, so they cannot lock out the
    provider's real deliveries."""
    set_limit(app_tally, api, "webhook", 2, 60)
    stub = f"/v1/webhooks/stub/{api.project_id}"
    forged_limit = default_policy("webhook_signature").requests
    with nothing_written(app_tally):
        forged = [http.post(stub, content=b"{}").status_code for _ in range(forged_limit + 2)]
        # The project uses the stub: its Stripe route answers 404, before any bucket.
        stripe = http.post(f"/v1/webhooks/stripe/{api.project_id}", content=b"{}")
        unknown = http.post("/v1/webhooks/stub/00000000-0000-4000-8000-000000000001")
    assert forged == [400] * forged_limit + [429, 429]
    assert (stripe.status_code, unknown.status_code) == (404, 404)
    # From another address (the provider's) a signed delivery is accepted; the route's
    # own bucket (2) counts only signed ones.
    provider = TestClient(http.app, client=("203.0.113.7", 443))
    deliveries = [signed(app_tally, f"evt_{n}") for n in range(3)]
    accepted = [provider.post(stub, content=body, headers=hs) for hs, body in deliveries]
    assert [r.status_code for r in accepted] == [200, 200, 429], accepted[0].text
    assert accepted[0].json()["recorded"] == 1
    assert accepted[2].headers["RateLimit-Policy"] == '"webhook";q=2;w=60'
    # The forging address is still refused, signed or not, until a place frees.
    headers, body = signed(app_tally, "evt_late")
    assert http.post(stub, content=body, headers=headers).status_code == 429
    assert api.get("/v1/accounts").status_code == 200  # the project's key is apart


def test_refused_credentials_are_counted_per_address_before_the_lookup(
    http: TestClient, api: Client, app_tally: Tally
) -> None:
    """Review finding 7: each well-formed credential refused (API key, customer token,
    operator key) counts in its client address's ``auth_failure`` bucket (30 a minute);
    the one that finds it empty answers 429, and so does every later request of that
    address that shows a credential, before anything is looked up: its good key too.
    Other addresses are not affected."""
    limit = default_policy("auth_failure").requests
    guesses = [
        http.get(path, headers={"Authorization": f"Bearer {token}"}).status_code
        for n in range(limit + 1)
        for path, token in [
            ("/v1/accounts", f"tly_{n:016x}_wrong"),
            ("/v1/projects", f"tlyop_{n:016x}_wrong"),
            ("/v1/me", f"tcs_00000000-0000-4000-8000-{n:012x}_wrong"),
        ]
    ][: limit + 1]
    assert guesses == [401] * limit + [429]
    # Refused by their form alone (no lookup): not counted, and not refused as guesses.
    assert http.get("/v1/me", headers=api.headers()).status_code == 401
    with nothing_written(app_tally):
        good = api.get("/v1/accounts")
    assert good.status_code == 429
    assert good.json()["code"] == "rate_limited"
    assert 1 <= int(good.headers["Retry-After"]) <= 60
    assert good.headers["RateLimit-Policy"] == f'"auth_failure";q={limit};w=60'
    elsewhere = TestClient(http.app, client=("198.51.100.9", 50000))
    assert elsewhere.get("/v1/accounts", headers=api.headers()).status_code == 200
