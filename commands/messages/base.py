"""The base of every command message and the types the areas' messages share.

Amounts are ``StrictInt`` so that ``12.5`` and ``"1250"`` are refused rather than
coerced; the currency is checked against ISO 4217 here, before any handler runs.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from commands.limits_types import (
    Description,
)
from domain.limits import (
    MAX_AMOUNT_MINOR,
    MAX_QUANTITY,
)
from domain.money import check_currency

Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_MINOR, description="Minor units, > 0")]
LowBalanceThreshold = Annotated[
    StrictInt | None,
    Field(
        ge=0,
        le=MAX_AMOUNT_MINOR,
        description="Minor units of the account's currency: billing.wallet.balance_low is "
        "emitted once when the available balance falls below it, again only after it was "
        "back at or above it; null: none",
    ),
]
CurrencyCode = Annotated[
    str,
    Field(min_length=3, max_length=3, examples=["EUR"], description="ISO 4217 code"),
    AfterValidator(check_currency),
]
Source = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z][a-z0-9_-]*$",
        description="Funding source; money comes from or goes to its clearing account",
    ),
]
Text = Description  # free text: descriptions and reasons
Quantity = Annotated[StrictInt, Field(gt=0, le=MAX_QUANTITY)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
