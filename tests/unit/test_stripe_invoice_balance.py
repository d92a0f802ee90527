"""What a Stripe invoice says the customer's Stripe balance paid of it
(``ProviderInvoice.balance_applied_minor``, review finding 7): ``ending_balance -
starting_balance``, Stripe's balance being negative when it is credit. Shapes from
Stripe's own ``invoice`` fixture (../shared/stripe/fixtures3.json)."""

from __future__ import annotations

from adapters.providers.stripe_subscriptions import invoice_from
from tests.unit.test_provider_stripe_webhooks import resource


def applied(total: int, starting: int, ending: int | None) -> int:
    invoice = resource("invoice", total=total, starting_balance=starting, ending_balance=ending)
    return invoice_from(invoice).balance_applied_minor


def test_credit_held_at_stripe_that_paid_part_of_an_invoice_is_applied() -> None:
    assert applied(1000, -300, 0) == 300  # 700 left to pay by card
    assert applied(1000, -5000, -4000) == 1000  # all of it; 4000 credit left


def test_a_negative_total_kept_as_balance_and_a_debt_carried_are_negative() -> None:
    assert applied(-500, 0, -500) == -500
    assert applied(1000, 200, 0) == -200  # the customer owed 200: 1200 due


def test_an_invoice_not_finalized_has_no_balance_applied() -> None:
    assert applied(1000, -300, None) == 0
