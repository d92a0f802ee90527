"""Response model of the audit route (``api/routes/audit.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from api.schemas.common import Response

EXAMPLE_HASH = "54d2f7f25401e1d7df50c5ec240ec76e572e74db737292594efa8a64f46a0555"


class AuditHead(Response):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"object": "audit_head", "chain": "sha256-v1", "position": 1042,
                 "hash": EXAMPLE_HASH, "usage_position": 250000,
                 "usage_hash": EXAMPLE_HASH}
            ]
        },
    )  # fmt: skip
    object: Literal["audit_head"] = "audit_head"
    chain: Literal["sha256-v1"] = Field(
        default="sha256-v1", description="How the hashes are computed (docs/audit.md)"
    )
    position: int = Field(
        ge=0,
        le=2**63 - 1,
        description="The last event of the whole log, every project's (0: no event yet)",
    )
    hash: str | None = Field(
        pattern="^[0-9a-f]{64}$",
        description="Its chain hash, SHA-256 in hex (null: no event yet)",
    )
    usage_position: int = Field(
        ge=0,
        le=2**63 - 1,
        description="The last usage event of the usage events' own chain, every project's "
        "(0: none yet; `tally audit verify --usage`)",
    )
    usage_hash: str | None = Field(
        pattern="^[0-9a-f]{64}$",
        description="Its chain hash, SHA-256 in hex (null: no usage event yet)",
    )
