"""The CLI's writes that change what exists (cli2): ``tally accounts
freeze|unfreeze|close|low-balance-threshold``, ``tally transactions
show|confirm|fail|reverse``, ``tally subscriptions activate|extend-trial|change-items``
and ``tally invoices remove-line|apply-coupon|retry-payment|credit-note|credit-notes``,
end to end: the CLI on the database of a served app (in the test's process; the
transactions through the program, in a process of its own). What the CLI
writes the API reads, in the same shapes (a CLI read's ``--json`` is the API's body);
each family refuses what the API refuses, with its codes (an unknown id: exit 1 and
``not_found``), writing nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.e2e.billing import customer, plan, sandbox, subscribe
from tests.e2e.cli_process import Cli, answer, env, refused, tally_cli
from tests.e2e.conftest import Client, head, nothing_written
from tests.e2e.invoicing import act, coupon, draft, line

__all__ = ["env", "sandbox", "tally_cli"]  # the fixtures, used by name

UNKNOWN = "00000000-0000-4000-8000-000000000003"


def test_an_account_frozen_unfrozen_given_a_threshold_and_closed_from_the_cli(
    tally_cli: Cli, api: Client
) -> None:
    wallet, funded = api.open_account("alice"), api.open_account("bob")
    api.deposit(funded, 100)
    set_to = answer(tally_cli, api, "accounts", "low-balance-threshold", wallet, "500")
    assert set_to["account"]["low_balance_threshold"] == 500
    frozen = answer(tally_cli, api, "accounts", "freeze", wallet, "--reason", "chargeback")
    assert frozen["account"]["status"] == "frozen"
    assert answer(tally_cli, api, "accounts", "unfreeze", wallet)["account"]["status"] == "open"
    cleared = answer(tally_cli, api, "accounts", "low-balance-threshold", wallet, "none")
    assert cleared["account"].get("low_balance_threshold") is None
    closing = ("accounts", "close", wallet, "--idempotency-key", "close-1")
    closed = answer(tally_cli, api, *closing)
    assert closed["account"]["status"] == "closed"
    written = head(api.tally)
    assert answer(tally_cli, api, *closing) == closed  # the same key: answered again
    assert head(api.tally) == written
    assert answer(tally_cli, api, "accounts", "show", wallet) == api.account(wallet)
    with nothing_written(api.tally):
        assert refused(tally_cli, api, "accounts", "freeze", UNKNOWN).startswith(
            f"tally: not_found: account {UNKNOWN}"
        )
        assert "account_not_empty" in refused(tally_cli, api, "accounts", "close", funded)
        assert "account_closed" in refused(tally_cli, api, "accounts", "freeze", wallet)
        assert "validation_error: low_balance_threshold" in refused(
            tally_cli, api, "accounts", "low-balance-threshold", funded, "lots"
        )


def test_pending_deposits_confirmed_failed_and_reversed_from_the_cli(
    tally_cli: Cli, api: Client
) -> None:
    wallet = api.open_account("alice")
    arriving = api.deposit(wallet, 5000, pending=True)["transaction"]["id"]
    lost = api.deposit(wallet, 700, pending=True)["transaction"]["id"]
    confirmed = answer(tally_cli, api, "transactions", "confirm", arriving)
    assert (confirmed["transaction"]["state"], confirmed["account"]["ledger_balance"]) == (
        "completed", 5000,
    )  # fmt: skip
    failed = answer(tally_cli, api, "transactions", "fail", lost, "--reason", "card declined")
    assert failed["transaction"]["state"] == "failed"
    reversed_ = answer(tally_cli, api, "transactions", "reverse", arriving, "--amount", "2000",
                       "--reason", "refund")  # fmt: skip
    assert (reversed_["transaction"]["id"], reversed_["transaction"]["reversed_amount"]) == (
        arriving, 2000,
    )  # fmt: skip
    assert api.account(wallet)["ledger_balance"] == 3000
    path = f"/v1/transactions/{arriving}"
    assert answer(tally_cli, api, "transactions", "show", arriving) == api.ok(api.get(path))
    with nothing_written(api.tally):
        assert refused(tally_cli, api, "transactions", "confirm", UNKNOWN).startswith(
            f"tally: not_found: transaction {UNKNOWN}"
        )
        assert "invalid_transition" in refused(tally_cli, api, "transactions", "confirm", lost)
        assert "reversal_exceeds_amount" in refused(
            tally_cli, api, "transactions", "reverse", arriving, "--amount", "3001"
        )
        assert "not_found" in refused(tally_cli, api, "transactions", "show", UNKNOWN)


def test_a_trial_extended_items_changed_and_an_incomplete_one_activated_from_the_cli(
    tally_cli: Cli, sandbox: Client
) -> None:
    api = sandbox
    pro, biz = plan(api, "PRO", 2900), plan(api, "BIZ", 4900)
    trialing = subscribe(api, customer(api, "ada"), pro, trial_days=14)
    later = datetime.fromisoformat(trialing["trial_end"]) + timedelta(days=7)
    extended = answer(tally_cli, api, "subscriptions", "extend-trial", trialing["id"],
                      "--trial-end", later.isoformat())  # fmt: skip
    assert datetime.fromisoformat(extended["subscription"]["trial_end"]) == later
    active = subscribe(api, customer(api, "bob"), pro)
    changed = answer(tally_cli, api, "subscriptions", "change-items", active["id"],
                     "--lookup-key", "biz_monthly:3", "--proration", "none")  # fmt: skip
    items = changed["subscription"]["items"]
    assert [(i["price_id"], i["quantity"]) for i in items] == [(biz, 3)]
    waiting = subscribe(api, customer(api, "cy"), pro, incomplete=True)
    activated = answer(tally_cli, api, "subscriptions", "activate", waiting["id"])
    assert activated["subscription"]["status"] == "active"
    path = f"/v1/subscriptions/{active['id']}"
    assert answer(tally_cli, api, "subscriptions", "show", active["id"]) == api.ok(api.get(path))
    with nothing_written(api.tally):
        assert refused(tally_cli, api, "subscriptions", "activate", UNKNOWN).startswith(
            f"tally: not_found: subscription {UNKNOWN}"
        )
        assert "invalid_transition" in refused(
            tally_cli, api, "subscriptions", "extend-trial", active["id"],
            "--trial-end", later.isoformat(),
        )  # fmt: skip
        assert "validation_error: items" in refused(
            tally_cli, api, "subscriptions", "change-items", active["id"]
        )


def test_a_draft_changed_paid_and_credited_from_the_cli(tally_cli: Cli, api: Client) -> None:
    coupon(api, "SPRING", percent_off="10", duration="once")
    invoice = draft(api, None, line("Setup fee", 5000), line("Support", 1000))
    removed = answer(tally_cli, api, "invoices", "remove-line", invoice["id"],
                     invoice["lines"][1]["id"])  # fmt: skip
    assert [x["description"] for x in removed["invoice"]["lines"]] == ["Setup fee"]
    discounted = answer(tally_cli, api, "invoices", "apply-coupon", invoice["id"],
                        "--coupon", "SPRING")  # fmt: skip
    assert discounted["invoice"]["total"] == 4500
    act(api, invoice["id"], "finalize")
    nothing_due = answer(tally_cli, api, "invoices", "retry-payment", invoice["id"])
    assert nothing_due["payment_attempt"] is None
    act(api, invoice["id"], "pay", {"method": "out_of_band", "reference": "wire 81"})
    note = answer(tally_cli, api, "invoices", "credit-note", invoice["id"], "--amount", "1000",
                  "--reason", "outage")  # fmt: skip
    assert (note["credit_note"]["amount"], note["credit_note"]["refund_to"]) == (
        1000, "credit_balance",
    )  # fmt: skip
    listed = answer(tally_cli, api, "invoices", "credit-notes", "--invoice", invoice["id"])
    assert listed == api.ok(api.get("/v1/credit_notes", invoice_id=invoice["id"]))
    assert [n["id"] for n in listed["data"]] == [note["credit_note"]["id"]]
    fresh = draft(api, None, line("Later", 300))
    with nothing_written(api.tally):
        assert refused(tally_cli, api, "invoices", "credit-note", UNKNOWN).startswith(
            f"tally: not_found: invoice {UNKNOWN}"
        )
        assert "not_found" in refused(tally_cli, api, "invoices", "retry-payment", UNKNOWN)
        assert "invalid_transition" in refused(
            tally_cli, api, "invoices", "credit-note", fresh["id"]
        )
        assert "invalid_transition" in refused(
            tally_cli, api, "invoices", "remove-line", invoice["id"], invoice["lines"][0]["id"]
        )
        assert "not_found" in refused(
            tally_cli, api, "invoices", "apply-coupon", fresh["id"], "--coupon", "NOSUCH"
        )


@pytest.mark.cli_process
def test_the_program_freezes_an_account_and_refuses_an_unknown_transaction(
    tally_cli: Cli, api: Client
) -> None:
    """Through the program, in a process of its own (the family's one test there; the
    others run the same verbs in the test's process): its settings come from the
    environment, an answer is exit 0 and JSON on stdout that the API reads back, a
    refusal exit 1 and one line on stderr, writing nothing."""
    wallet = api.open_account("alice")
    frozen = answer(tally_cli, api, "accounts", "freeze", wallet, "--reason", "chargeback")
    assert frozen["account"]["status"] == api.account(wallet)["status"] == "frozen"
    with nothing_written(api.tally):
        assert refused(tally_cli, api, "transactions", "confirm", UNKNOWN).startswith(
            f"tally: not_found: transaction {UNKNOWN}"
        )
