"""Provider ids are never trusted (issue 10): each provider's id format is checked before
an id is used, a webhook naming a malformed id is refused before anything is fetched or
recorded, and an id going into a URL is one escaped path segment. The providers' APIs
are answered here by httpx.MockTransport (no network), which records every request."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import stripe

from adapters.clock import FixedClock
from adapters.providers.base import ChargeRequest, RefundRequest
from adapters.providers.ids import PADDLE, STRIPE, YOOKASSA, IdFormat, checked, path_segment
from adapters.providers.paddle import PaddleProvider
from adapters.providers.signing import ts_h1_signature
from adapters.providers.stripe import StripeProvider
from adapters.providers.yookassa import YooKassaProvider
from commands.provider_errors import InvalidSignature, ProviderRejected

YOOKASSA_PAYMENT = "22d6d597-000f-5000-9000-145f6df21d6f"
YOOKASSA_REFUND = "216749f7-0016-50be-b000-078d43a63ae4"
PADDLE_TXN = "txn_01hv8wptq8987qeep44cyrewp9"
PADDLE_SUB = "sub_01hv8x29kz0t586xy6zn1a62ny"
NOW = datetime(2024, 4, 12, 10, 20, tzinfo=UTC)

# Shapes an attacker (or a broken integration) may put where an id belongs: relative
# paths, slashes, percent-encoded dots and slashes, a query, whitespace, a NUL, a
# look-alike letter (the Kelvin sign), and nothing at all.
HOSTILE = [
    "",
    "..",
    "../payments/{good}",
    "{good}/../../refunds/x",
    "..%2F{good}",
    "%2E%2E/{good}",
    "{good}%2F..",
    "{good}/",
    "{good}?expand=all",
    "{good}#frag",
    " {good}",
    "{good}\n",
    "{good}\x00",
    "{good}\u212a",
]

VALID = {
    "yookassa": [YOOKASSA_PAYMENT, YOOKASSA_REFUND, "2419A771-000F-5000-9000-1EDAF29243F2"],
    "stripe": [
        "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY",
        "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "sub_sched_1Mr3YdLkdIwHu7ixjop3qtff",
        "in_1Pgc6tB7WZ01zgkWu9fdqL6I",
        "re_1Pgc72B7WZ01zgkWqPvrRrPE",
        "cus_QXg1o8vcGmoR32",
    ],
    "paddle": [
        PADDLE_TXN,
        PADDLE_SUB,
        "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
        "paymtd_01hv8x1tpjfnttxddw73xnqx6s",
    ],
}
FORMATS = {"yookassa": YOOKASSA, "stripe": STRIPE, "paddle": PADDLE}


def hostile(good: str) -> list[str]:
    return [shape.format(good=good) for shape in HOSTILE]


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_accepts_the_providers_documented_ids(name: str) -> None:
    fmt = FORMATS[name]
    for value in VALID[name]:
        assert checked(fmt, value, what="an id") == value
        assert path_segment(fmt, value, what="an id") == value  # nothing to escape


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_refuses_paths_encodings_and_lookalikes(name: str) -> None:
    fmt = FORMATS[name]
    for value in [*hostile(VALID[name][0]), VALID[name][0] + "a" * 300, None, 42]:
        assert not fmt.matches(value), value
        with pytest.raises(ProviderRejected, match="an id is not"):
            path_segment(fmt, value, what="an id")


def test_the_formats_do_not_accept_each_others_ids() -> None:
    assert not YOOKASSA.matches(PADDLE_TXN)
    assert not PADDLE.matches(YOOKASSA_PAYMENT)
    assert not PADDLE.matches("txn_01hv8wptq8987qeep44cyrew")  # 25 characters, not 26
    assert not PADDLE.matches("txn_01HV8WPTQ8987QEEP44CYREWP9")  # Paddle's are lower-case
    assert not STRIPE.matches(YOOKASSA_PAYMENT)


def test_a_refusal_shows_the_offending_value_escaped_and_short() -> None:
    with pytest.raises(InvalidSignature) as refused:
        checked(YOOKASSA, "../x\x00" + "y" * 500, what="the id", refusal=InvalidSignature)
    assert refused.value.code == "invalid_signature"
    assert "\x00" not in refused.value.detail
    assert "..%2Fx%00" in refused.value.detail
    assert len(refused.value.detail) < 200


def test_an_id_format_is_matched_whole() -> None:
    fmt = IdFormat("t", STRIPE.pattern, 10, "a test id")
    assert fmt.matches("pi_123")
    assert not fmt.matches("pi_123 ")
    assert not fmt.matches("pi_12345678")  # longer than the format allows


# -- YooKassa: the unsigned notification's id is checked before the fetch ----------------


def yookassa(answers: dict[str, dict[str, Any]], seen: list[httpx.Request]) -> YooKassaProvider:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = answers.get(request.url.raw_path.decode())
        return httpx.Response(200, json=body) if body else httpx.Response(404, json={})

    return YooKassaProvider(
        shop_id="506751", secret_key="unit", transport=httpx.MockTransport(answer)
    )


def notification(event: str, object_id: object) -> bytes:
    return json.dumps(
        {"type": "notification", "event": event, "object": {"id": object_id}}
    ).encode()


PAYMENT = {
    "id": YOOKASSA_PAYMENT,
    "status": "succeeded",
    "paid": True,
    "amount": {"value": "10.50", "currency": "RUB"},
    "metadata": {"tally_transaction": "t"},
}
REFUND = {
    "id": YOOKASSA_REFUND,
    "status": "succeeded",
    "payment_id": YOOKASSA_PAYMENT,
    "amount": {"value": "10.50", "currency": "RUB"},
    "metadata": {"tally_transaction": "t"},
}


@pytest.mark.parametrize("event", ["refund.succeeded", "payment.succeeded", "payment.canceled"])
def test_a_yookassa_notification_with_a_malformed_id_is_refused_before_any_fetch(
    event: str,
) -> None:
    seen: list[httpx.Request] = []
    provider = yookassa({f"/v3/payments/{YOOKASSA_PAYMENT}": PAYMENT}, seen)
    for forged in [*hostile(YOOKASSA_PAYMENT), None, 7, ["x"]]:
        with pytest.raises(InvalidSignature, match="object id is not a 36-character"):
            provider.parse_webhook({}, notification(event, forged))
    assert seen == []


def test_a_yookassa_refund_confirmed_by_a_payment_is_refused() -> None:
    # Whatever way a request reaches a payment (a proxy that rewrites paths, an API that
    # ignores a suffix), a refund notification is believed only from a refund.
    provider = yookassa({f"/v3/refunds/{YOOKASSA_REFUND}": PAYMENT | {"id": YOOKASSA_REFUND}}, [])
    with pytest.raises(InvalidSignature, match="another object than the refund"):
        provider.parse_webhook({}, notification("refund.succeeded", YOOKASSA_REFUND))


def test_a_yookassa_payment_confirmed_by_a_refund_is_refused() -> None:
    provider = yookassa({f"/v3/payments/{YOOKASSA_PAYMENT}": REFUND | {"id": YOOKASSA_PAYMENT}}, [])
    with pytest.raises(InvalidSignature, match="another object than the payment"):
        provider.parse_webhook({}, notification("payment.succeeded", YOOKASSA_PAYMENT))


def test_a_yookassa_answer_about_another_object_is_refused() -> None:
    provider = yookassa({f"/v3/refunds/{YOOKASSA_REFUND}": REFUND | {"id": YOOKASSA_PAYMENT}}, [])
    with pytest.raises(InvalidSignature, match="another object"):
        provider.parse_webhook({}, notification("refund.succeeded", YOOKASSA_REFUND))


def test_a_yookassa_refund_naming_a_malformed_payment_is_refused() -> None:
    forged = REFUND | {"payment_id": f"../{YOOKASSA_PAYMENT}"}
    provider = yookassa({f"/v3/refunds/{YOOKASSA_REFUND}": forged}, [])
    with pytest.raises(InvalidSignature, match="payment id is not"):
        provider.parse_webhook({}, notification("refund.succeeded", YOOKASSA_REFUND))


def test_a_confirmed_yookassa_refund_keeps_only_the_checked_part_of_the_notification() -> None:
    seen: list[httpx.Request] = []
    provider = yookassa({f"/v3/refunds/{YOOKASSA_REFUND}": REFUND}, seen)
    body = json.loads(notification("refund.succeeded", YOOKASSA_REFUND))
    body["object"]["note"] = "a\x00b"  # unsigned text a read model could not store
    [event] = provider.parse_webhook({}, json.dumps(body).encode())
    assert event.payment_ref == YOOKASSA_PAYMENT
    assert event.raw["notification"] == {
        "type": "notification",
        "event": "refund.succeeded",
        "object": {"id": YOOKASSA_REFUND},
    }
    assert [request.url.raw_path.decode() for request in seen] == [f"/v3/refunds/{YOOKASSA_REFUND}"]


# -- Stripe and Paddle: signed, and their ids are still checked ----------------------------

STRIPE_SECRET = "whsec_unit"
PADDLE_SECRET = "pdl_ntfset_unit"


def stripe_event(
    obj: dict[str, Any],
    event_id: str = "evt_1NG8Du2eZvKYlo2CUI79vXWy",
    kind: str = "payment_intent.succeeded",
) -> tuple[dict[str, str], bytes]:
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": 1_763_700_000,
            "data": {"object": obj},
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(body, STRIPE_SECRET)
    return {"Stripe-Signature": header}, body.encode()


def stripe_provider() -> StripeProvider:
    return StripeProvider(
        api_key="sk_test_unit", webhook_secret=STRIPE_SECRET, api_base="http://127.0.0.1:9"
    )


INTENT = {
    "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    "object": "payment_intent",
    "amount": 1050,
    "currency": "eur",
    "status": "succeeded",
    "customer": "cus_QXg1o8vcGmoR32",
    "payment_method": "pm_1MtwBwLkdIwHu7ixAqfQdo4s",
    "metadata": {},
}


@pytest.mark.parametrize("field", ["id", "customer", "payment_method"])
def test_a_signed_stripe_event_with_a_malformed_id_is_refused(field: str) -> None:
    provider = stripe_provider()
    for forged in hostile(str(INTENT[field]))[1:]:  # "" is an absent id: nothing to use
        headers, body = stripe_event(INTENT | {field: forged})
        with pytest.raises(InvalidSignature, match="is not a Stripe id"):
            provider.parse_webhook(headers, body)


def test_a_signed_stripe_event_with_a_malformed_event_id_is_refused() -> None:
    headers, body = stripe_event(INTENT, event_id="evt_1/../evt_2")
    with pytest.raises(InvalidSignature, match="event id is not a Stripe id"):
        stripe_provider().parse_webhook(headers, body)


def test_a_stripe_event_tally_does_not_translate_may_name_any_object() -> None:
    # A coupon's id is chosen by the account: an event Tally ignores must not be refused
    # for it (Stripe would retry it for days), and nothing is ever fetched with it.
    coupon = {"id": "SUMMER-25", "object": "coupon", "percent_off": 25}
    headers, body = stripe_event(coupon, kind="coupon.created")
    [event] = stripe_provider().parse_webhook(headers, body)
    assert event.object_ref == "SUMMER-25"


def test_a_stripe_subscription_is_cancelled_only_by_a_well_formed_id() -> None:
    with pytest.raises(ProviderRejected, match="subscription id is not a Stripe id"):
        stripe_provider().cancel_subscription(
            "sub_1/../../customers/cus_1", at_period_end=False, idempotency_key="tally:s:1"
        )


def paddle(seen: list[httpx.Request]) -> PaddleProvider:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": []})

    return PaddleProvider(
        api_key="pdl_unit",
        webhook_secret=PADDLE_SECRET,
        clock=FixedClock(NOW),
        transport=httpx.MockTransport(answer),
    )


def paddle_delivery(
    data: dict[str, Any],
    event_id: str = "evt_01hv8x2acma2gz6her25cnys9a",
) -> tuple[dict[str, str], bytes]:
    body = json.dumps(
        {
            "event_id": event_id,
            "event_type": "transaction.completed",
            "occurred_at": "2024-04-12T10:18:49.621022Z",
            "data": data,
        }
    ).encode()
    header = ts_h1_signature(PADDLE_SECRET, int(NOW.timestamp()), body)
    return {"Paddle-Signature": header}, body


TRANSACTION = {
    "id": PADDLE_TXN,
    "status": "completed",
    "customer_id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
    "subscription_id": PADDLE_SUB,
    "currency_code": "USD",
    "custom_data": {},
}


@pytest.mark.parametrize("field", ["id", "customer_id", "subscription_id"])
def test_a_signed_paddle_event_with_a_malformed_id_is_refused(field: str) -> None:
    provider = paddle([])
    for forged in hostile(str(TRANSACTION[field]))[1:]:  # "" is an absent id
        headers, body = paddle_delivery(TRANSACTION | {field: forged})
        with pytest.raises(InvalidSignature, match="is not a Paddle id"):
            provider.parse_webhook(headers, body)
    headers, body = paddle_delivery(TRANSACTION, event_id="evt_../../x")
    with pytest.raises(InvalidSignature, match="event id is not a Paddle id"):
        provider.parse_webhook(headers, body)


Call = Callable[[PaddleProvider, str], object]
PADDLE_CALLS: dict[str, Call] = {
    "charge": lambda p, ref: p.charge(ChargeRequest("ctm_1", ref, 100, "USD", "tally:k:1")),
    "refund": lambda p, ref: p.refund(RefundRequest(ref, 100, "USD", "tally:k:1")),
    "cancel": lambda p, ref: p.cancel_subscription(ref, at_period_end=True, idempotency_key="k"),
    "portal": lambda p, ref: p.create_portal_session(ref, "https://app.example/back"),
}


@pytest.mark.parametrize("call", sorted(PADDLE_CALLS))
def test_a_paddle_call_with_a_malformed_stored_id_never_reaches_paddle(call: str) -> None:
    seen: list[httpx.Request] = []
    provider = paddle(seen)
    for forged in hostile(PADDLE_SUB):
        with pytest.raises(ProviderRejected, match="is not a Paddle id"):
            PADDLE_CALLS[call](provider, forged)
    assert seen == []
