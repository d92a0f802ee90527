"""The operator API's project keys (issue 14): issue, list, rotate with an overlap, revoke.

A key's secret is in the answer to its issue or rotation and nowhere else, so these
writes take no ``Idempotency-Key`` (a stored answer would keep the secret): a retried
issue makes another key, which the operator lists and revokes. The commands are those
of ``tally keys ...`` (``commands/projects.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import TallyDep
from api.operator_auth import OperatorDep
from api.routes.common import (
    IdempotencyKey,
    IdPath,
    JsonBytes,
    answer,
    found_or_404,
    page,
    read_problems,
    status_of,
    write_headers,
    write_responses,
)
from api.routes.projects import OperatorReader
from api.schemas.common import Page
from api.schemas.projects import (
    ApiKey,
    ApiKeyWithSecret,
    IssueKeyRequest,
    RevokedApiKey,
    RotateKeyRequest,
)
from api.tally import Tally
from commands import messages as m
from commands import operator_messages as om
from commands.bus import Outcome

router = APIRouter(tags=["operator"])


def key_status(revoked: bool, expires_at: datetime | None, now: datetime) -> str:
    if revoked:
        return "revoked"
    if expires_at is None:
        return "active"
    return "expired" if expires_at <= now else "expiring"


def listed(row: dict[str, Any], project_id: UUID, now: datetime) -> dict[str, Any]:
    expires = row.get("expires_at")
    expires_at = datetime.fromisoformat(expires) if isinstance(expires, str) else expires
    return {
        **row,
        "id": row["key_id"],
        "project_id": project_id,
        "status": key_status(bool(row["revoked"]), expires_at, now),
        "expires_at": expires_at,
    }


def with_secret(tally: Tally, outcome: Outcome, project_id: UUID, label: str) -> JSONResponse:
    """The answer of an issue or a rotation: the new key, its secret, and the key it
    replaced (a rotation). It waits (up to read_wait_max_ms) for the ``api_keys`` read
    model to hold the new key, which authentication needs (projections/api_keys.py): a
    key answered is a key that works, as after ``tally keys create``."""
    from projections.runner import wait_for_position

    if outcome.position is not None:
        timeout_s = tally.settings.read_wait_max_ms / 1000
        wait_for_position(tally.views, tally.schema, outcome.position, timeout_s)
    body = outcome.body
    now = tally.clock.now()
    new = {
        "id": body["key_id"],
        "project_id": project_id,
        "prefix": body["secret"][:12],
        "label": label,
        "status": "active",
        "secret": body["secret"],
        "created": now,
    }
    rotated = body.get("rotated")
    if rotated is not None:
        expires_at = rotated["expires_at"]
        new["rotated"] = {
            "id": rotated["key_id"],
            "project_id": project_id,
            "prefix": rotated["prefix"],
            "label": rotated["label"],
            "status": key_status(False, expires_at, now),
            "expires_at": expires_at,
        }
    checked = ApiKeyWithSecret.model_validate(new)
    return JsonBytes(
        answer(checked), status_code=status_of(outcome), headers=write_headers(outcome)
    )


@router.post(
    "/v1/projects/{project_id}/api_keys",
    response_model=ApiKeyWithSecret,
    status_code=201,
    summary="Issue an API key",
    description="Its secret is in this answer only. No Idempotency-Key: an answer kept "
    "for a replay would keep the secret.",
    responses=write_responses(201, "not_found", "limit_reached"),
)
def issue_key(
    project_id: UUID, body: IssueKeyRequest, tally: TallyDep, operator: OperatorDep
) -> JSONResponse:
    command = m.IssueApiKey(project_id=project_id, label=body.label)
    outcome = tally.execute(command, operator.context(project_id))
    return with_secret(tally, outcome, project_id, body.label)


@router.get(
    "/v1/projects/{project_id}/api_keys",
    response_model=Page[ApiKey],
    summary="List a project's API keys",
    description="Never their secrets. A key revoked or rotated a moment ago is listed as "
    "such at once, as authentication refuses it.",
    responses=read_problems("not_found"),
)
def list_keys(project_id: UUID, tally: TallyDep, operator: OperatorReader) -> Page[ApiKey]:
    from projections.api_keys import get_project, list_keys

    found_or_404(get_project(tally.views, tally.schema, project_id), "project", project_id)
    now = tally.clock.now()
    rows = [listed(r, project_id, now) for r in list_keys(tally.views, tally.schema, project_id)]
    return page(ApiKey, rows, False)


@router.post(
    "/v1/projects/{project_id}/api_keys/{key_id}/rotate",
    response_model=ApiKeyWithSecret,
    status_code=201,
    summary="Rotate an API key",
    description="Issues a new key (its secret in this answer only) and has the old one "
    "refused `overlap_s` seconds from now (`rotated.expires_at`), decided at each request. "
    "A key already being rotated, revoked or expired is refused (409 `invalid_transition`).",
    responses=write_responses(201, "not_found", "limit_reached", "invalid_transition"),
)
def rotate_key(
    project_id: UUID,
    key_id: IdPath,
    body: RotateKeyRequest,
    tally: TallyDep,
    operator: OperatorDep,
) -> JSONResponse:
    command = om.RotateApiKey(
        project_id=project_id, key_id=key_id, overlap_s=body.overlap_s, label=body.label
    )
    outcome = tally.execute(command, operator.context(project_id))
    return with_secret(tally, outcome, project_id, body.label)


@router.post(
    "/v1/projects/{project_id}/api_keys/{key_id}/revoke",
    response_model=RevokedApiKey,
    summary="Revoke an API key",
    description="Refused from the next request on, in every server worker. A key already "
    "revoked is refused (409 `invalid_transition`).",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def revoke_key(
    project_id: UUID,
    key_id: IdPath,
    tally: TallyDep,
    operator: OperatorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.RevokeApiKey(project_id=project_id, key_id=key_id)
    outcome = tally.execute(command, operator.context(project_id, key))
    checked = RevokedApiKey(id=key_id)
    return JsonBytes(
        answer(checked), status_code=status_of(outcome), headers=write_headers(outcome)
    )
