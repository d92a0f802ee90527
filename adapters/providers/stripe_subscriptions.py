"""Stripe Billing running a Tally subscription: the ``SubscriptionProvider`` calls and
what Tally reads of Stripe's subscriptions and invoices.

``StripeProvider`` takes these methods from ``StripeSubscriptions``. Shapes follow the
SDK's pinned API version and read the older places too where fields moved (a
subscription's period is on its items since 2025-03-31, its invoice's price on
``pricing.price_details``, its payment in ``payments``; before, ``current_period_start``,
``price`` and ``payment_intent``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from adapters.providers.ids import STRIPE, checked
from adapters.providers.subscriptions import (
    InvoiceLine,
    ProviderInvoice,
    ProviderSubscription,
    SubscriptionItem,
    SubscriptionRequest,
)
from adapters.providers.times import unix_time
from domain.invoice_lines import MAX_LINES

if TYPE_CHECKING:
    import stripe as stripe_sdk

NAME = "stripe"


def _ref(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _data(listing: object) -> list[Mapping[str, Any]]:
    data = listing.get("data") if isinstance(listing, Mapping) else None
    return [item for item in data or () if isinstance(item, Mapping)]


def _price_of(item: Mapping[str, Any]) -> str | None:
    """A subscription item's or invoice line's price id, at any API version."""
    pricing = item.get("pricing")
    details = pricing.get("price_details") if isinstance(pricing, Mapping) else None
    if isinstance(details, Mapping) and _ref(details.get("price")):
        return _ref(details.get("price"))
    return _ref(item.get("price")) or _ref(item.get("plan"))


def subscription_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What a ``customer.subscription.*`` event says of the items and period, for the
    mirror: ``items`` as ``{"price_ref", "quantity"}``, ``period_start`` (its first
    item's at current versions, the subscription's before)."""
    items = [
        {"price_ref": price, "quantity": max(1, _int(item.get("quantity")))}
        for item in _data(obj.get("items"))
        if (price := _price_of(item))
    ]
    listed = _data(obj.get("items"))
    start = obj.get("current_period_start") or (
        listed[0].get("current_period_start") if listed else None
    )
    return {"items": items, "period_start": unix_time(start)}


class StripeSubscriptions:
    """The subscription calls of ``StripeProvider`` (which supplies the client and the
    error mapping)."""

    if TYPE_CHECKING:
        _client: stripe_sdk.StripeClient

        def _errors(self) -> AbstractContextManager[None]: ...

    def create_subscription(self, request: SubscriptionRequest) -> ProviderSubscription:
        params: dict[str, Any] = {
            "customer": request.customer_ref,
            "currency": request.currency.lower(),
            "items": [{"price": i.price_ref, "quantity": i.quantity} for i in request.items],
            "metadata": dict(request.references),
        }
        if request.trial_days:
            params["trial_period_days"] = request.trial_days
        if request.payment_method_ref:
            params["default_payment_method"] = request.payment_method_ref
        with self._errors():
            made = self._client.v1.subscriptions.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key},
            )
        return ProviderSubscription(NAME, made.id, str(made.status))

    def change_subscription_items(
        self,
        subscription_ref: str,
        items: tuple[SubscriptionItem, ...],
        *,
        prorate: bool,
        idempotency_key: str,
    ) -> None:
        """Stripe replaces items by their subscription item ids: the subscription is
        read first, each item whose price stays keeps its id (with the new quantity),
        the others are deleted and new prices added. A retry after a change that went
        through finds the items as wanted and asks nothing again."""
        checked(STRIPE, subscription_ref, what="the subscription id")
        with self._errors():
            current = self._client.v1.subscriptions.retrieve(subscription_ref)
        have = {
            _price_of(item): (str(item["id"]), max(1, _int(item.get("quantity"))))
            for item in _data(current.to_dict().get("items"))
        }
        if {p: q for p, (_, q) in have.items()} == {i.price_ref: i.quantity for i in items}:
            return
        wanted = {i.price_ref: i.quantity for i in items}
        changes: list[dict[str, Any]] = [
            {"id": item_id, "deleted": True}
            for price, (item_id, _) in have.items()
            if price not in wanted
        ]
        for price, quantity in wanted.items():
            kept = have.get(price)
            changes.append(
                {"id": kept[0], "quantity": quantity}
                if kept
                else {"price": price, "quantity": quantity}
            )
        params = {
            "items": changes,
            "proration_behavior": "create_prorations" if prorate else "none",
        }
        with self._errors():
            self._client.v1.subscriptions.update(
                subscription_ref,
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )

    def undo_cancel_subscription(self, subscription_ref: str, *, idempotency_key: str) -> None:
        checked(STRIPE, subscription_ref, what="the subscription id")
        with self._errors():
            self._client.v1.subscriptions.update(
                subscription_ref,
                {"cancel_at_period_end": False},
                {"idempotency_key": idempotency_key},
            )

    def get_invoice(self, invoice_ref: str) -> ProviderInvoice:
        checked(STRIPE, invoice_ref, what="the invoice id")
        with self._errors():
            invoice = self._client.v1.invoices.retrieve(invoice_ref, {"expand": ["payments"]})
            found = invoice.to_dict()
            found["lines"] = {"data": self._all_lines(invoice_ref, found.get("lines"))}
        return invoice_from(found)

    def _all_lines(self, invoice_ref: str, first: object) -> list[Mapping[str, Any]]:
        """Every line of the invoice: Stripe embeds only its first page (10 lines), so
        the rest are read from ``GET /v1/invoices/{id}/lines``, 100 a page, until none are
        left or there are more than an invoice of Tally's holds (the mirror then refuses
        it, saying why, rather than lumping the lines it did not read into one)."""
        lines = _data(first)
        more = isinstance(first, Mapping) and first.get("has_more") is True
        while more and lines and len(lines) <= MAX_LINES:
            after = str(lines[-1].get("id") or "")
            listed = self._client.v1.invoices.line_items.list(
                invoice_ref, {"limit": 100, "starting_after": after}
            )
            page = listed.to_dict()
            fetched = _data(page)
            lines.extend(fetched)
            more = bool(fetched) and page.get("has_more") is True
        return lines


