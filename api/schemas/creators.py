"""Answers of a product's creator routes (issue 13: ``api/routes/creators.py``)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from api.objects import Instant
from api.schemas.common import Response
from api.schemas.nulls import ShownNull


class UsageRow(Response):
    period_start: ShownNull[Instant] = Field(description="The usage period billed")
    period_end: ShownNull[Instant] = None
    customer_id: UUID
    meter: str = Field(description="The meter's code")
    quantity: str = Field(description="What the invoices billed of it (a decimal string)")


class ProductUsage(Response):
    object: Literal["product_usage"] = "product_usage"
    product_id: UUID
    owner: ShownNull[str] = Field(default=None, description="The product's creator")
    data: list[UsageRow] = Field(
        description="Per usage period, customer and meter, the usage the product's "
        "finalized invoices billed (late adjustments included)"
    )


class EarningsRow(Response):
    period_start: ShownNull[Instant] = Field(description="The period the lines bill")
    period_end: ShownNull[Instant] = None
    currency: str
    gross: int = Field(
        description="The paid lines' amounts after discounts and without tax, less the "
        "credit notes (refunds) issued in the period, minor units"
    )
    fee: int = Field(description="The platform's fee, fixed when each invoice was paid")
    net: int = Field(description="gross - fee: what the creator earned")
    lines: int = Field(description="How many paid lines and credit-note deductions")


class ProductEarnings(Response):
    object: Literal["product_earnings"] = "product_earnings"
    product_id: UUID
    owner: ShownNull[str] = Field(default=None, description="The product's creator")
    data: list[EarningsRow] = Field(description="Per period and currency")
