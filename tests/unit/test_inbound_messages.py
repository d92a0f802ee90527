"""Inbound broker messages (issue 12): read in camelCase or snake_case, refused with a
reason when malformed, and the verdict on a message whose handling failed."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from api.inbound import messages as im
from api.inbound.handling import message_key, step_key
from api.inbound.verdicts import Action, verdict_for
from domain.errors import (
    ConcurrentUpdate,
    InsufficientFunds,
    NotFound,
    ValidationFailed,
)
from domain.limits import MAX_ORDER_ITEMS


def body(type_: str, data: dict[str, Any], **envelope: Any) -> bytes:
    return json.dumps({"id": "msg_1", "type": type_, "data": data, **envelope}).encode()


def test_user_subscribed_reads_the_products_camel_case_names() -> None:
    message = im.parse(
        body("user.subscribed", {"userId": "u_42", "planId": "pro", "currency": "EUR"})
    )
    assert message.id == "msg_1"
    assert message.data == im.UserSubscribed(user_id="u_42", plan_code="pro", currency="EUR")


def test_snake_case_and_plan_code_read_the_same() -> None:
    camel = im.parse(body("user.changed.plan", {"userId": "u", "planCode": "team"}))
    snake = im.parse(body("user.changed.plan", {"user_id": "u", "plan_code": "team"}))
    assert camel.data == snake.data
    assert isinstance(camel.data, im.UserChangedPlan)
    assert camel.data.proration == "prorate"


def test_message_id_may_be_named_message_id() -> None:
    raw = {"messageId": "abc-1", "type": "user.unsubscribed", "data": {"userId": "u"}}
    message = im.parse(json.dumps(raw).encode())
    assert message.id == "abc-1"
    assert message.data == im.UserUnsubscribed(user_id="u")


def test_order_items_take_name_and_unit_amount() -> None:
    data = {"orderId": "o1", "userId": "u", "items": [{"name": "Book", "unitAmount": 1250}]}
    message = im.parse(body("order.created", data))
    assert isinstance(message.data, im.OrderCreated)
    assert message.data.items[0].description == "Book"
    assert message.data.items[0].unit_amount == 1250
    assert message.data.items[0].quantity == 1


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"not json", "not UTF-8 JSON"),
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1, 2]", "not a JSON object"),
        (body("user.exploded", {"userId": "u"}), "type"),
        (body("user.subscribed", {"userId": "u", "currency": "EUR"}), "planCode"),
        (body("user.subscribed", {"userId": "u", "plan": "p", "currency": "XXZ"}), "currency"),
        (body("user.unsubscribed", {"userId": "u", "colour": "red"}), "colour"),
        (body("user.unsubscribed", {"userId": "u\x00"}), "userId"),
        (body("wallet.deposit", {"userId": "u", "amount": 12.5, "currency": "EUR"}), "amount"),
        (body("wallet.deposit", {"amount": 100, "currency": "EUR"}), "one of them"),
        (body("user.unsubscribed", {"userId": "u"}, id="has space"), "id"),
    ],
)
def test_a_malformed_message_is_refused_with_what_is_wrong(raw: bytes, says: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        im.parse(raw)
    assert says in refused.value.detail


def test_an_order_has_at_most_the_stated_number_of_items() -> None:
    items = [{"name": "x", "unitAmount": 1}] * (MAX_ORDER_ITEMS + 1)
    with pytest.raises(ValidationFailed):
        im.parse(body("order.created", {"orderId": "o", "userId": "u", "items": items}))
    im.parse(body("order.created", {"orderId": "o", "userId": "u", "items": items[:-1]}))


def test_the_id_of_a_malformed_message_is_kept_only_when_it_is_well_formed() -> None:
    assert im.message_id_of(body("user.exploded", {})) == "msg_1"
    assert im.message_id_of(body("user.exploded", {}, id="a b")) is None
    assert im.message_id_of(b"[]") is None
    assert im.message_id_of(b"\xff") is None


def test_step_keys_are_scoped_by_message_and_step() -> None:
    assert step_key("m1", "customer") == "broker:m1:customer"
    assert message_key("m1") == "broker:m1"  # the key a message runs under now
    assert step_key("m1", "customer") != step_key("m1", "subscription")


def test_refusals_are_dead_letters_with_their_code() -> None:
    verdict = verdict_for(InsufficientFunds("no money", available=0))
    assert (verdict.action, verdict.code, verdict.detail) == (
        Action.DEAD_LETTER,
        "insufficient_funds",
        "no money",
    )
    assert verdict.context == {"available": 0}
    assert verdict_for(NotFound("who?")).code == "not_found"
    assert verdict_for(ValidationFailed("bad")).action is Action.DEAD_LETTER


def test_failures_of_the_moment_are_retried() -> None:
    assert verdict_for(ConcurrentUpdate("again")).action is Action.RETRY
    assert verdict_for(psycopg.OperationalError("down")).action is Action.RETRY
    assert verdict_for(TimeoutError()).code == "service_unavailable"


def test_a_bug_is_a_dead_letter_so_the_queue_moves_on() -> None:
    verdict = verdict_for(KeyError(str(uuid4())))
    assert (verdict.action, verdict.code) == (Action.DEAD_LETTER, "internal_error")


def test_a_message_past_the_size_limit_is_not_read_for_its_id() -> None:
    from domain.limits import MAX_INBOUND_MESSAGE_BYTES

    padding = "x" * MAX_INBOUND_MESSAGE_BYTES
    big = body("user.unsubscribed", {"userId": "u"}, pad=padding)
    assert len(big) > MAX_INBOUND_MESSAGE_BYTES
    assert im.message_id_of(big) is None
    assert im.message_type_of(big) is None
    assert im.message_type_of(body("user.unsubscribed", {})) == "user.unsubscribed"


def test_wallet_deposits_one_wallet_rule_is_the_models_and_its_json_schemas() -> None:
    """The rule is in the model (so the AsyncAPI document states it), not only in parse."""
    from pydantic import ValidationError

    both = {"userId": "u", "accountId": str(uuid4()), "amount": 1, "currency": "EUR"}
    with pytest.raises(ValidationError, match="one of them"):
        im.WalletDeposit.model_validate(both)
    with pytest.raises(ValidationFailed, match=r"data: Value error, wallet\.deposit names"):
        im.parse(body("wallet.deposit", {"amount": 1, "currency": "EUR"}))
    schema = im.WalletDeposit.model_json_schema(by_alias=True)
    assert [branch["required"] for branch in schema["oneOf"]] == [["userId"], ["accountId"]]


def test_usage_recorded_takes_one_event_or_a_batch_in_either_case() -> None:
    one = {"transactionId": "t1", "externalCustomerId": "u1", "eventName": "api_call",
           "properties": {"tokenCount": "12"}}  # fmt: skip
    single = im.parse(body("usage.recorded", one))
    assert isinstance(single.data, im.UsageRecorded)
    [event] = single.data.events
    assert (event.transaction_id, event.external_customer_id, event.event_name) == (
        "t1",
        "u1",
        "api_call",
    )
    assert event.properties == {"tokenCount": "12"}  # an event's own keys, not renamed
    snake = {"transaction_id": "t2", "subscription_id": str(uuid4()), "event_name": "api_call"}
    batch = im.parse(body("usage.recorded", {"events": [one, snake]}))
    assert isinstance(batch.data, im.UsageRecorded)
    assert [e.transaction_id for e in batch.data.events] == ["t1", "t2"]
    # What the door is given is the HTTP route's body, field for field.
    from api.schemas.usage import UsageEventRequest

    for e in batch.data.events:
        UsageEventRequest.model_validate(e.model_dump(mode="json"))


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"transactionId": "t1"}, "eventName"),
        ({"events": []}, "events"),
        ({"events": [{"transactionId": "t1"}]}, "events.0.eventName"),
        ({"transactionId": "t1", "eventName": "x", "tokens": 3}, "tokens"),
        ({"transactionId": "t1", "eventName": "x", "properties": {"n": 3}}, "properties.n"),
    ],
)
def test_a_malformed_usage_message_is_refused_as_a_whole(data: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        im.parse(body("usage.recorded", data))
    assert where in refused.value.detail
