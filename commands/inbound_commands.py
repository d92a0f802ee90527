"""Commands from the broker (issue 12, commands in), as the consumer
(``api/inbound/consumer.py``, ``api/inbound/handling.py``) issues them:

- ``RejectInboundCommand``: record a refused message, one the consumer dead-letters in a
  known project; the event it records becomes ``billing.command.rejected``.
- ``RunInboundMessage``: run one message's commands (register and subscribe; draft and
  finalize an order's invoice; ...) in one unit of work, under the message's key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

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


# -- one message, one unit of work ---------------------------------------------------------

# A step of a message: its name and its command, or what builds the command from the
# answers of the steps before it (an order's finalization needs its draft's id).
StepCommand = Command | Callable[[list[dict[str, Any]]], Command]


class RunInboundMessage(Command):
    """A broker message's commands, run in one unit of work under one idempotency key:
    all of them are recorded, or none. ``message_type`` and ``message`` (the data as the
    message model reads it) are what the idempotency record's hash covers; ``steps``, the
    commands resolved from them and the read models, are not, so a redelivery matches
    its first delivery whatever the read models say by then."""

    message_type: MessageType
    message: dict[str, Any]
    steps: list[tuple[str, Any]] = Field(default_factory=list, exclude=True)


def _step_handlers() -> dict[type[Any], Handler]:
    # Imported here: these modules' handlers are what the bus runs for the same commands.
    from commands import checkout, customers, invoicing, ledger, subscriptions

    return {
        **customers.HANDLERS,
        **subscriptions.HANDLERS,
        **invoicing.HANDLERS,
        **ledger.HANDLERS,
        **checkout.HANDLERS,
    }


def run_inbound_message(uow: UnitOfWork, cmd: RunInboundMessage, ctx: Context) -> Result:
    """Each step's handler in turn, in this unit of work: a refused step refuses the
    message, and nothing any step did is recorded. The answer lists what each step did
    and every provider call they asked for (made once the unit of work is committed)."""
    handlers = _step_handlers()
    done: list[dict[str, Any]] = []
    calls: list[Any] = []
    result: Result | None = None
    for name, step in cmd.steps:
        command = step if isinstance(step, Command) else step([d["body"] for d in done])
        result = handlers[type(command)](uow, command, ctx)
        done.append({"step": name, "happened": result.happened.value, "body": result.body})
        calls += [c for c in result.body.get("provider_calls") or [] if c not in calls]
    assert result is not None, "a message has at least one step"
    return Result(result.happened, {"steps": done, "provider_calls": calls})


HANDLERS[RunInboundMessage] = run_inbound_message
