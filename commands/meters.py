"""Handlers for meters: define (or find the same definition again)."""

from __future__ import annotations

from typing import Any

from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.messages import Command
from commands.meter_messages import DefineMeter
from domain.meters import Meter
from domain.projects import Project


def meter_summary(meter: Meter) -> dict[str, Any]:
    return {**meter.summary(), "created": created(meter)}


def define_meter(uow: UnitOfWork, cmd: DefineMeter, ctx: Context) -> Result:
    """Define a meter; the same definition again answers the first meter (``existed``),
    another definition of the same code is refused (a meter never changes)."""
    meter = Meter.define(
        ctx.project_id,
        code=cmd.code,
        name=cmd.name,
        event_name=cmd.event_name,
        aggregation=cmd.aggregation,
        property=cmd.property or "",
        filters={k: list(v) for k, v in cmd.filters.items()},
        group_by=list(cmd.group_by),
    )
    existing = uow.find(Meter, Meter.create_id(ctx.project_id, cmd.code))
    if existing is not None:
        existing.check_same(meter)
        return Result.existed({"meter": meter_summary(existing), "created": False})
    uow.get(Project, ctx.project_id, ctx.project_id).count_meter(meter.id)
    uow.add(meter)
    return Result.created({"meter": meter_summary(meter), "created": True})


HANDLERS: dict[type[Command], Handler] = {DefineMeter: define_meter}
