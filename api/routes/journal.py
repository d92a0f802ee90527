"""An account's journal entries and transactions, and the project's system accounts."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.as_of import AsOf, require_existed, require_projected
from api.auth import TallyDep
from api.routes.common import (
    Limit,
    Reader,
    StartingAfterId,
    as_of_problems,
    fetch_page,
    page,
    read_problems,
    require_account,
)
from api.schemas import journal as s
from api.schemas.common import Page
from api.schemas.transactions import Transaction
from domain.accounts import wallet_ref

router = APIRouter(tags=["journal"])


@router.get(
    "/v1/accounts/{account_id}/entries",
    response_model=Page[s.Entry],
    summary="List an account's journal entries",
    description="Oldest first. Each item is a balanced journal entry (its postings sum to "
    "zero) with this account's signed `amount` in it: the account's statement. With "
    "`as_of`, the entries posted at or before that point of the log (404 if the account "
    "did not exist yet).",
    responses=as_of_problems("not_found"),
)
def list_entries(
    account_id: UUID,
    tally: TallyDep,
    caller: Reader,
    as_of: AsOf,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[s.Entry]:
    from projections.journal import list_entries as query

    require_account(tally, caller, account_id)
    if as_of is not None:
        require_existed(as_of, account_id, "account")
        require_projected(tally, as_of)
    rows, has_more = query(
        tally.views,
        tally.schema,
        caller.project_id,
        account_id,
        limit=limit,
        starting_after=starting_after,
        up_to=None if as_of is None else as_of.position,
    )
    ref = wallet_ref(account_id)
    # Each entry with this account's signed amount in it.
    rows = [
        {**r, "amount": sum(p["amount"] for p in r["postings"] if p["account"] == ref)}
        for r in rows
    ]
    return page(s.Entry, rows, has_more)


@router.get(
    "/v1/accounts/{account_id}/transactions",
    response_model=Page[Transaction],
    summary="List an account's transactions",
    description="Oldest first. With `as_of`, the transactions it had taken part in at that "
    "point of the log, each as it stood then (a pending deposit not yet confirmed, a "
    "transfer not yet reversed); 404 if the account did not exist yet.",
    responses=as_of_problems("not_found"),
)
def list_transactions(
    account_id: UUID,
    tally: TallyDep,
    caller: Reader,
    as_of: AsOf,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[Transaction]:
    from api.as_of_reads import transactions_page
    from projections.transactions import list_transactions as query

    require_account(tally, caller, account_id)
    if as_of is not None:
        require_existed(as_of, account_id, "account")
        rows, has_more = transactions_page(
            tally,
            as_of,
            caller.project_id,
            account_id,
            limit=limit,
            starting_after=starting_after,
        )
        return page(Transaction, rows, has_more)
    return fetch_page(
        Transaction, query, tally, caller, account_id, limit=limit, starting_after=starting_after
    )


@router.get(
    "/v1/system_accounts",
    response_model=Page[s.SystemAccount],
    summary="List the project's system accounts",
    description="Clearing and other accounts that exist only in the read models.",
    responses=read_problems(),
)
def list_system_accounts(tally: TallyDep, caller: Reader) -> Page[s.SystemAccount]:
    from projections.system_accounts import list_system_accounts as query

    rows = query(tally.views, tally.schema, caller.project_id)
    return page(s.SystemAccount, rows, has_more=False)
