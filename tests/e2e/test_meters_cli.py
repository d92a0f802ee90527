"""Meters from the command line and the catalog file (issue 13): ``tally meters
define|list|show``, and a catalog file that declares meters beside the metered prices that
name them, loaded twice with nothing written the second time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

from api.bootstrap import Tally
from tests.e2e.test_catalog_load import cli, cli_process, env, head, load, project

__all__ = ["env", "project"]  # fixtures used by name below

CATALOG = """\
meters:
  - code: tokens
    name: Tokens
    event_name: completion
    aggregation: sum
    property: tokens
    group_by: [model]
products:
  - code: API
    name: API
    prices:
      - lookup_key: api_tokens_eur
        currency: EUR
        scheme: metered
        meter: tokens
        unit_amount: 1
        interval: month
"""


def test_a_catalog_file_declares_meters_its_metered_prices_name(
    env: dict[str, str], project: str, tally: Tally, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    first = load(env, project, path)
    assert (first["meters_created"], first["prices_created"]) == (1, 1)
    written = head(tally)
    second = load(env, project, path)
    assert (second["meters_created"], second["meters_unchanged"]) == (0, 1)
    assert second["meters"] == first["meters"]
    assert head(tally) == written
    meter: Any = tally.store.repository.get(UUID(first["meters"]["tokens"]))
    assert (meter.aggregation, meter.property, meter.group_by) == ("sum", "tokens", ["model"])


def test_a_catalog_file_whose_metered_price_names_no_meter_is_refused(
    env: dict[str, str], project: str, tally: Tally, tmp_path: Path
) -> None:
    before = head(tally)
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG.replace("meter: tokens", "meter: nothing"))
    done = cli_process(env, "catalog", "load", str(path), "--project", project)
    assert done.returncode == 1
    assert "no meter 'nothing'" in done.stderr + done.stdout
    assert head(tally) == before  # checked before anything was written
    path.write_text(CATALOG.replace("aggregation: sum", "aggregation: count"))
    refused = cli_process(env, "catalog", "load", str(path), "--project", project)
    assert refused.returncode == 1
    assert "meter tokens" in refused.stderr + refused.stdout


def test_meters_define_and_list(env: dict[str, str], project: str) -> None:
    args = ["--project", project, "--event-name", "call", "--aggregation", "unique_count"]
    done = cli(env, "meters", "define", "users", *args, "--property", "user",
               "--filter", "region=eu,us", "--group-by", "model", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    meter = json.loads(done.stdout)
    assert (meter["object"], meter["filters"]) == ("meter", {"region": ["eu", "us"]})
    again = cli(env, "meters", "define", "users", *args, "--property", "user",
                "--filter", "region=eu,us", "--group-by", "model")  # fmt: skip
    assert again.returncode == 0
    assert "already defined" in again.stdout
    other = cli(env, "meters", "define", "users", *args, "--property", "other")
    assert other.returncode == 1
    assert "already defined otherwise" in other.stderr
    listed = cli(env, "meters", "list", "--project", project)
    assert listed.returncode == 0
    assert "users" in listed.stdout
    assert "unique_count" in listed.stdout
    shown = cli(env, "meters", "show", meter["id"], "--project", project, "--json")
    assert shown.returncode == 0, shown.stderr
    assert {k: json.loads(shown.stdout)[k] for k in ("id", "code", "filters")} == {
        "id": meter["id"], "code": "users", "filters": {"region": ["eu", "us"]}
    }  # fmt: skip
    missing = cli(env, "meters", "show", str(UUID(int=7)), "--project", project)
    assert missing.returncode == 1
    assert missing.stderr.startswith("tally: not_found: meter ")
