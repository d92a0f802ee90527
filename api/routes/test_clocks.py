"""Test clocks (test-mode projects only): a frozen time that moves only when told to.

Register a customer with ``test_clock_id`` and its subscriptions read time from the clock.
Advancing the clock does every trial end, renewal, cancellation at period end and pause
end that falls in between, in time order, in one transaction.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.advance import advance_through_calls
from api.auth import CallerDep, TallyDep
from api.routes.common import (
    IdempotencyKey,
    Limit,
    Reader,
    StartingAfterId,
    created_object,
    execute,
    fetch_one,
    fetch_page,
    read_problems,
    respond,
    write_responses,
)
from api.schemas import test_clocks as s
from api.schemas.common import Page
from commands import messages as m

router = APIRouter(prefix="/v1/test_clocks", tags=["test clocks"])


@router.post(
    "",
    status_code=201,
    response_model=s.TestClock,
    summary="Create a test clock",
    description="Only in a test-mode project (409 `test_clock_in_live_mode` otherwise).",
    responses=write_responses(201, "test_clock_in_live_mode"),
)
def create_test_clock(
    body: s.CreateTestClockRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.CreateTestClock(name=body.name, frozen_time=body.frozen_time)
    outcome = execute(tally, caller, command, key)
    return respond(created_object(outcome, "test_clock"), s.TestClock)


@router.get(
    "",
    response_model=Page[s.TestClock],
    summary="List test clocks",
    responses=read_problems(),
)
def list_test_clocks(
    tally: TallyDep, caller: Reader, limit: Limit = 20, starting_after: StartingAfterId = None
) -> Page[s.TestClock]:
    from projections.test_clocks import list_test_clocks as query

    return fetch_page(s.TestClock, query, tally, caller, limit=limit, starting_after=starting_after)


@router.get(
    "/{test_clock_id}",
    response_model=s.TestClock,
    summary="Get a test clock",
    responses=read_problems("not_found"),
)
def get_test_clock(test_clock_id: UUID, tally: TallyDep, caller: Reader) -> s.TestClock:
    from projections.test_clocks import get_test_clock as query

    return fetch_one(s.TestClock, query, tally, caller, test_clock_id, "test clock")


@router.post(
    "/{test_clock_id}/advance",
    response_model=s.AdvanceResult,
    summary="Advance a test clock",
    description="Moves the clock to `frozen_time` and does everything due on the way for every "
    "subscription on it, in time order. A charge on the way is made where it falls "
    "(the provider's answer is known before the clock passes the retry it may "
    "schedule). Backwards answers 422 "
    "`clock_cannot_go_backwards` and writes nothing.",
    responses=write_responses(
        200, "not_found", "clock_cannot_go_backwards", "test_clock_in_live_mode"
    ),
)
def advance_test_clock(
    test_clock_id: UUID,
    body: s.AdvanceTestClockRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.AdvanceTestClock(test_clock_id=test_clock_id, to=body.frozen_time)
    outcome = advance_through_calls(
        lambda cmd, first: execute(tally, caller, cmd, key if first else None),
        lambda call_id: tally.outbox.attempt(caller.project_id, call_id),
        command,
    )
    return respond(outcome, s.AdvanceResult)
