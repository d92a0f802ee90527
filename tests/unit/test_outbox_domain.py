"""ProviderCall and WebhookEvent as pure domain objects: deterministic ids (the dedup and
the one-call-per-object rule), fixed idempotency keys, backoff and giving up, and the
transitions that make a second answer or a second application impossible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import InvalidTransition
from domain.provider_call_params import ChargeParams
from domain.provider_calls import MAX_ATTEMPTS, ProviderCall, retry_delay_s
from domain.webhooks import MAX_ATTEMPTS as MAX_PARKS
from domain.webhooks import WebhookEvent

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def call() -> ProviderCall:
    return ProviderCall.request(
        project_id=uuid4(),
        provider="stub",
        subject="txn-1",
        params=ChargeParams(
            customer_ref="cus_1", payment_method_ref="pm_1", amount_minor=500, currency="EUR"
        ),
        now=NOW,
    )


def test_a_call_id_and_its_idempotency_key_derive_from_tally_ids_only() -> None:
    made = call()
    assert made.id == ProviderCall.create_id(made.project_id, "charge", "txn-1")
    assert made.idempotency_key == f"tally:{made.id}:1"
    assert made.next_attempt_at == NOW


def test_an_unavailable_provider_is_retried_with_doubling_backoff_then_given_up() -> None:
    made = call()
    waits = []
    while made.pending:
        before = NOW + timedelta(days=1)
        made.retry_later("provider_unavailable", "down", before)
        if made.next_attempt_at is not None:
            waits.append((made.next_attempt_at - before).total_seconds())
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert made.attempts == MAX_ATTEMPTS
    assert (made.state, made.error_code) == ("failed", "provider_unavailable")
    assert retry_delay_s(50) == 30 * 60.0


def test_a_settled_call_takes_no_second_answer() -> None:
    made = call()
    made.succeed({"payment_ref": "pi_1", "status": "succeeded"})
    assert made.payment_ref == "pi_1"
    with pytest.raises(InvalidTransition):
        made.fail("card_declined", "late")
    with pytest.raises(InvalidTransition):
        made.succeed({})


def test_the_same_provider_event_in_a_project_has_one_id_and_other_projects_another() -> None:
    project = uuid4()
    fields = {
        "provider": "stub",
        "event_id": "evt_1",
        "type": "payment.succeeded",
        "provider_type": "payment.succeeded",
    }
    one = WebhookEvent.receive(project, fields, {})
    assert one.id == WebhookEvent.receive(project, fields, {}).id
    assert one.id != WebhookEvent.receive(uuid4(), fields, {}).id
    assert one.id != WebhookEvent.receive(project, {**fields, "provider": "stripe"}, {}).id


def test_a_parked_event_backs_off_then_fails_and_a_settled_one_stays_settled() -> None:
    fields = {
        "provider": "stub",
        "event_id": "e",
        "type": "refund.succeeded",
        "provider_type": "refund.succeeded",
    }
    event = WebhookEvent.receive(uuid4(), fields, {})
    event.park("not yet", NOW)
    assert (event.status, event.retry_at) == ("parked", NOW + timedelta(seconds=2))
    event.mark_applied([{"action": "transaction_reversed"}])
    with pytest.raises(InvalidTransition):
        event.mark_applied([])
    other = WebhookEvent.receive(uuid4(), fields, {})
    for _ in range(MAX_PARKS):
        other.park("never", NOW)
    assert (other.status, other.attempts, other.retry_at) == ("failed", MAX_PARKS, None)
    with pytest.raises(InvalidTransition):
        other.park("again", NOW)
