"""``tally catalog load FILE.yaml``: the same file twice is the same catalog with nothing
written the second time; a changed price is a new price and the old one is archived; a bad
file is refused as a whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from api.bootstrap import Tally
from tests.e2e.cli_run import cli, cli_process, env

__all__ = ["env"]  # the fixture, used by name

CATALOG = """\
products:
  - code: BASIC
    name: Basic
    features: [api]
    prices:
      - lookup_key: basic_monthly_eur
        currency: EUR
        scheme: flat
        unit_amount: 900
        interval: month
  - code: PRO
    name: Pro
    features: [api, sso]
    prices:
      - lookup_key: pro_monthly_eur
        currency: EUR
        scheme: flat
        unit_amount: 2900
        interval: month
        trial_days: 14
      - lookup_key: pro_seats_eur
        currency: EUR
        scheme: graduated
        interval: month
        tiers:
          - {up_to: 10, unit_amount: 500}
          - {up_to: null, unit_amount: 400}
"""


def load(env: dict[str, str], project: str, path: Path) -> Any:
    done = cli(env, "catalog", "load", str(path), "--project", project, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def project(env: dict[str, str]) -> str:
    done = cli(env, "projects", "create", "acme", "--json")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["id"])


def head(tally: Tally) -> int:
    return int(tally.store.recorder.max_notification_id() or 0)


def test_loading_twice_is_the_same_catalog_and_writes_nothing_the_second_time(
    env: dict[str, str], project: str, tally: Tally, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    first = load(env, project, path)
    assert (first["products_created"], first["prices_created"]) == (2, 3)
    written = head(tally)
    second = load(env, project, path)
    assert (second["products_created"], second["prices_created"]) == (0, 0)
    assert second["prices_unchanged"] == 3
    assert (second["products"], second["prices"]) == (first["products"], first["prices"])
    assert head(tally) == written

    pro: Any = tally.store.repository.get(UUID(first["products"]["PRO"]))
    assert (pro.name, pro.features, pro.active) == ("Pro", ["api", "sso"], True)
    seats: Any = tally.store.repository.get(UUID(first["prices"]["PRO/pro_seats_eur"]))
    assert seats.amount_for(12) == 10 * 500 + 2 * 400


def test_an_archived_product_is_counted_once_not_on_every_load(
    env: dict[str, str], project: str, tally: Tally, tmp_path: Path
) -> None:
    # Issue 11, bug 6: an unchanged file with an inactive product printed "1 archived"
    # on every load, though the second load wrote nothing.
    path = tmp_path / "catalog.yaml"
    path.write_text(
        CATALOG.replace("    features: [api]\n", "    features: [api]\n    active: false\n")
    )
    assert load(env, project, path)["products_archived"] == 1
    written = head(tally)
    assert load(env, project, path)["products_archived"] == 0
    done = cli(env, "catalog", "load", str(path), "--project", project)
    assert done.returncode == 0, done.stderr
    assert "0 archived" in done.stdout
    assert head(tally) == written
    basic: Any = tally.store.repository.get(UUID(load(env, project, path)["products"]["BASIC"]))
    assert basic.active is False


def test_a_changed_price_is_a_new_price_and_the_old_one_is_archived(
    env: dict[str, str], project: str, tally: Tally, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    first = load(env, project, path)
    path.write_text(
        CATALOG.replace("unit_amount: 2900", "unit_amount: 3200").replace(
            "features: [api, sso]", "features: [api, sso, audit]"
        )
    )
    changed = load(env, project, path)
    assert (changed["prices_created"], changed["prices_unchanged"]) == (1, 2)
    old_id, new_id = (
        first["prices"]["PRO/pro_monthly_eur"],
        changed["prices"]["PRO/pro_monthly_eur"],
    )
    assert new_id != old_id
    old: Any = tally.store.repository.get(UUID(old_id))
    new: Any = tally.store.repository.get(UUID(new_id))
    assert (old.active, old.unit_amount) == (False, 2900)
    assert (new.active, new.unit_amount, new.trial_days) == (True, 3200, 14)
    pro: Any = tally.store.repository.get(UUID(changed["products"]["PRO"]))
    assert pro.prices["pro_monthly_eur"] == new_id
    assert pro.features == ["api", "sso", "audit"]
    unchanged = first["prices"]["BASIC/basic_monthly_eur"]
    assert changed["prices"]["BASIC/basic_monthly_eur"] == unchanged


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("products: [", "not YAML"),
        ("products:\n  - code: PRO\n    name: Pro\n    colour: red\n", "unknown field"),
        (
            CATALOG + "      - lookup_key: x\n        currency: EUR\n        scheme: flat\n"
            "        unit_amount: 12.5\n",
            "float amount",
        ),
        (
            CATALOG + "      - lookup_key: setup\n        currency: EUR\n        scheme: flat\n"
            "        trial_days: 7\n",
            "trial on a one-time price",
        ),
        (CATALOG + "  - code: PRO\n    name: Again\n", "a code twice"),
    ],
)
def test_a_bad_file_is_refused_whole_in_one_line(
    env: dict[str, str], project: str, tally: Tally, tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    before = head(tally)
    done = cli_process(env, "catalog", "load", str(path), "--project", project)
    assert done.returncode == 1, why
    assert done.stderr.startswith("tally: validation_error: "), (why, done.stderr)
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert head(tally) == before, why
