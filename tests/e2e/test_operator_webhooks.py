"""The operator API's webhook endpoints (issue 14 on issue 12): an operator creates,
lists, reads, updates, rotates and deletes a project's endpoints with the same commands
as the project's own key, which sees what the operator made; a project key is refused on
these routes, and an unknown project answers 404 and records nothing."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Tally
from tests.e2e.test_operator_api import Operator, operator_key, project_client
from tests.e2e.webhook_sandbox import hooks_tally

# Endpoint secrets are stored sealed: the server needs its secrets key, which the
# webhook tests' Tally has.
__all__ = ["hooks_tally"]  # the fixture, used by name

URL = "https://hooks.example.com/tally"


@pytest.fixture
def op(hooks_tally: Tally) -> Iterator[Operator]:
    with TestClient(create_app(hooks_tally), raise_server_exceptions=False) as http:
        yield Operator(http, operator_key(hooks_tally)[1])


def test_operator_manages_a_projects_endpoints_and_the_project_sees_them(
    op: Operator, hooks_tally: Tally
) -> None:
    project = op.ok("POST", "/v1/projects", {"name": "Acme", "mode": "test"}, 201)["id"]
    other = op.ok("POST", "/v1/projects", {"name": "Globex", "mode": "test"}, 201)["id"]
    base = f"/v1/projects/{project}/webhook_endpoints"
    made = op.ok("POST", base, {"url": URL}, 201)
    assert made["secret"].startswith("whsec_")
    assert (made["url"], made["status"]) == (URL, "enabled")

    own = project_client(op, hooks_tally, project)
    listed = own.ok(own.get("/v1/webhook_endpoints", wait_for_position=op.position))
    assert [e["id"] for e in listed["data"]] == [made["id"]]
    assert "secret" not in listed["data"][0]
    # Another project's key sees nothing of it, and neither does the operator under it.
    stranger = project_client(op, hooks_tally, other)
    assert (
        stranger.ok(stranger.get("/v1/webhook_endpoints", wait_for_position=op.position))["data"]
        == []
    )
    assert op.ok("GET", f"/v1/projects/{other}/webhook_endpoints")["data"] == []
    assert op.call("GET", f"/v1/projects/{other}/webhook_endpoints/{made['id']}").status_code == (
        404
    )

    got = op.ok("GET", f"{base}/{made['id']}")
    assert got["id"] == made["id"]
    assert "secret" not in got
    changed = op.ok("POST", f"{base}/{made['id']}", {"description": "billing"})
    assert changed["description"] == "billing"
    rotated = op.ok("POST", f"{base}/{made['id']}/rotate_secret", {})
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != made["secret"]
    op.ok("POST", f"{base}/{made['id']}/delete")
    assert op.ok("GET", base)["data"] == []
    assert own.ok(own.get("/v1/webhook_endpoints", wait_for_position=op.position))["data"] == []


def test_unknown_project_is_404_and_a_project_key_is_refused(
    op: Operator, hooks_tally: Tally
) -> None:
    missing = f"/v1/projects/{uuid4()}/webhook_endpoints"
    assert op.call("POST", missing, {"url": URL}).status_code == 404
    assert op.call("GET", missing).status_code == 404

    project = op.ok("POST", "/v1/projects", {"name": "Acme", "mode": "test"}, 201)["id"]
    own = project_client(op, hooks_tally, project)
    route = f"/v1/projects/{project}/webhook_endpoints"
    assert own.post(route, {"url": URL}).status_code == 401
    assert own.get(route).status_code == 401
    assert op.ok("GET", route)["data"] == []


def test_a_customer_registered_without_currency_takes_the_projects_default(
    op: Operator, hooks_tally: Tally
) -> None:
    project = op.ok("POST", "/v1/projects", {"name": "Acme", "mode": "test"}, 201)["id"]
    own = project_client(op, hooks_tally, project)
    refused = own.post("/v1/customers", {"external_id": "ada"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "validation_error"

    op.ok("POST", f"/v1/projects/{project}", {"default_currency": "EUR"})
    made = own.ok(own.post("/v1/customers", {"external_id": "ada"}), 201)
    assert made["currency"] == "EUR"
    named = own.ok(own.post("/v1/customers", {"external_id": "bob", "currency": "USD"}), 201)
    assert named["currency"] == "USD"
