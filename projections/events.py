"""The domain event classes the read models handle, by name.

``@event`` makes these classes at run time, so the type checker cannot see them as
attributes of their aggregates; naming them once here (typed ``Any``) keeps the
projections free of ``type: ignore`` and gives one list of what the read side reads.
"""

from __future__ import annotations

from typing import Any

from domain.accounts import Account
from domain.billing_settings import BillingSettings
from domain.catalog import Price, Product
from domain.coupons import Coupon, PromotionCode
from domain.credit_balance import CreditBalance
from domain.customer_billing import CustomerBilling
from domain.customers import Customer
from domain.dunning import InvoiceDunning
from domain.inbound_commands import InboundCommand
from domain.invoices import Invoice
from domain.projects import Project
from domain.subscriptions import Subscription
from domain.tax_rates import TaxRateDefinition
from domain.test_clocks import TestClock
from domain.transactions import Transaction

_account: Any = Account
_transaction: Any = Transaction
_project: Any = Project
_customer: Any = Customer
_product: Any = Product
_price: Any = Price
_subscription: Any = Subscription
_clock: Any = TestClock
_invoice: Any = Invoice
_dunning: Any = InvoiceDunning
_billing: Any = CustomerBilling
_settings: Any = BillingSettings
_coupon: Any = Coupon
_promo: Any = PromotionCode
_tax_rate: Any = TaxRateDefinition
_inbound: Any = InboundCommand

AccountOpened: Any = _account.Opened
Deposited: Any = _account.Deposited
Withdrawn: Any = _account.Withdrawn
TransferredOut: Any = _account.TransferredOut
TransferredIn: Any = _account.TransferredIn
ReversalPosted: Any = _account.ReversalPosted
HoldPlaced: Any = _account.HoldPlaced
HoldCaptured: Any = _account.HoldCaptured
HoldVoided: Any = _account.HoldVoided
HoldExpired: Any = _account.HoldExpired
Frozen: Any = _account.Frozen
Unfrozen: Any = _account.Unfrozen
Closed: Any = _account.Closed
LowBalanceThresholdSet: Any = _account.LowBalanceThresholdSet
BalanceLow: Any = _account.BalanceLow

TransactionInitiated: Any = _transaction.Initiated
TransactionCompleted: Any = _transaction.Completed
TransactionFailed: Any = _transaction.Failed
TransactionReversed: Any = _transaction.Reversed

ProjectCreated: Any = _project.Created
KeyIssued: Any = _project.KeyIssued
KeyRevoked: Any = _project.KeyRevoked
KeyExpiring: Any = _project.KeyExpiring
ProjectUpdated: Any = _project.Updated
ProjectRateLimitsSet: Any = _project.RateLimitsSet

CustomerRegistered: Any = _customer.Registered
CustomerUpdated: Any = _customer.Updated
CustomerProviderLinked: Any = _customer.ProviderLinked

ProductDefined: Any = _product.Defined
ProductRevised: Any = _product.Revised
ProductPriceSet: Any = _product.PriceSet
ProductOwnerSet: Any = _product.OwnerSet
ProductArchived: Any = _product.Archived
PriceDefined: Any = _price.Defined
PriceArchived: Any = _price.Archived
PriceMappedToProviders: Any = _price.MappedToProviders

SubscriptionCreated: Any = _subscription.Created
SubscriptionRenewed: Any = _subscription.Renewed
SubscriptionTrialEnded: Any = _subscription.TrialEnded
SubscriptionTrialExtended: Any = _subscription.TrialExtended
SubscriptionTrialStarted: Any = _subscription.TrialStarted
SubscriptionCancelScheduled: Any = _subscription.CancelScheduled
SubscriptionCancelUndone: Any = _subscription.CancelUndone
SubscriptionCanceled: Any = _subscription.Canceled
SubscriptionPaused: Any = _subscription.Paused
SubscriptionResumed: Any = _subscription.Resumed
SubscriptionActivated: Any = _subscription.Activated
SubscriptionStatusChanged: Any = _subscription.StatusChanged
SubscriptionChangeScheduled: Any = _subscription.ChangeScheduled
SubscriptionItemsChanged: Any = _subscription.ItemsChanged
SubscriptionTrialEndAnnounced: Any = _subscription.TrialEndAnnounced
# Run by the provider (issue 18).
SubscriptionHandedToProvider: Any = _subscription.HandedToProvider
SubscriptionProviderAsked: Any = _subscription.ProviderAsked
SubscriptionProviderLinked: Any = _subscription.ProviderLinked
SubscriptionPeriodMirrored: Any = _subscription.PeriodMirrored

TestClockCreated: Any = _clock.Created
TestClockAdvanced: Any = _clock.Advanced
TestClockSubscriptionAttached: Any = _clock.SubscriptionAttached

InvoiceCreated: Any = _invoice.Created
InvoiceLineAdded: Any = _invoice.LineAdded
InvoiceLineRemoved: Any = _invoice.LineRemoved
InvoiceCouponApplied: Any = _invoice.CouponApplied
InvoiceFinalized: Any = _invoice.Finalized
InvoicePaymentRecorded: Any = _invoice.PaymentRecorded
InvoiceVoided: Any = _invoice.Voided
InvoiceMarkedUncollectible: Any = _invoice.MarkedUncollectible
InvoiceCredited: Any = _invoice.Credited

DunningStarted: Any = _dunning.Started
DunningPaymentFailed: Any = _dunning.PaymentFailed
DunningRecovered: Any = _dunning.Recovered
DunningStopped: Any = _dunning.Stopped
DunningReminder: Any = _dunning.DunningReminder

BillingOpened: Any = _billing.Opened
BillingCreditAdjusted: Any = _billing.CreditAdjusted
BillingCreditApplied: Any = _billing.CreditApplied
BillingCreditGranted: Any = _billing.CreditGranted
BillingCouponAttached: Any = _billing.CouponAttached
BillingCouponUsed: Any = _billing.CouponUsed
BillingWorkScheduled: Any = _billing.WorkScheduled
BillingWorkCleared: Any = _billing.WorkCleared

BillingSettingsOpened: Any = _settings.Opened
BillingSettingsConfigured: Any = _settings.Configured
CouponDefined: Any = _coupon.Defined
CouponRedeemed: Any = _coupon.Redeemed
CouponArchived: Any = _coupon.Archived
PromotionCodeDefined: Any = _promo.Defined
PromotionCodeRedeemed: Any = _promo.Redeemed
TaxRateDefined: Any = _tax_rate.Defined
TaxRateArchived: Any = _tax_rate.Archived

InboundCommandRejected: Any = _inbound.Rejected

# Prepaid credits (issue 13).
_credits: Any = CreditBalance
CreditsOpened: Any = _credits.Opened
CreditsGranted: Any = _credits.Granted
CreditsConsumed: Any = _credits.Consumed
CreditsExpired: Any = _credits.Expired
CreditsVoided: Any = _credits.Voided
CreditsRestored: Any = _credits.Restored
CreditsRefunded: Any = _credits.Refunded
CreditsRetired: Any = _credits.Retired
CreditsThresholdSet: Any = _credits.ThresholdSet
CreditsLow: Any = _credits.Low
CreditsDepleted: Any = _credits.Depleted
CreditsTopUpRequested: Any = _credits.TopUpRequested
CreditsTopUpFailed: Any = _credits.TopUpFailed
CreditsPurchaseInvoiced: Any = _credits.PurchaseInvoiced
CreditsPurchaseCanceled: Any = _credits.PurchaseCanceled
