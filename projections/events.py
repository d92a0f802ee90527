"""The domain event classes the read models handle, by name.

``@event`` makes these classes at run time, so the type checker cannot see them as
attributes of their aggregates; naming them once here (typed ``Any``) keeps the
projections free of ``type: ignore`` and gives one list of what the read side reads.
"""

from __future__ import annotations

from typing import Any

from domain.accounts import Account
from domain.catalog import Price, Product
from domain.customers import Customer
from domain.projects import Project
from domain.subscriptions import Subscription
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

TransactionInitiated: Any = _transaction.Initiated
TransactionCompleted: Any = _transaction.Completed
TransactionFailed: Any = _transaction.Failed
TransactionReversed: Any = _transaction.Reversed

ProjectRegistered: Any = _project.Registered
KeyIssued: Any = _project.KeyIssued
KeyRevoked: Any = _project.KeyRevoked

CustomerRegistered: Any = _customer.Registered
CustomerUpdated: Any = _customer.Updated
CustomerProviderLinked: Any = _customer.ProviderLinked

ProductDefined: Any = _product.Defined
ProductRevised: Any = _product.Revised
ProductPriceSet: Any = _product.PriceSet
ProductArchived: Any = _product.Archived
PriceDefined: Any = _price.Defined
PriceArchived: Any = _price.Archived

SubscriptionStarted: Any = _subscription.Started
SubscriptionRenewed: Any = _subscription.Renewed
SubscriptionTrialEnded: Any = _subscription.TrialEnded
SubscriptionTrialExtended: Any = _subscription.TrialExtended
SubscriptionCancelScheduled: Any = _subscription.CancelScheduled
SubscriptionCancelUndone: Any = _subscription.CancelUndone
SubscriptionCanceled: Any = _subscription.Canceled
SubscriptionPaused: Any = _subscription.Paused
SubscriptionResumed: Any = _subscription.Resumed
SubscriptionActivated: Any = _subscription.Activated
SubscriptionStatusChanged: Any = _subscription.StatusChanged
SubscriptionChangeScheduled: Any = _subscription.ChangeScheduled
SubscriptionItemsChanged: Any = _subscription.ItemsChanged

TestClockStarted: Any = _clock.Started
TestClockAdvanced: Any = _clock.Advanced
TestClockSubscriptionAttached: Any = _clock.SubscriptionAttached
