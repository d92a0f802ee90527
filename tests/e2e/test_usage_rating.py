"""Rating usage into invoices (issue 13), driven by a test clock over HTTP: a month of
usage becomes the renewal invoice's usage lines (in arrears, per meter group, the
quantity recorded on the line); late usage within the grace period is billed once on
the next invoice; later usage is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.e2e.billing import START, clock, customer, price, problem, product, sandbox, subscribe
from tests.e2e.conftest import Client

__all__ = ["sandbox"]  # the fixture, used by name

TOKENS = {"code": "tokens", "name": "Tokens", "event_name": "completion",
          "aggregation": "sum", "property": "tokens", "group_by": ["model"]}  # fmt: skip
SEATS = {"code": "seats", "name": "Seats", "event_name": "seats", "aggregation": "max",
         "property": "n"}  # fmt: skip


def settle(api: Client) -> None:
    api.ok(api.get("/v1/meters"))


def at(days: float) -> str:
    return (START + timedelta(days=days)).isoformat()


def advance(api: Client, clock_id: str, days: float) -> None:
    api.ok(api.post(f"/v1/test_clocks/{clock_id}/advance", {"frozen_time": at(days)}))
    settle(api)


def send(api: Client, *events: dict[str, Any]) -> list[str]:
    answer = api.ok(api.post("/v1/usage_events/batch", {"events": list(events)}))
    return [r["status"] for r in answer["results"]]


def used(tx: str, days: float, name: str = "completion", **properties: str) -> dict[str, Any]:
    return {"transaction_id": tx, "external_customer_id": "user_1", "event_name": name,
            "timestamp": at(days), "properties": properties}  # fmt: skip


def invoices(api: Client, sub: dict[str, Any]) -> list[dict[str, Any]]:
    found = api.ok(api.get(f"/v1/invoices?subscription_id={sub['id']}"))["data"]
    return sorted(found, key=lambda invoice: str(invoice["period_start"]))


def usage_of(invoice: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], int, int, int]]:
    return [
        (li["usage"]["meter"], li["usage"]["quantity"], li["usage"]["group"], li["quantity"],
         li["unit_amount"], li["amount"])
        for li in invoice["lines"] if li["kind"] == "usage"
    ]  # fmt: skip


def metered_subscription(api: Client) -> tuple[str, dict[str, Any]]:
    api.ok(api.post("/v1/meters", TOKENS), 201)
    api.ok(api.post("/v1/meters", SEATS), 201)
    clock_id = clock(api)
    customer_id = customer(api, "user_1", test_clock_id=clock_id)
    api_product = product(api, "API")
    plan = price(api, api_product, "base", unit_amount=1000)
    tokens = price(api, api_product, "tokens", scheme="metered", meter="tokens", unit_amount=2)
    seats = price(api, api_product, "seats", scheme="metered", meter="seats", unit_amount=500)
    sub = subscribe(api, customer_id, plan, tokens, seats)
    settle(api)
    return clock_id, sub


def test_a_month_of_usage_is_billed_on_the_renewal_invoice_line_by_line(sandbox: Client) -> None:
    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 3)
    statuses = send(
        api,
        used("t1", 1, tokens="100", model="large"),
        used("t2", 2, tokens="50.5", model="large"),
        used("t2", 2, tokens="50.5", model="large"),  # a resend: one effect
        used("t3", 2.5, tokens="10", model="small"),
        used("s1", 1, name="seats", n="3"),
        used("s2", 2, name="seats", n="7"),
    )
    assert statuses == ["created", "created", "existed", "created", "created", "created"]
    advance(api, clock_id, 27)
    assert send(api, used("t4", 26.5, tokens="1", model="small")) == ["created"]
    advance(api, clock_id, 29)  # past the first period's end (28 Feb): it renews
    first, renewal = invoices(api, sub)
    assert usage_of(first) == []  # the first invoice bills the plan in advance, no usage
    period = [str(first["period_start"]), str(first["period_end"])]
    assert renewal["period_start"] == first["period_end"]
    assert usage_of(renewal) == [
        # 150.5 tokens at 2 cents: not a whole number, so one unit of the amount
        ("tokens", "150.5", {"model": "large"}, 1, 301, 301),
        ("tokens", "11", {"model": "small"}, 11, 2, 22),
        ("seats", "7", {}, 7, 500, 3500),
    ]
    lines = {li["id"]: li for li in renewal["lines"]}
    assert [lines[f"usage_{n}"]["period"] for n in (1, 2, 3)] == [period] * 3
    assert renewal["total"] == 1000 + 301 + 22 + 3500


def test_late_usage_within_the_grace_period_is_billed_once_on_the_next_invoice(
    sandbox: Client,
) -> None:
    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 2)
    assert send(api, used("t1", 1, tokens="100", model="large")) == ["created"]
    advance(api, clock_id, 28.2)  # renewed at 28 Feb 09:00; the grace lasts a day
    # Late: for the period just invoiced, within a day of its end.
    assert send(
        api,
        used("late1", 27, tokens="40", model="large"),
        used("late2", 27.5, tokens="5", model="tiny"),
        used("t1", 1, tokens="100", model="large"),  # a resend of a billed event
        used("now1", 28.1, tokens="3", model="large"),  # the new period's
    ) == ["created", "created", "existed", "created"]
    advance(api, clock_id, 28 + 1.5)  # past the grace: refused now
    refused = api.post("/v1/usage_events", used("late3", 27, tokens="9", model="large"))
    problem(refused, 409, "usage_period_closed")
    resent = api.post("/v1/usage_events", used("late1", 27, tokens="40", model="large"))
    # A resend of a stored event answers it, even now its period is closed (review).
    assert resent.status_code == 200, resent.text
    assert resent.json()["existed"] is True
    assert send(api, used("t1", 1, tokens="7", model="x"), used("late4", 27, tokens="1")) == [
        "existed", "refused"]  # fmt: skip
    advance(api, clock_id, 92)  # the next renewal (31 Mar), then the one after (30 Apr)
    assert send(api, used("now2", 91.5, tokens="0.5", model="large")) == ["created"]
    first, renewal, second, third = invoices(api, sub)[:4]
    assert usage_of(renewal) == [("tokens", "100", {"model": "large"}, 100, 2, 200)]
    late = [line for line in second["lines"] if line["kind"] == "usage"]
    assert usage_of(second) == [
        ("tokens", "140", {"model": "large"}, 40, 2, 80),  # 140 known now, 100 billed
        ("tokens", "5", {"model": "tiny"}, 5, 2, 10),
        ("tokens", "3", {"model": "large"}, 3, 2, 6),
    ]
    assert [li["usage"]["billed_before"] for li in late] == ["100", "0", "0"]
    assert [li["period"][0] for li in late] == [first["period_start"]] * 2 + [
        renewal["period_start"]]  # fmt: skip
    assert "late usage" in late[0]["description"]
    assert usage_of(third) == []  # nothing billed twice
    # Past periods: what each holds now, and what the invoices billed of it.
    path = f"/v1/subscriptions/{sub['id']}/usage"
    assert past(api, path, at(1)) == (first["period_start"], {
        ("tokens", "large"): ("140", "140"), ("tokens", "tiny"): ("5", "5"),
        ("seats", None): (None, None)})  # fmt: skip
    assert past(api, path, at(28.5))[1][("tokens", "large")] == ("3", "3")
    current = api.ok(api.get(path))
    assert current["period_start"] == third["period_start"]
    assert past(api, path, at(100))[1] == {("tokens", "large"): ("0.5", None),
                                          ("seats", None): (None, None)}  # fmt: skip
    for outside in (at(-1), at(200)):
        problem(api.get(path, at=outside), 422, "invalid_combination")


def past(api: Client, path: str, moment: str) -> tuple[str, dict[Any, Any]]:
    """A period's start, and per meter and group (its model) the value and what was
    billed."""
    found = api.ok(api.get(path, at=moment))
    return found["period_start"], {
        (m["code"], g["group"].get("model")): (g["value"], g["billed"])
        for m in found["meters"] for g in m["groups"]
    }  # fmt: skip


def test_the_upcoming_invoice_shows_the_usage_so_far_as_the_renewal_will_bill_it(
    sandbox: Client,
) -> None:
    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 10)
    path = f"/v1/subscriptions/{sub['id']}/upcoming_invoice"
    assert usage_of(api.ok(api.get(path))["upcoming_invoice"]) == []
    send(
        api,
        used("t1", 1, tokens="100", model="large"),
        used("t2", 9, tokens="0.25", model="large"),
        used("s1", 2, name="seats", n="4"),
    )
    upcoming = api.ok(api.get(path))["upcoming_invoice"]
    assert usage_of(upcoming) == [
        ("tokens", "100.25", {"model": "large"}, 1, 200, 200),  # 200.5 rounds half-even
        ("seats", "4", {}, 4, 500, 2000),
    ]
    assert upcoming["total"] == 1000 + 200 + 2000
    advance(api, clock_id, 29)
    renewal = invoices(api, sub)[-1]
    assert usage_of(renewal) == usage_of(upcoming)  # the preview was the renewal's
    assert usage_of(api.ok(api.get(path))["upcoming_invoice"]) == []  # a new period


def test_a_subscription_canceled_at_period_end_is_billed_its_last_periods_usage(
    sandbox: Client,
) -> None:
    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 5)
    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/cancel", {"at_period_end": True}))
    send(api, used("t1", 1, tokens="12", model="large"), used("s1", 4, name="seats", n="2"))
    advance(api, clock_id, 40)
    found = api.ok(api.get(f"/v1/subscriptions/{sub['id']}"))
    assert found["status"] == "canceled"
    first, final = invoices(api, sub)
    assert final["description"] == "Usage of the last period"
    assert [li["kind"] for li in final["lines"]] == ["usage", "usage"]
    assert usage_of(final) == [
        ("tokens", "12", {"model": "large"}, 12, 2, 24),
        ("seats", "2", {}, 2, 500, 1000),
    ]
    assert [final["period_start"], final["period_end"]] == [
        first["period_start"], first["period_end"]]  # fmt: skip
    assert final["total"] == 1024


def test_a_graduated_metered_price_bills_each_tier_of_the_usage(sandbox: Client) -> None:
    api = sandbox
    calls = {"code": "calls", "name": "Calls", "event_name": "call", "aggregation": "count"}
    api.ok(api.post("/v1/meters", calls), 201)
    clock_id = clock(api)
    customer_id = customer(api, "user_1", test_clock_id=clock_id)
    tiers = [{"up_to": 100, "unit_amount": 10}, {"up_to": None, "unit_amount": 5,
                                                 "flat_amount": 200}]  # fmt: skip
    tiered = price(api, product(api, "API"), "calls", scheme="metered_graduated",
                   meter="calls", tiers=tiers)  # fmt: skip
    sub = subscribe(api, customer_id, tiered)
    settle(api)
    advance(api, clock_id, 3)
    assert set(send(api, *[used(f"c{n}", 1, name="call") for n in range(130)])) == {"created"}
    advance(api, clock_id, 29)
    renewal = invoices(api, sub)[-1]
    (line,) = [li for li in renewal["lines"] if li["kind"] == "usage"]
    assert (line["usage"]["quantity"], line["amount"]) == ("130", 100 * 10 + 30 * 5 + 200)
    assert [(t["first"], t["last"], t["amount"]) for t in line["tiers"]] == [
        (1, 100, 1000), (101, 130, 350)]  # fmt: skip


def test_a_projects_grace_for_late_usage_is_its_billing_setting(sandbox: Client) -> None:
    api = sandbox
    clock_id, sub = metered_subscription(api)
    api.ok(api.post("/v1/billing_settings", {"usage_late_grace_s": 3 * 86_400}))
    advance(api, clock_id, 28 + 2.5)  # renewed at 28 Feb 09:00: within three days
    assert send(api, used("late1", 27, tokens="4", model="large")) == ["created"]
    api.ok(api.post("/v1/billing_settings", {"usage_late_grace_s": 0}))
    settle(api)  # the door reads the setting from its read model
    late = api.post("/v1/usage_events", used("late2", 27, tokens="4", model="large"))
    problem(late, 409, "usage_period_closed")
    settings = api.ok(api.get("/v1/billing_settings"))
    assert settings["usage_late_grace_s"] == 0
    problem(api.post("/v1/billing_settings", {"usage_late_grace_s": 32 * 86_400}), 422,
            "validation_error")  # fmt: skip
    advance(api, clock_id, 60)
    assert usage_of(invoices(api, sub)[2])[0][:2] == ("tokens", "4")


def test_usage_past_an_invoices_line_limit_goes_on_invoices_of_usage_alone(
    sandbox: Client,
) -> None:
    """An invoice holds 500 lines (MAX_LINES); a renewal with more usage groups used to
    fail, and be retried, for ever. The lines past what fits beside the items go on
    invoices of usage alone ('Usage, continued'), each group billed once."""
    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 2)
    models = [f"m{n:03d}" for n in range(510)]
    statuses = send(api, *[used(f"t{m}", 1, tokens="1", model=m) for m in models])
    assert statuses == ["created"] * 510
    advance(api, clock_id, 28.2)
    first, *rest = invoices(api, sub)
    assert usage_of(first) == []
    renewal, continued = sorted(rest, key=lambda i: len(i["lines"]), reverse=True)
    assert len(renewal["lines"]) == 500  # the three items and 497 groups
    assert [li["kind"] for li in renewal["lines"][:3]] == ["subscription"] * 3
    assert continued["description"] == "Usage, continued"
    assert continued["period_start"] == first["period_start"]
    assert continued["status"] == "open"
    billed = [line[2]["model"] for i in (renewal, continued) for line in usage_of(i)]
    assert sorted(billed) == models
    assert continued["total"] == 2 * 13
    assert renewal["total"] == 1000 + 2 * 497
    advance(api, clock_id, 59.1)  # the next renewal: nothing billed twice
    later = [i for i in invoices(api, sub) if i["id"] not in {renewal["id"], continued["id"]}]
    assert [usage_of(i) for i in later] == [[], []]
