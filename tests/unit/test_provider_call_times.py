"""A provider call keeps when it was asked and when the provider accepted it, which the
bounded wait of a provider-run cancel counts from (review1 finding 7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from domain.provider_call_params import CreateCustomerParams
from domain.provider_calls import ProviderCall

ASKED = datetime(2027, 1, 1, tzinfo=UTC)


def _call() -> ProviderCall:
    params = CreateCustomerParams(customer_id=str(uuid4()), email=None, name=None)
    return ProviderCall.request(
        project_id=uuid4(), provider="stripe", subject="s:1", params=params, now=ASKED
    )


def test_a_pending_call_was_not_accepted() -> None:
    assert not _call().accepted_before(ASKED + timedelta(days=1))


def test_a_call_counts_from_when_it_succeeded() -> None:
    call = _call()
    call.succeed({}, ASKED + timedelta(minutes=5))
    assert call.succeeded_at == ASKED + timedelta(minutes=5)
    assert not call.accepted_before(ASKED + timedelta(minutes=4))
    assert call.accepted_before(ASKED + timedelta(minutes=5))


def test_a_success_without_its_time_was_accepted_long_ago() -> None:
    call = _call()
    call.succeed({})
    assert call.accepted_before(ASKED - timedelta(days=365))
    # Nor does it change the state's shape: a call stored before times were kept replays
    # into the read-model row written then.
    assert "succeeded_at" not in vars(call)
    assert "requested_at" not in vars(call)


def test_a_success_recorded_before_its_time_was_kept_upcasts_to_none() -> None:
    state: dict[str, Any] = {"state": "succeeded", "result": {}}
    ProviderCall.Succeeded.upcast_v1_v2(state)
    assert state["at"] is None
