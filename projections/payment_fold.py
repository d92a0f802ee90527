"""The public payment object's rules, as pure functions over one row (a dict).

A *payment* is money a customer paid, or was asked to pay, through one of Tally's ways
(issue 12): a charge the outbox makes at a provider (one ``ProviderCall`` of operation
``charge``; its id is the payment's), a hosted checkout's sale or wallet top-up (one
``ProviderCall`` of operation ``checkout`` that names the ledger transaction it pays; its
id is the payment's, and the transaction's outcome is the payment's: the call's own
answer only makes the page), or an invoice payment recorded another way (an
out-of-band or wallet payment, a payment the provider collected on its own and reported
by webhook, a subscription's checkout paying its invoice: ``Invoice.PaymentRecorded``;
its id derives from the invoice's id and the payment's key on the invoice). Nothing here
reads a client's input for an id.

    pending --settle(processing)--> processing      (the provider confirms later)
    pending | processing --settle(succeeded)--> succeeded
    pending | processing --settle(failed)-----> failed
    succeeded --refund(part)--> partially_refunded --refund(rest)--> refunded

``settle`` and ``refund`` answer the public type the change emits
(``billing.payment.succeeded|failed|refunded``), or None: a second report of one outcome
(the outbox's answer after the webhook, or the other way round) changes nothing and
emits nothing, whichever comes first. A refund is counted once the money went back: a
provider refund call when it succeeded, a credit note's refund of a wallet or
out-of-band payment at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

PENDING, PROCESSING, SUCCEEDED, FAILED = "pending", "processing", "succeeded", "failed"
PARTIALLY_REFUNDED, REFUNDED = "partially_refunded", "refunded"
STATUSES = (PENDING, PROCESSING, SUCCEEDED, FAILED, PARTIALLY_REFUNDED, REFUNDED)
UNSETTLED = (PENDING, PROCESSING)
REFUNDABLE = (SUCCEEDED, PARTIALLY_REFUNDED)

PAYMENT_SUCCEEDED = "billing.payment.succeeded"
PAYMENT_FAILED = "billing.payment.failed"
PAYMENT_REFUNDED = "billing.payment.refunded"

# A fixed namespace: an invoice payment's id is the same in every process and replay.
NAMESPACE = UUID("2d0c6f3a-9b1e-5c47-8e2d-6a4f0b1c3e59")
# How long a failure's message may be in the object (a provider's text is longer).
MAX_FAILURE_CHARS = 500

Row = dict[str, Any]


def invoice_payment_id(invoice_id: UUID, payment_key: str) -> UUID:
    """The id of the payment ``payment_key`` (``pay_1``...) of an invoice."""
    return uuid5(NAMESPACE, f"invoice_payment:{invoice_id}:{payment_key}")


def _uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value else None


def _charge_customer(params: dict[str, Any]) -> UUID | None:
    """The Tally customer a charge is for. Top-up charges recorded before they named
    their customer in ``customer_id`` (it was set only while the provider's customer was
    being made) carry it in their references, so old logs fold to the same answer."""
    references = params.get("references") or {}
    return _uuid(params.get("customer_id") or references.get("tally_customer"))


def charge_row(
    call_id: UUID, project_id: UUID, provider: str, params: dict[str, Any], at: datetime
) -> Row:
    """A new charge, pending: from its provider call's recorded params."""
    return {
        **_provider_row(call_id, project_id, provider, params, at),
        "amount": int(params["amount_minor"]),
        "currency": str(params["currency"]),
    }


def is_paying_checkout(params: dict[str, Any]) -> bool:
    """Whether a checkout call's params ask for a payment of their own: a sale or a
    wallet top-up names the ledger transaction it pays. A subscription's checkout names
    none (its invoice records the payment), nor does a trial's, which takes no money."""
    return bool(params.get("transaction_id"))


def checkout_row(
    call_id: UUID, project_id: UUID, provider: str, params: dict[str, Any], at: datetime
) -> Row:
    """A hosted checkout's sale or top-up, pending until its transaction settles. The
    amount and currency are the lines' (calls recorded before the params stored their
    sum carry only the lines)."""
    lines = params.get("lines") or []
    amount = params.get("amount_minor")
    if amount is None:
        amount = sum(int(line["unit_amount"]) * int(line["quantity"]) for line in lines)
    currency = params.get("currency") or lines[0]["currency"]
    return {
        **_provider_row(call_id, project_id, provider, params, at),
        "amount": int(amount),
        "currency": str(currency),
        "checkout": True,
    }


