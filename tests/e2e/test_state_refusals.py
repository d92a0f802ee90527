"""A request the schema admits, refused because of a resource's state, answers that
state's code (404, 409), never 422 validation_error, the code of a request that breaks
its schema (see test_fuzz.py: the fuzzing run holds every operation to it)."""

from __future__ import annotations

from domain.carts import MAX_LINES as MAX_CART_LINES
from domain.payment_methods import MAX_METHODS
from tests.e2e.billing import customer, plan, problem, subscribe
from tests.e2e.conftest import Client, nothing_written
from tests.e2e.invoicing import draft, line


def test_removing_a_line_that_is_not_on_the_invoice_is_404(api: Client) -> None:
    invoice = draft(api, None, line("Work", 1000))
    with nothing_written(api.tally):
        removed = api.post(f"/v1/invoices/{invoice['id']}/lines/no_such_line/remove")
    assert problem(removed, 404, "not_found")["id"] == "no_such_line"


def test_cancelling_at_period_end_twice_is_409_invalid_transition(api: Client) -> None:
    sub_id = subscribe(api, customer(api), plan(api, "PRO", 1000))["id"]
    api.ok(api.post(f"/v1/subscriptions/{sub_id}/cancel", {"at_period_end": True}))
    with nothing_written(api.tally):
        again = api.post(f"/v1/subscriptions/{sub_id}/cancel", {"at_period_end": True})
    assert "already cancels" in problem(again, 409, "invalid_transition")["detail"]


def test_a_cart_at_its_line_limit_refuses_another_with_409_limit_reached(api: Client) -> None:
    cart = api.ok(api.post("/v1/carts", {"currency": "EUR"}), 201)["cart"]
    item = {"line": {"name": "mug", "unit_amount": 900, "currency": "EUR"}}
    for _ in range(MAX_CART_LINES):
        api.ok(api.post(f"/v1/carts/{cart['id']}/items", item))
    with nothing_written(api.tally):
        one_more = api.post(f"/v1/carts/{cart['id']}/items", item)
    assert problem(one_more, 409, "limit_reached")["limit"] == MAX_CART_LINES


def test_a_customer_at_the_payment_method_limit_gets_409_limit_reached(api: Client) -> None:
    ada = customer(api, "ada")
    for n in range(MAX_METHODS):
        card = {"customer_id": ada, "payment_method": f"stub_pm_{n}"}
        api.ok(api.post("/v1/payment_methods", card))
    with nothing_written(api.tally):
        one_more = api.post("/v1/payment_methods", {"customer_id": ada, "payment_method": "pm_x"})
    assert problem(one_more, 409, "limit_reached")["limit"] == MAX_METHODS
