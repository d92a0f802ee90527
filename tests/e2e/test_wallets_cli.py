"""``tally customers``, ``tally accounts`` and ``tally holds`` end to end: the CLI on the
database of a served app (in the test's process; the refusals through the program, in
a process of its own). What the CLI writes the API reads, in the
same shapes (a CLI read's ``--json`` is the API's body for the same object); a write
under the same idempotency key again is answered again and writes nothing; the CLI
refuses what the API refuses, with its error codes, writing nothing; and another
project's ids are not found."""

from __future__ import annotations

import pytest

from tests.e2e.cli_process import Cli, answer, env, refusal, refused, tally_cli
from tests.e2e.conftest import Client, head, nothing_written

__all__ = ["env", "tally_cli"]  # the fixtures, used by name


def test_customers_accounts_and_holds_from_the_cli_are_the_apis(
    tally_cli: Cli, api: Client
) -> None:
    made = answer(tally_cli, api, "customers", "create", "u1", "--currency", "EUR",
                  "--email", "ada@example.com", "--metadata", "team=x")  # fmt: skip
    assert (made["object"], made["existed"], made["metadata"]) == ("customer", False, {"team": "x"})
    shown = api.ok(api.get(f"/v1/customers/{made['id']}"))
    assert answer(tally_cli, api, "customers", "show", "u1", "--external-id") == shown
    assert answer(tally_cli, api, "customers", "show", made["id"]) == shown
    assert answer(tally_cli, api, "customers", "list") == api.ok(api.get("/v1/customers"))

    wallet = answer(tally_cli, api, "accounts", "open", made["id"], "--currency", "EUR")
    other = api.open_account("bob")
    deposit = ("accounts", "deposit", wallet["id"], "5000", "--currency", "EUR")
    first = answer(tally_cli, api, *deposit, "--idempotency-key", "dep-1")
    written = head(api.tally)
    assert answer(tally_cli, api, *deposit, "--idempotency-key", "dep-1") == first
    assert head(api.tally) == written  # the same key again: answered again, nothing new
    moved = answer(tally_cli, api, "accounts", "transfer", wallet["id"], other, "900",
                   "--currency", "EUR")  # fmt: skip
    assert moved["transaction"]["kind"] == "transfer"
    assert moved["to_account"]["ledger_balance"] == 900

    hold = answer(tally_cli, api, "holds", "place", wallet["id"], "700", "--currency", "EUR",
                  "--expires-at", "2099-01-01T00:00:00Z")  # fmt: skip
    assert (hold["status"], hold["account"]["available_balance"]) == ("active", 3400)
    captured = answer(tally_cli, api, "holds", "capture", wallet["id"], hold["id"],
                      "--amount", "200")  # fmt: skip
    assert (captured["hold"]["status"], captured["transaction"]["amount"]) == ("captured", 200)
    account = api.ok(api.get(f"/v1/accounts/{wallet['id']}"))
    assert (account["ledger_balance"], account["held_balance"]) == (3900, 0)
    assert answer(tally_cli, api, "accounts", "balance", wallet["id"]) == account
    holds = api.ok(api.get(f"/v1/accounts/{wallet['id']}/holds"))
    assert answer(tally_cli, api, "holds", "list", wallet["id"]) == holds
    one = api.ok(api.get(f"/v1/accounts/{wallet['id']}/holds/{hold['id']}"))
    assert answer(tally_cli, api, "holds", "show", wallet["id"], hold["id"]) == one


def test_the_cli_refuses_what_the_api_refuses_and_writes_nothing(
    tally_cli: Cli, api: Client, other: Client
) -> None:
    wallet = api.open_account("alice")
    api.deposit(wallet, 100)
    theirs = other.open_account("mallory")
    unknown = "00000000-0000-4000-8000-000000000001"
    with nothing_written(api.tally):
        assert refused(tally_cli, api, "customers", "show", unknown).startswith(
            f"tally: not_found: customer {unknown}"
        )
        assert "validation_error: currency" in refused(
            tally_cli, api, "customers", "create", "u2", "--currency", "euro"
        )
        # Another project's account is not found, as it is through the API.
        assert "not_found" in refused(
            tally_cli, api, "accounts", "deposit", theirs, "5", "--currency", "EUR"
        )
        assert "insufficient_funds" in refused(
            tally_cli, api, "accounts", "withdraw", wallet, "101", "--currency", "EUR"
        )
        assert "validation_error: account_id" in refused(
            tally_cli, api, "accounts", "show", "not-an-id"
        )
        assert "time_not_in_future" in refused(
            tally_cli, api, "holds", "place", wallet, "50", "--currency", "EUR",
            "--expires-at", "2001-01-01T00:00:00Z",
        )  # fmt: skip
        assert "not_found" in refused(tally_cli, api, "holds", "void", wallet, "no-such-hold")
        missing = refusal(tally_cli("accounts", "list", "--project", unknown))
        assert missing.startswith(f"tally: not_found: project {unknown}")


@pytest.mark.cli_process
def test_the_program_deposits_and_refuses_an_overdraft(tally_cli: Cli, api: Client) -> None:
    """Through the program, in a process of its own (the family's one test there; the
    others run the same verbs in the test's process): its settings come from the
    environment, an answer is exit 0 and JSON on stdout that the API reads back, a
    refusal exit 1 and one line on stderr, writing nothing."""
    wallet = api.open_account("alice")
    made = answer(tally_cli, api, "accounts", "deposit", wallet, "500", "--currency", "EUR")
    assert made["transaction"]["amount"] == 500
    assert api.account(wallet)["ledger_balance"] == 500
    with nothing_written(api.tally):
        assert "insufficient_funds" in refused(
            tally_cli, api, "accounts", "withdraw", wallet, "501", "--currency", "EUR"
        )
