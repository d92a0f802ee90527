"""Command messages of the payment-provider wiring (issue 5).

They live beside ``commands/messages.py`` rather than in it, so that the invoicing work
going on in that file and this one never edit the same lines; the bus takes any
``Command``.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, SecretStr, StrictInt

from commands.limits_types import Id, Label, Name
from commands.messages import Amount, Command, CurrencyCode, Quantity, SubscriptionItem, Text
from domain.limits import MAX_SUBSCRIPTION_ITEMS, MAX_TRIAL_DAYS, TEXT_PATTERN
from domain.provider_settings import ENV_NAME, PURPOSE_PATTERN

ProviderName = Annotated[str, Field(pattern="^(stripe|paddle|yookassa|stub)$")]
# No space and no control character anywhere in a URL (percent-encode them).
Url = Annotated[
    str, Field(min_length=8, max_length=2000, pattern=r"^https?://[^\x00-\x20\x7f-\x9f]+$")
]
REFERENCE_PATTERN = r"^[\x21-\x7e]+$"  # printable ASCII, no spaces
Reference = Annotated[str, Field(min_length=1, max_length=200, pattern=REFERENCE_PATTERN)]
CredentialPurpose = Annotated[str, Field(max_length=40, pattern=PURPOSE_PATTERN)]
EnvVarName = Annotated[str, Field(max_length=128, pattern=ENV_NAME.pattern)]
ApiBase = Annotated[str, Field(max_length=500, pattern=TEXT_PATTERN)]


class RecordWebhookEvents(Command):
    """Record verified provider events; each event id is recorded once per project."""

    provider: ProviderName
    events: list[dict[str, Any]] = Field(min_length=1, max_length=100)


class ApplyWebhookEvent(Command):
    webhook_event_id: UUID


class ParkWebhookEvent(Command):
    webhook_event_id: UUID
    reason: Text = ""


class RecordProviderCallOutcome(Command):
    call_id: UUID
    outcome: Annotated[str, Field(pattern="^(succeeded|retry|failed)$")]
    result: dict[str, Any] = Field(default_factory=dict)
    error_code: Annotated[str, Field(max_length=60)] = ""
    error: Text = ""


class BackOffProviderCall(Command):
    """Try a call again later because its answer could not be recorded: what the answer
    changes was refused (``error_code``: the refusal's code, ``error`` its detail)."""

    call_id: UUID
    error_code: Annotated[str, Field(max_length=60)] = ""
    error: Text = ""


class ConfigurePaymentProvider(Command):
    """Each credential purpose comes from an environment variable Tally is told the NAME
    of (``credential_env``) or from a secret handed over to be stored encrypted
    (``credentials``). The secrets are ``SecretStr``, so the message's repr, its logs
    and its JSON form (which the bus hashes for idempotency) show ``**********``;
    ``credentials_digest`` (a keyed digest the API computes, see
    ``adapters.secrets.SecretBox.digest``) is what tells two requests with different
    secrets apart, and the handler checks it matches."""

    provider: ProviderName
    credential_env: dict[CredentialPurpose, EnvVarName] = Field(default_factory=dict, max_length=4)
    credentials: dict[
        CredentialPurpose,
        Annotated[SecretStr, Field(min_length=1, max_length=4096)],
    ] = Field(default_factory=dict, max_length=4)
    credentials_digest: Annotated[str, Field(pattern="^[0-9a-f]{0,64}$")] = ""
    api_base: ApiBase = ""


class LineInput(Command):
    """An ad-hoc line (name, unit amount) or a catalog price (price_id)."""

    name: Name | None = None
    unit_amount: Amount | None = None
    currency: CurrencyCode | None = None
    price_id: UUID | None = None
    quantity: Quantity = 1


class CheckoutItem(Command):
    provider: ProviderName
    customer_id: UUID | None = None
    line: LineInput
    success_url: Url
    cancel_url: Url


class CheckoutSubscription(Command):
    provider: ProviderName
    customer_id: UUID
    items: list[SubscriptionItem] = Field(min_length=1, max_length=MAX_SUBSCRIPTION_ITEMS)
    success_url: Url
    cancel_url: Url
    # None: the prices' longest default trial. A trial's checkout saves a payment method
    # and charges nothing; its completion starts the trial.
    trial_days: Annotated[StrictInt, Field(ge=0, le=MAX_TRIAL_DAYS)] | None = None


class CheckoutCart(Command):
    provider: ProviderName
    cart_id: UUID
    success_url: Url
    cancel_url: Url


class TopUpAccount(Command):
    """A wallet top-up paid through the provider: a pending deposit that completes when
    the provider confirms the payment. With a saved payment method it is an off-session
    charge; without, a hosted checkout."""

    provider: ProviderName
    account_id: UUID
    amount: Amount
    currency: CurrencyCode
    payment_method: Reference | None = None
    success_url: Url = "http://127.0.0.1/"
    cancel_url: Url = "http://127.0.0.1/"
    description: Text = ""


class RefundTransaction(Command):
    """Give a provider payment back: the refund goes to the provider through the outbox,
    and the transaction is reversed when the provider has refunded."""

    transaction_id: UUID
    amount: Amount | None = None
    reason: Text = ""


class CreateCart(Command):
    currency: CurrencyCode
    customer_id: UUID | None = None


class AddCartItem(Command):
    cart_id: UUID
    line: LineInput


class RemoveCartItem(Command):
    cart_id: UUID
    line_id: Id


class AttachPaymentMethod(Command):
    provider: ProviderName
    customer_id: UUID
    payment_method: Reference
    label: Label = ""
    make_default: bool = False


class DetachPaymentMethod(Command):
    customer_id: UUID
    payment_method: Reference


class SetDefaultPaymentMethod(Command):
    customer_id: UUID
    payment_method: Reference
