"""Customer access end to end (issue 14): the identity provider set by the project key, a
customer session minted and revoked, JWTs from a local JWKS server, and the rule that a
customer token reaches only /v1/me while a project key reaches none of it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey

from adapters.clock import FixedClock
from api.app import create_app
from api.bootstrap import Tally, build
from api.settings import Settings
from tests.e2e.billing import client_in_mode, customer
from tests.e2e.conftest import Client, head, nothing_written
from tests.e2e.sealed import sealed_tally, web
from tests.jwt_issuer import AUDIENCE, ISSUER, JwksServer, claims_at, mint

__all__ = ["sealed_tally", "web"]  # the fixtures, used by name

SOME_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def shop(web: TestClient, sealed_tally: Tally) -> Client:
    return client_in_mode(web, sealed_tally, "shop", "test")


@pytest.fixture
def rival(web: TestClient, sealed_tally: Tally) -> Client:
    return client_in_mode(web, sealed_tally, "rival", "test")


@pytest.fixture
def idp() -> Iterator[JwksServer]:
    server = JwksServer()
    server.new_key("k1")
    yield server
    server.close()


def as_customer(http: TestClient, token: str, project: Client | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if project is not None:
        headers["Tally-Project"] = str(project.project_id)
    return headers


def start_session(api: Client, customer_id: str, **extra: Any) -> dict[str, Any]:
    return api.ok(api.post("/v1/customer_sessions", {"customer_id": customer_id, **extra}), 201)


def set_jwks(api: Client, idp: JwksServer, **changes: Any) -> dict[str, Any]:
    body = {
        "kind": "jwks",
        "jwks_url": idp.url,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "algorithms": ["RS256"],
        **changes,
    }
    response = api.http.put("/v1/identity_provider", json=body, headers=api.headers())
    answer = api.ok(response)
    api.position = max(api.position, int(response.headers["Tally-Position"]))
    return answer


def test_a_session_token_reaches_me_until_it_is_revoked(
    web: TestClient, sealed_tally: Tally, shop: Client
) -> None:
    customer_id = customer(shop, "alice")
    session = start_session(shop, customer_id, expires_in_s=600)
    assert session["token"].startswith(f"tcs_{session['id'].replace('-', '')}_")
    assert session["status"] == "active"
    assert session["customer_id"] == customer_id
    headers = as_customer(web, session["token"])
    me = web.get("/v1/me", headers=headers, params={"wait_for_position": shop.position})
    assert me.status_code == 200, me.text
    assert me.json()["id"] == customer_id
    revoked = shop.post(f"/v1/customer_sessions/{session['id']}/revoke")
    assert shop.ok(revoked)["status"] == "revoked"
    # The very next request, without waiting for any read model.
    with nothing_written(sealed_tally):
        after = web.get("/v1/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["code"] == "unauthenticated"


def test_a_session_expires(
    web: TestClient, sealed_tally: Tally, shop: Client, clock: FixedClock
) -> None:
    session = start_session(shop, customer(shop, "bob"), expires_in_s=60)
    headers = as_customer(web, session["token"])
    assert web.get("/v1/me", headers=headers).status_code == 200
    clock.advance(timedelta(seconds=60))
    assert web.get("/v1/me", headers=headers).status_code == 401


def test_a_keyed_session_retry_shows_the_same_token(shop: Client) -> None:
    customer_id = customer(shop, "carol")
    first = shop.post("/v1/customer_sessions", {"customer_id": customer_id}, key="s-1")
    again = shop.post("/v1/customer_sessions", {"customer_id": customer_id}, key="s-1")
    assert again.headers.get("Idempotency-Replayed") == "true"
    assert first.json() == again.json()


def test_forged_session_tokens_are_refused(web: TestClient, shop: Client) -> None:
    session = start_session(shop, customer(shop, "dave"))
    token: str = session["token"]
    prefix, session_hex, secret = token.split("_", 2)
    for forged in (
        f"{prefix}_{session_hex}_{secret[:-1]}x",
        f"{prefix}_{'0' * 32}_{secret}",
        f"{prefix}_{session_hex}",
        token + "x",
        "tcs_" + "a" * 9000,
    ):
        assert web.get("/v1/me", headers=as_customer(web, forged)).status_code == 401


def test_the_identity_provider_is_shown_without_its_secret(shop: Client, idp: JwksServer) -> None:
    assert shop.get("/v1/identity_provider").status_code == 404
    body = {
        "kind": "shared_secret",
        "shared_secret": "q" * 40,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "algorithms": ["HS256"],
    }
    put = shop.http.put("/v1/identity_provider", json=body, headers=shop.headers())
    shop.ok(put)
    shop.position = max(shop.position, int(put.headers["Tally-Position"]))
    shown = shop.ok(shop.get("/v1/identity_provider"))
    assert shown["identity_provider"]["shared_secret_set"] is True
    assert "q" * 40 not in put.text + str(shown)
    for wrong in ({**body, "algorithms": ["RS256"]}, {**body, "algorithms": ["none"]}):
        refused = shop.http.put("/v1/identity_provider", json=wrong, headers=shop.headers())
        assert refused.status_code == 422, refused.text
    set_jwks(shop, idp)
    assert shop.ok(shop.get("/v1/identity_provider"))["identity_provider"]["kind"] == "jwks"


def test_a_refused_first_identity_provider_is_refused_before_anything_is_recorded(
    shop: Client, sealed_tally: Tally, caplog: pytest.LogCaptureFixture
) -> None:
    # Guard before event: the aggregate was started (its Created event recorded) before
    # the settings were checked, so the bus saw the command raise after recording and
    # ran its whole batch again one command at a time (found by the fuzzing run's log).
    body = {
        "kind": "shared_secret",
        "shared_secret": "q" * 40,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "algorithms": ["RS256"],
    }
    with caplog.at_level(logging.ERROR, logger="tally.bus"), nothing_written(sealed_tally):
        refused = shop.http.put("/v1/identity_provider", json=body, headers=shop.headers())
    assert refused.status_code == 422, refused.text
    assert "after recording events" not in caplog.text
    assert shop.get("/v1/identity_provider").status_code == 404


def test_a_jwt_names_its_customer_and_unknown_ones_follow_the_setting(
    web: TestClient, sealed_tally: Tally, shop: Client, idp: JwksServer, clock: FixedClock
) -> None:
    set_jwks(shop, idp)
    known = customer(shop, "known_user")
    token = mint(claims_at(clock.now(), sub="known_user"), idp.keys[0])
    me = web.get("/v1/me", headers=as_customer(web, token, shop))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == known
    stranger = mint(claims_at(clock.now(), sub="stranger"), idp.keys[0])
    with nothing_written(sealed_tally):
        assert web.get("/v1/me", headers=as_customer(web, stranger, shop)).status_code == 401
    set_jwks(shop, idp, unknown_customer="register", register_currency="USD")
    registered = web.get("/v1/me", headers=as_customer(web, stranger, shop))
    assert registered.status_code == 200, registered.text
    assert registered.json()["external_id"] == "stranger"
    assert registered.json()["currency"] == "USD"


def test_forged_jwts_are_refused_and_write_nothing(
    web: TestClient, sealed_tally: Tally, shop: Client, idp: JwksServer, clock: FixedClock
) -> None:
    set_jwks(shop, idp, unknown_customer="register", register_currency="EUR")
    customer(shop, "user_1")
    now = clock.now()
    at = int(now.timestamp())
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    forged = {
        "wrong key": mint(claims_at(now), stranger),
        "expired": mint(claims_at(now, exp=at - 3600), idp.keys[0]),
        "not yet valid": mint(claims_at(now, nbf=at + 3600), idp.keys[0]),
        "wrong issuer": mint(claims_at(now, iss="https://evil/"), idp.keys[0]),
        "wrong audience": mint(claims_at(now, aud="other"), idp.keys[0]),
        "no claim": mint(claims_at(now, sub=None), idp.keys[0]),
    }
    good = mint(claims_at(now), idp.keys[0])
    header, payload, signature = good.split(".")
    forged["tampered"] = (
        f"{header}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    )
    before = head(sealed_tally)
    for name, token in forged.items():
        response = web.get("/v1/me", headers=as_customer(web, token, shop))
        assert response.status_code == 401, (name, response.text)
    assert head(sealed_tally) == before
    # Without Tally-Project a JWT is not even tried.
    assert web.get("/v1/me", headers=as_customer(web, good)).status_code == 401
    assert web.get("/v1/me", headers=as_customer(web, good, shop)).status_code == 200


def test_a_jwks_rotation_is_picked_up(
    web: TestClient, shop: Client, idp: JwksServer, clock: FixedClock
) -> None:
    set_jwks(shop, idp)
    customer(shop, "user_1")
    first = mint(claims_at(clock.now()), idp.keys[0])
    assert web.get("/v1/me", headers=as_customer(web, first, shop)).status_code == 200
    idp.keys = []
    rotated = idp.new_key("k2")
    kept = web.app.state.jwks._kept.items()  # type: ignore[attr-defined]
    for (_, url), entry in kept:  # kept per project and URL
        if url == idp.url:
            entry.tried_at -= 3600
    token = mint(claims_at(clock.now()), rotated)
    assert web.get("/v1/me", headers=as_customer(web, token, shop)).status_code == 200


def test_another_projects_idp_cannot_vouch_for_this_project(
    web: TestClient, shop: Client, rival: Client, idp: JwksServer, clock: FixedClock
) -> None:
    set_jwks(shop, idp)
    customer(shop, "user_1")
    token = mint(claims_at(clock.now()), idp.keys[0])
    # The rival has no identity provider: its name in Tally-Project gets the token nowhere.
    assert web.get("/v1/me", headers=as_customer(web, token, rival)).status_code == 401


# Routes that take no bearer token of any kind: a provider's signed webhooks, and the stub
# provider's hosted pages (their own page token is in the URL).
NO_BEARER = ("/v1/webhooks/{provider}/{project_id}", "/v1/stub/")


def every_route(routes: list[Any]) -> Iterator[Any]:
    """Every route of the app, inside included routers too (FastAPI 0.165 keeps an included
    router as one ``_IncludedRouter`` entry of ``app.routes``; routers here are included
    without a prefix, so their routes' paths are whole)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from every_route(list(inner.routes))
        else:
            yield route


def _urls(http: TestClient) -> Iterator[tuple[str, str]]:
    for route in every_route(list(http.app.routes)):  # type: ignore[attr-defined]
        path = getattr(route, "path", "")
        if not path.startswith("/v1") or path.startswith(NO_BEARER):
            continue
        url = str(path)
        for name in ("{account_id}", "{transaction_id}", "{customer_id}", "{session_id}"):
            url = url.replace(name, SOME_ID)
        for method in route.methods:  # type: ignore[attr-defined]
            yield method, url


def test_a_customer_token_reaches_only_me_and_a_project_key_never_me(
    web: TestClient, sealed_tally: Tally, shop: Client, idp: JwksServer, clock: FixedClock
) -> None:
    set_jwks(shop, idp)
    customer_id = customer(shop, "user_1")
    session = start_session(shop, customer_id)["token"]
    jwt_token = mint(claims_at(clock.now()), idp.keys[0])
    customers = (as_customer(web, session), as_customer(web, jwt_token, shop))
    for headers in customers:
        assert web.get("/v1/me", headers=headers).status_code == 200
    checked = 0
    wrong: list[tuple[str, str, int]] = []
    with nothing_written(sealed_tally):
        for method, url in _urls(web):
            if url == "/v1/me" or url.startswith("/v1/me/"):
                response = web.request(method, url, json={}, headers=shop.headers())
                assert response.status_code == 401, (method, url, response.text)
                continue
            for headers in customers:
                response = web.request(method, url, json={}, headers=headers)
                if response.status_code != 401:
                    wrong.append((method, url, response.status_code))
                checked += 1
    assert wrong == [], "\n".join(map(str, wrong))
    assert checked > 100, checked


def test_a_revocation_in_one_worker_is_refused_by_another_at_once(
    settings: Settings, clock: FixedClock, web: TestClient, sealed_tally: Tally, shop: Client
) -> None:
    """Two server workers (two apps, each its own Tally and connections, one database):
    the session is revoked through the first, and the second refuses it on its very next
    request, with no cache of its own to go stale."""
    session = start_session(shop, customer(shop, "erin"))
    headers = as_customer(web, session["token"])
    second_tally = build(
        settings.model_copy(update={"secrets_key": sealed_tally.settings.secrets_key}), clock=clock
    )
    try:
        with TestClient(create_app(second_tally), raise_server_exceptions=False) as second:
            assert second.get("/v1/me", headers=headers).status_code == 200
            shop.ok(shop.post(f"/v1/customer_sessions/{session['id']}/revoke"))
            assert second.get("/v1/me", headers=headers).status_code == 401
            assert web.get("/v1/me", headers=headers).status_code == 401
    finally:
        second_tally.close()
