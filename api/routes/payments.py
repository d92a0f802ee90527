"""Payments: read one, list them (``projections.payment_objects``). Every payment is
made by another route (an invoice's payment, a charge, a top-up); this is where its
outcome and refunds are read, as one object."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from api.auth import TallyDep
from api.routes.common import (
    Limit,
    Reader,
    StartingAfterId,
    fetch_one,
    fetch_page,
    read_problems,
)
from api.schemas import payments as s
from api.schemas.common import Page

router = APIRouter(prefix="/v1/payments", tags=["payments"])


@router.get(
    "",
    response_model=Page[s.Payment],
    summary="List payments",
    description="Oldest first. Filters combine.",
    responses=read_problems(),
)
def list_payments(  # one parameter per documented filter
    tally: TallyDep,
    caller: Reader,
    customer_id: Annotated[UUID | None, Query(description="Only this customer's")] = None,
    invoice_id: Annotated[UUID | None, Query(description="Only this invoice's")] = None,
    status: Annotated[s.Status | None, Query(description="Only in this status")] = None,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
) -> Page[s.Payment]:
    from projections.payment_queries import list_payments as query

    return fetch_page(
        s.Payment,
        query,
        tally,
        caller,
        customer_id=customer_id,
        invoice_id=invoice_id,
        status=status,
        limit=limit,
        starting_after=starting_after,
    )


@router.get(
    "/{payment_id}",
    response_model=s.Payment,
    summary="Get a payment",
    responses=read_problems("not_found"),
)
def get_payment(payment_id: UUID, tally: TallyDep, caller: Reader) -> s.Payment:
    from projections.payment_queries import get_payment as query

    return fetch_one(s.Payment, query, tally, caller, payment_id, "payment")
