"""What a create answers (docs/api.md): the object itself, with what the create knows
beside it kept as documented fields on the object."""

from __future__ import annotations

from pydantic import Field

from api.schemas.accounts import Account
from api.schemas.catalog import Price
from api.schemas.customers import Customer
from api.schemas.holds import Hold

EXISTED = (
    "true when one already existed (the answer is then 200 and nothing was written); "
    "false when this request created it"
)


class PlacedHold(Hold):
    account: Account | None = Field(
        default=None, description="The account after the hold: its held and available balance"
    )


class RegisteredCustomer(Customer):
    existed: bool | None = Field(default=None, description="A known external id: " + EXISTED)


class DefinedPrice(Price):
    existed: bool | None = Field(default=None, description="The same definition: " + EXISTED)
