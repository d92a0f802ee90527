"""Typed failures of payment providers.

Part of the provider port that ``commands`` declares and ``adapters/providers/`` implement
(handlers raise ``ProviderUnsupported`` themselves). Each one is a ``DomainError`` with a
stable ``code`` so the API's one status table can map
it (``HTTP_STATUS`` below is the mapping these adapters were written for; the API wiring
adds it to ``api/errors.py``). Messages never contain secret values: at most the *name*
of the environment variable that holds one.
"""

from __future__ import annotations

from typing import Any

from domain.errors import DomainError


class ProviderError(DomainError):
    """The payment provider refused or could not do what was asked."""

    code = "provider_error"
    retryable = False

    def __init__(self, detail: str, *, provider: str, **context: Any) -> None:
        super().__init__(detail, provider=provider, **context)
        self.provider = provider


class CardDeclined(ProviderError):
    """The customer's bank or the provider declined the payment. ``decline_code`` says why
    in the provider's words (``insufficient_funds``, ``generic_decline``, ...)."""

    code = "card_declined"

    def __init__(self, detail: str, *, provider: str, decline_code: str, **context: Any) -> None:
        super().__init__(detail, provider=provider, decline_code=decline_code, **context)
        self.decline_code = decline_code


class PaymentRequiresAction(ProviderError):
    """An off-session payment needs the customer (3-D Secure). Retrying alone cannot help:
    the customer has to come back through a checkout."""

    code = "payment_requires_action"


class ProviderUnavailable(ProviderError):
    """The provider could not be reached, timed out, rate-limited us or answered 5xx. The
    same call with the same idempotency key may be retried later."""

    code = "provider_unavailable"
    retryable = True


class ProviderRejected(ProviderError):
    """The provider understood the request and refused it (unknown object, invalid
    parameters, an idempotency key reused with other parameters). Not retryable."""

    code = "provider_rejected"


class ProviderUnsupported(ProviderError):
    """The provider has no such feature (a portal on YooKassa, provider-managed
    subscriptions on the stub). Tally does the work itself or refuses."""

    code = "provider_unsupported"


class ProviderMisconfigured(ProviderError):
    """The provider cannot work with the settings it was given: a missing environment
    variable, credentials the provider rejects. Raised at start-up, so Tally refuses to
    start with one clear line instead of failing on the first payment."""

    code = "provider_misconfigured"


class InvalidSignature(ProviderError):
    """A webhook could not be verified: forged, tampered, stale, signed with another
    secret, from an address outside the allowlist, or (YooKassa) not confirmed by the
    provider's API. The endpoint answers 400 and records nothing."""

    code = "invalid_signature"


class InvalidPageRequest(DomainError):
    """A request one of the stub's hosted pages cannot take: a page token that is not of
    a token's shape, a form body that is not URL-encoded UTF-8, a button the page does
    not have. The browser (or whoever posted) made the mistake, not the provider, so it
    is a 400 and never a provider error."""

    code = "invalid_page_request"


class PageExpired(DomainError):
    """A stub page whose session has ended (a day after it was opened, like Stripe's
    hosted checkout). Nothing went wrong at the provider: the customer starts again."""

    code = "page_expired"


HTTP_STATUS: dict[str, int] = {
    "card_declined": 402,
    "payment_requires_action": 402,
    "provider_unavailable": 503,
    "provider_rejected": 502,
    "provider_unsupported": 422,
    "provider_misconfigured": 500,
    "invalid_signature": 400,
    "provider_error": 502,
    "invalid_page_request": 400,
    "page_expired": 410,
}
