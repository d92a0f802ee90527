"""YooKassa (API v3) over httpx.

Requests use HTTP basic auth (shop id, secret key) and every POST carries Tally's key
as ``Idempotence-Key``, which YooKassa honours for 24 hours: the same key returns the
first answer, so a retry after a timeout or a 500 never pays twice.

YooKassa has no customer objects, no portal and no provider-run subscriptions: Tally
runs subscriptions itself, saving the payment method at the first checkout
(``save_payment_method``) and charging it on renewal. ``create_customer`` therefore
returns Tally's own reference without calling anything, and portal and cancel calls
raise ``ProviderUnsupported``.

Notifications are not signed. Each one is believed only after the object it names has
been fetched back (``GET /v3/payments/{id}`` or ``/v3/refunds/{id}``) and the fetched
object is the one asked for, of the kind asked for, in the state the notification says;
the fetched object is what gets normalized. The id is checked against YooKassa's format
before the fetch and escaped in its URL (``adapters/providers/ids.py``), so a forged
``../payments/<id>`` never turns a refund notification into a fetch of a payment. An
optional allowlist of source CIDRs refuses deliveries from anywhere else first.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from adapters.providers.base import (
    ChargeOutcome,
    ChargeRequest,
    CheckoutMode,
    CheckoutRequest,
    CheckoutSession,
    CustomerRequest,
    PortalSession,
    ProviderCustomer,
    ProviderEvent,
    RefundOutcome,
    RefundRequest,
)
from adapters.providers.http import json_body, new_client, send
from adapters.providers.ids import YOOKASSA, check_event_ids, checked, path_segment
from adapters.providers.yookassa_events import CONFIRMING_STATUS, normalize
from adapters.providers.yookassa_refund_refs import needs_payment, with_payment_references
from commands.provider_errors import (
    CardDeclined,
    InvalidSignature,
    ProviderRejected,
    ProviderUnsupported,
)
from domain.money import minor_to_major

NAME = "yookassa"
MAX_KEY_LENGTH = 64  # YooKassa's limit on Idempotence-Key


def idempotence_key(key: str) -> str:
    """Tally's key as YooKassa accepts it: unchanged when short enough, otherwise a
    digest of it (still deterministic, so retries still match)."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "tally:" + hashlib.sha256(key.encode()).hexdigest()[:48]


