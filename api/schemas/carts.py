"""Request and response bodies of the cart routes (``api/routes/carts.py``)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from api import money_rules as rules
from api.objects import Instant, Typed, created_field
from api.schemas.common import CART_ID, CUSTOMER_ID, PRICE_ID, Body, Result, examples
from commands.messages import CurrencyCode
from commands.provider_messages import (
    LineInput,
)


class CartRequest(Body):
    model_config = examples({"currency": "EUR", "customer_id": CUSTOMER_ID}, {"currency": "EUR"})
    currency: CurrencyCode
    customer_id: UUID | None = None


class CartItemRequest(Body):
    model_config = examples(
        {"line": {"price_id": PRICE_ID, "quantity": 1}},
        {"line": {"name": "Mug", "unit_amount": 900, "currency": "EUR", "quantity": 2}},
    )
    line: LineInput = Field(description=rules.CART_LINE)


class Cart(Result, Typed):
    model_config = examples(
        {
            "id": CART_ID,
            "object": "cart",
            "currency": "EUR",
            "status": "open",
            "lines": [
                {"id": "line_1", "name": "Mug", "unit_amount": 900, "quantity": 2, "amount": 1800}
            ],
            "total": 1800,
            "created": "2030-01-01T09:00:00.000000Z",
        },
        extra="allow",
    )
    id: UUID
    object: Literal["cart"] = Field(default="cart", description="Its type")
    currency: str
    status: str
    lines: list[dict[str, Any]]
    total: int
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class CartResult(Result):
    cart: Cart
