"""Refunds of credits bought, over HTTP (issue 13): a credit note of a credit purchase's
invoice, or the reversal of a wallet-funded grant's withdrawal or of an automatic
top-up's charge, takes the refunded
credits back from the grant (journal and balance agree), never more than the grant
still holds (409 ``credits_already_spent``, nothing written)."""

from __future__ import annotations

from uuid import UUID

from domain.ids import uuid5
from tests.e2e.billing import customer, problem
from tests.e2e.conftest import Client, nothing_written
from tests.e2e.invoicing import wallet
from tests.e2e.test_credit_purchases import books, buy, credits_of
from tests.e2e.test_payments import replayed_equal


def _paid_purchase(api: Client, cid: str, amount: int) -> dict[str, str]:
    bought = buy(api, cid, amount)
    pay = {"method": "out_of_band", "reference": f"wire-{cid}"}
    api.ok(api.post(f"/v1/invoices/{bought['invoice']['id']}/pay", pay))
    return {"invoice": bought["invoice"]["id"], "grant": bought["grant_id"]}


def _consume(api: Client, cid: str, amount: int) -> None:
    api.ok(api.post("/v1/credits/consume", {"customer_id": cid, "amount": amount}), 201)


def test_a_credit_note_of_a_purchase_takes_back_its_unspent_credits_never_more(
    api: Client,
) -> None:
    cid = customer(api, "ada")
    bought = _paid_purchase(api, cid, 1000)
    _consume(api, cid, 300)
    notes = f"/v1/invoices/{bought['invoice']}/credit_notes"
    with nothing_written(api.tally):
        spent = api.post(notes, {"amount": 800, "refund_to": "credit_balance"})
    found = problem(spent, 409, "credits_already_spent")
    assert (found["holds"], found["amount"]) == (700, 800)
    api.ok(api.post(notes, {"amount": 500, "refund_to": "credit_balance"}), 201)
    [grant] = credits_of(api, cid)
    assert (grant["remaining"], grant["consumed"], grant["voided"]) == (200, 300, 500)
    eur = books(api)
    # Consumed 300 earned; the note took 500 of revenue back, the grant's 500 gave it.
    assert eur["accounts"][f"credits:{cid}"] == 200
    assert eur["accounts"]["revenue"] == 300
    assert eur["total"] == 0
    # The rest can still be refunded; then nothing is left to give back.
    api.ok(api.post(notes, {"amount": 200, "refund_to": "credit_balance"}), 201)
    problem(api.post("/v1/credits/consume", {"customer_id": cid, "amount": 1}), 402,
            "insufficient_credits")  # fmt: skip
    assert books(api)["accounts"][f"credits:{cid}"] == 0
    replayed_equal(api)


def test_a_credit_note_of_an_unpaid_purchase_is_refused_void_it_instead(api: Client) -> None:
    cid = customer(api, "bob")
    bought = buy(api, cid, 400)
    with nothing_written(api.tally):
        answer = api.post(
            f"/v1/invoices/{bought['invoice']['id']}/credit_notes",
            {"amount": 400, "refund_to": "none"},
        )
    problem(answer, 409, "invalid_transition")


def test_reversing_a_wallet_grants_withdrawal_takes_the_unspent_credits_back(
    api: Client,
) -> None:
    cid = customer(api, "cy")
    account_id = wallet(api, cid, 1000)
    body = {"customer_id": cid, "kind": "paid", "amount": 600, "wallet_account_id": account_id}
    grant = api.ok(api.post("/v1/credit_grants", body), 201)
    _consume(api, cid, 250)
    txn = uuid5(api.project_id, f"credit_grant:{grant['id']}")
    reverse = f"/v1/transactions/{txn}/reverse"
    with nothing_written(api.tally):
        problem(api.post(reverse, {"amount": 600}), 409, "credits_already_spent")
    api.ok(api.post(reverse, {"amount": 350}))
    [after] = credits_of(api, cid)
    assert (after["remaining"], after["consumed"], after["voided"]) == (0, 250, 350)
    assert api.account(account_id)["ledger_balance"] == 400 + 350
    eur = books(api)
    assert eur["accounts"][f"credits:{cid}"] == 0
    assert eur["accounts"][f"wallet:{account_id}"] == 750
    assert eur["total"] == 0
    replayed_equal(api)


