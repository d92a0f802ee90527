"""Reports over the journal: the trial balance of the caller's project."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import TallyDep
from api.routes.common import Reader, read_problems
from api.schemas import reports as s

router = APIRouter(tags=["reports"])


@router.get(
    "/v1/reports/trial_balance",
    response_model=s.TrialBalance,
    summary="Trial balance",
    description="Every ledger account's balance per currency (receivables, revenue, tax "
    "payable per rate, customer credit, clearing, wallets). Each currency's `total` is 0: "
    "every entry balances.",
    responses=read_problems(),
)
def trial_balance(tally: TallyDep, caller: Reader) -> s.TrialBalance:
    from projections.journal import trial_balance as query

    currencies = query(tally.views, tally.schema, caller.project_id)
    return s.TrialBalance.model_validate({"currencies": currencies})
