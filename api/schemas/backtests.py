"""Request and response of ``POST /v1/backtests`` (``api/routes/backtests.py``)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from api.objects import Instant
from api.schemas.common import Request, Response, request_config
from commands.limits_types import Timestamp
from domain.limits import MAX_BACKTEST_CATALOG_CHARS

CATALOG_EXAMPLE = (
    "products:\n  - code: PRO\n    name: Pro\n    prices:\n      - lookup_key: pro_monthly\n"
    "        currency: EUR\n        scheme: flat\n        unit_amount: 1100\n"
    "        interval: month\n"
)


class BacktestRequest(Request):
    model_config = request_config(
        [{"catalog": CATALOG_EXAMPLE, "from": "2030-01-01T00:00:00Z", "to": "2031-01-01T00:00:00Z"}]
    )
    catalog: str = Field(
        min_length=1,
        max_length=MAX_BACKTEST_CATALOG_CHARS,
        description="The price book: a catalog file's text (YAML, as `tally catalog load` "
        "reads it; only its products' prices count). At most 16,384 characters, and the "
        "whole body within the server's body limit (64 KiB by default)",
    )
    start: Timestamp = Field(
        alias="from", description="The invoices whose period starts at or after this"
    )
    stop: Timestamp = Field(alias="to", description="... and before this")


class BacktestTotal(Response):
    currency: str
    was: int = Field(description="What the invoices totalled, in minor units")
    would_be: int = Field(description="What they would have totalled under the price book")
    difference: int = Field(description="`would_be - was`")


class BacktestCustomer(BacktestTotal):
    customer_id: UUID
    invoices: int


class Backtest(Response):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "object": "backtest", "from": "2030-01-01T00:00:00.000000Z",
                    "to": "2031-01-01T00:00:00.000000Z", "invoices": 3, "lines_changed": 3,
                    "unmatched_lines": 0,
                    "totals": [{"currency": "EUR", "was": 3000, "would_be": 3300,
                                "difference": 300}],
                    "customers": [{"customer_id": "0f6c8a53-8d1c-4a8e-9c61-2f6f3f1f1a10",
                                   "currency": "EUR", "invoices": 3, "was": 3000,
                                   "would_be": 3300, "difference": 300}],
                }
            ]
        }
    )  # fmt: skip
    object: Literal["backtest"] = "backtest"
    start: Instant = Field(alias="from")
    stop: Instant = Field(alias="to")
    invoices: int = Field(description="The invoices re-rated")
    lines_changed: int = Field(description="Their lines whose amount the price book changes")
    unmatched_lines: int = Field(
        description="Subscription or usage lines no recorded price could be found for "
        "(kept at their recorded amounts)"
    )
    totals: list[BacktestTotal] = Field(description="Per currency")
    customers: list[BacktestCustomer] = Field(description="Per customer and currency")
