"""Invoice numbers when test clocks are involved (issue 11, bug 7): an invoice finalized
on a test clock takes its number from the project's test-clock series
(``INV-TC-<clock's year>-000001``), so a test clock years ahead neither puts its year
into the real series nor uses up its numbers."""

from __future__ import annotations

from datetime import timedelta

from api.bootstrap import Tally
from tests.e2e.billing import START, clock, customer
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.conftest import Client
from tests.e2e.invoicing import act, draft, line


def finalized_number(api: Client, customer_id: str) -> str:
    invoice = draft(api, customer_id, line("Setup", 1500))
    return str(act(api, invoice["id"], "finalize")["invoice"]["number"])


def test_test_clock_invoices_have_their_own_series(sandbox: Client, app_tally: Tally) -> None:
    api = sandbox
    year = app_tally.clock.now().year
    first_clock, later_clock = clock(api), clock(api, START + timedelta(days=800))
    on_clock = customer(api, "ada", test_clock_id=first_clock)
    on_later_clock = customer(api, "bob", test_clock_id=later_clock)
    real = customer(api, "cy")

    assert finalized_number(api, on_clock) == "INV-TC-2030-000001"
    # Before: INV-2030-000001 then INV-<this year>-000002, a real series whose years
    # went backwards and whose first number a test clock had taken.
    assert finalized_number(api, real) == f"INV-{year}-000001"
    assert finalized_number(api, on_later_clock) == "INV-TC-2032-000002"
    assert finalized_number(api, on_clock) == "INV-TC-2030-000003"
    assert finalized_number(api, real) == f"INV-{year}-000002"
