"""Customer sessions (issue 14): the project key mints a short-lived token for one
customer, for teams without an identity provider (docs/access.md)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.routes.common import (
    IdempotencyKey,
    created_object,
    execute,
    respond,
    write_responses,
)
from api.schemas.identity import CustomerSession, CustomerSessionRequest, CustomerSessionWithToken
from api.tally import Tally
from commands import identity_messages as im
from commands.bus import Outcome

router = APIRouter(prefix="/v1/customer_sessions", tags=["customer access"])


def _with_token(tally: Tally, outcome: Outcome) -> Outcome:
    """The session, with its token opened (the answer holds it sealed)."""
    shown = created_object(outcome, "customer_session")
    token = tally.providers.secrets.open(outcome.body["sealed_secret"])
    return Outcome(shown.happened, {**shown.body, "token": token}, shown.replayed, shown.position)


@router.post(
    "",
    response_model=CustomerSessionWithToken,
    status_code=201,
    summary="Start a customer session",
    description="A token scoped to one customer of the project, for /v1/me only, valid "
    "until `expires_at` or its revocation. Its secret is shown in this answer only (and "
    "again to a replay under the same Idempotency-Key), so it needs the server's "
    "TALLY_SECRETS_KEY (else 409 secret_storage_disabled).",
    responses=write_responses(201, "not_found", "secret_storage_disabled"),
)
def create_session(
    body: CustomerSessionRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = im.CreateCustomerSession(**body.model_dump())
    outcome = execute(tally, caller, command, key)
    return respond(_with_token(tally, outcome), CustomerSessionWithToken)


@router.post(
    "/{session_id}/revoke",
    response_model=CustomerSession,
    summary="Revoke a customer session",
    description="From the next request on, its token answers 401 on every server worker.",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def revoke_session(
    session_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    outcome = execute(tally, caller, im.RevokeCustomerSession(session_id=session_id), key)
    return respond(created_object(outcome, "customer_session"), CustomerSession)
