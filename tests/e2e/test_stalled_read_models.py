"""A stalled read model as an operator sees it: ``/readyz`` answers 503 naming it, and
the CLI reports it in one line (no traceback), doing what it still can (issue 10,
reproduction 3 without key revocation).

The poison is a product whose name holds a NUL, written straight through the event store
(the domain refuses it): Postgres cannot store it, so the catalog read model stalls.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from api.bootstrap import Tally
from domain.catalog import Product
from projections.runner import ProjectionWorker, stalls
from tests.e2e.cli_run import cli, cli_process, env
from tests.e2e.conftest import Client, head

__all__ = ["env"]  # the fixture, used by name


def poison(tally: Tally, project_id: UUID) -> int:
    """Store a product the catalog read model cannot apply; return its event's position."""
    product = Product(project_id=project_id, code="P1", name="a\x00b", features=[])
    tally.store.save(product)
    return head(tally)


def test_readyz_answers_503_naming_the_stalled_read_model(
    http: TestClient, api: Client, app_tally: Tally
) -> None:
    assert http.get("/readyz").status_code == 200
    position = poison(app_tally, api.project_id)
    deadline = time.monotonic() + 15
    while (ready := http.get("/readyz")).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.status_code == 503, ready.text
    report = ready.json()
    assert report["status"] == "not_ready"
    assert report["database"] == "ok"
    # The catalog cannot apply the poison; the read models that wait for the catalog
    # (entitlement changes read a price's product, the outbox reads their rows) stall
    # behind it at the same position, each naming what blocks it.
    by_name = {s["name"]: s for s in report["stalled"]}
    assert {n: (s["position"], s["blocked_by"]) for n, s in by_name.items()} == {
        "catalog": (position, None),
        "entitlement_changes": (position, "catalog"),
        "integration_events": (position, "catalog"),
    }
    stalled = by_name["catalog"]
    assert stalled["error"].startswith(("UntranslatableCharacter", "DataError"))
    assert stalled["since"].endswith("Z")
    # The other read models go on: a deposit after the poison is visible at once.
    account_id = api.open_account()
    api.deposit(account_id, 500)
    assert api.account(account_id)["ledger_balance"] == 500
    assert http.get("/readyz").json()["projection_position"] >= api.position
    spec = http.get("/openapi.json").json()
    stalled_schema = spec["components"]["schemas"]["StalledReadModel"]
    assert set(stalled_schema["required"]) >= {"name", "position", "error", "since"}
    readiness = spec["paths"]["/readyz"]["get"]["responses"]["503"]
    assert readiness["content"]["application/json"]["schema"]["$ref"].endswith("/Readiness")


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def stall_error(tally: Tally) -> str:
    [stall] = [s for s in stalls(tally.views, tally.schema) if s.name == "catalog"]
    return stall.error


def test_cli_reports_a_stalled_read_model_in_one_line_and_does_what_it_can(
    env: dict[str, str], tally: Tally, tmp_path: Path
) -> None:
    first = cli(env, "projects", "create", "acme", "--json")
    assert first.returncode == 0, first.stderr
    project = json.loads(first.stdout)
    position = poison(tally, UUID(project["id"]))
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    stalled = f"read model catalog is stalled at position {position}"

    # The key is created and usable (api_keys is not stalled): success, and a warning.
    key = cli_process(env, "keys", "create", "--project", project["id"], "--json")
    assert key.returncode == 0, key.stderr
    assert json.loads(key.stdout)["api_key"].startswith("tly_")
    assert one_line(key).startswith(f"tally: warning: {stalled}: ")
    created = cli(env, "projects", "create", "globex")
    assert created.returncode == 0, created.stderr
    assert "api_key" in created.stdout
    assert stalled in one_line(created)

    # Loading a catalog reads the catalog read model back: refused, in one line, though
    # the products were written (a load is idempotent: the same file again resumes it).
    path = tmp_path / "catalog.yaml"
    path.write_text("products:\n  - code: PRO\n    name: Pro\n")
    catalog = cli_process(env, "catalog", "load", str(path), "--project", project["id"])
    assert catalog.returncode == 1
    assert (
        one_line(catalog) == f"tally: {stalled}: {stall_error(tally)}; see tally projections status"
    )

    status = cli(env, "projections", "status", "--json")
    assert status.returncode == 1, status.stderr
    models: dict[str, Any] = {m["name"]: m for m in json.loads(status.stdout)["read_models"]}
    assert models["catalog"]["stall"]["position"] == position
    assert models["catalog"]["position"] == position - 1
    assert models["api_keys"]["stall"] is None
    assert models["api_keys"]["position"] == head(tally)
    text = cli(env, "projections", "status")
    assert f"STALLED at {position}" in text.stdout
    assert text.returncode == 1

    replay = cli(env, "replay", "--quiet")
    assert replay.returncode == 1
    assert one_line(replay).startswith(f"tally: {stalled}: ")
