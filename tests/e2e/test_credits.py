"""Prepaid credits over HTTP (issue 13): grants, the consumption order, 402
``insufficient_credits``, idempotent consumption, voids, balances, the journal, and 16
concurrent consumers on one customer that never overspend."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx

from tests.e2e.billing import START, customer, problem
from tests.e2e.conftest import Client


def grant(api: Client, customer_id: str, amount: int, **fields: Any) -> dict[str, Any]:
    body = {"customer_id": customer_id, "kind": "promotional", "amount": amount, **fields}
    return api.ok(api.post("/v1/credit_grants", body), 201)


def consume(api: Client, customer_id: str, amount: int, key: str | None = None) -> httpx.Response:
    body = {"customer_id": customer_id, "amount": amount}
    return api.post("/v1/credits/consume", body, key=key)


def balance(api: Client, customer_id: str) -> int:
    credits = api.ok(api.get(f"/v1/customers/{customer_id}/credits"))
    (eur,) = credits["balances"]
    return int(eur["balance"])


def test_credits_are_consumed_by_priority_then_expiry_then_age_and_never_overspent(
    api: Client,
) -> None:
    cid = customer(api)
    later = (START + timedelta(days=3650)).isoformat()
    soon = (START + timedelta(days=3000)).isoformat()
    old = grant(api, cid, 100, kind="paid", source="stripe")
    far = grant(api, cid, 100, expires_at=later)
    near = grant(api, cid, 100, expires_at=soon)
    high = grant(api, cid, 100, priority=7)
    assert high["remaining"] == 100
    assert high["currency"] == "EUR"
    spent = api.ok(consume(api, cid, 350, key="c-1"), 201)
    assert [(p["grant_id"], p["amount"]) for p in spent["grants"]] == [
        (high["id"], 100), (near["id"], 100), (far["id"], 100), (old["id"], 50),
    ]  # fmt: skip
    assert spent["balance"] == 50
    # The same key again: the same consumption, nothing spent twice.
    again = consume(api, cid, 350, key="c-1")
    assert again.status_code == 201, again.text
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json()["id"] == spent["id"]
    refused = problem(consume(api, cid, 51), 402, "insufficient_credits")
    assert refused["available"] == 50
    assert balance(api, cid) == 50
    listed = api.ok(api.get("/v1/credit_grants", customer=cid))["data"]
    assert [(g["id"], g["remaining"]) for g in listed] == [
        (old["id"], 50), (far["id"], 0), (near["id"], 0), (high["id"], 0),
    ]  # fmt: skip


def test_a_void_takes_back_what_remains_and_the_journal_balances(api: Client) -> None:
    cid = customer(api)
    paid = grant(api, cid, 300, kind="paid", source="stripe")
    api.ok(consume(api, cid, 120), 201)
    voided = api.ok(api.post(f"/v1/credit_grants/{paid['id']}/void"))
    assert (voided["voided"], voided["remaining"], voided["consumed"]) == (180, 0, 120)
    problem(api.post(f"/v1/credit_grants/{paid['id']}/void"), 409, "invalid_transition")
    problem(consume(api, cid, 1), 402, "insufficient_credits")
    books = api.ok(api.get("/v1/reports/trial_balance"))
    eur = books["EUR"] if "EUR" in books else books["currencies"]["EUR"]
    accounts = eur["accounts"]
    assert accounts[f"credits:{cid}"] == 0
    assert accounts["revenue"] == 120
    assert accounts["clearing:stripe"] == -120
    assert eur["total"] == 0


def test_another_projects_customer_and_grant_answer_not_found(api: Client, other: Client) -> None:
    cid = customer(api)
    mine = grant(api, cid, 10)
    problem(other.post("/v1/credit_grants", {"customer_id": cid, "kind": "paid",
                                             "amount": 5}), 404, "not_found")  # fmt: skip
    problem(consume(other, cid, 1), 404, "not_found")
    problem(other.post(f"/v1/credit_grants/{mine['id']}/void"), 404, "not_found")
    problem(other.get(f"/v1/customers/{cid}/credits"), 404, "not_found")
    assert balance(api, cid) == 10


def test_sixteen_concurrent_consumers_on_one_customer_never_overspend(api: Client) -> None:
    cid = customer(api)
    grant(api, cid, 1000)
    barrier = threading.Barrier(16)

    def spend(i: int) -> list[httpx.Response]:
        barrier.wait()
        return [consume(api, cid, 70, key=f"k-{i}-{n}") for n in range(2)]

    with ThreadPoolExecutor(16) as pool:
        answers = [r for rs in pool.map(spend, range(16)) for r in rs]
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(201) == 14  # 14 x 70 = 980 of 1000
    assert statuses.count(402) == 18
    api.position = max(int(r.headers.get("Tally-Position", 0)) for r in answers)
    assert balance(api, cid) == 20
    left = sorted(r.json()["balance"] for r in answers if r.status_code == 201)
    assert left == [1000 - 70 * n for n in range(14, 0, -1)]


def test_credits_low_and_depleted_are_published_once_per_crossing(api: Client) -> None:
    from api.integration_events import envelope, event_model
    from projections.integration_events import events_after
    from projections.runner import wait_for_position

    def published() -> list[dict[str, Any]]:
        assert wait_for_position(api.tally.views, api.tally.schema, api.position, 10)
        rows = events_after(api.tally.views, api.tally.schema, api.project_id, 0, 1000)
        found = [envelope(r, api.tally) for r in rows]
        return [e for e in found if e["type"].startswith("billing.credits.")]

    cid = customer(api)
    grant(api, cid, 300)
    answer = api.ok(api.post(f"/v1/customers/{cid}/credits/threshold", {"low_threshold": 100}))
    assert answer["balances"][0]["low_threshold"] == 100
    api.ok(consume(api, cid, 150), 201)  # 150: above
    assert published() == []
    api.ok(consume(api, cid, 100), 201)  # 50: low
    api.ok(consume(api, cid, 10), 201)  # still low
    api.ok(consume(api, cid, 40), 201)  # 0: depleted
    events = published()
    assert [e["type"] for e in events] == ["billing.credits.low", "billing.credits.depleted"]
    # The object as the read model held it after the event's batch: below the threshold.
    assert events[0]["data"]["object"]["balance"] < 100
    assert events[1]["data"]["object"]["balance"] == 0
    event_model("billing.credits.low").model_validate(events[0])
    grant(api, cid, 500)  # re-arms both
    api.ok(consume(api, cid, 450), 201)
    assert [e["type"] for e in published()][2:] == ["billing.credits.low"]


def test_an_automatic_top_up_charges_the_saved_card_once_per_crossing(api: Client) -> None:
    from adapters.providers.stub import SUCCEEDS
    from tests.e2e.billing import card

    api.ok(api.post("/v1/billing_settings", {"auto_charge_provider": "stub"}))
    cid = customer(api)
    card(api, cid, SUCCEEDS)
    grant(api, cid, 300)
    body = {"low_threshold": 100, "top_up_amount": 1000}
    api.ok(api.post(f"/v1/customers/{cid}/credits/threshold", body))
    api.ok(consume(api, cid, 150, key="t-1"), 201)  # 150: above, nothing asked
    spent = api.ok(consume(api, cid, 100, key="t-2"), 201)  # 50: low, a top-up
    assert spent["balance"] == 50  # what this consumption left; the top-up came after
    again = consume(api, cid, 100, key="t-2")  # a resend charges nothing more
    assert again.headers["Idempotency-Replayed"] == "true"
    api.ok(consume(api, cid, 10), 201)  # still low after the top-up? no: 1040, above
    assert balance(api, cid) == 1040
    grants = api.ok(api.get("/v1/credit_grants", customer=cid))["data"]
    topped = [g for g in grants if g["description"] == "automatic top-up"]
    assert [(g["kind"], g["amount"], g["source"]) for g in topped] == [("paid", 1000, "stub")]
    payments = api.ok(api.get("/v1/payments", customer_id=cid))["data"]
    assert [(p["amount"], p["status"]) for p in payments] == [(1000, "succeeded")]
    books = api.ok(api.get("/v1/reports/trial_balance"))
    eur = books["EUR"] if "EUR" in books else books["currencies"]["EUR"]
    # 300 promotional + 1000 paid in, 260 consumed: the credits account holds the rest.
    assert eur["accounts"][f"credits:{cid}"] == 1040
    assert eur["accounts"]["clearing:stub"] == -1000
    assert eur["total"] == 0
    # The next crossing is charged once more, with its own provider call.
    api.ok(consume(api, cid, 960, key="t-3"), 201)  # 80: low again
    api.ok(consume(api, cid, 30), 201)
    payments = api.ok(api.get("/v1/payments", customer_id=cid))["data"]
    assert [(p["amount"], p["status"]) for p in payments] == [(1000, "succeeded")] * 2
    assert balance(api, cid) == 1050


def test_expired_credit_is_booked_as_breakage_by_the_sweeper(api: Client, clock: Any) -> None:
    import time

    cid = customer(api)
    expiring = grant(api, cid, 100, expires_at=(clock.now() + timedelta(seconds=30)).isoformat())
    grant(api, cid, 50)
    api.ok(consume(api, cid, 40), 201)  # from the expiring grant: it expires sooner
    clock.advance(timedelta(seconds=31))
    assert balance(api, cid) == 50  # past its expiry it counts nothing at once
    for _ in range(100):  # the sweeper passes every 0.2 s
        found = api.ok(api.get("/v1/credit_grants", customer=cid))["data"]
        if found[0]["expired"]:
            break
        time.sleep(0.1)
    assert (found[0]["id"], found[0]["expired"], found[0]["remaining"]) == (expiring["id"], 60, 0)
    api.position = api.tally.store.recorder.max_notification_id() or 0
    books = api.ok(api.get("/v1/reports/trial_balance"))
    eur = books["EUR"] if "EUR" in books else books["currencies"]["EUR"]
    assert eur["accounts"]["breakage"] == 60
    assert eur["accounts"][f"credits:{cid}"] == 50


def test_a_declined_top_up_grants_nothing_and_one_without_a_card_is_failed_at_once(
    api: Client,
) -> None:
    from adapters.providers.stub import DECLINED
    from tests.e2e.billing import card

    api.ok(api.post("/v1/billing_settings", {"auto_charge_provider": "stub"}))
    declined, bare = customer(api, "declined"), customer(api, "bare")
    card(api, declined, DECLINED)
    body = {"low_threshold": 100, "top_up_amount": 1000}
    for cid in (declined, bare):
        grant(api, cid, 300)
        api.ok(api.post(f"/v1/customers/{cid}/credits/threshold", body))
        api.ok(consume(api, cid, 250), 201)  # 50: low
    assert balance(api, declined) == 50
    payments = api.ok(api.get("/v1/payments", customer_id=declined))["data"]
    assert [(p["amount"], p["status"]) for p in payments] == [(1000, "failed")]
    assert len(api.ok(api.get("/v1/credit_grants", customer=declined))["data"]) == 1
    assert balance(api, bare) == 50
    assert api.ok(api.get("/v1/payments", customer_id=bare))["data"] == []
    from projections.credits import balances_of

    balance(api, cid)  # read after the writes
    (row,) = balances_of(api.tally.views, api.tally.schema, api.project_id, UUID(bare))
    assert row["top_ups"] == [
        {"crossing": 1, "amount": 1000, "status": "failed", "reason": "no_payment_method"}
    ]


def test_a_declined_top_up_is_recorded_failed_and_the_next_crossing_asks_again(
    api: Client,
) -> None:
    """Review finding 11: before, a declined top-up stayed ``requested`` for ever and the
    low watch stayed off, so no later consumption asked for credits again."""
    from adapters.providers.stub import DECLINED
    from projections.credits import balances_of
    from tests.e2e.billing import card

    api.ok(api.post("/v1/billing_settings", {"auto_charge_provider": "stub"}))
    cid = customer(api)
    card(api, cid, DECLINED)
    grant(api, cid, 300)
    body = {"low_threshold": 100, "top_up_amount": 1000}
    api.ok(api.post(f"/v1/customers/{cid}/credits/threshold", body))
    api.ok(consume(api, cid, 250), 201)  # 50: low, declined
    balance(api, cid)  # read after the writes
    (row,) = balances_of(api.tally.views, api.tally.schema, api.project_id, UUID(cid))
    assert [(t["crossing"], t["status"]) for t in row["top_ups"]] == [(1, "failed")]
    assert row["top_ups"][0]["reason"] == "card_declined"
    api.ok(consume(api, cid, 10), 201)  # 40: still low, the watch re-armed: asks again
    balance(api, cid)  # read after the writes
    (row,) = balances_of(api.tally.views, api.tally.schema, api.project_id, UUID(cid))
    assert [(t["crossing"], t["status"]) for t in row["top_ups"]] == [(1, "failed"),
                                                                     (2, "failed")]  # fmt: skip
    payments = api.ok(api.get("/v1/payments", customer_id=cid))["data"]
    assert [(p["amount"], p["status"]) for p in payments] == [(1000, "failed")] * 2
    assert balance(api, cid) == 40


def test_a_top_up_whose_grant_cannot_be_recorded_is_failed_before_any_charge(
    api: Client,
) -> None:
    """Review finding 3 (credits): with MAX_CREDIT_GRANTS live grants the top-up's grant
    cannot be recorded, so the crossing records TopUpFailed('limit_reached') and charges
    nothing (before, the card was charged, the grant refused and the consumption answered
    409 though it had committed). Spent grants do not count: a customer topped up 1,000
    times can still be granted more."""
    from adapters.providers.stub import SUCCEEDS
    from domain.limits import MAX_CREDIT_GRANTS
    from projections.credits import balances_of
    from tests.e2e.billing import card

    api.ok(api.post("/v1/billing_settings", {"auto_charge_provider": "stub"}))
    cid = customer(api)
    card(api, cid, SUCCEEDS)
    for _ in range(MAX_CREDIT_GRANTS):
        grant(api, cid, 1)
    problem(api.post("/v1/credit_grants", {"customer_id": cid, "kind": "promotional",
                                            "amount": 1}), 409, "limit_reached")  # fmt: skip
    body = {"low_threshold": 2000, "top_up_amount": 1000}  # 1000: low at once
    api.ok(api.post(f"/v1/customers/{cid}/credits/threshold", body))
    balance(api, cid)  # read after the writes
    (row,) = balances_of(api.tally.views, api.tally.schema, api.project_id, UUID(cid))
    assert row["top_ups"] == [
        {"crossing": 1, "amount": 1000, "status": "failed", "reason": "limit_reached"}
    ]
    assert api.ok(api.get("/v1/payments", customer_id=cid))["data"] == []  # no charge
    api.ok(consume(api, cid, 200), 201)  # 200 grants spent: they no longer count
    grant(api, cid, 1)
    assert balance(api, cid) == 801


def test_a_paid_grant_funded_by_the_customers_wallet_withdraws_in_the_same_write(
    api: Client,
) -> None:
    """Review finding 14 (issue 13's "funded by a wallet top-up"): before, a paid grant
    only posted against a free-text clearing account and the wallet was untouched."""
    from tests.e2e.invoicing import wallet

    cid = customer(api)
    account_id = wallet(api, cid, 1000)
    body = {"customer_id": cid, "kind": "paid", "amount": 600, "wallet_account_id": account_id}
    made = api.ok(api.post("/v1/credit_grants", body), 201)
    assert made["source"] == f"wallet:{account_id}"
    assert api.account(account_id)["ledger_balance"] == 400
    assert balance(api, cid) == 600
    # Not enough in the wallet: refused, and nothing granted or withdrawn.
    problem(api.post("/v1/credit_grants", {**body, "amount": 500}), 422, "insufficient_funds")
    other = api.open_account(owner="someone-else")
    api.deposit(other, 1000)
    problem(api.post("/v1/credit_grants", {**body, "wallet_account_id": other}), 422,
            "invalid_combination")  # fmt: skip
    problem(api.post("/v1/credit_grants", {**body, "kind": "promotional"}), 422,
            "invalid_combination")  # fmt: skip
    problem(api.post(f"/v1/credit_grants/{made['id']}/void", {}), 409, "invalid_transition")
    assert (api.account(account_id)["ledger_balance"], balance(api, cid)) == (400, 600)
    books = api.ok(api.get("/v1/reports/trial_balance"))
    eur = books["EUR"] if "EUR" in books else books["currencies"]["EUR"]
    assert eur["accounts"][f"credits:{cid}"] == 600
    assert eur["accounts"][f"wallet:{account_id}"] == 400
    assert eur["total"] == 0
