"""domain/secret_fields.py: the table names every event field that could hold a secret,
its hash or its ciphertext, and ``redact`` nulls exactly those fields."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import domain
from domain.base import TallyAggregate
from domain.secret_fields import SECRET_FIELDS, redact

# Field names that speak of secrets; each match must be in SECRET_FIELDS or below.
SUSPECT = re.compile(r"secret|seal|hash|token|passw|credential|signing")
HARMLESS = {
    # The SHA-256 of a request's canonical body, to refuse a reused idempotency key.
    ("tally:IdempotencyRecord.Recorded", "request_hash"),
    # Names of environment variables that hold a provider's secrets, not the secrets.
    ("tally:ProviderSettings.Configured", "credential_env"),
}


def _event_classes() -> Iterator[type[Any]]:
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")
    aggregates: list[type[Any]] = [TallyAggregate]
    while aggregates:
        aggregate = aggregates.pop()
        aggregates.extend(aggregate.__subclasses__())
        for value in vars(aggregate).values():
            if inspect.isclass(value) and issubclass(value, TallyAggregate.Event):
                yield value


def test_every_field_that_may_hold_a_secret_is_redacted_or_known_harmless() -> None:
    from eventsourcing.utils import get_topic

    listed = {(topic, path[0]) for topic, paths in SECRET_FIELDS.items() for path in paths}
    suspects = {
        (get_topic(event), name)
        for event in _event_classes()
        for name in inspect.signature(event).parameters
        if SUSPECT.search(name)
    }
    assert suspects - HARMLESS <= listed
    assert ("tally:Project.KeyIssued", "key_hash") in suspects  # the scan sees events
    # Every listed topic is a real event's, so a renamed one cannot slip out of the table.
    assert set(SECRET_FIELDS) <= {get_topic(event) for event in _event_classes()}


def test_redact_nulls_the_listed_fields_and_names_them() -> None:
    sealed = {"token": "gAAAA-ciphertext", "key_id": "k1"}
    state = {"project_id": "p", "url": "https://x.example", "secret": sealed}
    assert redact("tally:WebhookEndpoint.Registered", state) == ["secret"]
    assert state == {"project_id": "p", "url": "https://x.example", "secret": None}

    answer = {"key": "k", "response": {"webhook_endpoint": {"id": "e"}, "sealed_secret": sealed}}
    assert redact("tally:IdempotencyRecord.Recorded", answer) == ["response.sealed_secret"]
    assert answer["response"] == {"webhook_endpoint": {"id": "e"}, "sealed_secret": None}


def test_redact_leaves_what_holds_no_secret() -> None:
    plain = {"key": "k", "response": {"payment_provider": {"provider": "stub"}}}
    empty = {"provider": "stub", "sealed": {}}
    deposit = {"amount": 5, "secret": "not a listed topic's field"}
    assert redact("tally:IdempotencyRecord.Recorded", plain) == []
    assert redact("tally:IdempotencyRecord.Recorded", {"response": "text"}) == []
    assert redact("tally:ProviderSettings.Configured", empty) == []
    assert redact("tally:Account.Deposited", deposit) == []
    assert deposit["secret"] == "not a listed topic's field"
    assert empty == {"provider": "stub", "sealed": {}}
