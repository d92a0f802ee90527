"""A refused broker command is recorded once per message (issue 12): its key is the
message id, or a hash of its bytes; its detail is free text within the limit."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from api.inbound.consumer import rejection
from api.inbound.verdicts import Action, Verdict
from domain.errors import ValidationFailed
from domain.inbound_commands import InboundCommand
from domain.limits import MAX_DESCRIPTION_CHARS

PROJECT = uuid4()


def verdict(detail: str = "no") -> Verdict:
    return Verdict(Action.DEAD_LETTER, "validation_error", detail, {})


def test_a_message_with_an_id_is_keyed_by_it_and_keeps_its_known_type() -> None:
    body = json.dumps({"id": "m1", "type": "user.subscribed", "data": {}}).encode()
    command = rejection(PROJECT, body, verdict())
    assert (command.message_key, command.message_id) == ("m1", "m1")
    assert command.message_type == "user.subscribed"
    assert command.queue == f"tally.commands.{PROJECT}"


def test_a_message_without_a_usable_id_is_keyed_by_its_bytes() -> None:
    first = rejection(PROJECT, b"not json", verdict())
    assert first.message_id is None
    assert first.message_type is None
    assert first.message_key.startswith("sha256:")
    assert rejection(PROJECT, b"not json", verdict()).message_key == first.message_key
    assert rejection(PROJECT, b"not json!", verdict()).message_key != first.message_key
    unknown_type = json.dumps({"id": "m2", "type": "user.exploded"}).encode()
    assert rejection(PROJECT, unknown_type, verdict()).message_type is None


def test_the_detail_is_one_line_within_the_limit() -> None:
    command = rejection(PROJECT, b"x", verdict("a\nb" + "c" * 2 * MAX_DESCRIPTION_CHARS))
    assert command.detail.startswith("a b")
    assert len(command.detail) == MAX_DESCRIPTION_CHARS


def test_the_detail_goes_through_the_one_plain_text_rule() -> None:
    """A parser's message may hold a tab or a lone surrogate (from a body that is not
    UTF-8): the consumer's own copy of the control-character rule kept both, and a lone
    surrogate cannot be stored."""
    from domain.limits import plain_text

    detail = "bad\tfield \ud800 \x1b[31m red \x7f"
    command = rejection(PROJECT, b"x", verdict(detail))
    assert command.detail == plain_text(detail) == "bad field    [31m red  "
    command.detail.encode()  # every character can be stored


def test_the_aggregate_refuses_a_detail_past_the_limit_before_recording() -> None:
    with pytest.raises(ValidationFailed):
        InboundCommand.reject(
            PROJECT, "k", None, None, "q", "validation_error", "x" * (MAX_DESCRIPTION_CHARS + 1)
        )
    made = InboundCommand.reject(PROJECT, "k", "k", None, "q", "not_found", "who?")
    assert made.id == InboundCommand.create_id(PROJECT, "k")
    assert made.summary()["code"] == "not_found"


@pytest.mark.parametrize(
    ("message_id", "message_type"),
    [
        ("m\x001", None),
        ("m" * 65, None),
        ("", None),
        ("m1", "user\x00subscribed"),
        ("m1", "t" * 41),
    ],
)
def test_the_aggregate_refuses_an_id_or_type_no_read_model_could_store(
    message_id: str, message_type: str | None
) -> None:
    """The message's id and type go out in billing.command.rejected, so the aggregate checks
    them as it checks every other field, before anything is recorded."""
    with pytest.raises(ValidationFailed):
        InboundCommand.reject(PROJECT, "k", message_id, message_type, "q", "not_found", "x")
