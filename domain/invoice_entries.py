"""The journal entries an invoice records, as pure functions of its numbers.

Postings are signed like the ledger's (``docs/ledger.md``): positive raises the named
account's balance, and every entry sums to zero. Accounts:

- ``receivable:<customer>``: what the customer owes is its *negative* balance;
- ``revenue``: net revenue (positive is earned);
- ``tax_payable:<rate id>``: tax collected for a rate (positive is owed to the state);
- ``customer_credit:<customer>``: the customer's credit balance (positive is owed to
  the customer);
- the account a payment came from: ``clearing:<provider>`` or ``clearing:out_of_band``
  (a wallet payment is a ledger ``Transaction`` that posts its own entry).

| step | postings |
|---|---|
| finalize (total T, net N, tax t_r) | receivable -T, revenue +N, tax_payable:r +t_r |
| ... using credit c | customer_credit -c, receivable +c |
| ... with a negative total (-g) | receivable -g, customer_credit +g |
| payment x from a clearing account | clearing -x, receivable +x |
| void | the finalization entry with every sign flipped |
| credit note a (tax part t) | revenue -(a - t), tax_payable -t, +a to the target |

The target of a credit note is the receivable (lowering what is owed, or on its way to a
wallet through a ledger transaction), ``customer_credit``, or the clearing account of the
payment it refunds.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.customer_billing import credit_ref
from domain.discounts import allocate

Posting = dict[str, Any]


def receivable_ref(customer_id: UUID) -> str:
    return f"receivable:{customer_id}"


def finalization_entry(
    customer_id: UUID, totals: dict[str, Any], credit: int, granted: int
) -> list[Posting]:
    receivable = receivable_ref(customer_id)
    postings: list[Posting] = [
        {"account": receivable, "amount": -totals["total"]},
        {"account": "revenue", "amount": totals["net"]},
    ]
    for rate_id, tax in sorted(totals["tax_by_rate"].items()):
        postings.append({"account": f"tax_payable:{rate_id}", "amount": tax})
    if credit:
        postings.append({"account": credit_ref(customer_id), "amount": -credit})
        postings.append({"account": receivable, "amount": credit})
    if granted:
        postings.append({"account": receivable, "amount": -granted})
        postings.append({"account": credit_ref(customer_id), "amount": granted})
    return [p for p in postings if p["amount"]]


def credit_note_entry(totals: dict[str, Any], amount: int, to_account: str) -> list[Posting]:
    """Reverse revenue and tax for ``amount`` in proportion to the invoice's totals (tax
    part rounded half up, then spread over the rates by largest remainder)."""
    total = max(1, int(totals.get("total", 0)))
    tax_by_rate: dict[str, int] = dict(sorted(totals.get("tax_by_rate", {}).items()))
    tax_part = min(amount, (amount * max(0, int(totals.get("tax", 0))) + total // 2) // total)
    rate_parts = allocate(tax_part, [max(0, v) for v in tax_by_rate.values()])
    if sum(rate_parts) != tax_part:  # no positive tax to spread it over
        tax_part = 0
        rate_parts = [0] * len(rate_parts)
    entry: list[Posting] = [{"account": "revenue", "amount": -(amount - tax_part)}]
    entry += [
        {"account": f"tax_payable:{rid}", "amount": -part}
        for rid, part in zip(tax_by_rate, rate_parts, strict=True)
    ]
    entry.append({"account": to_account, "amount": amount})
    return [p for p in entry if p["amount"]]


def payment_entry(customer_id: UUID, paid_from: str, amount: int) -> list[Posting]:
    return [
        {"account": paid_from, "amount": -amount},
        {"account": receivable_ref(customer_id), "amount": amount},
    ]
