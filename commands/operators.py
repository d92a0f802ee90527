"""Handlers of the operator's keys (issue 14). Like project keys they run without
idempotency keys: a key's secret must never be kept in an idempotency record.

An operator key reads ``tlyop_<key id>_<secret>``: its prefix is not a project key's
(``tly``), so neither kind of key can ever be taken for the other.
"""

from __future__ import annotations

from commands import operator_messages as om
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.messages.base import Command
from commands.projects import hash_key, new_key
from domain.operators import OPERATOR_ID, Operator

OPERATOR_KEY_PREFIX = "tlyop"


def split_operator_key(secret_key: str) -> str | None:
    """The key id inside ``tlyop_<key id>_<secret>``, or None if it is not one."""
    parts = secret_key.split("_", 2)
    if len(parts) != 3 or parts[0] != OPERATOR_KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def operator(uow: UnitOfWork) -> Operator:
    """The operator, started on its first key."""
    found = uow.find(Operator, OPERATOR_ID)
    if found is None:
        found = Operator.start()
        uow.add(found)
    return found


def issue_operator_key(uow: UnitOfWork, cmd: om.IssueOperatorKey, ctx: Context) -> Result:
    key_id, secret_key = new_key(OPERATOR_KEY_PREFIX)
    operator(uow).issue_key(key_id, hash_key(secret_key), secret_key[:14], cmd.label)
    # The secret appears in this answer once and nowhere else.
    return Result.created({"key_id": key_id, "secret": secret_key, "label": cmd.label})


def revoke_operator_key(uow: UnitOfWork, cmd: om.RevokeOperatorKey, ctx: Context) -> Result:
    operator(uow).revoke_key(cmd.key_id)
    return Result.changed({"key_id": cmd.key_id, "revoked": True})


HANDLERS: dict[type[Command], Handler] = {
    om.IssueOperatorKey: issue_operator_key,
    om.RevokeOperatorKey: revoke_operator_key,
}
