"""Meters (issue 13): what usage a project counts, by event name and aggregation.

A meter never changes: the same definition again answers it (200, ``existed: true``),
another definition of the same code is refused (409 ``already_exists``)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.routes.common import (
    IdempotencyKey,
    Limit,
    Reader,
    StartingAfterId,
    create_responses,
    created_object,
    execute,
    fetch_one,
    fetch_page,
    read_problems,
    respond,
)
from api.schemas import meters as s
from api.schemas.common import Page
from commands.meter_messages import DefineMeter
from domain.limits import MAX_METERS_PER_PROJECT

router = APIRouter(prefix="/v1/meters", tags=["usage"])


@router.post(
    "",
    status_code=201,
    response_model=s.DefinedMeter,
    summary="Define a meter",
    description="A meter counts the usage events named `event_name` that pass its "
    "`filters`, folds their `property` with its `aggregation` (`count` reads none) and "
    "splits the result by the properties in `group_by` (docs/usage.md). Its `code` is "
    "unique per project and is what a metered price names as `meter`. The same definition "
    "again answers 200 with the meter; another definition of a defined code is refused "
    "with 409 `already_exists` (a meter never changes). A project has at most "
    f"{MAX_METERS_PER_PROJECT} meters (409 `limit_reached`). Else 422 `invalid_combination`: "
    "a `count` meter names no property, the others name one; `group_by` names each "
    "property once.",
    responses=create_responses(
        s.DefinedMeter,
        "The same definition was already there: that meter, unchanged",
        "already_exists",
        "limit_reached",
        "invalid_combination",
    ),
)
def define_meter(
    body: s.DefineMeterRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = DefineMeter(**body.model_dump())
    outcome = execute(tally, caller, command, key)
    return respond(created_object(outcome, "meter"), s.DefinedMeter)


@router.get(
    "",
    response_model=Page[s.Meter],
    summary="List meters",
    responses=read_problems(),
)
def list_meters(
    tally: TallyDep, caller: Reader, limit: Limit = 20, starting_after: StartingAfterId = None
) -> Page[s.Meter]:
    from projections.meters import list_meters as query

    return fetch_page(s.Meter, query, tally, caller, limit=limit, starting_after=starting_after)


@router.get(
    "/{meter_id}",
    response_model=s.Meter,
    summary="Get a meter",
    responses=read_problems("not_found"),
)
def get_meter(meter_id: UUID, tally: TallyDep, caller: Reader) -> s.Meter:
    from projections.meters import get_meter as query

    return fetch_one(s.Meter, query, tally, caller, meter_id, "meter")
