"""Backtests (docs/audit.md): the project's recorded subscription invoices re-rated under
another price book, beside what they were. A question, not a write: nothing is stored,
so it answers 200 and takes no idempotency key."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import TallyDep
from api.routes.common import JsonBytes, Reader, answer, problems
from api.schemas import backtests as s
from domain.limits import MAX_BACKTEST_EVENTS, MAX_BACKTEST_INVOICES

router = APIRouter(prefix="/v1/backtests", tags=["audit"])


@router.post(
    "",
    response_model=s.Backtest,
    summary="Backtest a price book against the recorded invoices",
    description="Re-rates the project's subscription invoices whose period starts in "
    "[`from`, `to`) and that were finalized (open, paid, uncollectible) under the prices "
    "of `catalog` (a catalog file's text), and answers per customer and per currency what "
    "they totalled (`was`) and would have (`would_be`). A recorded price is matched to "
    "the file's price of the same product code, lookup key and currency; a price the file "
    "does not list keeps its recorded amounts. Subscription lines are re-rated with the "
    "items the subscription had then, usage lines with the quantity they recorded; "
    "proration and one-time lines, tax rates and coupons are the recorded ones. Nothing "
    f"is written. At most {MAX_BACKTEST_INVOICES:,} invoices and {MAX_BACKTEST_EVENTS:,} "
    "events read in all, theirs and their subscriptions' (409 `limit_reached`: "
    "take a shorter window); `from` must be before `to` (422 `invalid_window`); a "
    "catalog that is not a valid file is 422 `invalid_catalog`.",
    responses=problems(
        "invalid_window",
        "invalid_catalog",
        "limit_reached",
        # It reads the read models, after the wait_for_position a client may ask for.
        "read_model_behind",
        "position_not_issued",
    ),
)
def run_backtest(body: s.BacktestRequest, tally: TallyDep, caller: Reader) -> JsonBytes:
    from api.backtest import backtest

    report = backtest(tally, caller.project_id, body.catalog, body.start, body.stop)
    return JsonBytes(answer(s.Backtest.model_validate(report)))
