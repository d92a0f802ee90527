"""A subscription's status changes: cancel (now or at the period end) and undo it, pause
and resume, extend a trial, activate an incomplete one. Each answers the subscription,
after the provider calls its command asked for, if any, are made (``api.calls``).

Creating, reading and changing the items of one are in ``subscriptions``.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.calls import execute_and_call
from api.routes.common import IdempotencyKey, respond, write_responses
from api.schemas import subscriptions as s
from commands import messages as m
from domain.limits import MAX_PROVIDER_CANCEL_WAIT_S

router = APIRouter(tags=["subscriptions"])

BASE = "/v1/subscriptions"


@router.post(
    BASE + "/{subscription_id}/cancel",
    response_model=s.SubscriptionResult,
    summary="Cancel a subscription",
    description="Now (default), or at the end of the current period with "
    "`at_period_end: true` (a trial is always canceled now; a paused one only now, no "
    "period running while it is paused: `at_period_end: true` answers 409 "
    "`invalid_transition`). A canceled subscription "
    "cannot be canceled again (409 `invalid_transition`). A subscription its provider "
    "runs is canceled by asking the provider: while that cancel is on its way (the "
    "provider's webhook has not come back), the same cancel again answers 202 with the "
    "pending request (`provider_call`) and asks nothing more; the other kind answers 409 "
    "`invalid_transition` naming it. That wait is bounded: once the provider accepted the "
    f"call more than {MAX_PROVIDER_CANCEL_WAIT_S} seconds ago and its webhook still has "
    "not come, a cancel asks the provider again (its cancel is idempotent) and the other "
    "kind may be asked.",
    responses=write_responses(200, "not_found", "invalid_transition")
    | {
        202: {
            "description": "The same cancel was asked of the provider already; nothing "
            "new was asked",
            "model": s.SubscriptionResult,
        }
    },
)
def cancel(
    subscription_id: UUID,
    tally: TallyDep,
    caller: CallerDep,
    body: s.CancelRequest | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    at_period_end = body.at_period_end if body is not None else False
    command = m.CancelSubscription(subscription_id=subscription_id, at_period_end=at_period_end)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)


@router.post(
    BASE + "/{subscription_id}/undo_cancel",
    response_model=s.SubscriptionResult,
    summary="Undo a cancellation at period end",
    description="Only before the period ends; a subscription already canceled stays canceled.",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def undo_cancel(
    subscription_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.UndoCancelSubscription(subscription_id=subscription_id)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)


@router.post(
    BASE + "/{subscription_id}/resume",
    response_model=s.SubscriptionResult,
    summary="Resume a paused subscription",
    description="Paused time is not billed: a new period starts now.",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def resume(
    subscription_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.ResumeSubscription(subscription_id=subscription_id)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)


@router.post(
    BASE + "/{subscription_id}/activate",
    response_model=s.SubscriptionResult,
    summary="Activate an incomplete subscription",
    description="Its first payment arrived.",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def activate(
    subscription_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.ActivateSubscription(subscription_id=subscription_id)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)


@router.post(
    BASE + "/{subscription_id}/pause",
    response_model=s.SubscriptionResult,
    summary="Pause an active subscription",
    description="Until resumed, or until `resume_at` (the scheduler resumes it then), "
    "which lies ahead of its clock (else 422 `time_not_in_future`).",
    responses=write_responses(200, "not_found", "invalid_transition", "time_not_in_future"),
)
def pause(
    subscription_id: UUID,
    tally: TallyDep,
    caller: CallerDep,
    body: s.PauseRequest | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    resume_at = body.resume_at if body is not None else None
    command = m.PauseSubscription(subscription_id=subscription_id, resume_at=resume_at)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)


@router.post(
    BASE + "/{subscription_id}/extend_trial",
    response_model=s.SubscriptionResult,
    summary="Extend a trial",
    description="Only a trialing subscription, only to a later end; the first period then "
    "starts at the new trial end.",
    responses=write_responses(200, "not_found", "invalid_transition"),
)
def extend_trial(
    subscription_id: UUID,
    body: s.ExtendTrialRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.ExtendTrial(subscription_id=subscription_id, trial_end=body.trial_end)
    return respond(execute_and_call(tally, caller, command, key), s.SubscriptionResult)
