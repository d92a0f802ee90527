"""Prepaid credits from the command line (issue 13): ``tally credits grant|list|balance|
consume`` run the API's commands and reads; a consumption the credits cannot cover is
refused (exit 1) and spends nothing."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.test_catalog_load import cli, cli_process, env, project

__all__ = ["env", "project"]  # fixtures used by name below


def run(env: dict[str, str], *args: str) -> Any:
    done = cli(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_grant_list_balance_and_consume_from_the_command_line(
    env: dict[str, str], project: str
) -> None:
    from uuid import UUID

    from api.bootstrap import build
    from api.settings import Settings
    from commands import messages as m
    from commands.bus import Context

    tally = build(Settings(database_url=env["TALLY_DATABASE_URL"],
                           db_schema=env["TALLY_DB_SCHEMA"], pool_size=2))  # fmt: skip
    try:
        registered = tally.execute(
            m.RegisterCustomer(external_id="u1", currency="EUR"), Context(UUID(project), "t")
        )
    finally:
        tally.close()
    cid = registered.body["customer"]["id"]
    at = ("--project", project)
    first = run(env, "credits", "grant", cid, "300", *at, "--expires-at", "2099-01-01T00:00:00Z")
    second = run(env, "credits", "grant", cid, "100", *at, "--kind", "paid", "--priority", "5")
    assert (first["kind"], first["amount"], second["kind"]) == ("promotional", 300, "paid")
    used = run(env, "credits", "consume", cid, "150", *at)
    assert [(p["grant_id"], p["amount"]) for p in used["grants"]] == [
        (second["id"], 100), (first["id"], 50),
    ]  # fmt: skip
    assert used["balance"] == 250
    refused = cli(env, "credits", "consume", cid, "251", *at)
    assert refused.returncode == 1
    assert "insufficient_credits" in refused.stderr + refused.stdout
    assert run(env, "credits", "balance", cid, *at)["balances"][0]["balance"] == 250
    listed = run(env, "credits", "list", cid, *at)
    assert [(g["id"], g["remaining"]) for g in listed] == [(first["id"], 250), (second["id"], 0)]


def test_grant_on_an_invoice_from_the_command_line_grants_when_paid(
    env: dict[str, str], project: str
) -> None:
    """``tally credits grant --invoice`` runs PurchaseCredits: an open invoice, nothing
    granted until it is paid; paying it (the same command as the API's) grants once."""
    from uuid import UUID

    from api.bootstrap import build
    from api.settings import Settings
    from commands import messages as m
    from commands.bus import Context

    context = Context(UUID(project), "t")
    tally = build(Settings(database_url=env["TALLY_DATABASE_URL"],
                           db_schema=env["TALLY_DB_SCHEMA"], pool_size=2))  # fmt: skip
    try:
        registered = tally.execute(m.RegisterCustomer(external_id="u2", currency="EUR"), context)
    finally:
        tally.close()
    cid = registered.body["customer"]["id"]
    at = ("--project", project)
    bought = run(env, "credits", "grant", cid, "400", *at, "--invoice", "--priority", "2")
    assert (bought["status"], bought["amount"], bought["invoice"]["status"]) == (
        "invoiced", 400, "open",
    )  # fmt: skip
    assert run(env, "credits", "list", cid, *at) == []
    refused = cli_process(env, "credits", "grant", cid, "1", *at, "--invoice", "--expires-at",
                  "2099-01-01T00:00:00Z")  # fmt: skip
    assert refused.returncode == 1
    tally = build(Settings(database_url=env["TALLY_DATABASE_URL"],
                           db_schema=env["TALLY_DB_SCHEMA"], pool_size=2))  # fmt: skip
    try:
        pay = m.PayInvoice(
            invoice_id=UUID(bought["invoice"]["id"]), method="out_of_band", reference="wire"
        )
        tally.execute(pay, context)
    finally:
        tally.close()
    [grant] = run(env, "credits", "list", cid, *at)
    assert (grant["id"], grant["kind"], grant["remaining"]) == (bought["grant_id"], "paid", 400)
