"""Tax through the API against examples computed by hand.

The rule (docs/invoicing.md): tax per line and per rate, on the line's amount after its
share of the discount, rounded to a whole minor unit half to even; an inclusive rate
rounds the net, so net + tax is exactly the amount on the line."""

from __future__ import annotations

from typing import Any

from tests.e2e.billing import customer
from tests.e2e.conftest import Client
from tests.e2e.invoicing import act, coupon, draft, line, tax_rate


def _finalized(api: Client, *lines: dict[str, Any], code: str | None = None) -> dict[str, Any]:
    invoice = draft(api, None, *lines)
    if code is not None:
        act(api, invoice["id"], "coupon", {"coupon_code": code})
    final: dict[str, Any] = act(api, invoice["id"], "finalize")["invoice"]
    return final


def test_exclusive_tax_rounds_each_line_half_to_even(api: Client) -> None:
    vat = tax_rate(api, "25", jurisdiction="XX")
    # 10 x 25% = 2.5 -> 2 (to even), three times; 30 x 25% = 7.5 -> 8 (to even). The
    # per-line sum is 14; rounding the invoice's 60 x 25% = 15 once would give 15.
    invoice = _finalized(
        api,
        line("a", 10, tax_rate_ids=[vat]),
        line("b", 10, tax_rate_ids=[vat]),
        line("c", 10, tax_rate_ids=[vat]),
        line("d", 30, tax_rate_ids=[vat]),
    )
    assert [li["tax"] for li in invoice["lines"]] == [2, 2, 2, 8]
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (60, 14, 74)
    assert invoice["tax_by_rate"] == {vat: 14}


def test_nineteen_percent_on_19_99(api: Client) -> None:
    vat = tax_rate(api, "19", jurisdiction="DE")
    # 1999 x 0.19 = 379.81 -> 380.
    invoice = _finalized(api, line("Pro", 1999, tax_rate_ids=[vat]))
    assert (invoice["tax"], invoice["total"]) == (380, 2379)


def test_inclusive_tax_rounds_the_net(api: Client) -> None:
    vat = tax_rate(api, "20", inclusive=True, jurisdiction="GB")
    # 1000 / 1.2 = 833.33 -> net 833, tax 1000 - 833 = 167; the customer pays 1000.
    invoice = _finalized(api, line("Box", 1000, tax_rate_ids=[vat]))
    assert (invoice["lines"][0]["net"], invoice["tax"], invoice["total"]) == (833, 167, 1000)


def test_tax_is_on_the_amount_after_the_lines_share_of_the_discount(api: Client) -> None:
    vat = tax_rate(api, "19")
    coupon(api, "TEN", percent_off="10")
    # Discount 10% of 3000 = 300, shared 1999:1001 -> 199.9 and 100.1 -> by largest
    # remainder 200 and 100. Taxed line: (1999 - 200) x 0.19 = 341.81 -> 342.
    # Total: 1799 + 901 + 342 = 3042.
    invoice = _finalized(
        api, line("Taxed", 1999, tax_rate_ids=[vat]), line("Exempt", 1001), code="TEN"
    )
    assert [li["discount"] for li in invoice["lines"]] == [200, 100]
    assert (invoice["discount"], invoice["tax"], invoice["total"]) == (300, 342, 3042)


def test_two_rates_on_one_line_are_rounded_separately(api: Client) -> None:
    state, city = tax_rate(api, "6.25"), tax_rate(api, "2.5")
    # 1010 x 6.25% = 63.125 -> 63; 1010 x 2.5% = 25.25 -> 25; total 1010 + 88 = 1098.
    invoice = _finalized(api, line("Thing", 1010, tax_rate_ids=[state, city]))
    assert invoice["tax_by_rate"] == {state: 63, city: 25}
    assert invoice["total"] == 1098


def test_a_zero_exponent_currency_rounds_to_whole_yen(api: Client) -> None:
    vat = tax_rate(api, "10", jurisdiction="JP")
    buyer = customer(api, "taro", currency="JPY")
    # 1234 JPY x 10% = 123.4 -> 123.
    invoice = draft(api, buyer, line("Plan", 1234, tax_rate_ids=[vat]))
    final = act(api, invoice["id"], "finalize")["invoice"]
    assert (final["currency"], final["tax"], final["total"]) == ("JPY", 123, 1357)
