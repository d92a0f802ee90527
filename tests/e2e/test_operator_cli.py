"""The operator's commands from the command line (issue 14): ``tally operator keys``,
``tally projects show|update|limits`` and ``tally keys rotate``, which run the commands the
operator API runs; an operator key the CLI made calls the API, and once revoked is
refused."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Tally
from tests.e2e.test_catalog_load import cli, cli_process, env, project

__all__ = ["env", "project"]  # fixtures used by name below


def run_json(env: dict[str, str], *args: str) -> Any:
    done = cli(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_operator_keys_from_the_cli_call_the_operator_api_until_revoked(
    env: dict[str, str], tally: Tally
) -> None:
    made = run_json(env, "operator", "keys", "create", "--label", "ops")
    assert made["operator_key"].startswith(f"tlyop_{made['key_id']}_")
    listed = run_json(env, "operator", "keys", "list")
    assert [(k["key_id"], k["label"], k["revoked"]) for k in listed] == [
        (made["key_id"], "ops", False)
    ]
    assert made["operator_key"] not in json.dumps(listed)
    headers = {"Authorization": f"Bearer {made['operator_key']}"}
    with TestClient(create_app(tally), raise_server_exceptions=False) as http:
        assert http.get("/v1/projects", headers=headers).status_code == 200
        run_json(env, "operator", "keys", "revoke", made["key_id"])
        assert http.get("/v1/projects", headers=headers).status_code == 401


def test_projects_update_limits_show_and_keys_rotate(env: dict[str, str], project: str) -> None:
    updated = run_json(
        env, "projects", "update", project, "--name", "Acme Inc.", "--currency", "EUR"
    )
    assert (updated["name"], updated["default_currency"]) == ("Acme Inc.", "EUR")
    limited = run_json(env, "projects", "limits", project, "--api-key", "200/2")
    assert limited["rate_limits"] == {"api_key": {"requests": 200, "window_s": 2}}
    shown = run_json(env, "projects", "show", project)
    assert (shown["name"], shown["rate_limits"]) == ("Acme Inc.", limited["rate_limits"])

    old = run_json(env, "keys", "list", "--project", project)[0]["key_id"]
    rotated = run_json(env, "keys", "rotate", "--project", project, old, "--overlap", "0")
    assert rotated["rotated"]["key_id"] == old
    keys = {k["key_id"]: k for k in run_json(env, "keys", "list", "--project", project)}
    assert keys[old]["expires_at"] is not None
    assert keys[rotated["key_id"]]["expires_at"] is None
    refused = cli_process(env, "keys", "rotate", "--project", project, old)
    assert refused.returncode == 1, refused.stderr
