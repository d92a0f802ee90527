"""The head of the hash-chained log (docs/audit.md): the global position and hash that
``tally audit verify`` and a signed checkpoint refer to."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import CallerDep, TallyDep
from api.routes.common import problems
from api.schemas import audit as s

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "/head",
    response_model=s.AuditHead,
    summary="The head of the hash-chained log",
    description="The position and chain hash of the last event of the whole log. The log "
    "is one, shared by every project, so this is the same for every caller: a position "
    "that `Tally-Position` already tells each writer, and a hash that reveals nothing of "
    "the events it covers (docs/audit.md). A client can keep it and later ask an auditor "
    "to check that the log still extends it. The usage events have a chain of their own "
    "(`usage_position`, `usage_hash`), also shared by every project.",
    responses=problems(body=False),
)
def audit_head(tally: TallyDep, caller: CallerDep) -> s.AuditHead:
    from adapters.audit_chain import read_head
    from adapters.usage_chain import read_usage_head

    # The one read of the event table besides auth's (docs/architecture.md): the head is
    # a fact of the log, not of any read model, and one index probe reads it.
    with tally.views.connection() as conn:
        head = read_head(conn, tally.schema, tally.store.events_table)
        usage = read_usage_head(conn, tally.schema)
    return s.AuditHead(
        position=head.position,
        hash=head.hash.hex() if head.hash else None,
        usage_position=usage.position,
        usage_hash=usage.hash.hex() if usage.hash else None,
    )
