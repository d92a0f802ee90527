"""Reports over the journal: the trial balance of the caller's project."""

from __future__ import annotations

from fastapi import APIRouter

from api.as_of import AsOf, require_projected
from api.auth import TallyDep
from api.routes.common import Reader, as_of_problems
from api.schemas import reports as s

router = APIRouter(tags=["reports"])


@router.get(
    "/v1/reports/trial_balance",
    response_model=s.TrialBalance,
    summary="Trial balance",
    description="Every ledger account's balance per currency (receivables, revenue, tax "
    "payable per rate, customer credit, clearing, wallets). Each currency's `total` is 0: "
    "every entry balances. With `as_of`, the balances from the entries posted at or "
    "before that point of the log.",
    responses=as_of_problems(),
)
def trial_balance(tally: TallyDep, caller: Reader, as_of: AsOf) -> s.TrialBalance:
    from projections.journal import trial_balance as query

    if as_of is not None:
        require_projected(tally, as_of)
    up_to = None if as_of is None else as_of.position
    currencies = query(tally.views, tally.schema, caller.project_id, up_to)
    return s.TrialBalance.model_validate({"currencies": currencies})
