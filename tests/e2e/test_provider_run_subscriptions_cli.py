"""Provider-run subscriptions from the command line (issue 18): a catalog file maps its
prices to the providers' prices (loaded twice, nothing written the second time; a
malformed id refused before anything is written), ``tally prices map`` does the same for
one price, and ``tally subscriptions run-by`` refuses a provider without a subscription
API (the server's stub here) as the API does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

from api.bootstrap import Tally
from tests.e2e.test_catalog_load import cli, cli_process, env, head, load, project

__all__ = ["env", "project"]  # fixtures used by name below

CATALOG = """\
products:
  - code: PRO
    name: Pro
    prices:
      - lookup_key: pro_monthly_eur
        currency: EUR
        scheme: flat
        unit_amount: 2900
        interval: month
        provider_price_ids: {stripe: price_1PgafmB7WZ01, paddle: pri_01gsz8x8sawmvhz1pv30nge1ke}
"""


def test_a_catalog_file_maps_its_prices_to_the_providers_prices(
    env: dict[str, str], project: str, tally: Tally, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    first = load(env, project, path)
    price: Any = tally.store.repository.get(UUID(first["prices"]["PRO/pro_monthly_eur"]))
    assert price.provider_price_ids == {
        "paddle": "pri_01gsz8x8sawmvhz1pv30nge1ke",
        "stripe": "price_1PgafmB7WZ01",
    }
    written = head(tally)
    load(env, project, path)
    assert head(tally) == written
    path.write_text(CATALOG.replace("price_1PgafmB7WZ01", "prod_1PgafmB7WZ01"))
    refused = cli_process(env, "catalog", "load", str(path), "--project", project)
    assert refused.returncode == 1, refused.stderr
    assert "not a stripe price id" in refused.stderr + refused.stdout
    assert head(tally) == written  # checked before anything was written


def test_prices_map_and_subscriptions_run_by(
    env: dict[str, str], project: str, tally: Tally, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG.replace("        provider_price_ids", "        # provider_price_ids"))
    loaded = load(env, project, path)
    price_id = loaded["prices"]["PRO/pro_monthly_eur"]
    mapped = cli(env, "prices", "map", price_id, "stripe=price_other", "--project", project,
                 "--json")  # fmt: skip
    assert mapped.returncode == 0, mapped.stderr
    assert json.loads(mapped.stdout)["provider_price_ids"] == {"stripe": "price_other"}
    refused = cli(env, "subscriptions", "run-by", "provider", "--project", project)
    assert refused.returncode == 1, refused.stderr
    assert "stub has no subscription API" in refused.stderr
    kept = cli(env, "subscriptions", "run-by", "tally", "--project", project)
    # Every exit code is checked with what the command said: a run that failed once
    # under load (exit 1) left nothing to tell why.
    assert (kept.returncode, kept.stdout.strip()) == (0, "subscriptions run by tally"), kept.stderr
    plan = loaded["products"]["PRO"]
    one = cli(env, "subscriptions", "run-by", "tally", "--plan", plan, "--project", project,
              "--json")  # fmt: skip
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["plans"] == {plan: "tally"}
