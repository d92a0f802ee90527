"""The messages Tally takes from a broker (issue 12, "Commands in"): an envelope and one
model per message type, as pydantic models.

Every message is one JSON object, ``{"id": ..., "type": ..., "data": {...}}``. ``id`` is
the producer's message id (it becomes the idempotency key of what the message does);
``type`` picks the model of ``data``. Field names are accepted in snake_case and in the
camelCase the product's own events use (``userId``, ``planCode``, ``planId``...); a field
the model does not know is refused (``extra="forbid"``), as the API refuses one, so that
a misspelt field is a dead letter rather than silently ignored.

A message never names its project: the project is the queue it arrived on
(``api/inbound/queues.py``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    StrictInt,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from api.schemas.usage import Properties, TransactionId
from commands.limits_types import (
    Email,
    Id,
    LineDescription,
    NameOrBlank,
    PlanCode,
    Ref,
    Timestamp,
)
from commands.messages import Amount, CurrencyCode, Quantity, Source
from commands.meter_messages import EventName
from commands.provider_messages import Url
from domain.errors import ValidationFailed
from domain.limits import (
    MAX_AMOUNT_MINOR,
    MAX_INBOUND_MESSAGE_BYTES,
    MAX_ORDER_ITEMS,
    MAX_TRIAL_DAYS,
    MAX_USAGE_BATCH,
)

# A plan is named by its code; the product's events call it ``planId`` too. The first
# name is the one the JSON Schema (AsyncAPI) shows: camelCase, as producers write.
PLAN_ALIASES = AliasChoices("planCode", "plan_code", "planId", "plan_id", "plan")


class InboundData(BaseModel):
    """What every message's ``data`` shares: frozen, strict about unknown fields, and
    read in snake_case or camelCase."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
    )


class Checkout(InboundData):
    """Where the provider's hosted page sends the customer back to."""

    success_url: Url
    cancel_url: Url


class UserSubscribed(InboundData):
    """Register the customer (by the product's user id) if new, and subscribe it to the
    plan; with ``checkout``, through the provider's hosted page instead."""

    user_id: Ref
    plan_code: PlanCode = Field(validation_alias=PLAN_ALIASES)
    currency: CurrencyCode
    email: Email = ""
    name: NameOrBlank = ""
    interval: Annotated[str, Field(pattern="^(day|week|month|year)$")] | None = None
    trial_days: Annotated[StrictInt, Field(ge=0, le=MAX_TRIAL_DAYS)] | None = None
    checkout: Checkout | None = None


class UserChangedPlan(InboundData):
    """Move the user's current subscription to another plan (prorated by default)."""

    user_id: Ref
    plan_code: PlanCode = Field(validation_alias=PLAN_ALIASES)
    interval: Annotated[str, Field(pattern="^(day|week|month|year)$")] | None = None
    proration: Annotated[str, Field(pattern="^(prorate|none|period_end)$")] = "prorate"


class UserUnsubscribed(InboundData):
    """Cancel the user's current subscription, now or at the end of its period."""

    user_id: Ref
    at_period_end: bool = False


class OrderItem(InboundData):
    """One invoice line of an order."""

    description: LineDescription = Field(
        validation_alias=AliasChoices("description", "name", "title")
    )
    quantity: Quantity = 1
    unit_amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = Field(
        validation_alias=AliasChoices("unitAmount", "unit_amount", "price")
    )


class OrderCreated(InboundData):
    """Invoice an order of a known customer and finalize the invoice."""

    order_id: Ref
    user_id: Ref
    items: list[OrderItem] = Field(min_length=1, max_length=MAX_ORDER_ITEMS)


