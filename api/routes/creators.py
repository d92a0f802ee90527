"""A product's usage and earnings, for its creator (issue 13, the marketplace seed):
read models of ``projections.creator_earnings``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from api.auth import TallyDep
from api.routes.common import Reader, found_or_404, read_problems
from api.schemas import creators as s
from domain.usage import decimal_text

router = APIRouter(prefix="/v1/products/{product_id}", tags=["catalog", "usage"])


def _product(tally: Any, project_id: UUID, product_id: UUID) -> dict[str, Any]:
    from projections.catalog import get_product

    found = get_product(tally.views, tally.schema, project_id, product_id)
    return found_or_404(found, "product", product_id)


@router.get(
    "/usage",
    response_model=s.ProductUsage,
    summary="A product's billed usage, per period and customer",
    description="For the product's creator (its `owner`): per usage period, customer and "
    "meter, the usage that the product's metered prices billed on finalized invoices "
    "(a late adjustment raises a group's quantity; voided invoices are left out). "
    "Quantities are decimal strings (docs/usage.md, creators).",
    responses=read_problems("not_found"),
)
def product_usage(product_id: UUID, tally: TallyDep, caller: Reader) -> s.ProductUsage:
    from projections.creator_earnings import product_usage as query

    product = _product(tally, caller.project_id, product_id)
    rows = query(tally.views, tally.schema, caller.project_id, product_id)
    data = [{**r, "quantity": decimal_text(r["quantity"])} for r in rows]
    return s.ProductUsage.model_validate(
        {"product_id": product_id, "owner": product.get("owner"), "data": data}
    )


@router.get(
    "/earnings",
    response_model=s.ProductEarnings,
    summary="A product's earnings, per period and currency",
    description="For the product's creator: the revenue of the product's paid invoice "
    "lines (subscription and usage lines, before tax and coupons) per period and "
    "currency, the platform's fee (the project's billing setting "
    "`platform_fee_percent` when each invoice was paid, half-even per line) and `net`, "
    "what the creator earned.",
    responses=read_problems("not_found"),
)
def product_earnings(product_id: UUID, tally: TallyDep, caller: Reader) -> s.ProductEarnings:
    from projections.creator_earnings import product_earnings as query

    product = _product(tally, caller.project_id, product_id)
    rows = query(tally.views, tally.schema, caller.project_id, product_id)
    return s.ProductEarnings.model_validate(
        {"product_id": product_id, "owner": product.get("owner"), "data": rows}
    )
