"""Liveness and readiness probes. No authentication: they reveal no project data."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.schemas import health as s
from api.tally import Tally

router = APIRouter(tags=["health"])

# A read model this many events behind the log makes the process "not ready", so a load
# balancer sends reads elsewhere; writes would still work, but reads would mostly wait.
READY_MAX_LAG = 10_000


@router.get("/healthz", response_model=s.Health, summary="The process is alive")
def healthz() -> s.Health:
    return s.Health(status="ok")


@router.get(
    "/readyz",
    response_model=s.Readiness,
    summary="The database answers and the read models are not stalled nor far behind",
    responses={
        503: {
            "model": s.Readiness,
            "description": "Not ready: the database does not answer, a read model is "
            "stalled (named in `stalled`), or the read models are too far behind",
        }
    },
)
def readyz(request: Request) -> JSONResponse:
    tally: Tally | None = request.app.state.tally
    report: dict[str, Any] = {
        "status": "not_ready",
        "database": "unreachable",
        "head_position": None,
        "projection_position": None,
        "lag": None,
        "stalled": [],
    }
    if tally is None:
        return JSONResponse(report, status_code=503)
    from projections.runner import current_position, stalls

    try:
        with tally.views.connection(timeout=2.0) as conn:
            conn.execute("SELECT 1")
        head = tally.store.recorder.max_notification_id() or 0
        # Whichever process's worker applies them; a stalled one is left out of the
        # position and named instead.
        position = current_position(tally.views, tally.schema)
        stalled = stalls(tally.views, tally.schema)
    except Exception:  # any failure to answer means "not ready", whatever its kind
        return JSONResponse(report, status_code=503)
    report["database"] = "ok"
    report["head_position"] = head
    report["projection_position"] = position
    lag = max(0, head - position)
    report["lag"] = lag
    report["stalled"] = [
        {**vars(stall), "since": stall.since.astimezone(UTC).isoformat().replace("+00:00", "Z")}
        for stall in stalled
    ]
    ready = lag <= READY_MAX_LAG and not stalled
    report["status"] = "ready" if ready else "not_ready"
    return JSONResponse(report, status_code=200 if ready else 503)