# ``wallet.deposit`` names its wallet one way: by account, or by user (JSON Schema).
_ONE_WALLET: JsonDict = {
    "oneOf": [
        {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
        for name in ("userId", "accountId")
    ]
}


class WalletDeposit(InboundData):
    """Deposit into a wallet: the account named by ``account_id``, else the user's wallet
    in ``currency`` (the account whose ``owner_ref`` is the user id). Exactly one of
    ``user_id`` and ``account_id``."""

    model_config = ConfigDict(json_schema_extra=_ONE_WALLET)

    user_id: Ref | None = None
    account_id: UUID | None = None
    amount: Amount
    currency: CurrencyCode
    source: Source = "broker"
    description: LineDescription | None = None

    @model_validator(mode="after")
    def _names_one_wallet(self) -> WalletDeposit:
        if (self.user_id is None) == (self.account_id is None):
            raise ValueError("wallet.deposit names user_id or account_id: one of them")
        return self


class UsageEventData(InboundData):
    """One usage event: the fields of ``POST /v1/usage_events`` (``UsageEventRequest``),
    read in camelCase too. The keys of ``properties`` are the event's own and are kept
    as they are."""

    transaction_id: TransactionId
    external_customer_id: Ref | None = None
    subscription_id: UUID | None = None
    event_name: EventName
    timestamp: Timestamp | None = None
    properties: Properties = Field(default_factory=dict)


class UsageBatchData(InboundData):
    """Several usage events in one message, as ``POST /v1/usage_events/batch`` takes them
    (the message's 64 KiB bound them too)."""

    events: list[UsageEventData] = Field(min_length=1, max_length=MAX_USAGE_BATCH)


def _usage_form(value: Any) -> str:
    """Which form a ``usage.recorded`` message's data has: a batch names ``events``."""
    return "batch" if isinstance(value, dict) and "events" in value else "event"


class UsageRecorded(
    RootModel[
        Annotated[
            Annotated[UsageBatchData, Tag("batch")] | Annotated[UsageEventData, Tag("event")],
            Discriminator(_usage_form),
        ]
    ]
):
    """Record usage: one event (its fields are the data) or a batch (``events``),
    through the same door as the HTTP routes (``api/inbound/usage.py``)."""

    model_config = ConfigDict(frozen=True)

    @property
    def events(self) -> list[UsageEventData]:
        found = self.root
        return list(found.events) if isinstance(found, UsageBatchData) else [found]


_ID: TypeAdapter[str] = TypeAdapter(Id)

MessageData = (
    UserSubscribed | UserChangedPlan | UserUnsubscribed | OrderCreated | WalletDeposit
    | UsageRecorded
)  # fmt: skip

MESSAGE_TYPES: dict[str, type[MessageData]] = {
    "user.subscribed": UserSubscribed,
    "user.changed.plan": UserChangedPlan,
    "user.unsubscribed": UserUnsubscribed,
    "order.created": OrderCreated,
    "wallet.deposit": WalletDeposit,
    "usage.recorded": UsageRecorded,
}
MessageType = Literal[
    "user.subscribed", "user.changed.plan", "user.unsubscribed", "order.created",
    "wallet.deposit", "usage.recorded",
]  # fmt: skip


class Envelope(BaseModel):
    """The message around ``data``: its id and type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Id = Field(validation_alias=AliasChoices("id", "message_id", "messageId"))
    type: MessageType
    data: dict[str, Any]


class InboundMessage(BaseModel):
    """A message read and checked: its id, its type and its data as that type's model."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    data: MessageData


def _peek(body: bytes) -> dict[str, Any] | None:
    """The JSON object in a body within the size limit, or None (a larger one is not
    parsed at all)."""
    if len(body) > MAX_INBOUND_MESSAGE_BYTES:
        return None
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return raw if isinstance(raw, dict) else None


def message_id_of(body: bytes) -> str | None:
    """The ``id`` of a message that may be malformed otherwise, when it is a well-formed
    id; None when there is none to trust (the dead letter then names no id)."""
    raw = _peek(body)
    if raw is None:
        return None
    found = next((raw[k] for k in ("id", "message_id", "messageId") if k in raw), None)
    try:
        return _ID.validate_python(found)
    except ValidationError:
        return None


def message_type_of(body: bytes) -> str | None:
    """The ``type`` of a message that may be malformed otherwise, when it is one Tally
    knows; else None."""
    raw = _peek(body)
    found = raw.get("type") if raw is not None else None
    return found if isinstance(found, str) and found in MESSAGE_TYPES else None


def parse(body: bytes) -> InboundMessage:
    """The message in ``body`` (UTF-8 JSON), or ``ValidationFailed`` saying what is wrong
    with it (the dead letter's reason)."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailed(f"the message is not UTF-8 JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ValidationFailed("the message is not a JSON object")
    try:
        envelope = Envelope.model_validate(raw)
        data = MESSAGE_TYPES[envelope.type].model_validate(envelope.data)
    except ValidationError as error:
        raise ValidationFailed(_first_errors(error), errors=_errors(error)) from None
    return InboundMessage(id=envelope.id, type=envelope.type, data=data)


def _errors(error: ValidationError) -> list[dict[str, Any]]:
    return [
        # A rule of the whole data (wallet.deposit's one wallet) has no field: "data".
        {"loc": ".".join(str(p) for p in e["loc"]) or "data", "msg": e["msg"]}
        for e in error.errors(include_url=False)[:10]
    ]


def _first_errors(error: ValidationError) -> str:
    found = _errors(error)
    text = "; ".join(f"{e['loc']}: {e['msg']}" for e in found[:3])
    return f"the message is not valid: {text}"
