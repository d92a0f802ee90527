"""A customer's prepaid credits as the API and the CLI show them (issue 13): the same
read of the ``credit_balances`` read model for ``GET /v1/customers/{id}/credits``,
``GET /v1/credit_grants`` and ``tally credits balance|list``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from api.tally import Tally
from domain.credits import balance as live_balance
from domain.credits import next_expiry
from domain.errors import NotFound


def customer_now(tally: Tally, project_id: UUID, customer: dict[str, Any]) -> datetime:
    """The customer's clock: its test clock's time, if it has one."""
    from projections.test_clocks import get_test_clock

    clock_id = customer.get("test_clock_id")
    if clock_id is None:
        return tally.clock.now()
    clock = get_test_clock(tally.views, tally.schema, project_id, UUID(str(clock_id)))
    if clock is None:
        raise NotFound(f"test clock {clock_id} not found", id=str(clock_id))
    return datetime.fromisoformat(clock["frozen_time"])


def customer_of(tally: Tally, project_id: UUID, customer_id: UUID) -> dict[str, Any]:
    """The customer's read-model row; ``not_found`` also for another project's."""
    from projections.customers import get_customer

    row: dict[str, Any] | None = get_customer(tally.views, tally.schema, project_id, customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} not found", id=str(customer_id))
    return row


def balance_view(summary: dict[str, Any], now: datetime | None) -> dict[str, Any]:
    """One currency's balance: what the grants hold at ``now`` (a grant past its expiry
    counts nothing, even before its breakage is recorded), or as recorded (None)."""
    grants = summary["grants"]
    return {
        "currency": summary["currency"],
        "balance": summary["balance"] if now is None else live_balance(grants, now),
        "low_threshold": summary["low_threshold"],
        "top_up_amount": summary["top_up_amount"],
        "next_expiry_at": next_expiry(grants),
    }


def customer_credits(tally: Tally, project_id: UUID, customer_id: UUID) -> dict[str, Any]:
    """``{customer_id, balances}``, per currency at the customer's clock."""
    from projections.credits import balances_of

    now = customer_now(tally, project_id, customer_of(tally, project_id, customer_id))
    rows = balances_of(tally.views, tally.schema, project_id, customer_id)
    return {"customer_id": str(customer_id), "balances": [balance_view(r, now) for r in rows]}


def grants_page(
    tally: Tally, project_id: UUID, customer_id: UUID, limit: int, starting_after: str | None
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the customer's grants, by currency, oldest first (``seq``), as the API
    shows one, and whether more follow: keyset on ``(currency, seq)`` over the grants
    its balances retired (``projections.credit_grants``, in SQL) merged with the few
    they keep. An unknown ``starting_after`` answers an empty page, as every list does."""
    from projections.credit_grants import retired_key, retired_page
    from projections.credits import balances_of

    customer_of(tally, project_id, customer_id)
    live = [
        (str(b["currency"]), int(g["seq"]), {**g, "currency": b["currency"]})
        for b in balances_of(tally.views, tally.schema, project_id, customer_id)
        for g in b["grants"]
    ]
    after: tuple[str, int] | None = None
    if starting_after is not None:
        after = next(((c, q) for c, q, g in live if g["id"] == starting_after), None)
        balance_id = _balance_named(starting_after)
        if after is None and balance_id is not None:
            after = retired_key(
                tally.views, tally.schema, project_id, customer_id, balance_id, starting_after
            )
        if after is None:
            return [], False
    retired = retired_page(tally.views, tally.schema, project_id, customer_id, after, limit + 1)
    merged = [(c, int(g["seq"]), {**g, "currency": c}) for c, g in retired]
    merged += [k for k in live if after is None or k[:2] > after]
    merged.sort(key=lambda k: k[:2])
    chosen = [
        {**g, "customer_id": str(customer_id), "created": g["granted_at"]}
        for _, _, g in merged[:limit]
    ]
    return chosen, len(merged) > limit


def _balance_named(grant_id: str) -> UUID | None:
    """The balance a grant id names (``cg_<balance hex>_<n>``), None for another id."""
    parts = grant_id.split("_")
    try:
        return UUID(hex=parts[1]) if len(parts) == 3 and parts[0] == "cg" else None
    except ValueError:
        return None