def _payment_of(invoice: Mapping[str, Any]) -> str | None:
    """The PaymentIntent that paid it: in its ``payments`` (current versions; a paid
    one first), else its ``payment_intent`` (older versions)."""
    payments = _data(invoice.get("payments"))
    paid = [p for p in payments if p.get("status") == "paid"] or payments
    for entry in paid:
        payment = entry.get("payment")
        if isinstance(payment, Mapping):
            found = _ref(payment.get("payment_intent")) or _ref(payment.get("charge"))
            if found:
                return found
    return _ref(invoice.get("payment_intent"))


def invoice_from(invoice: Mapping[str, Any]) -> ProviderInvoice:
    parent = invoice.get("parent") if isinstance(invoice.get("parent"), Mapping) else {}
    details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
    subscription = _ref(invoice.get("subscription")) or (
        _ref(details.get("subscription")) if isinstance(details, Mapping) else None
    )
    lines = tuple(line_from(line) for line in _lines(invoice))
    subtotal, total = _int(invoice.get("subtotal")), _int(invoice.get("total"))
    return ProviderInvoice(
        provider=NAME,
        invoice_ref=str(invoice.get("id") or ""),
        subscription_ref=subscription,
        status=str(invoice.get("status") or ""),
        currency=str(invoice.get("currency") or "").upper(),
        lines=lines,
        subtotal_minor=subtotal,
        tax_minor=total - subtotal,
        total_minor=total,
        amount_paid_minor=_int(invoice.get("amount_paid")),
        payment_ref=_payment_of(invoice),
        number=str(invoice["number"]) if invoice.get("number") else None,
        period_start=unix_time(invoice.get("period_start")),
        period_end=unix_time(invoice.get("period_end")),
        balance_applied_minor=_balance_applied(invoice),
    )


def line_from(line: Mapping[str, Any]) -> InvoiceLine:
    """An invoice line as Stripe billed it: its discounts (``discount_amounts``) and
    taxes (``taxes`` at current versions, ``tax_amounts`` before 2025-03-31, each
    exclusive or inclusive), and whether it prorates (its parent's ``proration``)."""
    taxes = [
        (_int(t.get("amount")), t.get("tax_behavior") == "inclusive")
        for t in _entries(line.get("taxes"))
    ] or [
        (_int(t.get("amount")), t.get("inclusive") is True)
        for t in _entries(line.get("tax_amounts"))
    ]
    parent = line.get("parent") if isinstance(line.get("parent"), Mapping) else {}
    details = [d for d in (parent or {}).values() if isinstance(d, Mapping)]
    return InvoiceLine(
        description=str(line.get("description") or "Subscription")[:500],
        amount_minor=_int(line.get("amount")),
        quantity=max(1, _int(line.get("quantity"))),
        price_ref=_price_of(line),
        discount_minor=sum(_int(d.get("amount")) for d in _entries(line.get("discount_amounts"))),
        tax_minor=sum(amount for amount, _ in taxes),
        inclusive_tax_minor=sum(amount for amount, inclusive in taxes if inclusive),
        proration=any(d.get("proration") is True for d in details) or line.get("proration") is True,
    )


def _entries(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _balance_applied(invoice: Mapping[str, Any]) -> int:
    """What the customer's Stripe balance paid of the invoice (negative: what the
    invoice added to it). Stripe's balance is negative when it is credit, and
    ``ending_balance`` is null until the invoice is finalized."""
    ending = invoice.get("ending_balance")
    if not isinstance(ending, int) or isinstance(ending, bool):
        return 0
    return ending - _int(invoice.get("starting_balance"))


def _lines(invoice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from _data(invoice.get("lines"))
