"""The operator API end to end (issue 14): an operator key registers, lists, reads and
updates projects, sets their rate limits and provider, issues, lists, rotates (with an
overlap decided at each request) and revokes their keys; a project key is refused on
every operator route, and an operator key on every other route."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from adapters.clock import FixedClock
from api.bootstrap import Tally
from api.settings import Settings
from commands import operator_messages as om
from commands.bus import Context
from domain.operators import OPERATOR_ID
from projections.runner import ProjectionWorker
from tests.e2e.conftest import Client, nothing_written, serve


def operator_key(tally: Tally, label: str = "ops") -> tuple[str, str]:
    """An operator key, made the way ``tally operator keys create`` makes it."""
    out = tally.execute(om.IssueOperatorKey(label=label), Context(OPERATOR_ID, "cli"))
    return out.body["key_id"], out.body["secret"]


class Operator:
    def __init__(self, http: TestClient, secret: str) -> None:
        self.http, self.secret, self.position = http, secret, 0

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        sent = {"Authorization": f"Bearer {self.secret}", **headers}
        if method == "GET":  # read what this operator wrote (the URL keeps its own query)
            path += ("&" if "?" in path else "?") + f"wait_for_position={self.position}"
        response = self.http.request(method, path, json=body, headers=sent)
        if "Tally-Position" in response.headers:
            self.position = max(self.position, int(response.headers["Tally-Position"]))
        return response

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **h: str) -> Any:
        response = self.call(method, path, body, **h)
        assert response.status_code == status, response.text
        return response.json()


@pytest.fixture
def operator(http: TestClient, app_tally: Tally) -> Operator:
    return Operator(http, operator_key(app_tally)[1])


def project_client(op: Operator, tally: Tally, project_id: str, label: str = "") -> Client:
    key = op.ok("POST", f"/v1/projects/{project_id}/api_keys", {"label": label}, 201)
    assert key["secret"].startswith(f"tly_{key['id']}_")
    assert key["status"] == "active"
    return Client(op.http, tally, key["secret"], key["project_id"], key["id"])


def accounts_status(client: Client) -> int:
    return int(client.get("/v1/accounts").status_code)


def test_operator_registers_lists_reads_and_updates_projects(operator: Operator) -> None:
    body = {"name": "Acme", "mode": "test"}
    made = operator.ok("POST", "/v1/projects", body, 201, **{"Idempotency-Key": "p1"})
    assert (made["object"], made["name"], made["mode"]) == ("project", "Acme", "test")
    replay = operator.call("POST", "/v1/projects", body, **{"Idempotency-Key": "p1"})
    assert replay.json()["id"] == made["id"]
    assert replay.headers["Idempotency-Replayed"] == "true"
    other = operator.ok("POST", "/v1/projects", {"name": "Globex"}, 201)

    page = operator.ok("GET", "/v1/projects", None)
    assert [p["id"] for p in page["data"]] == [made["id"], other["id"]]
    first = operator.ok("GET", "/v1/projects?limit=1", None)
    assert first["has_more"]
    assert [p["id"] for p in first["data"]] == [made["id"]]
    after = operator.ok("GET", f"/v1/projects?starting_after={made['id']}", None)
    assert [p["id"] for p in after["data"]] == [other["id"]]

    update = {"name": "Acme Inc.", "mode": "live", "default_currency": "EUR"}
    changed = operator.ok("POST", f"/v1/projects/{made['id']}", update)
    assert {k: changed[k] for k in update} == update
    shown = operator.ok("GET", f"/v1/projects/{made['id']}", None)
    assert {k: shown[k] for k in update} == update
    assert shown["created"] == made["created"]
    refused = operator.call("POST", f"/v1/projects/{made['id']}", {"default_currency": "XXQ"})
    assert refused.status_code == 422


def test_operator_sets_rate_limits_and_the_provider(operator: Operator) -> None:
    project = operator.ok("POST", "/v1/projects", {"name": "Acme"}, 201)
    path = f"/v1/projects/{project['id']}"
    limits = operator.ok("POST", f"{path}/rate_limits", {"api_key": {"requests": 5, "window_s": 2}})
    assert limits["rate_limits"] == {"api_key": {"requests": 5, "window_s": 2}}
    limits = operator.ok("POST", f"{path}/rate_limits", {"api_key": None})
    assert limits["rate_limits"] == {}
    bad = operator.call("POST", f"{path}/rate_limits", {"api_key": {"requests": 0, "window_s": 1}})
    assert bad.status_code == 422

    configured = operator.ok("POST", f"{path}/payment_provider", {"provider": "stub"})
    assert configured["payment_provider"]["provider"] == "stub"
    shown = operator.ok("GET", f"{path}/payment_provider")
    assert shown["payment_provider"]["project_specific"] is True


def test_operator_sets_and_reads_the_identity_provider(operator: Operator) -> None:
    project = operator.ok("POST", "/v1/projects", {"name": "Acme"}, 201)
    path = f"/v1/projects/{project['id']}/identity_provider"
    assert operator.call("GET", path).status_code == 404  # none set yet
    body = {
        "kind": "jwks",
        "jwks_url": "https://example.eu.auth0.com/.well-known/jwks.json",
        "issuer": "https://example.eu.auth0.com/",
        "audience": "https://billing.example.com",
        "algorithms": ["RS256"],
    }
    response = operator.http.put(
        path, json=body, headers={"Authorization": f"Bearer {operator.secret}"}
    )
    assert response.status_code == 200, response.text
    operator.position = int(response.headers["Tally-Position"])
    shown = operator.ok("GET", path)["identity_provider"]
    assert (shown["jwks_url"], shown["issuer"]) == (body["jwks_url"], body["issuer"])


def test_unknown_projects_answer_404(operator: Operator, app_tally: Tally) -> None:
    missing = "00000000-0000-4000-8000-000000000001"
    with nothing_written(app_tally):
        for method, path, body in [
            ("GET", f"/v1/projects/{missing}", None),
            ("POST", f"/v1/projects/{missing}", {"name": "x"}),
            ("POST", f"/v1/projects/{missing}/rate_limits", {"api_key": None}),
            ("POST", f"/v1/projects/{missing}/api_keys", {}),
            ("GET", f"/v1/projects/{missing}/api_keys", None),
            ("POST", f"/v1/projects/{missing}/api_keys/k1/revoke", None),
            ("POST", f"/v1/projects/{missing}/payment_provider", {"provider": "stub"}),
            ("GET", f"/v1/projects/{missing}/payment_provider", None),
            ("GET", f"/v1/projects/{missing}/identity_provider", None),
            (
                "PUT",
                f"/v1/projects/{missing}/identity_provider",
                {
                    "kind": "jwks",
                    "jwks_url": "https://example.com/jwks.json",
                    "issuer": "https://example.com/",
                    "audience": "x",
                    "algorithms": ["RS256"],
                },
            ),
        ]:
            response = operator.call(method, path, body)
            assert response.status_code == 404, (method, path, response.text)


def test_keys_are_issued_rotated_with_an_overlap_and_revoked(
    operator: Operator, app_tally: Tally, clock: FixedClock
) -> None:
    project = operator.ok("POST", "/v1/projects", {"name": "Acme"}, 201)
    keys = f"/v1/projects/{project['id']}/api_keys"
    old = project_client(operator, app_tally, project["id"], "ci")
    assert accounts_status(old) == 200

    rotated = operator.ok("POST", f"{keys}/{old.key_id}/rotate", {"overlap_s": 60}, 201)
    assert rotated["rotated"]["id"] == old.key_id
    assert rotated["rotated"]["status"] == "expiring"
    new = Client(old.http, app_tally, rotated["secret"], old.project_id, rotated["id"])
    assert (accounts_status(old), accounts_status(new)) == (200, 200)  # the overlap
    again = operator.call("POST", f"{keys}/{old.key_id}/rotate", {"overlap_s": 60})
    assert again.status_code == 409, again.text  # already being rotated: the key's state
    assert again.json()["code"] == "invalid_transition"

    clock.advance(timedelta(seconds=59))
    assert accounts_status(old) == 200
    clock.advance(timedelta(seconds=1))  # the stated time: refused from then on
    assert (accounts_status(old), accounts_status(new)) == (401, 200)
    listed = {k["id"]: k for k in operator.ok("GET", keys)["data"]}
    assert (listed[old.key_id]["status"], listed[new.key_id]["status"]) == ("expired", "active")
    assert "secret" not in listed[new.key_id]

    revoked = operator.ok("POST", f"{keys}/{new.key_id}/revoke")
    assert revoked == {"id": new.key_id, "object": "api_key", "status": "revoked"}
    assert accounts_status(new) == 401
    twice = operator.call("POST", f"{keys}/{new.key_id}/revoke")
    assert twice.status_code == 409, twice.text
    assert twice.json()["code"] == "invalid_transition"


def test_a_rotated_key_is_refused_at_its_time_while_the_projection_worker_is_stopped(
    settings: Settings, clock: FixedClock
) -> None:
    stopped = settings.model_copy(update={"run_projections": False})
    with serve(stopped, clock) as api:
        tally = api.tally
        out = tally.execute(
            om.RotateApiKey(project_id=api.project_id, key_id=api.key_id, overlap_s=0),
            Context(api.project_id, "cli"),
        )
        assert out.body["rotated"]["expires_at"] == clock.now()
        # Nothing projected the rotation: the log's KeyExpiring decides.
        assert api.get("/v1/accounts", wait_for_position=0).status_code == 401
        ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
        assert api.get("/v1/accounts", wait_for_position=0).status_code == 401


def walk(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute of ``app.routes``, into the routers FastAPI includes lazily (an
    included router is one entry of ``app.routes``, its routes under ``original_router``;
    the app includes every router without a prefix)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += walk(route.original_router.routes)
    return found


def operator_routes(http: TestClient) -> list[APIRoute]:
    app: Any = http.app
    return [r for r in walk(app.routes) if r.path.startswith("/v1/projects")]


def concrete(path: str) -> str:
    return (
        path.replace("{project_id}", "00000000-0000-4000-8000-000000000001")
        .replace("{key_id}", "k1")
        .replace("{", "")
        .replace("}", "")
    )


def test_a_project_key_is_refused_on_every_operator_route(
    http: TestClient, api: Client, app_tally: Tally
) -> None:
    routes = operator_routes(http)
    assert len(routes) >= 10
    with nothing_written(app_tally):
        for route in routes:
            for method in route.methods:
                response = api.http.request(method, concrete(route.path), headers=api.headers())
                assert response.status_code == 401, (method, route.path, response.text)
                assert response.json()["code"] == "unauthenticated"


def test_an_operator_key_is_refused_on_every_other_authenticated_route(
    http: TestClient, operator: Operator, api: Client, app_tally: Tally
) -> None:
    app: Any = http.app
    checked = 0
    with nothing_written(app_tally):
        for route in walk(app.routes):
            if route.path.startswith("/v1/projects"):
                continue
            for method in route.methods:
                # Without a key: is the route authenticated at all (health, webhooks in,
                # the stub's pages are not)?
                bare = http.request(method, concrete(route.path))
                if bare.status_code != 401:
                    continue
                response = operator.call(method, concrete(route.path))
                assert response.status_code == 401, (method, route.path, response.text)
                checked += 1
    assert checked > 50


def test_a_revoked_operator_key_is_refused_at_once(http: TestClient, app_tally: Tally) -> None:
    key_id, secret = operator_key(app_tally)
    op = Operator(http, secret)
    assert op.call("GET", "/v1/projects").status_code == 200
    app_tally.execute(om.RevokeOperatorKey(key_id=key_id), Context(OPERATOR_ID, "cli"))
    assert op.call("GET", "/v1/projects").status_code == 401
    forged = Operator(http, secret[:-2] + ("AA" if not secret.endswith("AA") else "BB"))
    assert forged.call("GET", "/v1/projects").status_code == 401
