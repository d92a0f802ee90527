"""Response models of the health routes (``api/routes/health.py``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.objects import Instant


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class StalledReadModel(BaseModel):
    """A read model stopped on an event it cannot apply (docs/operations.md, runbook)."""

    name: str = Field(description="The read model, e.g. invoices")
    position: int = Field(
        description="Notification id of the event it cannot apply; it holds every event before"
    )
    error: str = Field(
        description="Why, in one line: the error's class and message, or the read model it "
        "waits for"
    )
    blocked_by: str | None = Field(
        description="The stalled read model whose rows this one reads, if it only waits for it"
    )
    since: Instant = Field(description="When it stopped at this position")


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "not_ready",
                    "database": "ok",
                    "head_position": 1207,
                    "projection_position": 1207,
                    "lag": 0,
                    "stalled": [
                        {
                            "name": "catalog",
                            "position": 1180,
                            "error": "UntranslatableCharacter: unsupported Unicode escape sequence",
                            "blocked_by": None,
                            "since": "2026-01-05T10:00:00Z",
                        }
                    ],
                }
            ]
        }
    )
    status: str = Field(
        description="ready | not_ready (database unreachable, a read model stalled, or the "
        "read models too far behind)"
    )
    database: str = Field(description="ok | unreachable")
    head_position: int | None = Field(description="Newest event in the log")
    projection_position: int | None = Field(
        description="Newest event every read model that is not stalled holds"
    )
    lag: int | None = Field(description="Events the read models that are not stalled are behind")
    stalled: list[StalledReadModel] = Field(
        default_factory=list,
        description="Read models stopped on an event they cannot apply: any makes it not_ready",
    )
