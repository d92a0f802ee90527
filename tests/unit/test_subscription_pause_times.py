"""A pause records when it happened, and a resume is a sane time not before it: the
resume anchors every later period (review1 finding 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import uuid4

import pytest

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.webhook_subscriptions import _step
from domain.errors import ValidationFailed
from domain.subscriptions import Subscription

NOW = datetime(2027, 1, 31, 9, tzinfo=UTC)
PAUSED_AT = NOW + timedelta(days=5)


def _paused() -> Subscription:
    sub = Subscription.start(
        project_id=uuid4(),
        customer_id=uuid4(),
        currency="EUR",
        items=[{"price_id": "p1", "quantity": 1, "amount": 1000}],
        interval="month",
        interval_count=1,
        now=NOW,
        trial_days=0,
    )
    sub.pause(PAUSED_AT)
    return sub


def test_a_pause_records_its_time() -> None:
    assert _paused().paused_at == PAUSED_AT


def test_a_resume_before_the_pause_is_refused() -> None:
    sub = _paused()
    with pytest.raises(ValidationFailed, match="precedes the pause"):
        sub.resume(PAUSED_AT - timedelta(seconds=1))
    assert sub.status == "paused"


def test_a_resume_years_away_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="resumed_at"):
        _paused().resume(datetime(9999, 6, 1, tzinfo=UTC))


def test_a_pause_recorded_before_paused_at_existed_upcasts_to_none() -> None:
    state: dict[str, Any] = {"status": "paused", "resume_at": None}
    Subscription.Paused.upcast_v1_v2(state)
    assert state["paused_at"] is None


def _webhook_step(sub: Subscription, trigger: str, at: datetime | None) -> None:
    ctx = Context(project_id=sub.project_id, actor="webhook", now=NOW + timedelta(days=9))
    # No test clock: the step reads no aggregate, so it is given no unit of work.
    _step(cast(UnitOfWork, None), ctx, sub, trigger, at, at)


def test_a_provider_resume_backdated_before_the_pause_starts_at_the_pause() -> None:
    sub = _paused()
    _webhook_step(sub, "resume", NOW - timedelta(days=300))
    assert sub.status == "active"
    assert sub.current_period[0] == PAUSED_AT


def test_a_provider_resume_out_of_range_starts_at_the_commands_time() -> None:
    sub = _paused()
    _webhook_step(sub, "resume", datetime(9999, 6, 1, tzinfo=UTC))
    assert sub.current_period[0] == NOW + timedelta(days=9)


def test_a_provider_pause_happens_at_the_events_time() -> None:
    sub = _paused()
    _webhook_step(sub, "resume", PAUSED_AT + timedelta(days=1))
    _webhook_step(sub, "pause", PAUSED_AT + timedelta(days=2))
    assert sub.paused_at == PAUSED_AT + timedelta(days=2)


def test_a_provider_resume_ahead_of_the_commands_time_starts_at_it() -> None:
    # In range for a timestamp, but a resume two years ahead would anchor every period.
    sub = _paused()
    _webhook_step(sub, "resume", NOW + timedelta(days=730))
    assert sub.current_period[0] == NOW + timedelta(days=9)
