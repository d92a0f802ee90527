"""Usage events in, current usage out (issue 13; docs/usage.md).

Usage events are not commands: they skip the command bus and the event log, and are
written a batch at a time into the append-only usage table with their running totals
(``adapters/usage_store.py``), so a resend is deduplicated by its ``transaction_id``
rather than an ``Idempotency-Key``, and a write answers no ``Tally-Position``: the usage
queries read the totals it committed at once."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import Caller, CallerDep, TallyDep
from api.errors import STATUS_BY_CODE
from api.routes.common import JsonBytes, Reader, found_or_404, problems, read_problems
from api.schemas import usage as s
from api.tally import Tally
from api.usage_door import Sorted, admit, lookup, stored_among
from api.usage_fenced import fenced_refusal
from api.usage_ingest import ingest
from api.usage_periods import subscription_usage as subscription_report
from api.usage_report import customer_period, report
from api.usage_thresholds import bill_thresholds_after
from commands.limits_types import Timestamp
from domain.errors import DomainError
from domain.limits import MAX_USAGE_BATCH

router = APIRouter(tags=["usage"])

_REFUSALS = (
    "not_found",
    "invalid_combination",
    "unknown_event_name",
    "timestamp_in_future",
    "invalid_properties",
    "usage_period_closed",
)


def _write(tally: Tally, caller: Caller, raw: list[Any]) -> tuple[Sorted, frozenset[str]]:
    return ingest(tally, caller.project_id, raw)


@router.post(
    "/v1/usage_events",
    status_code=201,
    response_model=s.UsageEvent,
    summary="Record a usage event",
    description="One usage event (shape of Lago's and Stripe's: `transaction_id`, the "
    "customer's `external_customer_id` or a `subscription_id`, `event_name`, `timestamp`, "
    "`properties` with numbers as decimal strings). 201 when stored; a resend of a stored "
    "`transaction_id` answers 200 with `existed: true` and the stored event unchanged. "
    "Refusals write nothing (docs/usage.md, the door).",
    responses={
        **problems(*_REFUSALS, "read_model_behind"),
        200: {"description": "A resend: the stored event", "model": s.UsageEvent},
    },
)
async def record_usage_event(
    body: s.UsageEventRequest, tally: TallyDep, caller: CallerDep
) -> JSONResponse:
    return await run_in_threadpool(_record_one, tally, caller, body)


def _record_one(tally: Tally, caller: Caller, body: s.UsageEventRequest) -> JSONResponse:
    from adapters.usage_store import stored_event, write

    try:
        event = admit(body, lookup(tally, caller.project_id, [body]))
    except DomainError:
        # A resend of a stored event answers it, whatever the door says of it now.
        if not stored_among(tally, caller.project_id, [body.transaction_id]):
            raise
        existed = True
    else:
        written = write(tally.views, tally.schema, caller.project_id, [event], tally.clock.now())
        if written.closed and not stored_among(tally, caller.project_id, [event.transaction_id]):
            raise fenced_refusal(event)
        existed = event.transaction_id not in written.created
        bill_thresholds_after(tally, caller.project_id, [event], written.created)
    row = stored_event(tally.views, tally.schema, caller.project_id, body.transaction_id)
    answer = s.UsageEvent.model_validate({**found_or_404(row, "usage event", UUID(int=0)),
                                          "existed": existed})  # fmt: skip
    return JSONResponse(answer.model_dump(mode="json"), status_code=200 if existed else 201)


@router.post(
    "/v1/usage_events/batch",
    response_model=s.UsageBatchResult,
    summary="Record a batch of usage events",
    description=f"Up to {MAX_USAGE_BATCH} events, each checked on its own: each is "
    "answered in `results` (in request order) as `created`, `existed` (a resend, or the "
    "same `transaction_id` earlier in the batch: one effect) or `refused` with the error "
    "the single route would answer; the refused ones are not written, the others are, "
    "all in one transaction. The answer is 200 whatever each event's fate, except 503 "
    "`read_model_behind` (nothing written) while the subscriptions read model has not "
    "applied an event recorded for a subscription the batch names (docs/usage.md).",
    responses=problems("read_model_behind"),
)
async def record_usage_batch(
    body: s.UsageBatchRequest, tally: TallyDep, caller: CallerDep
) -> JSONResponse:
    batch, created = await run_in_threadpool(_write, tally, caller, list(body.events))
    return JsonBytes(orjson.dumps(_batch_answer(batch, created)))


def _batch_answer(batch: Sorted, created: frozenset[str]) -> dict[str, Any]:
    """``UsageBatchResult`` as a plain dict (a thousand results: pydantic models would
    cost more than the write)."""
    results: list[dict[str, Any]] = [
        {"index": i, "transaction_id": event.transaction_id,
         "status": "created" if event.transaction_id in created else "existed", "error": None}
        for i, event in batch.accepted
    ]  # fmt: skip
    results += [
        {"index": i, "transaction_id": tx, "status": "existed", "error": None}
        for i, tx in batch.repeated
    ]
    results += [
        {"index": i, "transaction_id": tx, "status": "refused", "error": _error(error)}
        for i, tx, error in batch.refused
    ]
    results.sort(key=lambda r: int(r["index"]))
    new = sum(r["status"] == "created" for r in results)
    return {"object": "usage_event_batch", "created": new,
            "existed": len(results) - new - len(batch.refused), "refused": len(batch.refused),
            "results": results}  # fmt: skip


def _error(error: DomainError) -> dict[str, Any]:
    return {"code": error.code, "detail": error.detail,
            "status": STATUS_BY_CODE.get(error.code, 422)}  # fmt: skip


Moment = Annotated[Timestamp | None, Query(description="RFC 3339 with a timezone")]


@router.get(
    "/v1/subscriptions/{subscription_id}/usage",
    response_model=s.Usage,
    summary="A subscription's usage, this period or a past one",
    description="Per meter and group, over the subscription's current period (from its "
    "start when it has not renewed yet), or with `at` the past period that contains that "
    "moment: the events sent with its id and those sent for its customer without one. "
    "For an invoiced period each group also says what the invoices `billed`. Quantities "
    "are decimal strings (docs/usage.md). `at` before the subscription started or after "
    "its current period: 422 `invalid_combination`.",
    responses=read_problems("not_found", "invalid_combination"),
)
def subscription_usage(
    subscription_id: UUID, tally: TallyDep, caller: Reader, at: Moment = None
) -> s.Usage:
    return subscription_report(tally, caller.project_id, subscription_id, at)


@router.get(
    "/v1/customers/{customer_id}/usage",
    response_model=s.Usage,
    summary="A customer's usage",
    description="Per meter and group over `[start, end)`, every event of the customer "
    "(with or without a subscription id). Default: the current calendar month (UTC) of "
    "the customer's clock. Both or neither, `end` after `start` by at most 400 days, else "
    "422 `invalid_combination`.",
    responses=read_problems("not_found", "invalid_combination"),
)
def customer_usage(
    customer_id: UUID,
    tally: TallyDep,
    caller: Reader,
    start: Moment = None,
    end: Moment = None,
) -> s.Usage:
    from projections.customers import get_customer

    row = get_customer(tally.views, tally.schema, caller.project_id, customer_id)
    found = found_or_404(row, "customer", customer_id)
    period = customer_period(tally, caller.project_id, found, start, end)
    return report(tally, caller.project_id, customer_id, period)
