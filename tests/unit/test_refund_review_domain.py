"""A refund the provider holds for review (Paddle's ``pending_approval``), as a pure
domain object: the call succeeded but awaits the decision, which is recorded once
(``RefundDecided``) and survives a replay of the call's events."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.provider_call_params import ChargeParams, RefundParams
from domain.provider_calls import AWAITING_APPROVAL, ProviderCall

NOW = datetime(2030, 1, 1, tzinfo=UTC)
TXN = "txn_01hv8wptq8987qeep44cyrewp9"


def refund_call() -> ProviderCall:
    return ProviderCall.request(
        project_id=uuid4(),
        provider="paddle",
        subject="t-1:r-1",
        params=RefundParams(payment_ref=TXN, amount_minor=500, currency="EUR"),
        now=NOW,
    )


def replayed(call: ProviderCall) -> ProviderCall:
    copy: ProviderCall | None = None
    for event in call.collect_events():
        copy = event.mutate(copy)
    assert copy is not None
    return copy


def test_a_refund_answered_pending_approval_awaits_the_decision() -> None:
    call = refund_call()
    assert not call.awaits_approval  # not answered yet
    call.succeed({"refund_ref": "adj_1", "status": AWAITING_APPROVAL})
    assert call.awaits_approval
    assert call.summary()["refund_status"] == AWAITING_APPROVAL


@pytest.mark.parametrize(("approved", "status"), [(True, "succeeded"), (False, "rejected")])
def test_the_decision_is_recorded_once_and_replays(approved: bool, status: str) -> None:
    call = refund_call()
    call.succeed({"refund_ref": "", "status": AWAITING_APPROVAL})
    call.decide_refund(approved=approved, refund_ref="adj_01hvgf2s84dr6reszzg29zbvcm")
    assert not call.awaits_approval
    assert call.result == {"refund_ref": "adj_01hvgf2s84dr6reszzg29zbvcm", "status": status}
    with pytest.raises(AssertionError):
        call.decide_refund(approved=True, refund_ref="")
    again = replayed(call)
    assert (again.result, again.awaits_approval) == (call.result, False)


def test_only_a_refund_answered_pending_approval_awaits_anything() -> None:
    settled = refund_call()
    settled.succeed({"refund_ref": "adj_1", "status": "succeeded"})
    charge = ProviderCall.request(
        project_id=uuid4(),
        provider="paddle",
        subject="t-2",
        params=ChargeParams(
            customer_ref="ctm_1", payment_method_ref="paymtd_1", amount_minor=1, currency="EUR"
        ),
        now=NOW,
    )
    charge.succeed({"payment_ref": "txn_1", "status": AWAITING_APPROVAL})
    assert not settled.awaits_approval
    assert not charge.awaits_approval
    assert charge.summary()["refund_status"] is None
