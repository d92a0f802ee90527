"""The request bodies the Paddle adapter sends, built to Paddle's published schemas.

Each body follows its schema in Paddle's OpenAPI description (PaddleHQ/paddle-openapi,
``v1/openapi.yaml``): ``transaction-create`` for checkouts, ``subscription-charge``
for off-session charges, ``adjustment-create`` for refunds. The test
``tests/unit/test_provider_paddle_schemas.py`` checks every body against those
schemas, carried as small fixtures written from the spec.

Texts are made to fit Paddle's limits (``domain/limits/``): a checkout line's name was
checked when the command arrived (``domain/provider_limits.py``), so ``fitted`` changes
nothing there; a charge's price name and description are Tally's own words (an invoice
number, a top-up's description), derived to fit.
"""

from __future__ import annotations

import re
from typing import Any

from adapters.providers.base import ChargeRequest, CheckoutRequest, LineItem, RefundRequest
from domain.limits import (
    PADDLE_CHARGE_DESCRIPTION_CHARS,
    PADDLE_CHARGE_NAME_CHARS,
    PADDLE_LINE_NAME_CHARS,
    PADDLE_PRODUCT_NAME_CHARS,
)
from domain.provider_limits import fitted

KEY_FIELD = "tally_idempotency_key"
# A refund's reason ends with its idempotency key in brackets, "... [tally:<call>:1]":
# Paddle keeps no custom data on adjustments, so the key is how a retry finds the first
# one and how an adjustment's webhook finds the refund call that asked for it.
_REFUND_TAG = re.compile(
    r"\[tally:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):[0-9]+\]$"
)


def refund_tag(key: str) -> str:
    return f"[{key}]"


def refund_call_in(reason: object) -> str | None:
    """The Tally refund call an adjustment's reason names (``tally_refund_call``)."""
    found = _REFUND_TAG.search(reason) if isinstance(reason, str) else None
    return found.group(1) if found else None


def checkout_item(line: LineItem) -> dict[str, Any]:
    """A ``transaction-create`` item: a catalog price, or a non-catalog price and
    product (``transaction_item_create_with_price_and_product``)."""
    if line.price_ref:
        return {"price_id": line.price_ref, "quantity": line.quantity}
    name = fitted(line.name, PADDLE_LINE_NAME_CHARS)
    return {
        "quantity": line.quantity,
        "price": {
            "description": name,
            "name": name,
            "unit_price": _money(line.unit_amount_minor, line.currency),
            "product": {
                "name": fitted(line.name, PADDLE_PRODUCT_NAME_CHARS),
                "tax_category": "standard",
            },
        },
    }


def checkout_body(request: CheckoutRequest, checkout_url: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "items": [checkout_item(line) for line in request.lines],
        "collection_mode": "automatic",
        "custom_data": {**request.references, KEY_FIELD: request.idempotency_key},
    }
    if request.customer_ref:
        body["customer_id"] = request.customer_ref
    if checkout_url:
        # The page on an approved domain that opens Paddle.js; without it Paddle uses
        # the account's default payment link, and an account with none answers null.
        body["checkout"] = {"url": checkout_url}
    return body


def charge_body(request: ChargeRequest) -> dict[str, Any]:
    """A ``subscription-charge`` of one non-catalog price and product, billed now, the
    idempotency key in the price's custom data (where the look-up finds it)."""
    text = request.description or "Charge"
    item = {
        "quantity": 1,
        "price": {
            "description": fitted(text, PADDLE_CHARGE_DESCRIPTION_CHARS),
            "name": fitted(text, PADDLE_CHARGE_NAME_CHARS),
            "unit_price": _money(request.amount_minor, request.currency),
            "product": {
                "name": fitted(text, PADDLE_PRODUCT_NAME_CHARS),
                "tax_category": "standard",
            },
            "custom_data": {**request.references, KEY_FIELD: request.idempotency_key},
        },
    }
    return {
        "effective_from": "immediately",
        "items": [item],
        "on_payment_failure": "prevent_change",
    }


def adjustment_body(request: RefundRequest, item_id: str) -> dict[str, Any]:
    """An ``adjustment-create`` refunding part of the transaction's line ``item_id``."""
    return {
        "action": "refund",
        "transaction_id": request.payment_ref,
        "reason": f"{request.reason or 'refund'} {refund_tag(request.idempotency_key)}",
        "type": "partial",
        "items": [{"item_id": item_id, "type": "partial", "amount": str(request.amount_minor)}],
    }


def _money(amount_minor: int, currency: str) -> dict[str, str]:
    return {"amount": str(amount_minor), "currency_code": currency.upper()}
