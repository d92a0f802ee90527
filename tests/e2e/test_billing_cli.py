"""``tally subscriptions``, ``tally test-clocks`` and ``tally invoices`` end to end: the
CLI on the database of a served test-mode project (in the test's process; the invoices
and refusals through the program, in a process of its own). A subscription
made by lookup key on a test clock, advanced a month, its invoice paid, paused, resumed
and canceled at the period end from the CLI reads the same through the API (a CLI
read's ``--json`` is the API's body); a draft invoice made, finalized and voided from the
CLI likewise; and each family refuses what the API refuses, with its codes, writing
nothing (unknown and other projects' ids are not found)."""

from __future__ import annotations

import pytest

from tests.e2e.billing import clock, customer, plan, sandbox
from tests.e2e.cli_process import Cli, answer, env, refused, tally_cli
from tests.e2e.conftest import Client, nothing_written

__all__ = ["env", "sandbox", "tally_cli"]  # the fixtures, used by name


def test_a_month_of_a_subscription_on_a_test_clock_from_the_cli(
    tally_cli: Cli, sandbox: Client
) -> None:
    api = sandbox
    plan(api, "PRO", 2900)
    made_clock = answer(tally_cli, api, "test-clocks", "create",
                        "--frozen-time", "2030-01-31T09:00:00Z", "--name", "month")  # fmt: skip
    ada = customer(api, "ada", test_clock_id=made_clock["id"])
    made = answer(tally_cli, api, "subscriptions", "create", ada, "--lookup-key", "pro_monthly:2")
    assert (made["status"], made["items"][0]["quantity"]) == ("active", 2)
    path = f"/v1/subscriptions/{made['id']}"
    assert answer(tally_cli, api, "subscriptions", "show", made["id"]) == api.ok(api.get(path))

    moved = answer(tally_cli, api, "test-clocks", "advance", made_clock["id"],
                   "--frozen-time", "2030-03-01T09:00:00Z")  # fmt: skip
    assert moved["steps"]["renewed"] >= 1
    clock_path = f"/v1/test_clocks/{made_clock['id']}"
    assert answer(tally_cli, api, "test-clocks", "show", made_clock["id"]) == api.ok(
        api.get(clock_path)
    )
    invoices = answer(tally_cli, api, "invoices", "list", "--customer", ada)
    assert invoices == api.ok(api.get("/v1/invoices", customer_id=ada))
    first = invoices["data"][0]
    paid = answer(tally_cli, api, "invoices", "pay", first["id"], "--method", "out_of_band",
                  "--reference", "wire 81")  # fmt: skip
    assert (paid["invoice"]["status"], paid["invoice"]["amount_remaining"]) == ("paid", 0)

    paused = answer(tally_cli, api, "subscriptions", "pause", made["id"])
    assert paused["subscription"]["status"] == "paused"
    resumed = answer(tally_cli, api, "subscriptions", "resume", made["id"])
    assert resumed["subscription"]["status"] == "active"
    ending = answer(tally_cli, api, "subscriptions", "cancel", made["id"], "--at-period-end")
    assert ending["subscription"]["cancel_at_period_end"] is True
    listed = answer(tally_cli, api, "subscriptions", "list", "--customer", ada)
    assert listed == api.ok(api.get("/v1/subscriptions", customer_id=ada))


def test_invoices_from_the_cli_and_what_each_family_refuses(
    tally_cli: Cli, sandbox: Client, other: Client
) -> None:
    api = sandbox
    ada = customer(api, "ada")
    draft = answer(tally_cli, api, "invoices", "create", ada, "--line", "Setup fee", "5000",
                   "--line", "Support", "1200", "--description", "March")  # fmt: skip
    assert (draft["status"], [line["unit_amount"] for line in draft["lines"]]) == (
        "draft", [5000, 1200],
    )  # fmt: skip
    opened = answer(tally_cli, api, "invoices", "finalize", draft["id"])["invoice"]
    assert (opened["status"], opened["total"]) == ("open", 6200)
    path = f"/v1/invoices/{draft['id']}"
    assert answer(tally_cli, api, "invoices", "show", draft["id"]) == api.ok(api.get(path))
    assert answer(tally_cli, api, "invoices", "void", draft["id"])["invoice"]["status"] == "void"

    theirs = other.ok(other.post("/v1/invoices", {"customer_id": customer(other, "eve")}), 201)
    made_clock = clock(api)
    unknown = "00000000-0000-4000-8000-000000000002"
    with nothing_written(api.tally):
        pay = ("invoices", "pay", draft["id"], "--method", "out_of_band", "--reference", "x")
        assert "invalid_transition" in refused(tally_cli, api, *pay)
        assert "not_found" in refused(tally_cli, api, "invoices", "finalize", theirs["id"])
        assert "validation_error: lines.0.unit_amount" in refused(
            tally_cli, api, "invoices", "create", ada, "--line", "Setup fee", "12.5"
        )
        assert refused(tally_cli, api, "subscriptions", "cancel", unknown).startswith(
            f"tally: not_found: subscription {unknown}"
        )
        assert "not_found" in refused(
            tally_cli, api, "subscriptions", "create", ada, "--lookup-key", "no_such_price"
        )
        assert "clock_cannot_go_backwards" in refused(
            tally_cli, api, "test-clocks", "advance", made_clock,
            "--frozen-time", "2001-01-01T00:00:00Z",
        )  # fmt: skip
        assert "not_found" in refused(tally_cli, api, "test-clocks", "show", unknown)


@pytest.mark.cli_process
def test_the_program_makes_a_test_clock_and_refuses_an_unknown_subscription(
    tally_cli: Cli, sandbox: Client
) -> None:
    """Through the program, in a process of its own (the family's one test there; the
    others run the same verbs in the test's process): its settings come from the
    environment, an answer is exit 0 and JSON on stdout that the API reads back, a
    refusal exit 1 and one line on stderr, writing nothing."""
    api = sandbox
    made = answer(tally_cli, api, "test-clocks", "create",
                  "--frozen-time", "2030-01-31T09:00:00Z", "--name", "month")  # fmt: skip
    shown = api.ok(api.get(f"/v1/test_clocks/{made['id']}"))
    assert (shown["name"], shown["frozen_time"]) == ("month", made["frozen_time"])
    unknown = "00000000-0000-4000-8000-000000000002"
    with nothing_written(api.tally):
        assert refused(tally_cli, api, "subscriptions", "cancel", unknown).startswith(
            f"tally: not_found: subscription {unknown}"
        )
