"""Command messages of invoicing: invoices, their payments and credit notes, tax rates,
coupons, billing settings and credit balances (handlers: ``commands.invoicing``,
``commands.invoice_payments``, ``commands.billing_setup``,
``commands.invoice_due_work``).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from commands.limits_types import (
    Code,
    Description,
    Id,
    Label,
    LineDescription,
    RefOrBlank,
    Timestamp,
)
from commands.messages.base import Amount, Command, CurrencyCode, Quantity, Text
from domain.billing_settings import PLATFORM_FEE_PATTERN
from domain.limits import (
    MAX_ADDRESS_LINES,
    MAX_AMOUNT_MINOR,
    MAX_COUPON_PERIODS,
    MAX_PAYMENT_TERMS_DAYS,
    MAX_REDEMPTIONS,
    MAX_USAGE_LATE_GRACE_S,
)

LineKind = Annotated[str, Field(pattern="^(one_time|usage|proration|subscription)$")]
Reason = Description


class InvoiceLineInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    description: LineDescription
    quantity: Quantity = 1
    unit_amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)]
    kind: LineKind = "one_time"
    tax_rate_ids: list[UUID] = Field(default_factory=list, max_length=5)
    discountable: bool = True


class CreateInvoice(Command):
    customer_id: UUID
    description: Text = ""
    lines: list[InvoiceLineInput] = Field(default_factory=list, max_length=100)


class AddInvoiceLine(Command):
    invoice_id: UUID
    line: InvoiceLineInput


class RemoveInvoiceLine(Command):
    invoice_id: UUID
    line_id: Id


class ApplyCoupon(Command):
    """Apply a coupon (by its code) or a promotion code to a draft invoice."""

    invoice_id: UUID
    coupon_code: Code | None = None
    promotion_code: Code | None = None


class FinalizeInvoice(Command):
    invoice_id: UUID


class PayInvoice(Command):
    invoice_id: UUID
    method: Annotated[str, Field(pattern="^(wallet|provider|out_of_band)$")]
    amount: Amount | None = None  # default: everything that remains
    account_id: UUID | None = None  # wallet: default is the customer's wallet
    # None: the project's provider (the route fills in the server's default).
    provider: Annotated[str, Field(pattern="^(stripe|paddle|yookassa|stub)$")] | None = None
    reference: RefOrBlank = ""


class RetryInvoicePayment(Command):
    invoice_id: UUID


class VoidInvoice(Command):
    invoice_id: UUID


class MarkInvoiceUncollectible(Command):
    invoice_id: UUID


class CreateCreditNote(Command):
    invoice_id: UUID
    amount: Amount | None = None  # default: the whole invoice (what was paid or is owed)
    reason: Reason = ""
    refund_to: Annotated[str, Field(pattern="^(none|credit_balance|original_payment)$")] = (
        "credit_balance"
    )
    payment_id: Id | None = None


class DefineTaxRate(Command):
    percentage: Annotated[str, Field(min_length=1, max_length=12)]
    inclusive: bool = False
    jurisdiction: Label = ""
    name: Label = ""


class ArchiveTaxRate(Command):
    tax_rate_id: UUID


class DefineCoupon(Command):
    code: Code
    percent_off: Annotated[str, Field(max_length=12)] | None = None
    amount_off: Amount | None = None
    currency: CurrencyCode | None = None
    duration: Annotated[str, Field(pattern="^(once|repeating|forever)$")] = "once"
    duration_periods: Annotated[StrictInt, Field(ge=1, le=MAX_COUPON_PERIODS)] | None = None
    max_redemptions: Annotated[StrictInt, Field(ge=1, le=MAX_REDEMPTIONS)] | None = None
    expires_at: Timestamp | None = None


class ArchiveCoupon(Command):
    code: Code


class DefinePromotionCode(Command):
    code: Code
    coupon_code: Code
    max_redemptions: Annotated[StrictInt, Field(ge=1, le=MAX_REDEMPTIONS)] | None = None
    expires_at: Timestamp | None = None


class ApplyCouponToCustomer(Command):
    customer_id: UUID
    coupon_code: Code | None = None
    promotion_code: Code | None = None


class ApplyCouponToSubscription(Command):
    subscription_id: UUID
    coupon_code: Code | None = None
    promotion_code: Code | None = None


class ConfigureBilling(Command):
    invoice_prefix: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    finalize_delay_s: Annotated[StrictInt, Field(ge=0)] | None = None
    retry_days: list[StrictInt] | None = Field(default=None, max_length=10)
    final_action: Annotated[str, Field(pattern="^(canceled|unpaid)$")] | None = None
    auto_charge_provider: (
        Annotated[str, Field(pattern="^(|stripe|paddle|yookassa|stub)$")] | None
    ) = None
    default_tax_rate_ids: list[UUID] | None = Field(default=None, max_length=5)
    seller_address: list[Label] | None = Field(default=None, max_length=MAX_ADDRESS_LINES)
    seller_tax_id: Label | None = None
    payment_instructions: Description | None = None
    payment_terms_days: Annotated[StrictInt, Field(ge=0, le=MAX_PAYMENT_TERMS_DAYS)] | None = None
    usage_late_grace_s: Annotated[StrictInt, Field(ge=0, le=MAX_USAGE_LATE_GRACE_S)] | None = None
    platform_fee_percent: Annotated[str, Field(pattern=PLATFORM_FEE_PATTERN)] | None = None


class AdjustCreditBalance(Command):
    customer_id: UUID
    amount: Annotated[StrictInt, Field(ge=-MAX_AMOUNT_MINOR, le=MAX_AMOUNT_MINOR)]
    reason: Reason = ""


class ProcessDueInvoices(Command):
    """Do a customer's invoice work that is due (drafts to finalize, payment retries):
    what the scheduler issues for each customer whose ``CustomerBilling`` has due work."""

    customer_id: UUID