def _provider_row(
    call_id: UUID, project_id: UUID, provider: str, params: dict[str, Any], at: datetime
) -> Row:
    return {
        "id": call_id,
        "project_id": project_id,
        "customer_id": _charge_customer(params),
        "invoice_id": _uuid(params.get("invoice_id")),
        "transaction_id": _uuid(params.get("transaction_id")),
        "invoice_payment": None,
        "method": "provider",
        "amount_refunded": 0,
        "status": PENDING,
        "provider": provider,
        "reference": None,
        "failure_code": None,
        "failure_message": None,
        "created_at": at,
        "updated_at": at,
        "checkout": False,
    }


def invoice_payment_row(invoice: Row, payment: dict[str, Any], at: datetime) -> Row:
    """A payment an invoice recorded that no charge of Tally's made: succeeded at once.
    ``invoice`` holds the invoice's ``id``, ``project_id``, ``customer_id``, ``currency``."""
    method = str(payment.get("method") or "out_of_band")
    paid_from = str(payment.get("paid_from") or "")
    provider = paid_from.removeprefix("clearing:") if method == "provider" else None
    return {
        "id": invoice_payment_id(invoice["id"], str(payment["id"])),
        "project_id": invoice["project_id"],
        "customer_id": invoice["customer_id"],
        "invoice_id": invoice["id"],
        "transaction_id": _uuid(payment.get("transaction_id")),
        "invoice_payment": str(payment["id"]),
        "method": method,
        "amount": int(payment["amount"]),
        "amount_refunded": 0,
        "currency": str(invoice["currency"]),
        "status": SUCCEEDED,
        "provider": provider,
        "reference": str(payment.get("reference") or "") or None,
        "failure_code": None,
        "failure_message": None,
        "created_at": at,
        "updated_at": at,
        "checkout": False,
    }


def call_answered(row: Row, result: dict[str, Any], at: datetime) -> str | None:
    """The provider's answer to the payment's own call; the type it emits, if any. A
    charge's answer settles it (``processing`` until its webhook, else succeeded). A
    checkout's answer is only the page the customer pays on: its transaction settles it
    when the provider reports the payment."""
    note_reference(row, str(result.get("payment_ref") or ""))
    if row["checkout"]:
        return None
    outcome = PROCESSING if result.get("status") == "processing" else SUCCEEDED
    return settle(row, outcome, at)


def settle(
    row: Row,
    outcome: str,
    at: datetime,
    *,
    code: str | None = None,
    message: str | None = None,
) -> str | None:
    """Move an unsettled payment to ``outcome`` (processing, succeeded or failed); the
    type it emits, if any. A settled payment is left as it is."""
    assert outcome in (PROCESSING, SUCCEEDED, FAILED), outcome
    if row["status"] not in UNSETTLED or row["status"] == outcome:
        return None
    row["status"] = outcome
    row["updated_at"] = at
    if outcome == FAILED:
        row["failure_code"] = (code or "")[:100] or None
        row["failure_message"] = (message or "")[:MAX_FAILURE_CHARS] or None
        return PAYMENT_FAILED
    return PAYMENT_SUCCEEDED if outcome == SUCCEEDED else None


def note_failure(row: Row, code: str | None, message: str | None) -> None:
    """A later, more exact account of a failure (the provider call's code and detail
    after its transaction's reason): kept on a failed payment, emitting nothing."""
    if row["status"] == FAILED:
        row["failure_code"] = (code or "")[:100] or row["failure_code"]
        row["failure_message"] = (message or "")[:MAX_FAILURE_CHARS] or row["failure_message"]


def note_reference(row: Row, reference: str | None) -> None:
    """The provider's id of the payment, once known (the first one stays)."""
    if reference and not row["reference"]:
        row["reference"] = reference[:200]


def refund(row: Row, amount: int, at: datetime) -> str | None:
    """Count ``amount`` given back (at most what is left); the type it emits, if any."""
    if row["status"] not in REFUNDABLE:
        return None
    taken = min(amount, row["amount"] - row["amount_refunded"])
    if taken <= 0:
        return None
    row["amount_refunded"] += taken
    row["status"] = REFUNDED if row["amount_refunded"] >= row["amount"] else PARTIALLY_REFUNDED
    row["updated_at"] = at
    return PAYMENT_REFUNDED
