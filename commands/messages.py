"""Command messages: frozen pydantic models, named in the imperative.

Amounts are ``StrictInt`` so that ``12.5`` and ``"1250"`` are refused rather than
coerced; the currency is checked against ISO 4217 here, before any handler runs.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from commands.limits_types import (
    Code,
    Description,
    Email,
    Id,
    Label,
    LineDescription,
    LookupKey,
    Metadata,
    Name,
    NameOrBlank,
    PlanCode,
    ProjectName,
    Ref,
    RefOrBlank,
    Timestamp,
)
from domain.limits import (
    MAX_ADDRESS_LINES,
    MAX_AMOUNT_MINOR,
    MAX_COUPON_PERIODS,
    MAX_PAYMENT_TERMS_DAYS,
    MAX_PRICE_TIERS,
    MAX_QUANTITY,
    MAX_REDEMPTIONS,
    MAX_SUBSCRIPTION_ITEMS,
    MAX_TRIAL_DAYS,
)
from domain.money import check_currency
from domain.periods import MAX_INTERVAL_COUNT

Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_MINOR, description="Minor units, > 0")]
LowBalanceThreshold = Annotated[
    StrictInt | None,
    Field(
        ge=0,
        le=MAX_AMOUNT_MINOR,
        description="Minor units of the account's currency: billing.wallet.balance_low is "
        "emitted once when the available balance falls below it, again only after it was "
        "back at or above it; null: none",
    ),
]
CurrencyCode = Annotated[
    str,
    Field(min_length=3, max_length=3, examples=["EUR"], description="ISO 4217 code"),
    AfterValidator(check_currency),
]
Source = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z][a-z0-9_-]*$",
        description="Funding source; money comes from or goes to its clearing account",
    ),
]
Text = Description  # free text: descriptions and reasons


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpenAccount(Command):
    owner_ref: Ref
    currency: CurrencyCode
    overdraft_limit: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = 0
    metadata: Metadata = Field(default_factory=dict)
    low_balance_threshold: LowBalanceThreshold = None


class Deposit(Command):
    account_id: UUID
    amount: Amount
    currency: CurrencyCode
    source: Source = "manual"
    pending: bool = False
    description: Text = ""
    external_ref: RefOrBlank = ""


class Withdraw(Command):
    account_id: UUID
    amount: Amount
    currency: CurrencyCode
    destination: Source = "manual"
    description: Text = ""
    external_ref: RefOrBlank = ""


class Transfer(Command):
    from_account_id: UUID
    to_account_id: UUID
    amount: Amount
    currency: CurrencyCode
    description: Text = ""


class PlaceHold(Command):
    account_id: UUID
    amount: Amount
    currency: CurrencyCode
    expires_at: Timestamp
    destination_account_id: UUID | None = None
    destination: Source = "manual"
    description: Text = ""


class CaptureHold(Command):
    account_id: UUID
    hold_id: Id
    amount: Amount | None = None


class VoidHold(Command):
    account_id: UUID
    hold_id: Id


class ExpireHolds(Command):
    account_id: UUID


class ConfirmTransaction(Command):
    transaction_id: UUID


class FailTransaction(Command):
    transaction_id: UUID
    reason: Text = ""


class ReverseTransaction(Command):
    transaction_id: UUID
    amount: Amount | None = None
    reason: Text = ""


class SetLowBalanceThreshold(Command):
    account_id: UUID
    low_balance_threshold: LowBalanceThreshold


class FreezeAccount(Command):
    account_id: UUID
    reason: Text = ""


class UnfreezeAccount(Command):
    account_id: UUID


class CloseAccount(Command):
    account_id: UUID


class CreateProject(Command):
    name: ProjectName
    mode: Annotated[str, Field(pattern="^(live|test)$")] = "live"


class IssueApiKey(Command):
    project_id: UUID
    label: Label = ""


class RevokeApiKey(Command):
    project_id: UUID
    key_id: Id


# -- customers, catalog, subscriptions, test clocks -------------------------------------

ExternalId = Ref
Quantity = Annotated[StrictInt, Field(gt=0, le=MAX_QUANTITY)]


class RegisterCustomer(Command):
    external_id: ExternalId
    email: Email = ""
    name: NameOrBlank = ""
    currency: CurrencyCode
    metadata: Metadata = Field(default_factory=dict)
    test_clock_id: UUID | None = None


class UpdateCustomer(Command):
    customer_id: UUID
    email: Email | None = None
    name: NameOrBlank | None = None
    metadata: Metadata | None = None


class DefineProduct(Command):
    code: PlanCode
    name: Name
    features: list[Label] = Field(default_factory=list, max_length=100)


class ArchiveProduct(Command):
    product_id: UUID


class PriceTier(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    up_to: (
        Annotated[
            StrictInt,
            Field(gt=0, le=MAX_QUANTITY, description="Last quantity of the tier; null: no end"),
        ]
        | None
    )
    unit_amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = 0
    flat_amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = 0


class DefinePrice(Command):
    product_id: UUID
    lookup_key: LookupKey
    currency: CurrencyCode
    scheme: Annotated[str, Field(pattern="^(flat|per_unit|graduated|volume|metered)$")]
    unit_amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = 0
    tiers: list[PriceTier] = Field(default_factory=list, max_length=MAX_PRICE_TIERS)
    meter: Label = ""
    interval: Annotated[str, Field(pattern="^(day|week|month|year)$")] | None = None
    interval_count: Annotated[StrictInt, Field(ge=1, le=MAX_INTERVAL_COUNT)] = 1
    trial_days: Annotated[StrictInt, Field(ge=0, le=MAX_TRIAL_DAYS)] = 0


class ArchivePrice(Command):
    price_id: UUID


class SubscriptionItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    price_id: UUID
    quantity: Quantity = 1


class CreateSubscription(Command):
    customer_id: UUID
    items: list[SubscriptionItem] = Field(min_length=1, max_length=MAX_SUBSCRIPTION_ITEMS)
    trial_days: Annotated[StrictInt, Field(ge=0, le=MAX_TRIAL_DAYS)] | None = None
    incomplete: bool = False


class ChangeSubscriptionItems(Command):
    subscription_id: UUID
    items: list[SubscriptionItem] = Field(min_length=1, max_length=MAX_SUBSCRIPTION_ITEMS)
    proration: Annotated[str, Field(pattern="^(prorate|none|period_end)$")] = "prorate"


class CancelSubscription(Command):
    subscription_id: UUID
    at_period_end: bool = False


class UndoCancelSubscription(Command):
    subscription_id: UUID


class PauseSubscription(Command):
    subscription_id: UUID
    resume_at: Timestamp | None = None


class ResumeSubscription(Command):
    subscription_id: UUID


class ExtendTrial(Command):
    subscription_id: UUID
    trial_end: Timestamp


class ActivateSubscription(Command):
    subscription_id: UUID


class ProcessDueSubscription(Command):
    subscription_id: UUID


class CreateTestClock(Command):
    name: Label = ""
    frozen_time: Timestamp


class AdvanceTestClock(Command):
    test_clock_id: UUID
    to: Timestamp


# -- invoicing ----------------------------------------------------------------------------

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


class AdjustCreditBalance(Command):
    customer_id: UUID
    amount: Annotated[StrictInt, Field(ge=-MAX_AMOUNT_MINOR, le=MAX_AMOUNT_MINOR)]
    reason: Reason = ""


class ProcessDueInvoices(Command):
    """Do a customer's invoice work that is due (drafts to finalize, payment retries):
    what the scheduler issues for each customer whose ``CustomerBilling`` has due work."""

    customer_id: UUID
