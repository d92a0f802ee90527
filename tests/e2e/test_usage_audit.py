"""The usage events' own hash chain end to end (issue 15; docs/audit.md): what the API
writes is on the chain, ``GET /v1/audit/head`` names its head, and
``tally audit verify --usage`` passes it, then names the first row edited in SQL."""

from __future__ import annotations

import json

import psycopg
from psycopg import sql

from api.bootstrap import Tally
from tests.e2e.cli_run import cli, env
from tests.e2e.conftest import Client
from tests.e2e.test_usage import customer, define_meters, event, settle

__all__ = ["env"]  # the fixture, used by name


def test_usage_written_through_the_api_is_chained_and_an_edit_is_named(
    env: dict[str, str], api: Client, app_tally: Tally
) -> None:
    define_meters(api)
    customer(api, "user_1")
    settle(api)
    batch = [event(tx, properties={"user": tx, "region": "eu"}) for tx in ("a", "b", "c")]
    api.ok(api.post("/v1/usage_events/batch", {"events": batch}))
    api.ok(api.post("/v1/usage_events/batch", {"events": [*batch, event("d")]}))

    head = api.ok(api.get("/v1/audit/head"))
    done = cli(env, "audit", "verify", "--usage", "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert (found["ok"], found["checked"], found["last_position"]) == (True, 4, 4)
    assert (head["usage_position"], head["usage_hash"]) == (4, found["head_hash"])

    with psycopg.connect(app_tally.target.url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                'UPDATE {}.usage_events SET properties = properties || \'{{"user": "x"}}\' '
                "WHERE transaction_id = 'b'"
            ).format(sql.Identifier(app_tally.schema))
        )
    broken = cli(env, "audit", "verify", "--usage")
    assert broken.returncode == 1
    assert "usage chain: chain broken at position 2" in broken.stdout
    assert "usage event b of project" in broken.stdout
