"""Domain errors. Each carries a stable machine ``code``; the API maps codes to HTTP status
in one table (``api/errors.py``), so nothing here knows about HTTP."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused a command. Nothing was written."""

    code = "domain_error"

    def __init__(self, detail: str, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context


class ValidationFailed(DomainError):
    code = "validation_error"


class InvalidAmount(ValidationFailed):
    code = "invalid_amount"


class AmountTooLarge(InvalidAmount):
    """A product, a sum or a resulting balance would pass ``domain.limits.MAX_AMOUNT_MINOR``
    (each field alone may be within it). Its context names ``what`` and the ``limit``."""

    code = "amount_too_large"


class UnknownCurrency(ValidationFailed):
    code = "unknown_currency"


class InvalidWindow(ValidationFailed):
    """A window's from or to names no real day or time, or from is not before to."""

    code = "invalid_window"


class InvalidCatalog(ValidationFailed):
    """A backtest's price book is not a valid catalog file."""

    code = "invalid_catalog"


class InvalidCombination(ValidationFailed):
    """Fields of one request that must come together, or exclude each other, do not
    (each operation's description states its combinations)."""

    code = "invalid_combination"


class UnknownMeter(ValidationFailed):
    """A metered price names a meter code the project has not defined (issue 13)."""

    code = "unknown_meter"


class TimeNotInFuture(ValidationFailed):
    """A time that must lie ahead of the project's clock (a hold's expiry, a pause's
    end) does not."""

    code = "time_not_in_future"


class CredentialNotSet(ValidationFailed):
    """A project's provider settings name an environment variable (its own, or the
    provider's default) that the server does not have."""

    code = "credential_not_set"


class WebhookUrlNotAllowed(ValidationFailed):
    """A webhook endpoint's URL is not an absolute http(s) URL Tally may call: it carries
    credentials, or, in a live project, points at a private, loopback or link-local
    address."""

    code = "webhook_url_not_allowed"


class TaxRateArchived(DomainError):
    code = "tax_rate_archived"


class LimitReached(DomainError):
    """A resource already holds as many of something as it may (a cart's lines, an
    invoice's lines, a customer's payment methods, a test clock's subscriptions, a
    project's webhook endpoints)."""

    code = "limit_reached"


class CartEmpty(ValidationFailed):
    code = "cart_empty"


class PriceNotRecurring(ValidationFailed):
    """A one-time price where a subscription needs a recurring one."""

    code = "price_not_recurring"


class AmbiguousPrice(ValidationFailed):
    """A name that should pick one price picks several: a lookup key two products use,
    or a plan code whose prices bill on more than one interval."""

    code = "ambiguous_price"


class NoMatchingPrice(ValidationFailed):
    """A plan code names no active recurring price in the customer's currency (and the
    interval asked for)."""

    code = "no_matching_price"


class ProviderLimitExceeded(ValidationFailed):
    """The project's payment provider would refuse this text or currency (Paddle's
    limits on line names, its 31 currencies): refused when the command arrives, with
    nothing written, instead of failing later at the provider."""

    code = "provider_limit_exceeded"


class NotRefundable(DomainError):
    """A refund of a transaction that was not paid through a provider (or whose payment
    is not confirmed yet): reverse it instead."""

    code = "not_refundable"


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"


class NotFound(DomainError):
    code = "not_found"


class AlreadyExists(DomainError):
    code = "already_exists"


class InsufficientFunds(DomainError):
    code = "insufficient_funds"


class AccountFrozen(DomainError):
    code = "account_frozen"


class AccountClosed(DomainError):
    code = "account_closed"


class AccountNotEmpty(DomainError):
    code = "account_not_empty"


class HoldExpired(DomainError):
    code = "hold_expired"


class HoldNotActive(DomainError):
    code = "hold_not_active"


class CaptureExceedsHold(DomainError):
    code = "capture_exceeds_hold"


class ReversalExceedsAmount(DomainError):
    code = "reversal_exceeds_amount"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"


class ConcurrentUpdate(DomainError):
    code = "concurrent_update"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class IdentityProviderUnavailable(DomainError):
    """The project's identity provider's keys (its JWKS) could not be fetched, and none
    are kept from before (issue 14)."""

    code = "identity_provider_unavailable"


class ClockBackwards(DomainError):
    code = "clock_cannot_go_backwards"


class TestClockInLiveMode(DomainError):
    __test__ = False  # not a pytest test class, whatever its name says
    code = "test_clock_in_live_mode"


class PriceArchived(DomainError):
    code = "price_archived"


class CouponUnavailable(DomainError):
    code = "coupon_unavailable"


class CreditExceedsPaid(DomainError):
    code = "credit_exceeds_paid"


class WrongPaymentReference(ValidationFailed):
    """A provider payment's reference of another kind than the provider's refunds name
    (a Stripe invoice ``in_...`` where a PaymentIntent ``pi_...`` belongs):
    ``domain/payment_refs.py``."""

    code = "invalid_payment_reference"


class CreditsAlreadySpent(DomainError):
    """A refund of a credit purchase (its invoice's credit note, its wallet withdrawal's
    or top-up charge's reversal) for more than its grant still holds: the credits were
    spent, expired or voided. Its context names the grant, what it ``holds`` and the
    refund's ``amount``."""

    code = "credits_already_spent"


class InsufficientCredits(DomainError):
    """A direct consumption of prepaid credits (issue 13) that the customer's credits
    cannot cover; its context names the ``available`` balance and the ``amount``."""

    code = "insufficient_credits"
