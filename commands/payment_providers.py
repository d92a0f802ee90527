"""Payment providers as the invoicing handlers see them, and the built-in stub.

A provider charges a customer for an invoice and refunds a payment. The providers issue
will plug real ones in (Stripe, Paddle, YooKassa) behind this interface; they must not
be called from inside a bus handler as they are here, because a handler may run more
than once (conflict retries). Until then only the stub exists, and it is pure.

The stub decides from the customer's metadata key ``stub_payment``, so tests and demos
drive it through ``UpdateCustomer``:

- absent or ``succeed``: every charge succeeds;
- ``decline``: every charge is declined (``card_declined``);
- ``decline_first_<n>``: the first ``n`` attempts on each invoice are declined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.customers import Customer
from domain.invoices import Invoice

STUB_KEY = "stub_payment"


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    reference: str
    failure_reason: str = ""


class PaymentProvider(Protocol):
    name: str

    def charge(
        self, customer: Customer, invoice: Invoice, amount: int, attempt: int
    ) -> ChargeResult:
        """Charge ``amount`` for ``invoice``; ``attempt`` counts from 1 per invoice."""

    def refund(self, invoice: Invoice, payment_reference: str, amount: int) -> ChargeResult:
        """Give ``amount`` of a payment back."""


class StubProvider:
    name = "stub"

    def charge(
        self, customer: Customer, invoice: Invoice, amount: int, attempt: int
    ) -> ChargeResult:
        rule = customer.metadata.get(STUB_KEY, "succeed")
        declined = rule == "decline"
        if rule.startswith("decline_first_"):
            count = rule.removeprefix("decline_first_")
            declined = count.isdigit() and attempt <= int(count)
        reference = f"stub_ch_{invoice.id.hex[:12]}_{attempt}"
        if declined:
            return ChargeResult(False, reference, "card_declined")
        return ChargeResult(True, reference)

    def refund(self, invoice: Invoice, payment_reference: str, amount: int) -> ChargeResult:
        return ChargeResult(True, f"stub_re_{payment_reference}_{amount}")


PROVIDERS: dict[str, PaymentProvider] = {"stub": StubProvider()}