class YooKassaProvider:
    name = NAME
    manages_subscriptions = False

    def __init__(
        self,
        *,
        shop_id: str,
        secret_key: str,
        api_base: str = "https://api.yookassa.ru",
        timeout_s: float = 10.0,
        allowed_sources: Sequence[str] = (),
        credential_names: str = "YOOKASSA_SHOP_ID/YOOKASSA_SECRET_KEY",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = new_client(
            api_base, timeout_s, auth=httpx.BasicAuth(shop_id, secret_key), transport=transport
        )
        self._allowed = [ipaddress.ip_network(cidr, strict=False) for cidr in allowed_sources]
        self._credential_names = credential_names

    def __repr__(self) -> str:
        return "YooKassaProvider(<credentials hidden>)"

    def close(self) -> None:
        self._http.close()

    def create_customer(self, request: CustomerRequest) -> ProviderCustomer:
        return ProviderCustomer(
            NAME, request.references.get("tally_customer", request.idempotency_key)
        )

    def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession:
        names = ", ".join(line.name for line in request.lines)
        body: dict[str, Any] = {
            "amount": _amount(request.total_minor, request.currency),
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": request.success_url},
            "description": names[:128],
            "metadata": dict(request.references),
        }
        if request.mode is CheckoutMode.SUBSCRIPTION:
            body["save_payment_method"] = True
        payment = self._post("/v3/payments", body, request.idempotency_key)
        confirmation = payment.get("confirmation", {})
        url = confirmation.get("confirmation_url") if isinstance(confirmation, dict) else None
        if not url:
            raise ProviderRejected("YooKassa returned no confirmation URL", provider=NAME)
        return CheckoutSession(NAME, str(payment["id"]), str(url))

    def create_portal_session(self, customer_ref: str, return_url: str) -> PortalSession:
        raise ProviderUnsupported("YooKassa has no customer portal", provider=NAME)

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        body: dict[str, Any] = {
            "amount": _amount(request.amount_minor, request.currency),
            "capture": True,
            "payment_method_id": request.payment_method_ref,
            "description": (request.description or "Charge")[:128],
            "metadata": dict(request.references),
        }
        payment = self._post("/v3/payments", body, request.idempotency_key)
        status = str(payment.get("status", ""))
        if status == "canceled":
            details = payment.get("cancellation_details") or {}
            reason = str(details.get("reason") or "canceled")
            raise CardDeclined(
                f"YooKassa canceled the payment ({reason})",
                provider=NAME,
                decline_code=reason,
                payment=payment.get("id"),
            )
        outcome = "succeeded" if status == "succeeded" else "processing"
        return ChargeOutcome(
            NAME, str(payment["id"]), outcome, request.amount_minor, request.currency.upper()
        )

    def refund(self, request: RefundRequest) -> RefundOutcome:
        body: dict[str, Any] = {
            "payment_id": request.payment_ref,
            "amount": _amount(request.amount_minor, request.currency),
        }
        if request.reason:
            body["description"] = request.reason[:250]
        if request.references:
            # Refunds keep metadata since the API gained it (SDK 3.x): the refund's
            # notification then names the call and its payment, as a payment's does.
            body["metadata"] = dict(request.references)
        refund = self._post("/v3/refunds", body, request.idempotency_key)
        status = str(refund.get("status", "pending"))
        if status == "canceled":
            details = refund.get("cancellation_details") or {}
            raise ProviderRejected(
                f"YooKassa canceled the refund ({details.get('reason', 'unknown')})",
                provider=NAME,
            )
        return RefundOutcome(
            NAME, str(refund["id"]), status, request.amount_minor, request.currency.upper()
        )

    def cancel_subscription(
        self, subscription_ref: str, *, at_period_end: bool, idempotency_key: str
    ) -> None:
        raise ProviderUnsupported(
            "YooKassa runs no subscriptions; Tally cancels its own", provider=NAME
        )

    def parse_webhook(
        self,
        headers: Mapping[str, str],
        raw_body: bytes,
        *,
        source_address: str | None = None,
    ) -> list[ProviderEvent]:
        self._check_source(source_address)
        try:
            notification = json.loads(raw_body)
        except (ValueError, RecursionError):  # anyone can post: nested past reading too
            raise InvalidSignature("the notification is not JSON", provider=NAME) from None
        if not isinstance(notification, dict) or notification.get("type") != "notification":
            raise InvalidSignature("the body is not a YooKassa notification", provider=NAME)
        event = str(notification.get("event", ""))
        obj = notification.get("object")
        expected = CONFIRMING_STATUS.get(event)
        if expected is None or not isinstance(obj, dict) or "id" not in obj:
            raise InvalidSignature(
                f"cannot confirm a {event or 'typeless'} notification", provider=NAME
            )
        # Checked before it goes anywhere near a URL: the body is anyone's to write.
        object_id = checked(
            YOOKASSA, obj["id"], what="the notification's object id", refusal=InvalidSignature
        )
        fetched = self._fetch(event, object_id)
        _check_fetched(event, object_id, fetched)
        if fetched.get("status") != expected:
            raise InvalidSignature(
                f"the API says {object_id} is {fetched.get('status')}, not {expected}",
                provider=NAME,
            )
        confirmed = normalize(event, fetched, _checked_part(event, object_id))
        if needs_payment(confirmed):  # a refund names no Tally payment of its own
            confirmed = with_payment_references(self._payment, self._refunds, confirmed)
        check_event_ids(YOOKASSA, confirmed, event_id=False)
        return [confirmed]

    def _payment(self, payment_id: str) -> dict[str, Any] | None:
        """The payment a refund names (its id checked by ``_check_fetched``); None if
        YooKassa knows none."""
        try:
            return self._fetch("payment.succeeded", payment_id)
        except InvalidSignature:
            return None

    def _refunds(self, payment_id: str) -> list[dict[str, Any]]:
        """The refunds of a payment YooKassa showed (``GET /v3/refunds``, one page of
        100: a payment refunded more often than that is not fully read)."""
        params = {"payment_id": payment_id, "limit": "100"}
        response = send(
            self._http,
            "GET",
            "/v3/refunds",
            provider=NAME,
            credential_names=self._credential_names,
            params=params,
        )
        if not response.is_success:
            raise _refusal(json_body(response), response.status_code)
        items = json_body(response).get("items")
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    def _check_source(self, source_address: str | None) -> None:
        if not self._allowed:
            return
        try:
            address = ipaddress.ip_address(source_address or "")
        except ValueError:
            raise InvalidSignature(
                "the notification has no source address", provider=NAME
            ) from None
        if not any(address in network for network in self._allowed):
            raise InvalidSignature(
                f"{address} is not an allowed notification source", provider=NAME
            )

    def _fetch(self, event: str, object_id: str) -> dict[str, Any]:
        kind = _kind(event)
        segment = path_segment(YOOKASSA, object_id, what=f"the {kind[:-1]} id")
        response = send(
            self._http,
            "GET",
            f"/v3/{kind}/{segment}",
            provider=NAME,
            credential_names=self._credential_names,
        )
        if response.status_code == 404:
            raise InvalidSignature(f"YooKassa knows no {kind[:-1]} {object_id}", provider=NAME)
        if not response.is_success:
            raise _refusal(json_body(response), response.status_code)
        return json_body(response)

    def _post(self, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        response = send(
            self._http,
            "POST",
            path,
            provider=NAME,
            credential_names=self._credential_names,
            json=body,
            headers={"Idempotence-Key": idempotence_key(key)},
        )
        payload = json_body(response)
        if not response.is_success:
            raise _refusal(payload, response.status_code)
        return payload


def _kind(event: str) -> str:
    return "refunds" if event.startswith("refund.") else "payments"


def _check_fetched(event: str, object_id: str, fetched: dict[str, Any]) -> None:
    """The object fetched back must be the one asked for, of the kind asked for: a
    refund notification is confirmed by a refund (it names its payment), never by a
    payment (which names none), whatever path the request took."""
    kind = _kind(event)[:-1]
    is_refund = "payment_id" in fetched
    if fetched.get("id") != object_id or is_refund != (kind == "refund"):
        raise InvalidSignature(
            f"the API answered another object than the {kind} {object_id}", provider=NAME
        )
    if is_refund:
        checked(
            YOOKASSA,
            fetched["payment_id"],
            what="the refund's payment id",
            refusal=InvalidSignature,
        )


def _checked_part(event: str, object_id: str) -> dict[str, Any]:
    """What is kept of the notification itself: only what was checked. The rest of an
    unsigned body is anyone's text (it could hold a NUL a read model cannot store), and
    the fetched object is what was believed anyway."""
    return {"type": "notification", "event": event, "object": {"id": object_id}}


def _refusal(payload: dict[str, Any], status: int) -> ProviderRejected:
    return ProviderRejected(
        f"YooKassa refused the request ({status} {payload.get('code', '')}): "
        f"{payload.get('description', '')}",
        provider=NAME,
        yookassa_code=payload.get("code"),
        status=status,
    )


def _amount(amount_minor: int, currency: str) -> dict[str, str]:
    return {"value": minor_to_major(amount_minor, currency), "currency": currency.upper()}
