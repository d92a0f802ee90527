"""``tally payments list|show`` (issue 12): a project's payments from the command line,
the same objects ``GET /v1/payments`` answers; another project's payment is not shown."""

from __future__ import annotations

import json
from uuid import UUID

from api.bootstrap import Tally
from commands import messages as m
from commands.bus import Context
from tests.e2e.test_catalog_load import cli, cli_process, env, project

__all__ = ["env", "project"]  # fixtures used by name below


def out_of_band_payment(tally: Tally, project_id: UUID, amount: int) -> UUID:
    """An invoice of ``amount`` for a new customer, paid out of band; its id."""
    ctx = Context(project_id, "cli")
    customer = tally.execute(m.RegisterCustomer(external_id="ada", currency="EUR"), ctx)
    line = m.InvoiceLineInput(description="Work", unit_amount=amount, quantity=1)
    drafted = tally.execute(
        m.CreateInvoice(customer_id=UUID(customer.body["customer"]["id"]), lines=[line]), ctx
    )
    invoice_id = UUID(drafted.body["invoice"]["id"])
    tally.execute(m.FinalizeInvoice(invoice_id=invoice_id), ctx)
    pay = m.PayInvoice(invoice_id=invoice_id, method="out_of_band", reference="wire 9")
    tally.execute(pay, ctx)
    return invoice_id


def test_list_and_show_answer_the_projects_payments(
    env: dict[str, str], project: str, tally: Tally
) -> None:
    invoice_id = out_of_band_payment(tally, UUID(project), 900)
    listed = cli_process(env, "payments", "list", "--project", project, "--json")
    assert listed.returncode == 0, listed.stderr
    [found] = json.loads(listed.stdout)["data"]
    assert (found["invoice_id"], found["amount"], found["status"]) == (
        str(invoice_id),
        900,
        "succeeded",
    )
    assert (found["object"], found["method"], found["reference"]) == (
        "payment",
        "out_of_band",
        "wire 9",
    )
    shown = cli(env, "payments", "show", found["id"], "--project", project, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == found
    text = cli(env, "payments", "list", "--project", project, "--status", "failed")
    assert text.stdout.strip() == "no payments"
    other = cli(env, "projects", "create", "globex", "--json")
    other_id = json.loads(other.stdout)["id"]
    hidden = cli_process(env, "payments", "show", found["id"], "--project", other_id)
    assert hidden.returncode == 1
    assert "no payment" in hidden.stdout
