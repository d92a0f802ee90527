"""Shared pieces of the HTTP API's request and response models (they are what OpenAPI
publishes): the request and response bases, the object base (``id``, ``object``,
``created``), lists, problems, the ``collection`` fields, example ids and helpers.

Request fields reuse the annotated types of the command messages, so the API and the
commands cannot disagree on what an amount or a currency is: amounts are ``StrictInt``
minor units greater than zero (``12.5`` and ``"1250"`` are refused, not coerced) and
currencies are checked against ISO 4217."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from api.objects import Typed
from api.schemas.nulls import SHOWS_NULL

T = TypeVar("T")


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Response(BaseModel):
    # Read models may carry more fields than the ones documented here; they pass through.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def request_config(examples: list[JsonValue]) -> ConfigDict:
    """Requests refuse unknown fields (a typo must not be silently ignored)."""
    return ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": examples})


class Resource(BaseModel):
    # Only documented fields leave the API, whichever side (command result or read model)
    # the data came from; read-model bookkeeping such as ``position`` stays inside.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ApiObject(Resource, Typed):
    """An object of the API (docs/api.md): it has ``id``, ``object`` and ``created``."""


class Page(BaseModel, Generic[T]):
    object: Literal["list"] = Field(default="list", description="Its type: a page of a list")
    data: list[T]
    has_more: bool = Field(
        description="More items follow the last one; pass its id as starting_after to get them"
    )


class FieldError(BaseModel):
    field: str
    location: str
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:tally:problem:insufficient_funds",
                    "title": "Insufficient funds",
                    "status": 422,
                    "detail": "account 0d5c... has 100 available; 300 was asked for",
                    "code": "insufficient_funds",
                    "instance": "/v1/accounts/0d5c.../withdrawals",
                    "available": 100,
                    "requested": 300,
                }
            ]
        },
    )
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[FieldError] | None = None


JsonDict = dict[str, Any]


Collection = Annotated[
    Literal["auto_charge", "none"] | None,
    SHOWS_NULL,
    Field(
        description="How Tally collects this customer's invoices now: `auto_charge` (the "
        "project's `auto_charge_provider` charges the customer's payment method there when "
        "an invoice is finalized) or `none` (nothing charges them: invoices stay open until "
        "paid out of band, `POST /v1/invoices/{invoice_id}/pay`). Answered by every read "
        "and by a subscription's create; absent from other writes' answers."
    ),
]


CollectionReason = Annotated[
    Literal["no_auto_charge_provider", "no_payment_method"] | None,
    SHOWS_NULL,
    Field(
        description="Why `collection` is `none`: `no_auto_charge_provider` (the billing "
        "settings name none) or `no_payment_method` (the customer has no payment method at "
        "that provider); null when it is `auto_charge`."
    ),
]


CUSTOMER_ID = "6f1d2c3b-4a5e-5f60-8172-93a4b5c6d7e8"


SUBSCRIPTION_ID = "4c5d6e7f-8091-5a2b-9c3d-4e5f6a7b8c9d"


PRICE_ID = "8e9f0a1b-2c3d-5e4f-8a6b-7c8d9e0f1a2b"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


CART_ID = "5b0f1d2e-3c4a-4b5c-8d6e-7f8091a2b3c4"


def examples(*found: dict[str, Any], extra: Literal["forbid", "allow"] = "forbid") -> ConfigDict:
    """A model's config with its OpenAPI examples (docs/api.md: every body and object)."""
    return ConfigDict(extra=extra, json_schema_extra={"examples": list(found)})  # type: ignore[dict-item]


class Result(BaseModel):
    """Answers carry the write side's summaries; documented loosely, kept whole."""

    model_config = ConfigDict(extra="allow")
