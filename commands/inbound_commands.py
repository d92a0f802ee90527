"""Recording a refused command from the broker (issue 12, commands in): the message and
its handler. The consumer (``api/inbound/consumer.py``) issues it for a message it
dead-letters in a known project; the event it records becomes ``billing.command.rejected``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.limits_types import Code, Description, Id, Ref
from commands.messages import Command
from domain.inbound_commands import InboundCommand

MessageType = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z.]*$")]


class RejectInboundCommand(Command):
    message_key: Ref
    message_id: Id | None = None
    message_type: MessageType | None = None
    queue: Ref
    code: Code
    detail: Description = ""


def reject_inbound_command(uow: UnitOfWork, cmd: RejectInboundCommand, ctx: Context) -> Result:
    """Record the refusal once: a message refused again (redelivered) finds it there."""
    rejection_id = InboundCommand.create_id(ctx.project_id, cmd.message_key)
    existing = uow.find(InboundCommand, rejection_id)
    if existing is not None and existing.project_id == ctx.project_id:
        return Result.unchanged({"rejection": {**existing.summary(), "created": created(existing)}})
    rejection = InboundCommand.reject(
        ctx.project_id,
        cmd.message_key,
        cmd.message_id,
        cmd.message_type,
        cmd.queue,
        cmd.code,
        cmd.detail,
    )
    uow.add(rejection)
    return Result.created({"rejection": {**rejection.summary(), "created": created(rejection)}})


HANDLERS: dict[type[Command], Handler] = {RejectInboundCommand: reject_inbound_command}