def test_reversing_a_top_ups_charge_takes_back_what_its_grant_still_holds(api: Client) -> None:
    cid = customer(api, "dee")
    txn = _spent_top_up(api, cid)
    reverse = f"/v1/transactions/{txn}/reverse"
    with nothing_written(api.tally):
        found = problem(api.post(reverse, {"amount": 1000}), 409, "credits_already_spent")
    assert found["holds"] == 950
    api.ok(api.post(reverse, {"amount": 950}))
    topped = [g for g in credits_of(api, cid) if g["description"] == "automatic top-up"]
    assert [(g["remaining"], g["consumed"], g["voided"]) for g in topped] == [(0, 50, 950)]
    eur = books(api)
    assert eur["accounts"][f"credits:{cid}"] == 0
    assert eur["accounts"]["clearing:stub"] == -50
    assert eur["total"] == 0


def _spent_top_up(api: Client, cid: str) -> str:
    """A customer whose automatic top-up of 1,000 was charged (stub) and 50 of it
    spent: the id of the top-up's transaction."""
    from adapters.providers.stub import SUCCEEDS
    from domain.credit_balance import CreditBalance
    from tests.e2e.billing import card

    api.ok(api.post("/v1/billing_settings", {"auto_charge_provider": "stub"}))
    card(api, cid, SUCCEEDS)
    grant = {"customer_id": cid, "kind": "promotional", "amount": 300}
    api.ok(api.post("/v1/credit_grants", grant), 201)
    threshold = f"/v1/customers/{cid}/credits/threshold"
    api.ok(api.post(threshold, {"low_threshold": 100, "top_up_amount": 1000}))
    _consume(api, cid, 250)  # 50 left: low, a top-up of 1,000 charged and granted
    api.ok(api.post(threshold, {"low_threshold": None}))  # no more top-ups
    _consume(api, cid, 100)  # the promotional 50 (older), then 50 of the top-up's
    return str(
        uuid5(api.project_id, f"credit_top_up:{CreditBalance.create_id(UUID(cid), 'EUR')}:1")
    )


def test_a_dashboard_refund_of_a_spent_top_up_is_applied_once_never_parked(
    api: Client,
) -> None:
    """The provider gave the 1,000 back (a fact): the grant gives what it holds (950),
    the 50 already spent posts to ``credits_refund_shortfall``; reported again, nothing
    more. Before: the charge named no transaction (the refund was ignored), then
    ``credits_already_spent`` parked the webhook."""
    from tests.e2e.test_dashboard_refunds import dashboard_refund

    cid = customer(api, "eve")
    txn = _spent_top_up(api, cid)
    charge = api.ok(api.get(f"/v1/transactions/{txn}"))
    refs = {"tally_transaction": txn, "tally_customer": cid}
    assert charge["state"] == "completed"
    dashboard_refund(api, "evt_top_up_refund", refs, 1000, 1000)
    dashboard_refund(api, "evt_top_up_refund", refs, 1000, 1000)  # redelivered
    dashboard_refund(api, "evt_top_up_again", refs, 1000, 1000)  # reported again
    after = api.ok(api.get(f"/v1/transactions/{txn}"))
    assert (after["state"], after["reversed_amount"]) == ("reversed", 1000)
    events = api.ok(api.get("/v1/webhook_events"))["data"]
    assert {e["status"] for e in events} <= {"applied", "ignored"}
    topped = [g for g in credits_of(api, cid) if g["description"] == "automatic top-up"]
    assert [(g["remaining"], g["consumed"], g["voided"]) for g in topped] == [(0, 50, 950)]
    eur = books(api)
    assert eur["accounts"][f"credits:{cid}"] == 0
    assert eur["accounts"]["credits_refund_shortfall"] == -50
    assert eur["accounts"]["clearing:stub"] == 0
    assert eur["total"] == 0
    replayed_equal(api)


def test_a_top_ups_charge_names_its_transaction_for_the_provider(api: Client) -> None:
    """What Stripe's ``charge.refunded``, Paddle's transaction and YooKassa's payment
    carry back (their metadata / custom_data are the charge's references)."""
    from domain.provider_calls import ProviderCall

    cid = customer(api, "fay")
    txn = _spent_top_up(api, cid)
    [listed] = api.ok(api.get("/v1/provider_calls", operation="charge"))["data"]
    call: ProviderCall = api.tally.store.repository.get(UUID(listed["id"]))
    assert call.request_params.references["tally_transaction"] == txn
