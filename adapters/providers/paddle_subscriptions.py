"""Paddle Billing running a Tally subscription: the ``SubscriptionProvider`` calls and
what Tally reads of Paddle's subscriptions and their transactions.

Paddle's API cannot create a subscription by itself: a subscription is born when a
transaction with recurring prices is paid. So ``create_subscription`` creates that
transaction (``collection_mode: automatic``, the customer, the prices, Tally's
references in ``custom_data``, which Paddle copies onto the subscription) and answers
its checkout URL; the subscription's id arrives with ``subscription.created``. Paddle
takes no idempotency key, so the transaction carries Tally's key in ``custom_data``
and a retry looks it up among the customer's transactions first. Trials are Paddle's
own (a price's ``trial_period``): ``trial_days`` cannot be set per subscription there.

A plan change is ``PATCH /subscriptions/{id}`` with the whole item list (so a retry
asks the same again) and ``proration_billing_mode``; undoing a cancel clears the
subscription's ``scheduled_change``. An invoice is a Paddle transaction: its line
items, totals and, when paid, the transaction itself as the payment.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from adapters.providers.amounts import minor_from_text
from adapters.providers.ids import PADDLE, path_segment
from adapters.providers.paddle_bodies import KEY_FIELD
from adapters.providers.subscriptions import (
    InvoiceLine,
    ProviderInvoice,
    ProviderSubscription,
    SubscriptionItem,
    SubscriptionRequest,
)
from adapters.providers.times import iso_time
from commands.provider_errors import ProviderMisconfigured

NAME = "paddle"
PAID = ("paid", "completed")


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None


def subscription_fields(entity: Mapping[str, Any]) -> dict[str, Any]:
    """What a ``subscription.*`` notification says of the items and the current period."""
    items = [
        {"price_ref": price, "quantity": max(1, minor_from_text(item.get("quantity")) or 1)}
        for item in entity.get("items") or ()
        if isinstance(item, Mapping) and (price := _text(_map(item.get("price")).get("id")))
    ]
    period = _map(entity.get("current_billing_period"))
    return {"items": items, "period_start": iso_time(period.get("starts_at"))}


class PaddleSubscriptions:
    """The subscription calls of ``PaddleProvider`` (which supplies ``_call`` and
    ``_entries``)."""

    if TYPE_CHECKING:
        _checkout_url: str | None

        def _call(self, method: str, path: str, body: object | None) -> dict[str, Any]: ...

        def _entries(
            self, path: str, params: dict[str, str], what: str
        ) -> Iterator[dict[str, Any]]: ...

    def create_subscription(self, request: SubscriptionRequest) -> ProviderSubscription:
        customer = path_segment(PADDLE, request.customer_ref, what="the customer id")
        params = {"customer_id": customer, "collection_mode": "automatic"}
        for earlier in self._entries("/transactions", params, "transactions"):
            if _map(earlier.get("custom_data")).get(KEY_FIELD) == request.idempotency_key:
                return _first_period(earlier)
        body: dict[str, Any] = {
            "customer_id": customer,
            "currency_code": request.currency.upper(),
            "collection_mode": "automatic",
            "items": [{"price_id": i.price_ref, "quantity": i.quantity} for i in request.items],
            "custom_data": {**request.references, KEY_FIELD: request.idempotency_key},
        }
        if self._checkout_url:
            # As a hosted checkout's transaction (paddle_bodies.checkout_body): without
            # it an account with no default payment link answers ``checkout.url: null``
            # and the customer has nowhere to pay the first period.
            body["checkout"] = {"url": self._checkout_url}
        return _first_period(self._call("POST", "/transactions", body))

    def change_subscription_items(
        self,
        subscription_ref: str,
        items: tuple[SubscriptionItem, ...],
        *,
        prorate: bool,
        idempotency_key: str,
    ) -> None:
        subscription = path_segment(PADDLE, subscription_ref, what="the subscription id")
        body = {
            "items": [{"price_id": i.price_ref, "quantity": i.quantity} for i in items],
            "proration_billing_mode": "prorated_immediately" if prorate else "do_not_bill",
        }
        self._call("PATCH", f"/subscriptions/{subscription}", body)

    def undo_cancel_subscription(self, subscription_ref: str, *, idempotency_key: str) -> None:
        subscription = path_segment(PADDLE, subscription_ref, what="the subscription id")
        self._call("PATCH", f"/subscriptions/{subscription}", {"scheduled_change": None})

    def get_invoice(self, invoice_ref: str) -> ProviderInvoice:
        transaction = path_segment(PADDLE, invoice_ref, what="the transaction id")
        return invoice_from(self._call("GET", f"/transactions/{transaction}", None))


def _first_period(transaction: Mapping[str, Any]) -> ProviderSubscription:
    """The transaction that will start the subscription: no subscription yet (its
    webhook brings the id), and the page where the customer pays it."""
    url = _text(_map(transaction.get("checkout")).get("url"))
    if not url:
        raise ProviderMisconfigured(
            "Paddle returned no checkout URL for the subscription's first payment: set "
            "TALLY_PADDLE_CHECKOUT_URL or a default payment link",
            provider=NAME,
        )
    return ProviderSubscription(NAME, "", str(transaction.get("status") or ""), url)


def invoice_from(transaction: Mapping[str, Any]) -> ProviderInvoice:
    details = _map(transaction.get("details"))
    totals = _map(details.get("totals"))
    lines = tuple(
        InvoiceLine(
            description=str(_map(item.get("product")).get("name") or "Subscription")[:500],
            amount_minor=minor_from_text(_map(item.get("totals")).get("subtotal")) or 0,
            quantity=max(1, minor_from_text(item.get("quantity")) or 1),
            price_ref=_text(item.get("price_id")),
        )
        for item in details.get("line_items") or ()
        if isinstance(item, Mapping)
    )
    status = str(transaction.get("status") or "")
    total = minor_from_text(totals.get("grand_total") or totals.get("total")) or 0
    period = _map(transaction.get("billing_period"))
    return ProviderInvoice(
        provider=NAME,
        invoice_ref=str(transaction.get("id") or ""),
        subscription_ref=_text(transaction.get("subscription_id")),
        status=status,
        currency=str(totals.get("currency_code") or transaction.get("currency_code") or ""),
        lines=lines,
        subtotal_minor=minor_from_text(totals.get("subtotal")) or 0,
        tax_minor=minor_from_text(totals.get("tax")) or 0,
        total_minor=total,
        amount_paid_minor=total if status in PAID else 0,
        # A Paddle payment is its transaction (domain/payment_refs.py).
        payment_ref=_text(transaction.get("id")) if status in PAID else None,
        number=_text(transaction.get("invoice_number")),
        period_start=iso_time(period.get("starts_at")),
        period_end=iso_time(period.get("ends_at")),
    )
