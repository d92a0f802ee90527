"""What the /v1/me routes share: the customer reader dependency (authenticate the
customer, then wait for a position if asked, as ``common.read_after`` does for project
keys)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.concurrency import run_in_threadpool

from api.auth import TallyDep
from api.customer_auth import CustomerCaller, CustomerDep
from api.errors import PositionNotIssued
from api.routes.common import _wait, behind


async def read_after_customer(
    tally: TallyDep,
    customer: CustomerDep,
    wait_for_position: Annotated[
        int | None,
        Query(
            ge=0,
            description="Wait (bounded) until the read models hold this event-log position, "
            "e.g. a write's Tally-Position.",
        ),
    ] = None,
) -> CustomerCaller:
    if wait_for_position is not None:
        timeout_s = tally.settings.read_wait_max_ms / 1000
        reached = await run_in_threadpool(_wait, tally, wait_for_position, timeout_s)
        if reached is None:
            raise PositionNotIssued(
                f"no write has answered position {wait_for_position} yet; pass a "
                "Tally-Position this server answered",
                position=wait_for_position,
            )
        if not reached:
            raise behind(tally, wait_for_position)
    return customer


MeReader = Annotated[CustomerCaller, Depends(read_after_customer)]
